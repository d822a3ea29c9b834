//! The ALB's target health checks, played against each fleet's process: `GET` of the template's
//! health check path on the address HAProxy's server for that fleet points at, every interval,
//! failed past the timeout, a target turned unhealthy after the unhealthy threshold of failures
//! in a row and healthy again after the healthy threshold of successes. Only the host counts
//! come of it ([`HostBook`], published by the bridge with the other ALB metrics): like an ALB
//! whose weighted target group has no healthy target, HAProxy keeps sending the group its share.
//!
//! The settings are the template's target group's. Compressed, the interval and the timeout are
//! scaled as the ALB period is (60 s → 10 s), so that a dead target turns unhealthy within the
//! same fraction of an alarm period as on AWS and the signals keep their order; `--timing aws`
//! takes them as declared.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::context::Ctx;
use crate::haproxy;
use crate::logbook::Group;

/// A target group's health check settings.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheck {
    pub path: String,
    /// The status a healthy target answers (`Matcher.HttpCode`: the template's is one code).
    pub status: u16,
    pub interval: Duration,
    pub timeout: Duration,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
}

fn whole(props: &Value, key: &str) -> Result<u64, String> {
    match &props[key] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| {
        format!(
            "the target group's {key} is not a whole number: {}",
            props[key]
        )
    })
}

impl HealthCheck {
    /// From an `AWS::ElasticLoadBalancingV2::TargetGroup`'s resolved `Properties`.
    pub fn from_properties(props: &Value) -> Result<HealthCheck, String> {
        if props["HealthCheckEnabled"] != json!(true) {
            return Err("the target group's health check is not enabled".into());
        }
        let status = props["Matcher"]["HttpCode"]
            .as_str()
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| {
                format!(
                    "the lab plays a health check matching one status code, not {}",
                    props["Matcher"]
                )
            })?;
        Ok(HealthCheck {
            path: props["HealthCheckPath"]
                .as_str()
                .ok_or("the target group has no HealthCheckPath")?
                .to_owned(),
            status,
            interval: Duration::from_secs(whole(props, "HealthCheckIntervalSeconds")?),
            timeout: Duration::from_secs(whole(props, "HealthCheckTimeoutSeconds")?),
            healthy_threshold: whole(props, "HealthyThresholdCount")? as u32,
            unhealthy_threshold: whole(props, "UnhealthyThresholdCount")? as u32,
        })
    }

    /// The same checks on a clock running `factor` times as fast as AWS's (thresholds are counts).
    pub fn scaled(self, factor: f64) -> HealthCheck {
        HealthCheck {
            interval: self.interval.mul_f64(factor),
            timeout: self.timeout.mul_f64(factor),
            ..self
        }
    }

    /// The longest a target that stopped answering stays healthy: its last passed check, then
    /// the unhealthy threshold of failed ones, an interval apart.
    pub fn time_to_unhealthy(&self) -> Duration {
        self.interval * self.unhealthy_threshold
    }
}

/// One target's health as the ALB tracks it: its state and the run of results against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub healthy: bool,
    /// Results in a row that disagree with the state.
    against: u32,
}

impl Target {
    /// A target that passed its checks: the lab starts every process and waits for its `/health`
    /// before HAProxy sends it anything, as a fleet's instances are in service before a release.
    pub fn in_service() -> Target {
        Target {
            healthy: true,
            against: 0,
        }
    }

    /// Takes one check's result; the new state when it changed.
    pub fn observe(&mut self, passed: bool, check: &HealthCheck) -> Option<bool> {
        if passed == self.healthy {
            self.against = 0;
            return None;
        }
        self.against += 1;
        let threshold = if self.healthy {
            check.unhealthy_threshold
        } else {
            check.healthy_threshold
        };
        if self.against < threshold {
            return None;
        }
        *self = Target {
            healthy: passed,
            against: 0,
        };
        Some(passed)
    }
}

/// One target group's host counts over a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostCounts {
    pub healthy: u64,
    pub unhealthy: u64,
}

/// Each group's target states as its checks left them, gathered per bridge window.
#[derive(Debug, Default)]
pub struct HostBook {
    /// Per group (stable, canary): the state now, and whether the target was unhealthy at any check
    /// since the last window was taken.
    groups: Mutex<[(Option<bool>, bool); 2]>,
}

fn slot(group: Group) -> usize {
    match group {
        Group::Stable => 0,
        Group::Canary => 1,
    }
}

impl HostBook {
    pub fn record(&self, group: Group, healthy: bool) {
        let mut groups = self.groups.lock().expect("host book lock");
        let (now, unhealthy_seen) = &mut groups[slot(group)];
        *now = Some(healthy);
        *unhealthy_seen |= !healthy;
    }

    /// A group's counts for the window now closing: a target unhealthy at any check in it counts
    /// as unhealthy (ALB's `UnHealthyHostCount` alarms read the period's `Maximum`); a group not
    /// checked yet counts its target healthy.
    pub fn take_window(&self, group: Group) -> HostCounts {
        let mut groups = self.groups.lock().expect("host book lock");
        let (now, unhealthy_seen) = &mut groups[slot(group)];
        let unhealthy = *unhealthy_seen || *now == Some(false);
        *unhealthy_seen = false;
        HostCounts {
            healthy: u64::from(!unhealthy),
            unhealthy: u64::from(unhealthy),
        }
    }
}

/// One check: `Ok` when the target answered the healthy status within the timeout, else why not.
pub async fn probe(port: u16, check: &HealthCheck) -> Result<(), String> {
    let attempt = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        stream
            .write_all(
                format!(
                    "GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: ELB-HealthChecker/2.0\r\nConnection: close\r\n\r\n",
                    check.path
                )
                .as_bytes(),
            )
            .await
            .map_err(|e| format!("send: {e}"))?;
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .await
            .map_err(|e| format!("read: {e}"))?;
        match crate::traffic::status(&answer) {
            Some(s) if s == check.status => Ok(()),
            Some(s) => Err(format!("status {s}")),
            None => Err("no HTTP answer".to_owned()),
        }
    };
    tokio::time::timeout(check.timeout, attempt)
        .await
        .map_err(|_| format!("no answer within {} ms", check.timeout.as_millis()))?
}

fn server(group: Group) -> &'static str {
    match group {
        Group::Stable => haproxy::STABLE_SERVER,
        Group::Canary => haproxy::CANARY_SERVER,
    }
}

/// Checks `group`'s target every interval until dropped; each change of its state is one event
/// and one log line with the numbers that made it.
pub async fn run(ctx: Arc<Ctx>, group: Group, check: HealthCheck) -> Result<(), String> {
    let mut ticks = tokio::time::interval(check.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut target = Target::in_service();
    let mut port = None;
    let mut failures_in_a_row = 0u32;
    loop {
        ticks.tick().await;
        let stats = haproxy::stats(&ctx.socket).await?;
        let now = match group {
            Group::Stable => stats.stable.port,
            Group::Canary => stats.canary.port,
        };
        // A fleet moved to another process is a new target, in service as the lab started it.
        if port != Some(now) {
            port = Some(now);
            target = Target::in_service();
            failures_in_a_row = 0;
        }
        let result = probe(now, &check).await;
        failures_in_a_row = if result.is_ok() {
            0
        } else {
            failures_in_a_row + 1
        };
        if let Some(healthy) = target.observe(result.is_ok(), &check) {
            let tg = server(group);
            let why = result.as_ref().err().cloned().unwrap_or_default();
            tracing::info!(
                target_group = tg,
                port = now,
                healthy,
                failures_in_a_row,
                why = %why,
                interval_ms = check.interval.as_millis() as u64,
                timeout_ms = check.timeout.as_millis() as u64,
                healthy_threshold = check.healthy_threshold,
                unhealthy_threshold = check.unhealthy_threshold,
                "target health"
            );
            let (kind, text) = if healthy {
                (
                    "healthy",
                    format!(
                        "{tg} target healthy after {} passed checks",
                        check.healthy_threshold
                    ),
                )
            } else {
                (
                    "unhealthy",
                    format!(
                        "{tg} target unhealthy after {} failed checks ({why}); its group keeps its weight (fail open)",
                        check.unhealthy_threshold
                    ),
                )
            };
            ctx.recorder.event_with(
                "health",
                kind,
                text,
                json!({"target_group": tg, "port": now, "healthy": healthy}),
            );
        }
        ctx.health.record(group, target.healthy);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check() -> HealthCheck {
        HealthCheck {
            path: "/health".into(),
            status: 200,
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(4),
            healthy_threshold: 2,
            unhealthy_threshold: 3,
        }
    }

    #[test]
    fn settings_come_from_the_target_group_and_scale_on_a_faster_clock() {
        let props = json!({
            "HealthCheckEnabled": true, "HealthCheckPath": "/health",
            "HealthCheckIntervalSeconds": 5, "HealthCheckTimeoutSeconds": "4",
            "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 3,
            "Matcher": {"HttpCode": "200"}
        });
        let c = HealthCheck::from_properties(&props).unwrap();
        assert_eq!(c, check());
        assert_eq!(c.time_to_unhealthy(), Duration::from_secs(15));
        let fast = c.scaled(10.0 / 60.0);
        assert_eq!(fast.interval.as_millis(), 833);
        assert_eq!(fast.timeout.as_millis(), 666);
        assert_eq!(fast.unhealthy_threshold, 3);
        let mut off = props.clone();
        off["HealthCheckEnabled"] = json!(false);
        assert!(HealthCheck::from_properties(&off).is_err());
        let mut range = props;
        range["Matcher"]["HttpCode"] = json!("200-299");
        assert!(HealthCheck::from_properties(&range).is_err());
    }

    #[test]
    fn a_target_changes_state_only_after_its_threshold_of_results_in_a_row() {
        let c = check();
        let mut t = Target::in_service();
        // Two failures, a pass: the run is broken, still healthy.
        assert_eq!(t.observe(false, &c), None);
        assert_eq!(t.observe(false, &c), None);
        assert_eq!(t.observe(true, &c), None);
        assert_eq!(t.observe(false, &c), None);
        assert_eq!(t.observe(false, &c), None);
        assert_eq!(t.observe(false, &c), Some(false));
        assert!(!t.healthy);
        assert_eq!(t.observe(false, &c), None);
        assert_eq!(t.observe(true, &c), None);
        assert_eq!(t.observe(true, &c), Some(true));
        assert!(t.healthy);
    }

    #[test]
    fn a_window_counts_a_target_unhealthy_at_any_of_its_checks() {
        let book = HostBook::default();
        let healthy = HostCounts {
            healthy: 1,
            unhealthy: 0,
        };
        let unhealthy = HostCounts {
            healthy: 0,
            unhealthy: 1,
        };
        assert_eq!(book.take_window(Group::Canary), healthy, "not checked yet");
        book.record(Group::Canary, false);
        book.record(Group::Canary, true);
        assert_eq!(book.take_window(Group::Canary), unhealthy);
        assert_eq!(book.take_window(Group::Canary), healthy);
        book.record(Group::Canary, false);
        assert_eq!(book.take_window(Group::Canary), unhealthy);
        // No check in the window: the state the last one left.
        assert_eq!(book.take_window(Group::Canary), unhealthy);
        assert_eq!(book.take_window(Group::Stable), healthy);
    }

    #[tokio::test]
    async fn a_refused_connection_fails_the_check_at_once() {
        let port = alb_canary_tests::free_port();
        let err = probe(port, &check()).await.unwrap_err();
        assert!(err.starts_with("connect:"), "{err}");
    }
}
