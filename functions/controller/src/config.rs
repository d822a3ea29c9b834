//! Settings read once at cold start from the environment variables named in [`contract::env`].

use crate::error::Error;
use contract::{Plan, env};

#[derive(Debug, Clone)]
pub struct Config {
    pub listener_arn: String,
    /// V1's target group.
    pub stable_tg_arn: String,
    /// V2's target group.
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn good() -> HashMap<&'static str, String> {
        HashMap::from([
            (
                env::LISTENER_ARN,
                "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/a/1/2".to_string(),
            ),
            (
                env::STABLE_TARGET_GROUP_ARN,
                "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/v1/1".into(),
            ),
            (
                env::CANARY_TARGET_GROUP_ARN,
                "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/v2/2".into(),
            ),
            (env::LOAD_BALANCER_DIMENSION, "app/a/1".into()),
            (env::STATE_TABLE, "state".into()),
            (env::SCHEDULE_NAME, "promote".into()),
            (env::TOPIC_ARN, "arn:aws:sns:us-east-1:1:canary".into()),
            (env::PLAN, Plan::default().to_json()),
            (env::ROLLBACK_ALARMS, "v2-5xx, v2-latency".into()),
            (env::HISTORY_DAYS, "30".into()),
            (env::ARTIFACT_BUCKET, "artifacts-bucket".into()),
            (env::ARTIFACT_PREFIX, "artifacts".into()),
            (env::STABLE_FLEET, "stack-v1".into()),
            (env::CANARY_FLEET, "stack-v2".into()),
        ])
    }

    fn load(vars: &HashMap<&'static str, String>) -> Result<Config, Error> {
        Config::from_lookup(|n| vars.get(n).cloned())
    }

    #[test]
    fn reads_every_setting() {
        let vars = good();
        let config = load(&vars).unwrap();
        for (name, read) in [
            (env::LISTENER_ARN, &config.listener_arn),
            (env::STABLE_TARGET_GROUP_ARN, &config.stable_tg_arn),
            (env::CANARY_TARGET_GROUP_ARN, &config.canary_tg_arn),
            (env::LOAD_BALANCER_DIMENSION, &config.load_balancer),
            (env::STATE_TABLE, &config.table),
            (env::SCHEDULE_NAME, &config.schedule_name),
            (env::TOPIC_ARN, &config.topic_arn),
            (env::ARTIFACT_BUCKET, &config.artifact_bucket),
            (env::ARTIFACT_PREFIX, &config.artifact_prefix),
            (env::STABLE_FLEET, &config.stable_fleet),
            (env::CANARY_FLEET, &config.canary_fleet),
        ] {
            assert_eq!(read, &vars[name], "{name}");
        }
        assert_eq!(config.plan, Plan::default());
        assert_eq!(config.rollback_alarms, vec!["v2-5xx", "v2-latency"]);
        assert_eq!(config.schedule_group, "default");
        assert_eq!(config.history_days, 30);
        let mut vars = good();
        vars.remove(env::HISTORY_DAYS);
        assert_eq!(load(&vars).unwrap().history_days, DEFAULT_HISTORY_DAYS);
    }

    #[test]
    fn each_missing_variable_is_named() {
        for name in good().keys().filter(|n| **n != env::HISTORY_DAYS) {
            let mut vars = good();
            vars.remove(name);
            let err = load(&vars).unwrap_err().to_string();
            assert!(err.contains(name) && err.contains("not set"), "{err}");
        }
    }

    #[test]
    fn malformed_values_are_named() {
        for (name, value, needle) in [
            (env::PLAN, "{\"steps\":[5]}", "end at 100"),
            (env::PLAN, "not json", "not a plan"),
            (
                env::LISTENER_ARN,
                "listener-1",
                "not an elasticloadbalancing ARN",
            ),
            (
                env::TOPIC_ARN,
                "arn:aws:sqs:us-east-1:1:q",
                "not an sns ARN",
            ),
            (env::LOAD_BALANCER_DIMENSION, "my-alb", "app/<name>/<id>"),
            (env::ROLLBACK_ALARMS, " , ", "names no alarm"),
            (env::STATE_TABLE, "  ", "is empty"),
            (env::HISTORY_DAYS, "0", "not a number of days"),
            (env::HISTORY_DAYS, "ninety", "not a number of days"),
            (env::CANARY_FLEET, "stack-v1", "same Auto Scaling group"),
        ] {
            let mut vars = good();
            vars.insert(name, value.into());
            let err = load(&vars).unwrap_err().to_string();
            assert!(err.contains(name) && err.contains(needle), "{err}");
        }
    }
}
