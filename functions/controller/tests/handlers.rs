//! The handlers against the moto emulator through the real SDK clients: scenarios from first
//! promotion to completion or rollback, the rollback alarm, and bad input.

use alb_canary_tests::controller_env::{self, Canary, Env, fixture, test_plan};
use contract::LatencyBreach;
use controller::decision::{Status, Weights};
use controller::promotion::handle_promotion_at;
use controller::rollback::handle_alarm_at;
use controller::{Error, Outcome, events};

/// An hour ago: metric timestamps and step starts in the past, as in production.
fn t0() -> i64 {
    controller::now_secs() - 3600
}

async fn promote(env: &Env, canary: &Canary, now: i64) -> Outcome {
    handle_promotion_at(
        &env.clients,
        &canary.config,
        fixture("schedule-event.json"),
        now,
    )
    .await
    .unwrap_or_else(|e| panic!("promotion at {now}: {e}"))
}

/// V1 alone in the hour before the canary: its Average (20 ms) is the latency baseline, so
/// T = max(1.5 × 20, 20 + 100) = 120 ms.
async fn baseline(env: &Env, canary: &Canary, canary_start: i64) {
    env.put_minute(
        &canary.config.stable_tg_arn,
        canary_start - 1800,
        1000.0,
        0.0,
        0.020,
    )
    .await;
}

/// A healthy minute on both groups in proportion to the split: V2 about 50 ms slower, no errors.
async fn healthy_minute(env: &Env, canary: &Canary, at: i64) {
    env.put_minute(&canary.config.stable_tg_arn, at, 900.0, 1.0, 0.020)
        .await;
    env.put_minute(&canary.config.canary_tg_arn, at, 100.0, 0.0, 0.070)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn healthy_v2_promotes_step_by_step_to_100() {
    let env = Env::start().await;
    let canary = env.canary(test_plan()).await;
    let mut now = t0();
    assert_eq!(
        promote(&env, &canary, now).await,
        Outcome::Promoted {
            step: 0,
            weights: Weights { v1: 90, v2: 10 }
        }
    );
    for (step, expected_v2) in [(1, 25), (2, 50), (3, 100)] {
        healthy_minute(&env, &canary, now + 30).await;
        // Too early: the minute has not settled yet, and the bake is not over.
        let held = promote(&env, &canary, now + 120).await;
        assert!(
            matches!(&held, Outcome::Held { reason } if reason.contains("insufficient data") || reason.contains("baking")),
            "{held:?}"
        );
        // 300 s of bake judged once a minute (settle_seconds 60) has also passed.
        now += 361;
        let promoted = promote(&env, &canary, now).await;
        assert_eq!(
            promoted,
            Outcome::Promoted {
                step,
                weights: Weights::for_percent(expected_v2)
            }
        );
        assert_eq!(
            env.weights(&canary).await.v2_percent(),
            f64::from(expected_v2)
        );
        let state = env.state(&canary).await.unwrap();
        assert_eq!(
            (state.status, state.step, state.step_started_at),
            (Status::Running, step, now)
        );
    }
    // At 100 % V1 serves nothing; V2's own numbers decide.
    env.put_minute(&canary.config.canary_tg_arn, now + 30, 1000.0, 2.0, 0.070)
        .await;
    assert_eq!(promote(&env, &canary, now + 361).await, Outcome::Completed);
    // The stable fleet moves to the release; V2 keeps all the traffic until it is healthy.
    let refreshes = env.refreshes.started();
    assert_eq!(refreshes.len(), 1);
    assert_eq!(refreshes[0].group, canary.config.stable_fleet);
    assert!(matches!(
        promote(&env, &canary, now + 900).await,
        Outcome::Held { reason } if reason.contains("InProgress")
    ));
    assert_eq!(env.weights(&canary).await, Weights { v1: 0, v2: 100 });
    env.refreshes
        .finish(&canary.config.stable_fleet, "Successful");
    assert_eq!(
        promote(&env, &canary, now + 960).await,
        Outcome::Released {
            version: "2.0.0".into()
        }
    );
    assert_eq!(env.weights(&canary).await, Weights::STABLE_ONLY);
    assert_eq!(
        promote(&env, &canary, now + 1020).await,
        Outcome::Idle {
            status: Status::Idle
        }
    );
    let history = env.history(&canary).await;
    assert_eq!(
        history,
        [
            "promote", "hold", "promote", "hold", "promote", "hold", "promote", "complete",
            "released"
        ]
    );
    assert!(env.schedule_enabled(&canary).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn v2_5xx_spike_rolls_back() {
    let env = Env::start().await;
    let canary = env.canary(test_plan()).await;
    let now = t0();
    promote(&env, &canary, now).await;
    env.put_minute(&canary.config.stable_tg_arn, now + 30, 900.0, 0.0, 0.020)
        .await;
    env.put_minute(&canary.config.canary_tg_arn, now + 30, 100.0, 20.0, 0.070)
        .await;
    // Not judged before its minute has closed and settled...
    let early = promote(&env, &canary, now + 90).await;
    assert!(matches!(&early, Outcome::Held { .. }), "{early:?}");
    let outcome = promote(&env, &canary, now + 150).await;
    assert!(
        matches!(&outcome, Outcome::RolledBack { reason } if reason.contains("V2 errors 20 of 100")),
        "{outcome:?}"
    );
    assert_eq!(env.weights(&canary).await, Weights::STABLE_ONLY);
    assert_eq!(env.state(&canary).await.unwrap().status, Status::RolledBack);
    assert!(!env.schedule_enabled(&canary).await);
    assert_eq!(
        promote(&env, &canary, now + 400).await,
        Outcome::Idle {
            status: Status::RolledBack
        }
    );
    assert_eq!(env.weights(&canary).await, Weights::STABLE_ONLY);
}

async fn slow_v2(on_breach: LatencyBreach) -> (Outcome, Weights, Status) {
    let env = Env::start().await;
    let mut plan = test_plan();
    plan.health.latency.on_breach = on_breach;
    let canary = env.canary(plan).await;
    let now = t0();
    baseline(&env, &canary, now).await;
    promote(&env, &canary, now).await;
    env.put_minute(&canary.config.stable_tg_arn, now + 30, 900.0, 0.0, 0.020)
        .await;
    env.put_minute(&canary.config.canary_tg_arn, now + 30, 100.0, 0.0, 0.400)
        .await;
    let outcome = promote(&env, &canary, now + 400).await;
    (
        outcome,
        env.weights(&canary).await,
        env.state(&canary).await.unwrap().status,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn v2_slow_rolls_back_when_so_configured() {
    let (outcome, weights, status) = slow_v2(LatencyBreach::RollBack).await;
    assert!(
        matches!(&outcome, Outcome::RolledBack { reason } if reason.contains("100 of 100 requests (100.00 %) slower than T 120.0 ms")),
        "{outcome:?}"
    );
    assert_eq!(
        (weights, status),
        (Weights::STABLE_ONLY, Status::RolledBack)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn v2_slow_holds_when_so_configured() {
    let (outcome, weights, status) = slow_v2(LatencyBreach::Hold).await;
    assert!(
        matches!(&outcome, Outcome::Held { reason } if reason.contains("slower than T 120.0 ms")),
        "{outcome:?}"
    );
    assert_eq!(
        (weights, status),
        (Weights::for_percent(10), Status::Running)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_v2_traffic_holds_even_after_the_bake() {
    let env = Env::start().await;
    let canary = env.canary(test_plan()).await;
    let now = t0();
    promote(&env, &canary, now).await;
    env.put_minute(&canary.config.stable_tg_arn, now + 30, 900.0, 0.0, 0.020)
        .await;
    let outcome = promote(&env, &canary, now + 3000).await;
    assert!(
        matches!(&outcome, Outcome::Held { reason } if reason.contains("insufficient data: 0 V2 requests")),
        "{outcome:?}"
    );
    assert_eq!(env.weights(&canary).await, Weights::for_percent(10));
    assert_eq!(env.state(&canary).await.unwrap().step, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_is_reported_and_pauses_without_overwriting() {
    let env = Env::start().await;
    let canary = env.canary(test_plan()).await;
    let now = t0();
    promote(&env, &canary, now).await;
    let c = &canary.config;
    env.clients
        .elbv2
        .modify_listener()
        .listener_arn(&c.listener_arn)
        .default_actions(controller_env::forward(&[
            (&c.stable_tg_arn, 60),
            (&c.canary_tg_arn, 40),
        ]))
        .send()
        .await
        .unwrap();
    healthy_minute(&env, &canary, now + 30).await;
    let outcome = promote(&env, &canary, now + 400).await;
    assert_eq!(
        outcome,
        Outcome::Drift {
            found: Weights { v1: 60, v2: 40 },
            expected: Weights::for_percent(10)
        }
    );
    assert_eq!(env.weights(&canary).await, Weights { v1: 60, v2: 40 });
    assert_eq!(env.state(&canary).await.unwrap().status, Status::Paused);
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_errors_to_v2_roll_back() {
    let env = Env::start().await;
    let canary = env.canary(test_plan()).await;
    let now = t0();
    promote(&env, &canary, now).await;
    let c = &canary.config;
    env.put_minute(&c.stable_tg_arn, now + 30, 900.0, 0.0, 0.020)
        .await;
    env.put_minute(&c.canary_tg_arn, now + 30, 100.0, 0.0, 0.070)
        .await;
    env.put_connection_errors(&c.canary_tg_arn, now + 30, 30.0)
        .await;
    let outcome = promote(&env, &canary, now + 150).await;
    assert!(
        matches!(&outcome, Outcome::RolledBack { reason } if reason.contains("V2 errors 30 of 100")),
        "{outcome:?}"
    );
    assert_eq!(env.weights(&canary).await, Weights::STABLE_ONLY);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_canary_is_still_judged_and_rolls_back() {
    let env = Env::start().await;
    let canary = env.canary(test_plan()).await;
    let now = t0();
    promote(&env, &canary, now).await;
    let running = controller::state::read(&env.clients.dynamodb, &canary.config)
        .await
        .unwrap()
        .unwrap();
    let paused = running.next(|r| {
        r.canary.status = Status::Paused;
        r.canary.reason = Some("paused by an operator".into());
    });
    controller::state::replace(
        &env.clients.dynamodb,
        &canary.config,
        Some(&running),
        &paused,
        now + 10,
    )
    .await
    .unwrap();
    healthy_minute(&env, &canary, now + 30).await;
    let held = promote(&env, &canary, now + 400).await;
    assert!(
        matches!(&held, Outcome::Held { reason } if reason.contains("paused")),
        "{held:?}"
    );
    assert_eq!(env.weights(&canary).await, Weights::for_percent(10));
    env.put_minute(&canary.config.canary_tg_arn, now + 450, 100.0, 40.0, 0.070)
        .await;
    env.put_minute(&canary.config.stable_tg_arn, now + 450, 900.0, 0.0, 0.020)
        .await;
    let outcome = promote(&env, &canary, now + 600).await;
    assert!(
        matches!(&outcome, Outcome::RolledBack { .. }),
        "{outcome:?}"
    );
    assert_eq!(env.weights(&canary).await, Weights::STABLE_ONLY);
    assert_eq!(env.state(&canary).await.unwrap().status, Status::RolledBack);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_step_holding_past_max_step_seconds_pauses_and_notifies() {
    let env = Env::start().await;
    let mut plan = test_plan();
    plan.max_step_seconds = 600;
    let canary = env.canary(plan).await;
    let now = t0();
    promote(&env, &canary, now).await;
    env.put_minute(&canary.config.stable_tg_arn, now + 30, 900.0, 0.0, 0.020)
        .await;
    let held = promote(&env, &canary, now + 600).await;
    assert!(matches!(&held, Outcome::Held { .. }), "{held:?}");
    let outcome = promote(&env, &canary, now + 601).await;
    assert!(
        matches!(&outcome, Outcome::Paused { reason } if reason.contains("max_step_seconds 600")),
        "{outcome:?}"
    );
    let state = env.state(&canary).await.unwrap();
    assert_eq!((state.status, state.step), (Status::Paused, 0));
    assert_eq!(env.weights(&canary).await, Weights::for_percent(10));
    assert_eq!(env.history(&canary).await, ["promote", "hold", "pause"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_canary_starts_only_with_healthy_v2_targets() {
    let env = Env::start().await;
    let canary = env.canary(test_plan()).await;
    env.clients
        .elbv2
        .deregister_targets()
        .target_group_arn(&canary.config.canary_tg_arn)
        .targets(
            aws_sdk_elasticloadbalancingv2::types::TargetDescription::builder()
                .id("10.0.20.5")
                .port(8000)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let outcome = promote(&env, &canary, t0()).await;
    assert!(
        matches!(&outcome, Outcome::Held { reason } if reason.contains("canary fleet: 0 healthy")),
        "{outcome:?}"
    );
    assert_eq!(env.weights(&canary).await, Weights::STABLE_ONLY);
    assert_eq!(
        env.state(&canary).await.map(|s| (s.status, s.version)),
        Some((Status::Deploying, 1))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn alarm_rolls_back_first_and_twice_is_harmless() {
    let env = Env::start().await;
    let canary = env.canary(test_plan()).await;
    let now = t0();
    promote(&env, &canary, now).await;
    // Sticky sessions on: the rollback must switch them off so V2's clients leave too.
    let c = &canary.config;
    let mut sticky = controller_env::forward(&[(&c.stable_tg_arn, 90), (&c.canary_tg_arn, 10)]);
    sticky = aws_sdk_elasticloadbalancingv2::types::Action::builder()
        .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::Forward)
        .forward_config(
            aws_sdk_elasticloadbalancingv2::types::ForwardActionConfig::builder()
                .set_target_groups(Some(
                    sticky.forward_config().unwrap().target_groups().to_vec(),
                ))
                .target_group_stickiness_config(
                    aws_sdk_elasticloadbalancingv2::types::TargetGroupStickinessConfig::builder()
                        .enabled(true)
                        .duration_seconds(3600)
                        .build(),
                )
                .build(),
        )
        .build();
    env.clients
        .elbv2
        .modify_listener()
        .listener_arn(&c.listener_arn)
        .default_actions(sticky)
        .send()
        .await
        .unwrap();
    let event = fixture("alarm-v2-5xx-alarm.json");
    let outcome = handle_alarm_at(&env.clients, c, event.clone(), now + 60)
        .await
        .unwrap();
    assert!(
        matches!(&outcome, Outcome::RolledBack { reason } if reason.contains("alb-canary-v2-5xx entered ALARM")),
        "{outcome:?}"
    );
    let live = controller::listener::read(&env.clients.elbv2, c)
        .await
        .unwrap();
    assert_eq!(live.weights, Weights::STABLE_ONLY);
    assert_eq!(live.stickiness.and_then(|s| s.enabled()), Some(false));
    let state = env.state(&canary).await.unwrap();
    assert_eq!(state.status, Status::RolledBack);
    assert!(!env.schedule_enabled(&canary).await);

    let again = handle_alarm_at(&env.clients, c, event, now + 120)
        .await
        .unwrap();
    // Rolled back is idle: the next alarm moves nothing and records no rollback.
    assert_eq!(
        again,
        Outcome::UnhealthyWhileIdle {
            alarm: controller_env::ALARM_5XX.into()
        }
    );
    assert_eq!(
        env.state(&canary).await.unwrap(),
        state,
        "a second alarm changes no state"
    );
    assert_eq!(env.weights(&canary).await, Weights::STABLE_ONLY);
    assert_eq!(
        env.history(&canary).await,
        ["promote", "roll_back", "unhealthy_while_idle"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ok_and_insufficient_data_transitions_change_nothing() {
    let env = Env::start().await;
    let canary = env.canary(test_plan()).await;
    let now = t0();
    promote(&env, &canary, now).await;
    let before = env.state(&canary).await;
    for (name, state) in [
        ("alarm-v2-5xx-ok.json", "Ok"),
        ("alarm-v2-5xx-insufficient.json", "InsufficientData"),
    ] {
        let outcome = handle_alarm_at(&env.clients, &canary.config, fixture(name), now + 60)
            .await
            .unwrap();
        assert_eq!(
            outcome,
            Outcome::Ignored {
                alarm: controller_env::ALARM_5XX.into(),
                state: state.into()
            }
        );
    }
    assert_eq!(env.weights(&canary).await, Weights::for_percent(10));
    assert_eq!(env.state(&canary).await, before);
    assert!(env.schedule_enabled(&canary).await);
}

/// Runs `f`, expects an error, and checks the listener and the table did not change.
async fn refused(env: &Env, canary: &Canary, result: Result<Outcome, Error>, needle: &str) {
    let err = result.expect_err("bad input must be refused");
    assert!(
        err.to_string().contains(needle),
        "`{err}` does not mention `{needle}`"
    );
    assert_eq!(
        env.state(canary).await.map(|s| (s.status, s.version)),
        Some((Status::Deploying, 1)),
        "the table is unchanged"
    );
    assert!(env.history(canary).await.is_empty());
    assert!(env.schedule_enabled(canary).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_refused_and_changes_nothing() {
    let env = Env::start().await;
    let canary = env.canary(test_plan()).await;
    let (clients, config, now) = (&env.clients, &canary.config, t0());

    let not_json = events::json(b"{\"source\": \"aws.cloudwatch\", ").unwrap_err();
    assert!(
        matches!(not_json, Error::BadEvent(ref m) if m.contains("not JSON")),
        "{not_json}"
    );

    let malformed = handle_alarm_at(clients, config, fixture("alarm-malformed.json"), now).await;
    refused(&env, &canary, malformed, "not a CloudWatch alarm event").await;
    let unknown = handle_alarm_at(clients, config, fixture("alarm-unknown.json"), now).await;
    refused(
        &env,
        &canary,
        unknown,
        "some-other-alarm is not one of the configured rollback alarms",
    )
    .await;
    let schedule_as_alarm =
        handle_alarm_at(clients, config, fixture("schedule-event.json"), now).await;
    refused(
        &env,
        &canary,
        schedule_as_alarm,
        "not a CloudWatch alarm event",
    )
    .await;
    let wrong = handle_promotion_at(
        clients,
        config,
        fixture("eventbridge-wrong-shape.json"),
        now,
    )
    .await;
    refused(&env, &canary, wrong, "detail-type is \"Object Created\"").await;
    let alarm_as_schedule =
        handle_promotion_at(clients, config, fixture("alarm-v2-5xx-alarm.json"), now).await;
    refused(&env, &canary, alarm_as_schedule, "not an EventBridge event").await;
    assert_eq!(env.weights(&canary).await, Weights::STABLE_ONLY);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_listener_with_three_target_groups_is_refused_and_left_as_is() {
    let env = Env::start().await;
    let canary = env.canary(test_plan()).await;
    let c = &canary.config;
    let third = env.target_group("v3-extra").await;
    let three =
        controller_env::forward(&[(&c.stable_tg_arn, 80), (&c.canary_tg_arn, 10), (&third, 10)]);
    env.clients
        .elbv2
        .modify_listener()
        .listener_arn(&c.listener_arn)
        .default_actions(three.clone())
        .send()
        .await
        .unwrap();
    let now = t0();
    let promotion = handle_promotion_at(&env.clients, c, fixture("schedule-event.json"), now).await;
    refused(&env, &canary, promotion, "refused").await;
    let rollback = handle_alarm_at(&env.clients, c, fixture("alarm-v2-5xx-alarm.json"), now).await;
    refused(&env, &canary, rollback, "found 3 target group(s)").await;
    let out = env
        .clients
        .elbv2
        .describe_listeners()
        .listener_arns(&c.listener_arn)
        .send()
        .await
        .unwrap();
    let groups = |a: &aws_sdk_elasticloadbalancingv2::types::Action| {
        a.forward_config().unwrap().target_groups().to_vec()
    };
    let actions = out.listeners()[0].default_actions();
    assert_eq!(actions.len(), 1);
    assert_eq!(groups(&actions[0]), groups(&three));
}

#[tokio::test(flavor = "multi_thread")]
async fn two_promotion_runs_cannot_both_advance_a_step() {
    use controller::promotion::{Prepared, prepare, record, write};
    let env = Env::start().await;
    let canary = env.canary(test_plan()).await;
    let c = &canary.config;
    let now = t0();
    promote(&env, &canary, now).await;
    healthy_minute(&env, &canary, now + 30).await;
    let (Prepared::Decided(a), Prepared::Decided(b)) = (
        prepare(&env.clients, c, now + 361).await.unwrap(),
        prepare(&env.clients, c, now + 362).await.unwrap(),
    ) else {
        panic!("both runs should decide")
    };
    write(&env.clients, c, &a).await.unwrap();
    write(&env.clients, c, &b).await.unwrap();
    let first = record(&env.clients, c, &a).await;
    let second = record(&env.clients, c, &b).await;
    assert!(first.is_ok(), "{first:?}");
    assert!(matches!(second, Err(Error::Conflict { .. })), "{second:?}");
    let state = env.state(&canary).await.unwrap();
    assert_eq!((state.step, state.version), (1, 3));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alarm_while_idle_moves_no_weight_and_records_no_rollback() {
    let env = Env::start().await;
    let canary = env.idle_canary(test_plan()).await;
    let now = t0();
    // First deploy: nothing released, the schedule runs and does nothing.
    assert_eq!(
        promote(&env, &canary, now).await,
        Outcome::Idle {
            status: Status::Idle
        }
    );
    let outcome = handle_alarm_at(
        &env.clients,
        &canary.config,
        fixture("alarm-v2-5xx-alarm.json"),
        now + 60,
    )
    .await
    .unwrap();
    assert_eq!(
        outcome,
        Outcome::UnhealthyWhileIdle {
            alarm: controller_env::ALARM_5XX.into()
        }
    );
    assert_eq!(env.weights(&canary).await, Weights::STABLE_ONLY);
    assert_eq!(env.state(&canary).await, None, "no rollback recorded");
    assert!(env.schedule_enabled(&canary).await, "nothing disabled");
    assert_eq!(env.history(&canary).await, ["unhealthy_while_idle"]);
}
