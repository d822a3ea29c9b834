//! The pure decision core: no I/O, no clock. Everything it needs comes in as values, so every branch
//! is unit-tested, its safety properties are checked with proptest, and any decision can be
//! replayed (`cargo xtask judge --replay`, crate `simulation`). The statistics are the `judge`
//! crate's.

use contract::{HealthRules, Plan};
use judge::{Assessment, Verdict, Window, assess_with_verdict, closed_periods, period_of};
pub use judge::{Calibration, Counts, Period};
use serde::{Deserialize, Serialize};
use std::fmt;

use crate::machine;

/// ALB's per-target-group weight limit.
pub const MAX_WEIGHT: u16 = 999;

/// The listener's forward weights for stable and canary: ALB's 0–999 integers, not both 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Weights {
    #[serde(alias = "v1")]
    pub stable: u16,
    #[serde(alias = "v2")]
    pub canary: u16,
}

impl Weights {
    /// The stable version takes everything: the state before a canary and after a rollback.
    pub const STABLE_ONLY: Weights = Weights {
        stable: 100,
        canary: 0,
    };

    /// Validated constructor: refuses what ALB would refuse or mis-route.
    pub fn new(stable: u16, canary: u16) -> Result<Weights, String> {
        if stable > MAX_WEIGHT || canary > MAX_WEIGHT {
            return Err(format!(
                "weights {stable}/{canary}: each must be 0..={MAX_WEIGHT}"
            ));
        }
        if stable == 0 && canary == 0 {
            return Err("weights 0/0: at least one target group needs a positive weight".into());
        }
        Ok(Weights { stable, canary })
    }

    /// The stable version gets `100 - percent`, the canary gets `percent`; both stay within 0–999.
    pub fn for_percent(percent: u8) -> Weights {
        let p = u16::from(percent.min(100));
        Weights {
            stable: 100 - p,
            canary: p,
        }
    }

    /// The canary's share of traffic, in percent (0.0–100.0).
    pub fn canary_percent(&self) -> f64 {
        let total = f64::from(self.stable) + f64::from(self.canary);
        if total == 0.0 {
            0.0
        } else {
            100.0 * f64::from(self.canary) / total
        }
    }

    /// Same traffic split, even if written with different integers (90/10 == 900/100).
    pub fn same_split(&self, other: &Weights) -> bool {
        u32::from(self.canary) * (u32::from(other.stable) + u32::from(other.canary))
            == u32::from(other.canary) * (u32::from(self.stable) + u32::from(self.canary))
    }
}

impl fmt::Display for Weights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stable {} / canary {}", self.stable, self.canary)
    }
}

/// Where the canary is, as recorded in the state table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// No release in progress: the stable fleet serves everything, alarms move no weights.
    Idle,
    /// A release moves the canary fleet to its version; the canary starts once it is healthy.
    Deploying,
    Running,
    Paused,
    RolledBack,
    /// Every step baked: the stable fleet moves to the release, then the stack is idle again.
    Complete,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Idle => "idle",
            Status::Deploying => "deploying",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::RolledBack => "rolled_back",
            Status::Complete => "complete",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        [
            Status::Idle,
            Status::Deploying,
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
    /// Epoch seconds when the step in force began: the judge's evidence for this step starts here.
    pub step_started_at: i64,
    /// Epoch seconds when the step's bake (re)started: its start, or the last `resume`.
    pub bake_started_at: i64,
    /// An operator skipped the rest of this step's bake (`canaryctl promote`).
    #[serde(default)]
    pub bake_skipped: bool,
    /// Epoch seconds when the canary began (its first step): the judge reads every minute since.
    pub canary_started_at: i64,
    /// Incremented by every write; conditional writes compare it.
    pub version: u64,
    pub reason: Option<String>,
}

/// Everything observed for one decision.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Observation {
    /// Per-period counts of both target groups since the canary started (the decision keeps
    /// only the closed ones: ended at least `settle_seconds` ago).
    pub periods: Vec<Period>,
    /// The stable version's latency statistic over the baseline before the canary, in milliseconds.
    pub baseline_ms: Option<f64>,
    /// Without a baseline: the stable version's latency statistic over the canary's first calibration span.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
    /// Healthy targets in the canary's target group (`DescribeTargetHealth`).
    #[serde(alias = "v2_healthy_targets")]
    pub canary_healthy_targets: u32,
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
    /// A step held longer than `max_step_seconds`: pause and notify; a person decides.
    Pause {
        reason: String,
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
            Decision::Pause { .. } => "pause",
        }
    }

    /// The weights this decision writes to the listener, if any. A rollback always writes canary = 0.
    pub fn writes(&self) -> Option<Weights> {
        match self {
            Decision::Promote { weights, .. } => Some(*weights),
            Decision::RollBack { .. } => Some(Weights::STABLE_ONLY),
            Decision::Hold { .. }
            | Decision::Complete
            | Decision::Drift { .. }
            | Decision::Pause { .. } => None,
        }
    }
}

/// A decision and the statistics that drove it (none before the canary starts or after it ends).
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    pub decision: Decision,
    pub statistics: Option<Assessment>,
}

/// The listener's weights while `state` is in force, if it pins them.
pub fn expected_weights(plan: &Plan, state: Option<&CanaryState>) -> Option<Weights> {
    match state {
        None => Some(Weights::STABLE_ONLY),
        Some(s) => match s.status {
            Status::RolledBack | Status::Idle | Status::Deploying => Some(Weights::STABLE_ONLY),
            Status::Paused => None,
            Status::Running | Status::Complete => {
                plan.steps.get(s.step).map(|p| Weights::for_percent(*p))
            }
        },
    }
}

/// The one decision function: (plan, recorded state, live weights, observation, now) → decision.
/// See [`decide_with_statistics`] for the statistics behind it.
pub fn decide(
    plan: &Plan,
    state: Option<&CanaryState>,
    live: Weights,
    observed: &Observation,
    now: i64,
) -> Decision {
    decide_with_statistics(plan, state, live, observed, now).decision
}

/// The decision with its statistics. `now` and the state's times are epoch seconds; the plan is
/// assumed valid (`Plan::validate`). Rollback evidence is checked first, also while paused or
/// drifted (judging never stops while the canary has traffic); too little data holds a promotion, never
/// a rollback; a hold older than `max_step_seconds` pauses.
pub fn decide_with_statistics(
    plan: &Plan,
    state: Option<&CanaryState>,
    live: Weights,
    observed: &Observation,
    now: i64,
) -> Judged {
    decide_by(assess_with_verdict, plan, state, live, observed, now)
}

/// What judges the window of a running step. The functions use the `judge`'s sequential test
/// ([`assess_with_verdict`]); the benchmarks compare it with an older rule through the same
/// decision (crate `simulation`).
pub type Assess = fn(&HealthRules, &Window<'_>) -> (Assessment, Verdict);

/// [`decide_with_statistics`] with the window judged by `assess`.
pub fn decide_by(
    assess: Assess,
    plan: &Plan,
    state: Option<&CanaryState>,
    live: Weights,
    observed: &Observation,
    now: i64,
) -> Judged {
    let plain = |decision| Judged {
        decision,
        statistics: None,
    };
    let Some(state) = state else {
        return plain(start(plan, live, observed));
    };
    match state.status {
        Status::RolledBack => {
            return plain(Decision::Hold {
                reason: "the canary was rolled back".into(),
            });
        }
        Status::Idle => {
            return plain(Decision::Hold {
                reason: "no canary is running (idle)".into(),
            });
        }
        // The canary fleet is healthy (the adapter found it so, or `canary_healthy_targets` is 0).
        Status::Deploying => return plain(start(plan, live, observed)),
        Status::Complete => return plain(Decision::Complete),
        Status::Running | Status::Paused => {}
    }
    let Some(percent) = plan.steps.get(state.step).copied() else {
        return plain(Decision::Hold {
            reason: format!(
                "recorded step {} is not in the plan's {} steps",
                state.step,
                plan.steps.len()
            ),
        });
    };
    let health = &plan.health;
    let periods = closed_periods(
        &observed.periods,
        state.canary_started_at,
        now,
        health.settle_seconds,
        period_of(health.period_seconds),
    );
    let (statistics, verdict) = assess(
        health,
        &Window {
            periods: &periods,
            step_started_at: state.step_started_at,
            final_step: percent == 100,
            baseline_ms: observed.baseline_ms,
            calibration: observed.calibration,
        },
    );
    // A calibration that arrives during the step restarts its bake: the time judged against the
    // ceiling alone does not count.
    let bake_from = statistics
        .latency
        .threshold_from
        .map_or(state.bake_started_at, |from| {
            from.max(state.bake_started_at)
        });
    let decision = next_step(plan, state, percent, live, &verdict, bake_from, now);
    Judged {
        decision,
        statistics: Some(statistics),
    }
}

fn next_step(
    plan: &Plan,
    state: &CanaryState,
    percent: u8,
    live: Weights,
    verdict: &Verdict,
    bake_from: i64,
    now: i64,
) -> Decision {
    if let Verdict::RollBack(reason) = verdict {
        return Decision::RollBack {
            reason: reason.clone(),
        };
    }
    if state.status == Status::Paused {
        return Decision::Hold {
            reason: "the canary is paused (judging continues: it may roll back, never promote)"
                .into(),
        };
    }
    let expected = Weights::for_percent(percent);
    let drift = Decision::Drift {
        found: live,
        expected,
    };
    // The listener at the next step while the state is at this one: a run wrote that promotion
    // and died before recording it (a timeout, a crash). Taken again, the same promotion records
    // it; anything else, and any other split, is drift.
    let unrecorded = !live.same_split(&expected)
        && plan
            .steps
            .get(state.step + 1)
            .is_some_and(|p| live.same_split(&Weights::for_percent(*p)));
    if !live.same_split(&expected) && !unrecorded {
        return drift;
    }
    let held = match verdict {
        Verdict::Hold(reason) | Verdict::TooLittleData(reason) => Some(reason.clone()),
        Verdict::Healthy if !machine::baked(plan, state, bake_from, now) => Some(format!(
            "step {percent}% healthy, baking: {} s of {} s judged",
            machine::bake_judged(plan, bake_from, now),
            plan.bake_seconds
        )),
        Verdict::Healthy | Verdict::RollBack(_) => None,
    };
    if let Some(reason) = held {
        if unrecorded {
            return drift;
        }
        let age = machine::holding_for(state, now);
        let limit = i64::try_from(plan.max_step_seconds).unwrap_or(i64::MAX);
        if age > limit {
            return Decision::Pause {
                reason: format!(
                    "step {percent}% still holding after {age} s (max_step_seconds {limit}): {reason}"
                ),
            };
        }
        return Decision::Hold { reason };
    }
    match plan.steps.get(state.step + 1) {
        None => Decision::Complete,
        Some(p) => Decision::Promote {
            step: state.step + 1,
            weights: Weights::for_percent(*p),
        },
    }
}

/// The first promotion: the canary from 0 to the first step, only onto healthy targets. The listener
/// already at the first step is that promotion written by a run that died before recording it:
/// taken again while the fleet is healthy, it records it.
fn start(plan: &Plan, live: Weights, observed: &Observation) -> Decision {
    let first = Weights::for_percent(plan.steps[0]);
    let unrecorded = live.same_split(&first) && observed.canary_healthy_targets > 0;
    if !live.same_split(&Weights::STABLE_ONLY) && !unrecorded {
        return Decision::Drift {
            found: live,
            expected: Weights::STABLE_ONLY,
        };
    }
    if observed.canary_healthy_targets == 0 {
        return Decision::Hold {
            reason: "the canary's target group has no healthy targets; the canary does not start"
                .into(),
        };
    }
    Decision::Promote {
        step: 0,
        weights: Weights::for_percent(plan.steps[0]),
    }
}

#[cfg(test)]
pub(crate) mod properties;
#[cfg(test)]
mod tests;
