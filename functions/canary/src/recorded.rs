//! The state item as the state machine sees it: the canary's state and the release lifecycle,
//! recorded together (one item, one version number). The DynamoDB adapter that reads and writes it
//! is the controller's `state` module.

use serde::Serialize;

use crate::decision::{CanaryState, Status};

/// The release lifecycle, recorded in the same item as the canary state.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Release {
    /// The release in progress, or the last one.
    pub version: Option<String>,
    /// What the stable fleet serves; `None` before the first release.
    pub stable_version: Option<String>,
    /// What the canary fleet was last moved to.
    pub canary_version: Option<String>,
    /// The fleet move in progress: its instance refresh and when it began.
    pub refresh_id: Option<String>,
    pub moved_at: Option<i64>,
    /// Sort key of the release's record.
    pub record: Option<String>,
    /// Set by a rollback while the stable fleet was moving to the release: the version it must be
    /// moved back to, until it is (a run that dies in between leaves it for the next).
    pub stable_back: Option<String>,
}

/// The whole state item.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub canary: CanaryState,
    pub release: Release,
}

impl Recorded {
    /// The state before any release: nothing recorded yet.
    pub fn idle() -> Recorded {
        Recorded {
            canary: CanaryState {
                status: Status::Idle,
                step: 0,
                step_started_at: 0,
                bake_started_at: 0,
                bake_skipped: false,
                canary_started_at: 0,
                version: 0,
                reason: None,
            },
            release: Release::default(),
        }
    }

    /// A release is in flight: deploying, running, paused or finishing.
    pub fn in_progress(&self) -> bool {
        matches!(
            self.canary.status,
            Status::Deploying | Status::Running | Status::Paused | Status::Complete
        )
    }

    /// The same item, one version later, changed by `change`.
    pub fn next(&self, change: impl FnOnce(&mut Recorded)) -> Recorded {
        let mut next = self.clone();
        next.canary.version = self.canary.version + 1;
        change(&mut next);
        next
    }
}
