//! The release's state machine: every change of the recorded state is [`transition`], a pure
//! function of (plan, recorded state, event, clock). The functions and `canaryctl` read the state,
//! perform their AWS calls, call this, and write what it returns (conditionally on the version it
//! read); none of them sets a field of the state itself.
//!
//! ```text
//!   idle / rolled_back ──Release──▶ deploying ──Promoted{0}──▶ running ──Promoted{n+1}──▶ running
//!        ▲   (first release: straight to complete)               │  ▲ │ Pause     ▲ Resume
//!        │                                                        │  │ ▼           │
//!        │                                          SkipBake ─────┘  paused ───────┘
//!        │                                                        │ Completed (last step baked)
//!        └──────────── Released ◀── complete (stable fleet moves: StableMoveStarted / Failed)
//!   any ──RolledBack──▶ rolled_back   (only a new Release leaves it)
//! ```
//!
//! The bake is counted here too, once ([`bake_judged`], [`bake_left`]): the promotion's decision
//! and `status` both read it.

use contract::Plan;

use crate::decision::{CanaryState, Status};
use crate::recorded::Recorded;

/// What happened, as the state machine needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An operator released `version`: the canary fleet moves to it (instance refresh `refresh`)
    /// and its release record `record` is opened. The first release (no stable version yet) has
    /// no canary: both fleets move to it.
    Release {
        version: String,
        refresh: String,
        record: String,
    },
    /// The listener holds step `step`'s weights (written and verified by the promotion function).
    Promoted { step: usize },
    /// The last step baked healthy: the stable fleet is to move to the release.
    Completed,
    /// The stable fleet's move began (its instance refresh).
    StableMoveStarted { refresh: String },
    /// The stable fleet's move failed: the canary keeps serving the release; a person decides.
    StableMoveFailed { reason: String },
    /// The stable fleet serves the release: the stack is idle on it.
    Released,
    /// A step held longer than `max_step_seconds` (the promotion function), or an operator.
    Pause { reason: String },
    /// The bake of the step in force starts again.
    Resume,
    /// An operator skips the rest of this step's bake. The step's start stays what it was, so the
    /// judge still needs the step's own evidence (its minimum requests, the test at 100 %).
    SkipBake,
    /// The canary's weight is 0 (the rollback function, an operator's abort, a `release --force`).
    RolledBack { reason: String },
}

impl Event {
    pub fn name(&self) -> &'static str {
        match self {
            Event::Release { .. } => "release",
            Event::Promoted { .. } => "promote",
            Event::Completed => "complete",
            Event::StableMoveStarted { .. } => "stable_move_started",
            Event::StableMoveFailed { .. } => "stable_move_failed",
            Event::Released => "released",
            Event::Pause { .. } => "pause",
            Event::Resume => "resume",
            Event::SkipBake => "skip_bake",
            Event::RolledBack { .. } => "roll_back",
        }
    }
}

/// An event the state it came in cannot take; nothing changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{event} is refused while the canary is {status}: {why}")]
pub struct Refused {
    pub event: &'static str,
    pub status: &'static str,
    pub why: String,
}

/// The state after `event` at `now` (epoch seconds), one version above `from`.
pub fn transition(
    plan: &Plan,
    from: &Recorded,
    event: &Event,
    now: i64,
) -> Result<Recorded, Refused> {
    let status = from.canary.status;
    let refuse = |why: String| Refused {
        event: event.name(),
        status: status.as_str(),
        why,
    };
    let last_step = plan.steps.len().saturating_sub(1);
    let next = match event {
        Event::Release {
            version,
            refresh,
            record,
        } => {
            if from.in_progress() {
                return Err(refuse(
                    "a release is in progress; roll it back first".into(),
                ));
            }
            let first = from.release.stable_version.is_none();
            from.next(|r| {
                r.canary.status = if first { Status::Complete } else { Status::Deploying };
                r.canary.step = if first { last_step } else { 0 };
                start_step(&mut r.canary, now);
                r.canary.reason = Some(if first {
                    format!(
                        "first release: no stable version to compare with; both fleets move to {version}"
                    )
                } else {
                    format!(
                        "the canary fleet moves to {version}; the canary starts once it is healthy"
                    )
                });
                r.release.version = Some(version.clone());
                r.release.canary_version = Some(version.clone());
                r.release.refresh_id = (!first).then(|| refresh.clone());
                r.release.moved_at = Some(now);
                r.release.record = Some(record.clone());
            })
        }
        Event::Promoted { step } => {
            let expected = match status {
                Status::Deploying => 0,
                Status::Running => from.canary.step + 1,
                _ => {
                    return Err(refuse(
                        "only a deploying or running canary moves a step".into(),
                    ));
                }
            };
            if *step != expected || *step > last_step {
                return Err(refuse(format!(
                    "step {} follows step {} of {}, not step {}",
                    expected + 1,
                    from.canary.step + 1,
                    plan.steps.len(),
                    step + 1
                )));
            }
            from.next(|r| {
                if status == Status::Deploying {
                    r.canary.canary_started_at = now;
                }
                r.canary.status = Status::Running;
                r.canary.step = *step;
                start_step(&mut r.canary, now);
                r.canary.reason = None;
                r.release.refresh_id = None;
                r.release.moved_at = None;
            })
        }
        Event::Completed => {
            if status != Status::Running || from.canary.step != last_step {
                return Err(refuse("only the last step, running, completes".into()));
            }
            let version = from.release.version.clone().unwrap_or_default();
            from.next(|r| {
                r.canary.status = Status::Complete;
                r.canary.reason = Some(format!(
                    "every step baked healthy; the stable fleet moves to {version}"
                ));
                r.release.refresh_id = None;
                r.release.moved_at = Some(now);
            })
        }
        Event::StableMoveStarted { refresh } => {
            require(status, Status::Complete).map_err(refuse)?;
            from.next(|r| {
                r.release.refresh_id = Some(refresh.clone());
                r.release.moved_at = Some(now);
            })
        }
        Event::StableMoveFailed { reason } => {
            require(status, Status::Complete).map_err(refuse)?;
            from.next(|r| r.canary.reason = Some(reason.clone()))
        }
        Event::Released => {
            require(status, Status::Complete).map_err(refuse)?;
            let version = from.release.version.clone().unwrap_or_default();
            from.next(|r| {
                r.canary.status = Status::Idle;
                r.canary.step = 0;
                start_step(&mut r.canary, now);
                r.canary.reason = Some(format!(
                    "release {version} complete: the stable fleet serves it"
                ));
                r.release.stable_version = Some(version.clone());
                r.release.refresh_id = None;
                r.release.moved_at = None;
            })
        }
        Event::Pause { reason } => {
            require(status, Status::Running).map_err(refuse)?;
            from.next(|r| {
                r.canary.status = Status::Paused;
                r.canary.reason = Some(reason.clone());
            })
        }
        Event::Resume => {
            require(status, Status::Paused).map_err(refuse)?;
            from.next(|r| {
                r.canary.status = Status::Running;
                r.canary.bake_started_at = now;
                r.canary.bake_skipped = false;
                r.canary.reason = None;
            })
        }
        Event::SkipBake => {
            require(status, Status::Running).map_err(refuse)?;
            from.next(|r| {
                r.canary.bake_skipped = true;
                r.canary.reason = Some("bake skipped by an operator".into());
            })
        }
        Event::RolledBack { reason } => from.next(|r| {
            r.canary.status = Status::RolledBack;
            r.canary.reason = Some(reason.clone());
        }),
    };
    Ok(next)
}

fn require(status: Status, wanted: Status) -> Result<(), String> {
    if status == wanted {
        Ok(())
    } else {
        Err(format!("it must be {}", wanted.as_str()))
    }
}

fn start_step(canary: &mut CanaryState, now: i64) {
    canary.step_started_at = now;
    canary.bake_started_at = now;
    canary.bake_skipped = false;
}

/// Seconds of this step's bake judged by `now`: settled time (the judged data ends
/// `settle_seconds` before `now`) since `bake_from`, the later of the bake's start and the moment
/// the latency threshold was fixed.
pub fn bake_judged(plan: &Plan, bake_from: i64, now: i64) -> i64 {
    let settle = i64::try_from(plan.health.settle_seconds).unwrap_or(i64::MAX);
    now.saturating_sub(settle).saturating_sub(bake_from).max(0)
}

/// Whether the step in force has baked: skipped by an operator, or judged for `bake_seconds`.
pub fn baked(plan: &Plan, canary: &CanaryState, bake_from: i64, now: i64) -> bool {
    let bake = i64::try_from(plan.bake_seconds).unwrap_or(i64::MAX);
    canary.bake_skipped || bake_judged(plan, bake_from, now) >= bake
}

/// Seconds until the step in force has baked (0 once it has): its bake and CloudWatch's settling
/// from the bake's start, for a running canary whose latency threshold is fixed.
pub fn bake_left(plan: &Plan, canary: &CanaryState, now: i64) -> i64 {
    if canary.bake_skipped {
        return 0;
    }
    let owed = i64::try_from(plan.bake_seconds.saturating_add(plan.health.settle_seconds))
        .unwrap_or(i64::MAX);
    canary
        .bake_started_at
        .saturating_add(owed)
        .saturating_sub(now)
        .clamp(0, owed)
}

/// How long the step in force has held since its bake (re)started: a pause after
/// `max_step_seconds`.
pub fn holding_for(canary: &CanaryState, now: i64) -> i64 {
    now.saturating_sub(canary.bake_started_at)
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
