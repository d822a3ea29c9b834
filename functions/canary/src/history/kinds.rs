//! The fields of each kind of history record ([`super::Entry`]). A kind's `reason` (and an
//! operator's command) is not among its JSON fields: it is the record's `decision` object.

use crate::decision::{CanaryState, Decision, Judged, Observation, Status, Weights};
use judge::{Assessment, Calibration};
use serde::{Deserialize, Serialize};

/// The `decision` object of every record but a judgement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Said {
    pub(super) decision: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) reason: Option<String>,
}

/// The promotion function's decision and everything it was taken on: with the plan and the
/// series, it replays (`cargo xtask judge --replay`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    /// The release being judged.
    #[serde(default)]
    pub release: Option<String>,
    pub decision: Decision,
    /// The canary state the decision was taken on; `None` before any release.
    #[serde(default)]
    pub state_before: Option<CanaryState>,
    /// The listener's weights as the decision found them.
    pub weights_before: Weights,
    /// Every statistic with its threshold; `None` when nothing was judged.
    #[serde(default)]
    pub statistics: Option<Assessment>,
    pub inputs: Inputs,
}

/// The observation behind a judgement, but the series itself.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Inputs {
    /// Periods read from CloudWatch (closed or not).
    #[serde(alias = "minutes_read")]
    pub periods_read: usize,
    #[serde(default)]
    pub baseline_ms: Option<f64>,
    #[serde(default)]
    pub calibration: Option<Calibration>,
    #[serde(default)]
    #[serde(alias = "v2_healthy_targets")]
    pub canary_healthy_targets: u32,
}

/// A rollback written outside the judge.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RolledBack {
    #[serde(skip)]
    pub reason: String,
    /// The alarm that invoked the rollback function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm: Option<String>,
    /// The release rolled back, when an operator did it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// `None` when the listener could not be read or written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights_before: Option<Weights>,
    /// ELBv2's error when the listener write failed: the rollback is recorded and the next run
    /// writes the listener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_pending: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollbackEnforced {
    #[serde(skip)]
    pub reason: String,
    /// The promotion that was undone.
    pub promotion_discarded: Decision,
    /// Why the promotion's own record failed, if it did.
    #[serde(default)]
    pub record_result: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromotionUndone {
    #[serde(skip)]
    pub reason: String,
    pub promotion_discarded: Decision,
    /// The state the other writer left.
    pub status: Status,
    pub step: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmWhileIdle {
    #[serde(skip)]
    pub reason: String,
    pub alarm: String,
    pub status: Status,
    #[serde(default)]
    pub canary_version: Option<String>,
}

/// An operator command and the state it moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operator {
    #[serde(skip)]
    pub command: Command,
    #[serde(default)]
    pub release: Option<String>,
    pub state_before: Position,
    pub state_after: Position,
}

/// The operator commands that move the state without a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Command {
    #[default]
    Pause,
    Resume,
    /// The rest of the step's bake skipped (`canaryctl promote`).
    SkipBake,
}

/// Where a canary stands: status and step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub status: Status,
    pub step: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseStarted {
    #[serde(skip)]
    pub reason: String,
    pub release: String,
    /// The running release this one aborted.
    #[serde(default)]
    pub superseded: Option<String>,
    #[serde(default)]
    pub stable_version: Option<String>,
    /// The canary fleet's instance refresh.
    pub canary_refresh: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Released {
    #[serde(skip)]
    pub reason: String,
    pub release: String,
    pub weights_before: Weights,
    pub stable_healthy_targets: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StableMoveFailed {
    #[serde(skip)]
    pub reason: String,
    pub release: String,
}

impl Judgement {
    /// The record of `judged`, taken on `state` with the listener at `weights_before` and
    /// `observed` read.
    pub fn new(
        release: Option<String>,
        state: &CanaryState,
        weights_before: Weights,
        observed: &Observation,
        judged: Judged,
    ) -> Judgement {
        Judgement {
            release,
            decision: judged.decision,
            state_before: Some(state.clone()),
            weights_before,
            statistics: judged.statistics,
            inputs: Inputs {
                periods_read: observed.periods.len(),
                baseline_ms: observed.baseline_ms,
                calibration: observed.calibration,
                canary_healthy_targets: observed.canary_healthy_targets,
            },
        }
    }
}

impl Command {
    pub fn kind(self) -> &'static str {
        match self {
            Command::Pause => "pause",
            Command::Resume => "resume",
            Command::SkipBake => "skip_bake",
        }
    }
}
