//! Settings read once at cold start from the environment variables named in [`contract::env`].

use crate::error::Error;
use contract::{Plan, env};

#[derive(Debug, Clone)]
pub struct Config {
    pub listener_arn: String,
    /// The stable version's target group.
    pub stable_tg_arn: String,
    /// The canary's target group.
    pub canary_tg_arn: String,
    /// `app/<name>/<id>`: the `LoadBalancer` metric dimension.
    pub load_balancer: String,
    pub table: String,
    pub schedule_name: String,
    pub schedule_group: String,
    pub topic_arn: String,
    pub plan: Plan,
    /// Alarms whose ALARM state triggers a rollback.
    pub rollback_alarms: Vec<String>,
    /// Days history items and release records are kept (DynamoDB TTL).
    pub history_days: u32,
    /// Where the releases' artifacts and the fleets' version pointers live.
    pub artifact_bucket: String,
    pub artifact_prefix: String,
    /// Auto Scaling group names of the stable and the canary fleet.
    pub stable_fleet: String,
    pub canary_fleet: String,
    /// Whether the instances run the target signal's proxy (the stack's `TargetSignal`).
    pub target_signal: bool,
}

/// History kept when [`env::HISTORY_DAYS`] is unset.
pub const DEFAULT_HISTORY_DAYS: u32 = 90;
/// Longest accepted history retention: ten years.
pub const MAX_HISTORY_DAYS: u32 = 3650;

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, Error> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, Error> {
        let required = |name: &'static str| -> Result<String, Error> {
            match lookup(name) {
                Some(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
                Some(_) => Err(Error::Config {
                    name,
                    problem: "is empty".into(),
                }),
                None => Err(Error::Config {
                    name,
                    problem: "is not set".into(),
                }),
            }
        };
        let arn = |name: &'static str, service: &str| -> Result<String, Error> {
            let value = required(name)?;
            if !value.starts_with("arn:") || !value.contains(&format!(":{service}:")) {
                return Err(Error::Config {
                    name,
                    problem: format!("is `{value}`, not an {service} ARN"),
                });
            }
            Ok(value)
        };
        let load_balancer = required(env::LOAD_BALANCER_DIMENSION)?;
        if !load_balancer.starts_with("app/") || load_balancer.split('/').count() != 3 {
            return Err(Error::Config {
                name: env::LOAD_BALANCER_DIMENSION,
                problem: format!("is `{load_balancer}`, not `app/<name>/<id>`"),
            });
        }
        let plan_json = required(env::PLAN)?;
        let plan = Plan::from_json(&plan_json).map_err(|problem| Error::Config {
            name: env::PLAN,
            problem: format!("is not a valid plan: {problem}"),
        })?;
        let rollback_alarms: Vec<String> = required(env::ROLLBACK_ALARMS)?
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if rollback_alarms.is_empty() {
            return Err(Error::Config {
                name: env::ROLLBACK_ALARMS,
                problem: "names no alarm".into(),
            });
        }
        let history_days = match lookup(env::HISTORY_DAYS).filter(|v| !v.trim().is_empty()) {
            None => DEFAULT_HISTORY_DAYS,
            Some(v) => v
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|d| (1..=MAX_HISTORY_DAYS).contains(d))
                .ok_or_else(|| Error::Config {
                    name: env::HISTORY_DAYS,
                    problem: format!("is `{v}`, not a number of days in 1..={MAX_HISTORY_DAYS}"),
                })?,
        };
        let target_signal = match required(env::TARGET_SIGNAL)?.as_str() {
            env::TARGET_SIGNAL_ENABLED => true,
            env::TARGET_SIGNAL_DISABLED => false,
            other => {
                return Err(Error::Config {
                    name: env::TARGET_SIGNAL,
                    problem: format!(
                        "is `{other}`, not `{}` or `{}`",
                        env::TARGET_SIGNAL_ENABLED,
                        env::TARGET_SIGNAL_DISABLED
                    ),
                });
            }
        };
        // A judge reading a signal nobody publishes would hold every step on "insufficient data".
        if plan.health.signal == contract::Signal::Targets && !target_signal {
            return Err(Error::Config {
                name: env::PLAN,
                problem: format!(
                    "judges the targets' signal (health.signal: targets) but {} is `{}`: deploy with \
                     TargetSignal=enabled or judge the ALB's metrics",
                    env::TARGET_SIGNAL,
                    env::TARGET_SIGNAL_DISABLED
                ),
            });
        }
        let config = Config {
            listener_arn: arn(env::LISTENER_ARN, "elasticloadbalancing")?,
            stable_tg_arn: arn(env::STABLE_TARGET_GROUP_ARN, "elasticloadbalancing")?,
            canary_tg_arn: arn(env::CANARY_TARGET_GROUP_ARN, "elasticloadbalancing")?,
            load_balancer,
            table: required(env::STATE_TABLE)?,
            schedule_name: required(env::SCHEDULE_NAME)?,
            schedule_group: lookup(env::SCHEDULE_GROUP)
                .filter(|g| !g.trim().is_empty())
                .unwrap_or_else(|| "default".into()),
            topic_arn: arn(env::TOPIC_ARN, "sns")?,
            plan,
            rollback_alarms,
            history_days,
            artifact_bucket: required(env::ARTIFACT_BUCKET)?,
            artifact_prefix: required(env::ARTIFACT_PREFIX)?
                .trim_matches('/')
                .to_string(),
            stable_fleet: required(env::STABLE_FLEET)?,
            canary_fleet: required(env::CANARY_FLEET)?,
            target_signal,
        };
        if config.stable_fleet == config.canary_fleet {
            return Err(Error::Config {
                name: env::CANARY_FLEET,
                problem: "is the same Auto Scaling group as the stable fleet".into(),
            });
        }
        if config.stable_tg_arn == config.canary_tg_arn {
            return Err(Error::Config {
                name: env::CANARY_TARGET_GROUP_ARN,
                problem: "is the same target group as the stable one".into(),
            });
        }
        Ok(config)
    }
}
