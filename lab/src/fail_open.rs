//! What a killed canary shows in HAProxy's own counters and weights (never in what the controller
//! reports): its target group kept its share and every request sent to it failed (the ALB's
//! fail open), until the controller took the canary's weight to 0.

use serde::{Deserialize, Serialize};

use crate::bridge::growth;
use crate::haproxy::ServerStat;
use crate::timeline::Record;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailOpen {
    /// Seconds into the scenario.
    pub killed_at: f64,
    /// HAProxy's canary weight right after the kill.
    pub canary_weight_at_kill: u32,
    /// Requests HAProxy sent the canary's server from the kill to the end of the scenario (its weight
    /// went to 0 on the way, so these are the ones the dead canary got).
    pub canary_requests_after_kill: u64,
    /// Of those, failed: refused connections, broken responses, 5XX.
    pub canary_failed_after_kill: u64,
    /// The first of the sampler's once-a-second reads of HAProxy after the kill that shows the canary's
    /// weight 0.
    pub canary_weight_zero_seen_at: Option<f64>,
    /// When the target health checks turned the canary's target unhealthy.
    pub canary_unhealthy_at: Option<f64>,
}

fn failed(s: &ServerStat) -> u64 {
    s.econ + s.eresp + s.hrsp_5xx
}

impl FailOpen {
    /// From the timeline's kill event (HAProxy's canary counters right after the kill), its samples of
    /// HAProxy, and HAProxy's canary counters at the end; `None` when nothing was killed.
    pub fn new(record: &Record, end: &ServerStat) -> Option<FailOpen> {
        let kill = record
            .events
            .iter()
            .find(|e| e.kind == crate::fault::ON && e.detail["kind"] == "kill")?;
        let at_kill: ServerStat =
            serde_json::from_value(kill.detail["canary_at_kill"].clone()).ok()?;
        Some(FailOpen {
            killed_at: kill.t,
            canary_weight_at_kill: at_kill.weight,
            canary_requests_after_kill: growth(at_kill.stot, end.stot),
            canary_failed_after_kill: growth(failed(&at_kill), failed(end)),
            canary_weight_zero_seen_at: record
                .samples
                .iter()
                .find(|s| s.t > kill.t && s.haproxy.canary.weight == 0)
                .map(|s| s.t),
            canary_unhealthy_at: record
                .events
                .iter()
                .find(|e| {
                    e.source == "health"
                        && e.kind == "unhealthy"
                        && e.t > kill.t
                        && e.detail["target_group"] == crate::haproxy::CANARY_SERVER
                })
                .map(|e| e.t),
        })
    }

    /// One line saying what the run failed to show; `None` when it showed all of it.
    pub fn missed(&self) -> Option<String> {
        let problem = if self.canary_weight_at_kill == 0 {
            "canary had no weight when it was killed".to_owned()
        } else if self.canary_requests_after_kill == 0 {
            "the dead canary got no request: HAProxy routed around it, which an ALB does not do"
                .to_owned()
        } else if self.canary_failed_after_kill < self.canary_requests_after_kill {
            format!(
                "the dead canary answered: {} of its {} requests after the kill did not fail",
                self.canary_requests_after_kill - self.canary_failed_after_kill,
                self.canary_requests_after_kill
            )
        } else if self.canary_weight_zero_seen_at.is_none() {
            "HAProxy's canary weight never went to 0 after the kill".to_owned()
        } else {
            return None;
        };
        Some(format!("kill fault: {problem}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown() -> FailOpen {
        FailOpen {
            killed_at: 40.0,
            canary_weight_at_kill: 10,
            canary_requests_after_kill: 80,
            canary_failed_after_kill: 80,
            canary_weight_zero_seen_at: Some(60.0),
            canary_unhealthy_at: Some(42.0),
        }
    }

    #[test]
    fn a_run_that_does_not_show_fail_open_and_the_cut_off_says_why() {
        assert_eq!(shown().missed(), None);
        for (broken, needle) in [
            (
                FailOpen {
                    canary_requests_after_kill: 0,
                    canary_failed_after_kill: 0,
                    ..shown()
                },
                "routed around it",
            ),
            (
                FailOpen {
                    canary_failed_after_kill: 70,
                    ..shown()
                },
                "10 of its 80 requests",
            ),
            (
                FailOpen {
                    canary_weight_zero_seen_at: None,
                    ..shown()
                },
                "never went to 0",
            ),
            (
                FailOpen {
                    canary_weight_at_kill: 0,
                    ..shown()
                },
                "no weight",
            ),
        ] {
            let missed = broken.missed().expect("missed");
            assert!(missed.contains(needle), "{missed}");
        }
    }
}
