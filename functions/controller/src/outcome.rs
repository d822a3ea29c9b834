//! What a handler invocation did; it is also the Lambda's JSON response.

use crate::decision::{Status, Weights};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Promotion did nothing: no release in progress, or the canary is rolled back or paused.
    Idle {
        status: Status,
    },
    Held {
        reason: String,
    },
    Promoted {
        step: usize,
        weights: Weights,
    },
    RolledBack {
        reason: String,
    },
    /// A rollback that had already been done: the listener was checked, nothing else changed.
    AlreadyRolledBack,
    /// Every step baked: the stable fleet moves to the release.
    Completed,
    /// A step held longer than `max_step_seconds`: paused and notified.
    Paused {
        reason: String,
    },
    /// The stable fleet serves the release healthily: the listener is stable-only, the stack idle.
    Released {
        version: String,
    },
    /// An alarm on the canary fleet with no canary in progress: recorded and notified, no weights.
    AlarmWhileIdle {
        alarm: String,
    },
    /// Someone else changed the weights: reported and paused, not overwritten.
    Drift {
        found: Weights,
        expected: Weights,
    },
    /// A rollback happened while this promotion ran: canary was set back to 0.
    RollbackWon {
        reason: String,
    },
    /// An alarm transition that is not into ALARM: logged, nothing changed.
    Ignored {
        alarm: String,
        state: String,
    },
}
