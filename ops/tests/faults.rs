//! Faults survived, counted: every crash point and AWS API fault of the controller's runs and the
//! operator's commands, explored against the emulator through the real SDK clients
//! (`alb_canary_tests::faults`), with the invariants checked after AWS's or the operator's
//! recovery. The exploration itself lives in `faults/explore.rs`; this file runs a representative
//! part of it (`cargo xtask bench-faults` runs all of it) and holds the regression tests of what
//! it found, each named after its crash point.

#[path = "faults/explore.rs"]
mod explore;

use alb_canary_tests::faults::{Faults, Kind, Target};
use explore::{Campaign, Op, Phase};

/// The shortened exploration: every crash point after a call that changes something, in every
/// scenario, and the outages of every service while the rollback function runs on an alarm (V2's
/// traffic is at stake there). `cargo xtask bench-faults` runs all of it.
#[tokio::test(flavor = "multi_thread")]
async fn faults_survived_crash_points_and_api_faults() {
    let mut total = explore::Tally::default();
    for scenario in explore::SCENARIOS {
        let mut campaigns = vec![Campaign::CrashAfterWrites];
        if (scenario.phase, scenario.op) == (Phase::FirstStep, Op::Alarm) {
            campaigns.push(Campaign::Outage);
        }
        total += explore::explore(scenario, &campaigns).await;
    }
    println!("{}", total.summary());
    assert!(
        total.violations.is_empty(),
        "{} invariant violations:\n{}",
        total.violations.len(),
        total.violations.join("\n")
    );
    // The exploration explored: every scenario's clean run made calls to crash after.
    assert!(total.explored >= 50, "{}", total.summary());
}

/// The full exploration, for `cargo xtask bench-faults` (`--ignored`): every scenario, every crash
/// point, every answer lost, an outage of each kind and a throttling burst on each service used.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "the full exploration: `cargo xtask bench-faults`"]
async fn bench_faults_full_exploration() {
    let mut total = explore::Tally::default();
    // `ALB_CANARY_FAULTS_ONLY=text`: only the scenarios whose name holds it.
    let only = std::env::var("ALB_CANARY_FAULTS_ONLY").unwrap_or_default();
    for scenario in explore::SCENARIOS.iter().filter(|s| s.name.contains(&only)) {
        let tally = explore::explore(scenario, Campaign::ALL).await;
        println!("{}", tally.line(scenario));
        total += tally;
    }
    println!("{}", total.summary());
    assert!(
        total.violations.is_empty(),
        "{} invariant violations:\n{}",
        total.violations.len(),
        total.violations.join("\n")
    );
}

// What the exploration found, each a regression test named after its crash point or fault: one
// scenario, one fault, the same recovery and invariants as the exploration's.

/// The state table's writes: a crash "after the first DynamoDB write".
fn first_dynamodb_write() -> Vec<Target> {
    ["PutItem", "UpdateItem", "TransactWriteItems"]
        .map(|op| Target::operation("dynamodb", op))
        .to_vec()
}

async fn survives(scenario: &str, inject: impl Fn(&Faults)) {
    let problems = explore::check_one(explore::scenario_named(scenario), inject).await;
    assert!(
        problems.is_empty(),
        "{scenario}:\n  {}",
        problems.join("\n  ")
    );
}

/// Was: the listener at 10 %, the state deploying; every later run reported drift and notified,
/// the release stuck deploying.
#[tokio::test(flavor = "multi_thread")]
async fn deploying_crash_after_modify_listener() {
    survives("promotion: deploying → first step", |f| {
        f.crash_after_first(&[Target::operation("elbv2", "ModifyListener")])
    })
    .await;
}

/// Was: the listener at 25 %, the state at 10 %; the next run paused the canary for drift.
#[tokio::test(flavor = "multi_thread")]
async fn step_crash_after_modify_listener() {
    survives("promotion: a step (10 → 25 %)", |f| {
        f.crash_after_first(&[Target::operation("elbv2", "ModifyListener")])
    })
    .await;
}

/// Was: the state at 25 %, the release record without its step and the history without the
/// promotion (lost for good: the next run found nothing to do).
#[tokio::test(flavor = "multi_thread")]
async fn step_crash_after_the_state_write() {
    survives("promotion: a step (10 → 25 %)", |f| {
        f.crash_after_first(&first_dynamodb_write())
    })
    .await;
}

/// Was: the record step's `list_append` retried by the SDK after its answer was lost: the step
/// recorded twice.
#[tokio::test(flavor = "multi_thread")]
async fn step_answer_lost_on_the_record_write() {
    survives("promotion: a step (10 → 25 %)", |f| {
        for op in ["UpdateItem", "TransactWriteItems"] {
            f.fail(Target::operation("dynamodb", op), Kind::AnswerLost, 1);
        }
    })
    .await;
}

/// Was: rolled back, but the schedule kept running, the release record stayed open and nobody
/// was notified (the next run saw "rolled back" and did nothing).
#[tokio::test(flavor = "multi_thread")]
async fn rollback_decision_crash_after_the_rollback_record() {
    survives("promotion: rollback decision", |f| {
        f.crash_after_first(&first_dynamodb_write())
    })
    .await;
}

/// Was: Lambda's retry of the alarm found the state rolled back and skipped the rest: the
/// release record stayed open and the notification was never sent.
#[tokio::test(flavor = "multi_thread")]
async fn alarm_crash_after_the_rollback_record() {
    survives("rollback alarm: at a step", |f| {
        f.crash_after_first(&first_dynamodb_write())
    })
    .await;
}

/// Was: `abort` run again was refused (nothing in progress), the schedule stayed on, the record
/// open, nobody notified.
#[tokio::test(flavor = "multi_thread")]
async fn abort_crash_after_the_rollback_record() {
    survives("abort", |f| f.crash_after_first(&first_dynamodb_write())).await;
}

/// Was: the record opened, the state still idle; `release` run again opened a second record and
/// the first stayed open for ever.
#[tokio::test(flavor = "multi_thread")]
async fn release_crash_after_its_record() {
    survives("release", |f| f.crash_after_first(&first_dynamodb_write())).await;
}

/// Was: `release` run again asked for a second instance refresh while the first ran: refused by
/// Auto Scaling, the release could not start.
#[tokio::test(flavor = "multi_thread")]
async fn release_crash_after_the_canary_fleets_refresh() {
    survives("release", |f| {
        f.crash_after_first(&[Target::operation("autoscaling", "StartInstanceRefresh")])
    })
    .await;
}

/// Was: paused, its history item never written (the command run again was refused).
#[tokio::test(flavor = "multi_thread")]
async fn pause_crash_after_the_state_write() {
    survives("pause", |f| f.crash_after_first(&first_dynamodb_write())).await;
}

/// Was: `release 3.0.0 --force` run again after it died past the abort's record: nobody notified
/// the abort (the schedule was turned on again by the new release).
#[tokio::test(flavor = "multi_thread")]
async fn release_force_crash_after_the_aborts_record() {
    survives("release --force", |f| {
        f.crash_after_first(&first_dynamodb_write())
    })
    .await;
}

/// Was: `release 3.0.0 --force` run again after it died past its own record: it aborted the
/// release it had just started, and started it again.
#[tokio::test(flavor = "multi_thread")]
async fn release_force_crash_after_its_record() {
    survives("release --force", |f| {
        f.crash_after_nth(&first_dynamodb_write(), 2)
    })
    .await;
}
