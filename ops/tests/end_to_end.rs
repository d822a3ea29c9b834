//! One whole canary in the local emulator, as the synthesized stack deploys it.
//!
//! moto's CloudFormation cannot create our stack (see the shared emulator notes), so this test
//! plays CloudFormation's part for the controller: it creates the listener, target groups, state
//! table, topic, schedule, alarms, role and functions through the SDK with the names, keys,
//! weights, environment and event that `stack::synthesize` gives them, resolving the template's
//! own expressions. Nothing is typed twice: a setting the template does not give the functions is
//! a failing cold start here. Then releases are published and started, the schedule's event drives
//! the promotion handler through every step, alarms roll canaries back, and the operator commands
//! act on them, and the whole life of the stack runs: first deploy, releases, a rollback, a fresh
//! release; every refusal changes nothing; status reads past one page of history.

mod common;

use alb_canary_tests::controller_env::Env;
use canaryctl::control::{Action as Operator, apply};
use common::*;
use contract::release::Fleet;
use controller::Outcome;
use controller::decision::{Decision, Status, Weights};
use controller::history::{Entry, Inputs, Judgement, PROMOTION, Record};
use controller::rollback::handle_alarm_at;

#[tokio::test(flavor = "multi_thread")]
async fn the_schedule_promotes_a_healthy_canary_through_every_step_and_operators_steer_it() {
    let env = Env::start().await;
    let deployed = deploy(&env).await;
    let steps = emulator_plan().steps;
    let mut now = t0() - 600;

    assert!(
        status(&deployed, now)
            .await
            .contains("release    idle: no release yet (`cargo xtask release VERSION`)")
    );
    first_release(&env, &deployed, "1.0.0", now).await;
    start_canary(&env, &deployed, "1.1.0", now + 120).await;
    now += 180;

    // Paused: the schedule's runs still judge (they may roll back) but hold the weights;
    // resumed: the step's bake starts again.
    assert_eq!(
        apply(&deployed.target, Operator::Pause, now + 10)
            .await
            .unwrap(),
        "paused at step 1"
    );
    healthy_minute(&env, &deployed, now + 30).await;
    let paused = scheduled_run(&deployed, now + 400).await;
    assert!(
        matches!(&paused, Outcome::Held { reason } if reason.contains("paused")),
        "{paused:?}"
    );
    assert_eq!(weights(&deployed).await, Weights::for_percent(steps[0]));
    assert!(
        status(&deployed, now + 400)
            .await
            .contains("release    1.1.0 paused at step 1 of 4 (10% to canary)")
    );
    let err = apply(&deployed.target, Operator::Pause, now + 410)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot pause a canary that is paused"),
        "{err}"
    );
    apply(&deployed.target, Operator::Resume, now + 420)
        .await
        .unwrap();
    now += 420;
    healthy_minute(&env, &deployed, now + 30).await;
    assert!(
        matches!(
            scheduled_run(&deployed, now + 120).await,
            Outcome::Held { .. }
        ),
        "a resumed step bakes again"
    );

    // `promote` skips the rest of the bake: the next run moves on once the minute above settled.
    apply(&deployed.target, Operator::SkipBake, now + 130)
        .await
        .unwrap();
    now += 240;
    assert_eq!(
        scheduled_run(&deployed, now).await,
        Outcome::Promoted {
            step: 1,
            weights: Weights::for_percent(steps[1])
        }
    );

    now = bake_steps_to_completion(&env, &deployed, 2, now).await;

    let report = status(&deployed, now + 60).await;
    assert!(
        report.contains("weights    stable 0 / canary 100"),
        "{report}"
    );
    assert!(
        report.contains("release    1.1.0 complete: the stable fleet moves to it"),
        "{report}"
    );
    // The stack is deployed with TargetSignal's default (disabled): its alarms are absent.
    for kind in stack::controller::AlarmKind::ALL {
        let name = stack::controller::alarm_name(STACK, kind);
        assert_eq!(
            report.contains(&format!("alarm      {name}: OK")),
            !kind.needs_target_signal(),
            "{name}: {report}"
        );
    }
    let decisions = decisions(&report);
    assert_eq!(decisions.first(), Some(&"complete"), "{report}");
    for kind in ["pause", "resume", "skip_bake", "promote", "hold"] {
        assert!(decisions.contains(&kind), "no {kind} decision in {report}");
    }
    assert!(!report.contains("(unread"), "{report}");
    assert!(
        report.contains("by canaryctl — running step 1 -> paused step 1"),
        "{report}"
    );
    // The judge's latest statistics, each with its threshold.
    assert!(
        report.contains("judge      latest statistics (decision complete")
            && report.contains("errors     sequential: canary 1 of 1400")
            && report.contains("(both ≥ 5.30 rolls back)")
            && report.contains("latency    sequential: canary 0 of 1400, stable "),
        "{report}"
    );
    // Complete means done: operators can no longer pause or skip.
    let err = apply(&deployed.target, Operator::SkipBake, now + 120)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("that is complete"), "{err}");
    check_recorded_calls(&deployed);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_canary_error_spike_and_its_alarm_roll_the_canary_back_for_good() {
    let env = Env::start().await;
    let deployed = canary_at_first_step(&env, t0() - 600).await;
    let now = t0();
    assert_eq!(weights(&deployed).await.canary, 10);

    let config = &deployed.target.config;
    env.put_minute(&config.stable_tg_arn, now + 30, 900.0, 1.0, 0.020)
        .await;
    env.put_minute(&config.canary_tg_arn, now + 30, 100.0, 40.0, 0.070)
        .await;
    let alarm = deployed.deployment.lookup("CanaryErrorRateAlarm");
    // A real alarm event (the controller's fixture), renamed to the stack's alarm.
    let event = alarm_event(&deployed, "CanaryErrorRateAlarm");
    let outcome = handle_alarm_at(&deployed.rollback, &deployed.target.config, event, now + 60)
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::RolledBack { .. }), "{outcome:?}");
    assert_eq!(weights(&deployed).await, Weights::STABLE_ONLY);
    assert!(
        !controller::schedule::is_enabled(&deployed.reader.scheduler, &deployed.target.config)
            .await
            .unwrap()
    );

    // A later scheduled run (one that was already on its way, say) never brings canary back.
    assert_eq!(
        scheduled_run(&deployed, now + 400).await,
        Outcome::Idle {
            status: Status::RolledBack
        }
    );
    assert_eq!(weights(&deployed).await, Weights::STABLE_ONLY);
    let report = status(&deployed, now + 400).await;
    assert!(
        report.contains("release    1.1.0 rolled_back at step 1 of 4"),
        "{report}"
    );
    assert!(
        report.contains(&format!("reason     alarm {alarm} entered ALARM")),
        "{report}"
    );
    let err = apply(&deployed.target, Operator::Resume, now + 500)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot resume a canary that is rolled_back"),
        "{err}"
    );
    check_recorded_calls(&deployed);
}

#[tokio::test(flavor = "multi_thread")]
async fn abort_through_the_cli_rolls_a_running_canary_back_at_once() {
    let env = Env::start().await;
    let deployed = canary_at_first_step(&env, t0() - 600).await;
    assert_eq!(weights(&deployed).await.canary, 10);

    let cli = |command: &str, function: &str| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_canaryctl"))
            .args([
                command,
                "--function",
                function,
                "--endpoint-url",
                &env.moto.endpoint(),
            ])
            .envs(env.moto.env())
            .output()
            .expect("canaryctl runs");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr),
        )
    };
    let function = "alb-canary-PromotionFunction";
    let (ok, text) = cli("abort", function);
    assert!(ok, "{text}");
    assert!(
        text.contains("aborted: canary weight 0 (was stable 90 / canary 10)"),
        "{text}"
    );
    assert_eq!(weights(&deployed).await, Weights::STABLE_ONLY);
    let (ok, text) = cli("status", function);
    assert!(ok, "{text}");
    assert!(text.contains("release    1.1.0 rolled_back"), "{text}");
    assert!(text.contains("reason     aborted by an operator"), "{text}");
    let schedule = deployed.deployment.lookup("PromotionSchedule");
    assert!(
        text.contains(&format!("schedule   {schedule} disabled")),
        "{text}"
    );
    // Pausing what is rolled back is refused, with a message that says why; nothing changes.
    let (ok, text) = cli("pause", function);
    assert!(!ok);
    assert!(
        text.contains("cannot pause a canary that is rolled_back"),
        "{text}"
    );
    // A function that is not a canary controller is refused by name.
    let (ok, text) = cli("status", "no-such-function");
    assert!(!ok);
    assert!(
        text.contains("could not read function no-such-function"),
        "{text}"
    );
    check_recorded_calls(&deployed);
}

/// The canary completed: the stable fleet moves to `version`, then the stack is idle on it.
async fn finish(env: &Env, deployed: &Deployed, version: &str, now: i64) {
    assert_eq!(
        pointer(deployed, Fleet::Stable).await.as_deref(),
        Some(version)
    );
    let held = scheduled_run(deployed, now + 60).await;
    assert!(
        matches!(&held, Outcome::Held { reason } if reason.contains("stable fleet")),
        "{held:?}"
    );
    assert_eq!(
        weights(deployed).await,
        Weights {
            stable: 0,
            canary: 100
        },
        "canary serves until stable is ready"
    );
    refresh_done(env, deployed, Fleet::Stable).await;
    assert_eq!(
        scheduled_run(deployed, now + 120).await,
        Outcome::Released {
            version: version.into()
        }
    );
    assert_eq!(weights(deployed).await, Weights::STABLE_ONLY);
    let report = status(deployed, now + 180).await;
    assert!(
        report.contains(&format!("release    idle, stable = {version}")),
        "{report}"
    );
    assert!(
        report.contains(&format!("stable     {version} ")),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_life_of_the_stack_first_deploy_releases_a_rollback_and_a_fresh_release() {
    let env = Env::start().await;
    let deployed = deploy(&env).await;
    let (clients, config) = (&deployed.reader, &deployed.target.config);
    let mut now = controller::now_secs() - 4 * 3600;

    // First deploy: nothing released; the canary fleet is unhealthy and its alarm fires.
    assert_eq!(
        scheduled_run(&deployed, now).await,
        Outcome::Idle {
            status: Status::Idle
        }
    );
    let alarm = deployed.deployment.lookup("CanaryUnhealthyHostsAlarm");
    let outcome = handle_alarm_at(
        &deployed.rollback,
        config,
        alarm_event(&deployed, "CanaryUnhealthyHostsAlarm"),
        now + 10,
    )
    .await
    .unwrap();
    assert_eq!(outcome, Outcome::AlarmWhileIdle { alarm });
    assert_eq!(weights(&deployed).await, Weights::STABLE_ONLY);
    assert!(recorded(&deployed).await.is_none(), "no rollback recorded");
    assert!(
        controller::schedule::is_enabled(&clients.scheduler, config)
            .await
            .unwrap(),
        "nothing disabled"
    );

    // The first release puts both fleets on 1.0.0: nothing to compare it with.
    first_release(&env, &deployed, "1.0.0", now + 60).await;
    assert_eq!(
        pointer(&deployed, Fleet::Canary).await.as_deref(),
        Some("1.0.0")
    );
    now += 300;

    // 1.1.0: the canary fleet moves, the canary runs every step, the stable fleet follows.
    start_canary(&env, &deployed, "1.1.0", now).await;
    assert_eq!(
        pointer(&deployed, Fleet::Canary).await.as_deref(),
        Some("1.1.0")
    );
    assert_eq!(
        pointer(&deployed, Fleet::Stable).await.as_deref(),
        Some("1.0.0")
    );
    now = bake_steps_to_completion(&env, &deployed, 1, now + 60).await;
    finish(&env, &deployed, "1.1.0", now).await;
    now += 300;

    // 1.2.0 with a fault: its 5XX alarm rolls it back; the canary fleet keeps 1.2.0 for inspection.
    start_canary(&env, &deployed, "1.2.0", now).await;
    env.put_minute(&config.canary_tg_arn, now + 90, 100.0, 40.0, 0.070)
        .await;
    let outcome = handle_alarm_at(
        &deployed.rollback,
        config,
        alarm_event(&deployed, "CanaryErrorRateAlarm"),
        now + 120,
    )
    .await
    .unwrap();
    assert!(matches!(outcome, Outcome::RolledBack { .. }), "{outcome:?}");
    assert_eq!(weights(&deployed).await, Weights::STABLE_ONLY);
    assert_eq!(
        pointer(&deployed, Fleet::Canary).await.as_deref(),
        Some("1.2.0")
    );
    assert_eq!(
        pointer(&deployed, Fleet::Stable).await.as_deref(),
        Some("1.1.0")
    );
    let report = status(&deployed, now + 180).await;
    assert!(report.contains("stable     1.1.0 "), "{report}");
    assert!(report.contains("canary     1.2.0 "), "{report}");
    assert!(report.contains("release    1.2.0 rolled_back"), "{report}");
    now += 300;

    // 1.3.0 starts fresh from the first step and completes.
    start_canary(&env, &deployed, "1.3.0", now).await;
    assert_eq!(recorded(&deployed).await.unwrap().canary.step, 0);
    now = bake_steps_to_completion(&env, &deployed, 1, now + 60).await;
    finish(&env, &deployed, "1.3.0", now).await;

    // A record per release, with its steps and outcome.
    let records = controller::state::releases(&clients.dynamodb, config)
        .await
        .unwrap();
    let outcomes: Vec<(&str, &str, usize)> = records
        .iter()
        .map(|r| (r.version.as_str(), r.outcome.as_str(), r.steps.len()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("1.0.0", "released", 0),
            ("1.1.0", "released", 4),
            ("1.2.0", "rolled_back", 1),
            ("1.3.0", "released", 4)
        ]
    );
    let text = canaryctl::history::report(&deployed.target, Some("1.2.0"), now + 400)
        .await
        .unwrap();
    assert!(text.contains("release 1.2.0 started"), "{text}");
    assert!(text.contains("outcome rolled_back"), "{text}");
    assert!(text.contains("roll_back"), "{text}");
    // Every record the functions and canaryctl wrote reads back as its kind.
    let (clients, config) = (&deployed.reader, &deployed.target.config);
    let items = controller::state::history(&clients.dynamodb, config)
        .await
        .unwrap();
    let unread: Vec<_> = items.iter().filter(|i| i.record.is_err()).collect();
    assert!(unread.is_empty(), "{unread:?}");
    let kinds: std::collections::BTreeSet<&str> = items.iter().map(|i| i.kind.as_str()).collect();
    for kind in [
        "release",
        "promote",
        "hold",
        "complete",
        "released",
        "roll_back",
    ] {
        assert!(kinds.contains(kind), "no {kind} among {kinds:?}");
    }
    check_recorded_calls(&deployed);
}

/// What a refused command must leave as it was.
async fn snapshot(env: &Env, deployed: &Deployed) -> String {
    let (clients, config) = (&deployed.reader, &deployed.target.config);
    format!(
        "{:?} {} {:?} {:?} {} {} {}",
        recorded(deployed).await,
        weights(deployed).await,
        pointer(deployed, Fleet::Stable).await,
        pointer(deployed, Fleet::Canary).await,
        env.refreshes.started().len(),
        controller::state::history(&clients.dynamodb, config)
            .await
            .unwrap()
            .len(),
        controller::schedule::is_enabled(&clients.scheduler, config)
            .await
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn every_release_refusal_says_why_and_changes_nothing() {
    let env = Env::start().await;
    let now = t0() - 600;
    let deployed = canary_at_first_step(&env, now).await;
    publish(&deployed, "1.2.0").await;

    let before = snapshot(&env, &deployed).await;
    for (version, needle) in [
        ("9.9.9", "version 9.9.9 is not published"),
        // The command it names is whole: the bucket and prefix the stack reads.
        ("9.9.9", "`cargo xtask publish --bucket "),
        (
            "9.9.9",
            " --version 9.9.9`), or give its binary with `--file PATH`",
        ),
        ("../1.2.0", "contains `/`"),
        ("1.2.0/x", "contains `/`"),
        (
            "1.2.0",
            "release 1.1.0 is running (step 1); wait for it to finish, or pass --force",
        ),
        ("1.0.0", "the stable fleet already serves 1.0.0"),
    ] {
        let err = release(&deployed, version, false, now + 200)
            .await
            .unwrap_err();
        assert!(
            err.contains(needle) && err.contains("nothing changed"),
            "{version}: {err}"
        );
        assert_eq!(
            snapshot(&env, &deployed).await,
            before,
            "{version} changed something"
        );
    }

    // With the target signal on, every instance fetches the version's proxy too: a version
    // published without it is refused, naming the proxy's checksum and how to publish it.
    let with_signal = canaryctl::settings::Target {
        clients: deployed.target.clients.clone(),
        config: controller::Config {
            target_signal: true,
            ..deployed.target.config.clone()
        },
    };
    let err = canaryctl::release::release(&with_signal, "1.2.0", true, now + 200)
        .await
        .unwrap_err()
        .to_string();
    for needle in [
        "version 1.2.0 is not published",
        "/1.2.0/alb-canary-signal",
        "`--file PATH --signal-file PATH`",
        "nothing changed",
    ] {
        assert!(err.contains(needle), "{needle}: {err}");
    }
    assert_eq!(snapshot(&env, &deployed).await, before, "changed something");

    // --force aborts the running release (rolled back, canary at 0) and starts the new one.
    let said = release(&deployed, "1.2.0", true, now + 300).await.unwrap();
    assert!(said.contains("release 1.1.0 aborted"), "{said}");
    assert_eq!(weights(&deployed).await, Weights::STABLE_ONLY);
    let state = recorded(&deployed).await.unwrap();
    assert_eq!(
        (state.canary.status, state.release.version.as_deref()),
        (Status::Deploying, Some("1.2.0"))
    );
    let records = controller::state::releases(&deployed.reader.dynamodb, &deployed.target.config)
        .await
        .unwrap();
    let aborted = records.iter().find(|r| r.version == "1.1.0").unwrap();
    assert_eq!(aborted.outcome, "rolled_back");
    assert_eq!(
        aborted.reason.as_deref(),
        Some("aborted by release 1.2.0 --force")
    );
    check_recorded_calls(&deployed);
}

#[tokio::test(flavor = "multi_thread")]
async fn status_shows_the_latest_decisions_with_more_history_than_one_page() {
    let env = Env::start().await;
    let deployed = deploy(&env).await;
    let (clients, config) = (&deployed.reader, &deployed.target.config);
    let now = t0();
    // 1.2 MB of old decisions: more than one 1 MB DynamoDB page.
    let padding = "x".repeat(4000);
    let old = now - 3 * 86_400;
    for i in 0..300 {
        let hold = Judgement {
            release: None,
            decision: Decision::Hold {
                reason: padding.clone(),
            },
            state_before: None,
            weights_before: Weights::STABLE_ONLY,
            statistics: None,
            inputs: Inputs::default(),
        };
        let record = Record::new(PROMOTION, old + i, Entry::Judgement(Box::new(hold)));
        controller::state::append_history(&clients.dynamodb, config, (old + i) * 1000, &record)
            .await
            .unwrap();
    }
    first_release(&env, &deployed, "1.0.0", now).await;
    let report = status(&deployed, now + 120).await;
    assert_eq!(
        &decisions(&report)[..3],
        ["released", "release", "hold"].as_slice(),
        "{report}"
    );
    let all = controller::state::history(&clients.dynamodb, config)
        .await
        .unwrap();
    assert_eq!(all.len(), 302);
    assert_eq!(
        all.last().unwrap().kind,
        "released",
        "paging reads to the end"
    );
    check_recorded_calls(&deployed);
}
