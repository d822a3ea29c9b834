//! Faults survived, counted: every crash point and AWS API fault of the controller's runs and the
//! operator's commands, explored against the emulator through the real SDK clients
//! (`alb_canary_tests::faults`), with the invariants checked after AWS's or the operator's
//! recovery. The exploration itself lives in `explore.rs`; this file runs a representative
//! part of it (`cargo xtask bench-faults` runs all of it) and holds the regression tests of what
//! it found, each named after its crash point. `world.rs`: the canary set up in each phase and the
//! recovery; `snapshot.rs`: what is compared and the invariants; `races.rs`: operator races.

mod explore;
mod races;
mod snapshot;
mod world;

use alb_canary_tests::faults::{Faults, Kind, Target};
use canaryctl::control::Action;
use explore::{Campaign, Op, Phase};

/// The shortened exploration: every crash point after a call that changes something, in every
/// scenario, and the outages of every service while the rollback function runs on an alarm (the canary's
/// traffic is at stake there). `cargo xtask bench-faults` runs all of it.
#[tokio::test(flavor = "multi_thread")]
async fn faults_survived_crash_points_and_api_faults() {
    let mut total = explore::Tally::default();
    for scenario in explore::SCENARIOS {
        let mut campaigns = vec![Campaign::CrashAfterWrites];
        if (scenario.phase, scenario.op) == (Phase::FirstStep, Op::Alarm) {
            campaigns.push(Campaign::Outage);
            campaigns.push(Campaign::LongOutage);
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
    let problems = explore::check_one(explore::scenario_named(scenario), inject, false).await;
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

/// Was: the bake skip's transaction applied, its answer lost, the SDK's retry refused as a
/// conflict (the emulator ignored the client request token that AWS honours), the command run
/// again, the skip recorded twice.
#[tokio::test(flavor = "multi_thread")]
async fn skip_bake_answer_lost_on_the_state_transaction() {
    survives("skip-bake", |f| {
        f.fail(
            Target::operation("dynamodb", "TransactWriteItems"),
            Kind::AnswerLost,
            1,
        )
    })
    .await;
}

/// Was: ELBv2 failing through the alarm's invocation and Lambda's two retries: the event went to
/// the dead-letter queue, nothing was recorded, and the canary kept its traffic while the schedule's runs
/// judged on. The rollback is now recorded as pending and the next promotion run finishes it.
#[tokio::test(flavor = "multi_thread")]
async fn alarm_elbv2_outage_through_the_retries() {
    let scenario = explore::scenario_named("rollback alarm: at a step");
    let problems = explore::check_one(
        scenario,
        |f| f.fail(Target::service("elbv2"), Kind::Http503, u32::MAX),
        true,
    )
    .await;
    assert!(problems.is_empty(), "{}", problems.join("\n  "));
}

/// DynamoDB's conditional write lost to an operator: `pause`, `abort` and `promote` taken before,
/// between and after each stage of a promotion run (10 → 25 %), then the command run again if it
/// failed and the schedule's next run. The command takes effect (an abort always), and state and
/// listener agree or the drift is reported.
#[tokio::test(flavor = "multi_thread")]
async fn an_operator_command_racing_each_stage_of_a_promotion() {
    let mut violations = Vec::new();
    let mut explored = 0;
    for action in [Action::Pause, Action::Abort, Action::SkipBake] {
        for at in 0..=races::STAGES {
            explored += 1;
            let problems = races::race(action, at).await;
            if !problems.is_empty() {
                violations.push(format!(
                    "{action:?} before stage {at}: {}",
                    problems.join("; ")
                ));
            }
        }
    }
    println!(
        "operator races: {} of {explored} survived",
        explored - violations.len()
    );
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}
