//! The transitions one by one: what each event changes, and what each state refuses.

use super::*;
use crate::decision::{Counts, Decision, Observation, Period, Weights, decide};

const T: i64 = 1_800_000_000;

fn plan() -> Plan {
    let mut plan = Plan::default();
    plan.health.latency.statistic = "Average".into();
    plan
}

fn release(version: &str) -> Event {
    Event::Release {
        version: version.into(),
        refresh: format!("refresh-{version}"),
        record: format!("record-{version}"),
    }
}

/// A stack idle on 1.0.0, then `events` in order, one a minute.
fn after(plan: &Plan, events: &[Event]) -> Recorded {
    let mut state = Recorded::idle().next(|r| r.release.stable_version = Some("1.0.0".into()));
    for (i, event) in events.iter().enumerate() {
        state = transition(plan, &state, event, T + 60 * i as i64).unwrap();
    }
    state
}

#[test]
fn a_release_runs_deploying_steps_complete_and_idle_on_the_new_version() {
    let plan = plan();
    let mut events = vec![release("2.0.0")];
    events.extend((0..plan.steps.len()).map(|step| Event::Promoted { step }));
    events.push(Event::Completed);
    events.push(Event::StableMoveStarted {
        refresh: "stable-refresh".into(),
    });
    events.push(Event::Released);
    let mut state = Recorded::idle().next(|r| r.release.stable_version = Some("1.0.0".into()));
    let mut seen = Vec::new();
    for (i, event) in events.iter().enumerate() {
        let next = transition(&plan, &state, event, T + 60 * i as i64).unwrap();
        assert_eq!(next.canary.version, state.canary.version + 1, "{event:?}");
        seen.push(next.canary.status);
        state = next;
    }
    assert_eq!(seen[0], Status::Deploying);
    assert!(
        seen[1..=plan.steps.len()]
            .iter()
            .all(|s| *s == Status::Running)
    );
    assert_eq!(state.canary.status, Status::Idle);
    assert_eq!(state.release.stable_version.as_deref(), Some("2.0.0"));
    assert_eq!(
        state.canary.canary_started_at,
        T + 60,
        "the first step starts the canary"
    );
}

#[test]
fn the_first_release_has_no_canary() {
    let first = transition(&plan(), &Recorded::idle(), &release("1.0.0"), T).unwrap();
    assert_eq!(first.canary.status, Status::Complete);
    assert_eq!(first.canary.step, plan().steps.len() - 1);
    assert_eq!(first.release.refresh_id, None);
}

#[test]
fn skipping_the_bake_records_it_and_keeps_the_steps_start() {
    let plan = plan();
    let running = after(&plan, &[release("2.0.0"), Event::Promoted { step: 0 }]);
    let skipped = transition(&plan, &running, &Event::SkipBake, T + 300).unwrap();
    assert!(skipped.canary.bake_skipped);
    assert_eq!(
        skipped.canary.step_started_at,
        running.canary.step_started_at
    );
    assert_eq!(
        skipped.canary.bake_started_at,
        running.canary.bake_started_at
    );
    assert_eq!(bake_left(&plan, &skipped.canary, T + 300), 0);
    // The next step bakes again.
    let next = transition(&plan, &skipped, &Event::Promoted { step: 1 }, T + 400).unwrap();
    assert!(!next.canary.bake_skipped);
    assert_eq!(next.canary.bake_started_at, T + 400);
}

/// The flaw of back-dating the step's start: the periods of the step before it counted for this
/// one, so a step with too few requests of its own could be promoted.
#[test]
fn a_skipped_bake_still_needs_the_steps_own_requests() {
    let plan = plan();
    let running = after(&plan, &[release("2.0.0"), Event::Promoted { step: 0 }]);
    let step_start = running.canary.step_started_at;
    let now = step_start + 240;
    let skipped = transition(&plan, &running, &Event::SkipBake, now).unwrap();
    let healthy = |requests| Counts {
        requests,
        latency_ms: Some(50.0),
        ..Counts::default()
    };
    // Busy before this step began (a previous canary's minutes), nearly quiet since.
    let mut periods: Vec<Period> = (-20..0)
        .map(|k| Period {
            t: step_start + 60 * k,
            stable: healthy(900),
            canary: healthy(100),
        })
        .collect();
    periods.extend((0..2).map(|k| Period {
        t: step_start + 60 * k,
        stable: healthy(900),
        canary: healthy(1),
    }));
    let observed = Observation {
        periods,
        baseline_ms: Some(50.0),
        calibration: None,
        canary_healthy_targets: 1,
    };
    let live = Weights::for_percent(plan.steps[0]);
    let decision = decide(&plan, Some(&skipped.canary), live, &observed, now);
    assert!(
        matches!(&decision, Decision::Hold { reason } if reason.contains("insufficient")),
        "{decision:?}"
    );
}

#[test]
fn resume_restarts_the_bake_not_the_step() {
    let plan = plan();
    let paused = after(
        &plan,
        &[
            release("2.0.0"),
            Event::Promoted { step: 0 },
            Event::Pause {
                reason: "looking".into(),
            },
        ],
    );
    let resumed = transition(&plan, &paused, &Event::Resume, T + 3_600).unwrap();
    assert_eq!(resumed.canary.status, Status::Running);
    assert_eq!(
        resumed.canary.step_started_at,
        paused.canary.step_started_at
    );
    assert_eq!(resumed.canary.bake_started_at, T + 3_600);
    let owed = (plan.bake_seconds + plan.health.settle_seconds) as i64;
    assert_eq!(bake_left(&plan, &resumed.canary, T + 3_600), owed);
    assert_eq!(holding_for(&resumed.canary, T + 3_660), 60);
}

#[test]
fn each_state_refuses_what_it_cannot_take_and_says_why() {
    let plan = plan();
    let running = after(&plan, &[release("2.0.0"), Event::Promoted { step: 0 }]);
    let refused = |state: &Recorded, event: Event| {
        transition(&plan, state, &event, T + 999)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        refused(&running, Event::Resume),
        "resume is refused while the canary is running: it must be paused"
    );
    assert!(refused(&running, release("3.0.0")).contains("a release is in progress"));
    assert!(refused(&running, Event::Promoted { step: 2 }).contains("step 2 follows step 1"));
    assert!(refused(&running, Event::Completed).contains("only the last step"));
    assert!(refused(&running, Event::Released).contains("it must be complete"));
    let rolled_back = transition(
        &plan,
        &running,
        &Event::RolledBack {
            reason: "5XX".into(),
        },
        T + 500,
    )
    .unwrap();
    for event in [
        Event::Promoted { step: 1 },
        Event::Resume,
        Event::SkipBake,
        Event::Completed,
        Event::Released,
    ] {
        assert!(
            transition(&plan, &rolled_back, &event, T + 600).is_err(),
            "{event:?}"
        );
    }
    let again = transition(&plan, &rolled_back, &release("2.0.1"), T + 700).unwrap();
    assert_eq!(again.canary.status, Status::Deploying);
}
