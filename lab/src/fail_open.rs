//! What a killed V2 shows in HAProxy's own counters and weights (never in what the controller
//! reports): its target group kept its share and every request sent to it failed (the ALB's
//! fail open), until the controller took V2's weight to 0.

use serde::{Deserialize, Serialize};

use crate::bridge::growth;
use crate::haproxy::ServerStat;
use crate::timeline::Record;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailOpen {
    /// Seconds into the scenario.
    pub killed_at: f64,
    /// HAProxy's V2 weight right after the kill.
    pub v2_weight_at_kill: u32,
    /// Requests HAProxy sent V2's server from the kill to the end of the scenario (its weight
    /// went to 0 on the way, so these are the ones the dead V2 got).
    pub v2_requests_after_kill: u64,
    /// Of those, failed: refused connections, broken responses, 5XX.
    pub v2_failed_after_kill: u64,
    /// The first of the sampler's once-a-second reads of HAProxy after the kill that shows V2's
    /// weight 0.
    pub v2_weight_zero_seen_at: Option<f64>,
    /// When the target health checks turned V2's target unhealthy.
    pub v2_unhealthy_at: Option<f64>,
}

fn failed(s: &ServerStat) -> u64 {
    s.econ + s.eresp + s.hrsp_5xx
}

impl FailOpen {
    /// From the timeline's kill event (HAProxy's V2 counters right after the kill), its samples of
    /// HAProxy, and HAProxy's V2 counters at the end; `None` when nothing was killed.
    pub fn new(record: &Record, end: &ServerStat) -> Option<FailOpen> {
        let kill = record
            .events
            .iter()
            .find(|e| e.kind == crate::fault::ON && e.detail["kind"] == "kill")?;
        let at_kill: ServerStat = serde_json::from_value(kill.detail["v2_at_kill"].clone()).ok()?;
        Some(FailOpen {
            killed_at: kill.t,
            v2_weight_at_kill: at_kill.weight,
            v2_requests_after_kill: growth(at_kill.stot, end.stot),
            v2_failed_after_kill: growth(failed(&at_kill), failed(end)),
            v2_weight_zero_seen_at: record
                .samples
                .iter()
                .find(|s| s.t > kill.t && s.haproxy.v2.weight == 0)
                .map(|s| s.t),
            v2_unhealthy_at: record
                .events
                .iter()
                .find(|e| {
                    e.source == "health"
                        && e.kind == "unhealthy"
                        && e.t > kill.t
                        && e.detail["target_group"] == crate::haproxy::V2_SERVER
                })
                .map(|e| e.t),
        })
    }

    /// One line saying what the run failed to show; `None` when it showed all of it.
    pub fn missed(&self) -> Option<String> {
        let problem = if self.v2_weight_at_kill == 0 {
            "V2 had no weight when it was killed".to_owned()
        } else if self.v2_requests_after_kill == 0 {
            "the dead V2 got no request: HAProxy routed around it, which an ALB does not do"
                .to_owned()
        } else if self.v2_failed_after_kill < self.v2_requests_after_kill {
            format!(
                "the dead V2 answered: {} of its {} requests after the kill did not fail",
                self.v2_requests_after_kill - self.v2_failed_after_kill,
                self.v2_requests_after_kill
            )
        } else if self.v2_weight_zero_seen_at.is_none() {
            "HAProxy's V2 weight never went to 0 after the kill".to_owned()
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
            v2_weight_at_kill: 10,
            v2_requests_after_kill: 80,
            v2_failed_after_kill: 80,
            v2_weight_zero_seen_at: Some(60.0),
            v2_unhealthy_at: Some(42.0),
        }
    }

    #[test]
    fn a_run_that_does_not_show_fail_open_and_the_cut_off_says_why() {
        assert_eq!(shown().missed(), None);
        for (broken, needle) in [
            (
                FailOpen {
                    v2_requests_after_kill: 0,
                    v2_failed_after_kill: 0,
                    ..shown()
                },
                "routed around it",
            ),
            (
                FailOpen {
                    v2_failed_after_kill: 70,
                    ..shown()
                },
                "10 of its 80 requests",
            ),
            (
                FailOpen {
                    v2_weight_zero_seen_at: None,
                    ..shown()
                },
                "never went to 0",
            ),
            (
                FailOpen {
                    v2_weight_at_kill: 0,
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
