//! The state machine under any sequence of events, on any plan: what no sequence may do.

use super::*;
use crate::decision::properties::arb_plan;
use crate::decision::{Weights, expected_weights};
use proptest::prelude::*;

const T: i64 = 1_800_000_000;

fn arb_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        1 => (0u8..3).prop_map(|v| Event::Release {
            version: format!("2.0.{v}"),
            refresh: format!("refresh-{v}"),
            record: format!("record-{v}"),
        }),
        4 => (0usize..6).prop_map(|step| Event::Promoted { step }),
        1 => Just(Event::Completed),
        1 => Just(Event::StableMoveStarted {
            refresh: "stable".into()
        }),
        1 => Just(Event::StableMoveFailed {
            reason: "failed".into()
        }),
        1 => Just(Event::Released),
        1 => Just(Event::Pause {
            reason: "held".into()
        }),
        1 => Just(Event::Resume),
        1 => Just(Event::SkipBake),
        1 => Just(Event::RolledBack {
            reason: "alarm".into()
        }),
    ]
}

proptest! {
    #[test]
    fn no_sequence_of_events_breaks_the_machines_rules(
        plan in arb_plan(),
        stable in proptest::option::of(Just("1.0.0".to_string())),
        events in proptest::collection::vec((arb_event(), 0i64..900), 1..60),
    ) {
        let mut state = Recorded::idle().next(|r| r.release.stable_version = stable.clone());
        let mut now = T;
        for (event, later) in events {
            now += later;
            let Ok(next) = transition(&plan, &state, &event, now) else {
                continue;
            };
            let (before, after) = (&state.canary, &next.canary);
            prop_assert_eq!(after.version, before.version + 1);
            prop_assert!(after.step < plan.steps.len());
            prop_assert!(after.bake_started_at >= after.step_started_at);
            match &event {
                // Operator events and pauses move no step and rewrite no start.
                Event::Pause { .. } | Event::Resume | Event::SkipBake => {
                    prop_assert_eq!(after.step, before.step);
                    prop_assert_eq!(after.step_started_at, before.step_started_at);
                    prop_assert_eq!(after.canary_started_at, before.canary_started_at);
                }
                Event::Promoted { step } => {
                    let from = if before.status == Status::Deploying { 0 } else { before.step + 1 };
                    prop_assert_eq!(*step, from);
                    prop_assert_eq!(after.step_started_at, now);
                    prop_assert!(!after.bake_skipped);
                }
                _ => {}
            }
            // Rollback always wins: once rolled back, nothing but a new release (or another
            // rollback) is taken, and the state pins canary at 0.
            if before.status == Status::RolledBack {
                let allowed = matches!(event, Event::Release { .. } | Event::RolledBack { .. });
                prop_assert!(allowed, "{:?} taken after a rollback", event);
            }
            if after.status == Status::RolledBack {
                prop_assert_eq!(expected_weights(&plan, Some(after)), Some(Weights::STABLE_ONLY));
            }
            state = next;
        }
    }
}
