//! The pure decision core: no I/O, no clock. Everything it needs comes in as values, so every branch
//! is unit-tested and its safety properties are checked with proptest.

use contract::{LatencyBreach, Plan};
use serde::{Deserialize, Serialize};
use std::fmt;

/// ALB's per-target-group weight limit.
pub const MAX_WEIGHT: u16 = 999;

/// The listener's forward weights for V1 (stable) and V2 (canary): ALB's 0–999 integers, not both 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Weights {
    pub v1: u16,
    pub v2: u16,
}

impl Weights {
    /// V1 takes everything: the state before a canary and after a rollback.
    pub const STABLE_ONLY: Weights = Weights { v1: 100, v2: 0 };

    /// Validated constructor: refuses what ALB would refuse or mis-route.
    pub fn new(v1: u16, v2: u16) -> Result<Weights, String> {
        if v1 > MAX_WEIGHT || v2 > MAX_WEIGHT {
            return Err(format!("weights {v1}/{v2}: each must be 0..={MAX_WEIGHT}"));
        }
        if v1 == 0 && v2 == 0 {
            return Err("weights 0/0: at least one target group needs a positive weight".into());
        }
        Ok(Weights { v1, v2 })
    }

    /// V1 gets `100 - percent`, V2 gets `percent`; both stay within 0–999.
    pub fn for_percent(percent: u8) -> Weights {
        let p = u16::from(percent.min(100));
        Weights { v1: 100 - p, v2: p }
    }

    /// V2's share of traffic, in percent (0.0–100.0).
    pub fn v2_percent(&self) -> f64 {
        let total = f64::from(self.v1) + f64::from(self.v2);
        if total == 0.0 {
            0.0
        } else {
            100.0 * f64::from(self.v2) / total
        }
    }

    /// Same traffic split, even if written with different integers (90/10 == 900/100).
    pub fn same_split(&self, other: &Weights) -> bool {
        u32::from(self.v2) * (u32::from(other.v1) + u32::from(other.v2))
            == u32::from(other.v2) * (u32::from(self.v1) + u32::from(self.v2))
    }
}

impl fmt::Display for Weights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "V1 {} / V2 {}", self.v1, self.v2)
    }
}

/// Where the canary is, as recorded in the state table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Running,
    Paused,
    RolledBack,
    Complete,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Paused => "paused",
            Status::RolledBack => "rolled_back",
            Status::Complete => "complete",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        [
            Status::Running,
            Status::Paused,
            Status::RolledBack,
            Status::Complete,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// The recorded state (one item in the table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanaryState {
    pub status: Status,
    /// Index into [`Plan::steps`] of the step in force.
    pub step: usize,
    /// Epoch seconds when the step in force began.
    pub step_started_at: i64,
    /// Incremented by every write; conditional writes compare it.
    pub version: u64,
    pub reason: Option<String>,
}

/// One target group's numbers for the window.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct TgMetrics {
    /// Sum of `RequestCount`; a minute without a datapoint had no requests.
    pub requests: u64,
    /// Sum of `HTTPCode_Target_5XX_Count`.
    pub errors_5xx: u64,
    /// `TargetResponseTime` in milliseconds with the plan's statistic; `None` without data.
    pub latency_ms: Option<f64>,
}

/// Everything observed for one decision.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Observation {
    pub v1: TgMetrics,
    pub v2: TgMetrics,
    /// Healthy targets in V2's target group (`DescribeTargetHealth`).
    pub v2_healthy_targets: u32,
}

/// What the controller does next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Move to `step` (index into the plan) by writing `weights`.
    Promote {
        step: usize,
        weights: Weights,
    },
    Hold {
        reason: String,
    },
    RollBack {
        reason: String,
    },
    /// The last step baked healthy: the canary is done.
    Complete,
    /// Someone else changed the weights: report, do not overwrite.
    Drift {
        found: Weights,
        expected: Weights,
    },
}

impl Decision {
    pub fn kind(&self) -> &'static str {
        match self {
            Decision::Promote { .. } => "promote",
            Decision::Hold { .. } => "hold",
            Decision::RollBack { .. } => "roll_back",
            Decision::Complete => "complete",
            Decision::Drift { .. } => "drift",
        }
    }

    /// The weights this decision writes to the listener, if any. A rollback always writes V2 = 0.
    pub fn writes(&self) -> Option<Weights> {
        match self {
            Decision::Promote { weights, .. } => Some(*weights),
            Decision::RollBack { .. } => Some(Weights::STABLE_ONLY),
            Decision::Hold { .. } | Decision::Complete | Decision::Drift { .. } => None,
        }
    }
}

/// The listener's weights while `state` is in force, if it pins them.
pub fn expected_weights(plan: &Plan, state: Option<&CanaryState>) -> Option<Weights> {
    match state {
        None => Some(Weights::STABLE_ONLY),
        Some(s) => match s.status {
            Status::RolledBack => Some(Weights::STABLE_ONLY),
            Status::Paused => None,
            Status::Running | Status::Complete => {
                plan.steps.get(s.step).map(|p| Weights::for_percent(*p))
            }
        },
    }
}

/// The one decision function: (plan, recorded state, live weights, observation, now) → decision.
///
/// `now` and `step_started_at` are epoch seconds. The plan is assumed valid (`Plan::validate`).
pub fn decide(
    plan: &Plan,
    state: Option<&CanaryState>,
    live: Weights,
    observed: &Observation,
    now: i64,
) -> Decision {
    let Some(state) = state else {
        return start(plan, live, observed);
    };
    match state.status {
        Status::RolledBack => {
            return Decision::Hold {
                reason: "the canary was rolled back".into(),
            };
        }
        Status::Paused => {
            return Decision::Hold {
                reason: "the canary is paused".into(),
            };
        }
        Status::Complete => return Decision::Complete,
        Status::Running => {}
    }
    let Some(percent) = plan.steps.get(state.step) else {
        return Decision::Hold {
            reason: format!(
                "recorded step {} is not in the plan's {} steps",
                state.step,
                plan.steps.len()
            ),
        };
    };
    let expected = Weights::for_percent(*percent);
    if !live.same_split(&expected) {
        return Decision::Drift {
            found: live,
            expected,
        };
    }
    if let Some(verdict) = judge(plan, live, observed) {
        return verdict;
    }
    let baked = now.saturating_sub(state.step_started_at);
    let bake = i64::try_from(plan.bake_seconds).unwrap_or(i64::MAX);
    if baked < bake {
        return Decision::Hold {
            reason: format!("step {percent}% healthy, baking: {baked} s of {bake} s"),
        };
    }
    let next = state.step + 1;
    match plan.steps.get(next) {
        None => Decision::Complete,
        Some(p) => Decision::Promote {
            step: next,
            weights: Weights::for_percent(*p),
        },
    }
}

/// The first promotion: V2 from 0 to the first step, only onto healthy targets.
fn start(plan: &Plan, live: Weights, observed: &Observation) -> Decision {
    if !live.same_split(&Weights::STABLE_ONLY) {
        return Decision::Drift {
            found: live,
            expected: Weights::STABLE_ONLY,
        };
    }
    if observed.v2_healthy_targets == 0 {
        return Decision::Hold {
            reason: "V2's target group has no healthy targets; the canary does not start".into(),
        };
    }
    Decision::Promote {
        step: 0,
        weights: Weights::for_percent(plan.steps[0]),
    }
}

/// Health of the window: `Some(Hold | RollBack)` when the step must not advance, `None` when healthy.
fn judge(plan: &Plan, live: Weights, observed: &Observation) -> Option<Decision> {
    let rules = &plan.health;
    let v2 = &observed.v2;
    // Too little data says nothing either way: hold, whatever the values.
    if v2.requests < rules.min_requests {
        return Some(Decision::Hold {
            reason: format!(
                "insufficient data: {} V2 requests in the window, {} needed",
                v2.requests, rules.min_requests
            ),
        });
    }
    let error_rate = v2.errors_5xx as f64 / v2.requests as f64;
    if error_rate > rules.max_error_rate {
        return Some(Decision::RollBack {
            reason: format!(
                "V2 5XX rate {:.4} ({} of {}) above {}",
                error_rate, v2.errors_5xx, v2.requests, rules.max_error_rate
            ),
        });
    }
    let Some(v2_latency) = v2.latency_ms else {
        return Some(Decision::Hold {
            reason: "insufficient data: no V2 latency datapoint in the window".into(),
        });
    };
    if v2_latency > rules.max_latency_ms {
        return Some(Decision::RollBack {
            reason: format!(
                "V2 latency {v2_latency:.1} ms above the ceiling {} ms",
                rules.max_latency_ms
            ),
        });
    }
    if rules.max_latency_ratio.is_none() && rules.max_latency_margin_ms.is_none() {
        return None;
    }
    if live.v1 == 0 {
        // At 100 % V1 serves nothing to compare with; the ceiling above still applies.
        return None;
    }
    let v1_latency = match observed.v1.latency_ms {
        Some(l) if observed.v1.requests > 0 => l,
        _ => {
            return Some(Decision::Hold {
                reason: "insufficient data: no V1 latency in the window to compare V2 with".into(),
            });
        }
    };
    // V2 breaches only when above every allowance that is set (it is legitimately slower).
    let allowed = [
        rules.max_latency_ratio.map(|r| v1_latency * r),
        rules.max_latency_margin_ms.map(|m| v1_latency + m),
    ]
    .into_iter()
    .flatten()
    .fold(f64::NEG_INFINITY, f64::max);
    if v2_latency > allowed {
        let reason = format!(
            "V2 latency {v2_latency:.1} ms above the allowance {allowed:.1} ms (V1 {v1_latency:.1} ms)"
        );
        return Some(match rules.on_latency_breach {
            LatencyBreach::RollBack => Decision::RollBack { reason },
            LatencyBreach::Hold => Decision::Hold { reason },
        });
    }
    None
}

#[cfg(test)]
mod tests;
