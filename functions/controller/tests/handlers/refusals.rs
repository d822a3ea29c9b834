//! Bad input to either handler, and a listener not shaped as the controller left it: a clear
//! error, and the listener, the table and the schedule as they were.

use alb_canary_tests::controller_env::{Canary, Env, fixture, test_plan};
use alb_canary_tests::requests;
use controller::decision::{Status, Weights};
use controller::promotion::handle_promotion_at;
use controller::rollback::handle_alarm_at;
use controller::{Error, Outcome, events};

use crate::setup::{set_listener, t0};

/// Expects `result` to be an error mentioning `needle`, and checks the table, its history and
/// the schedule did not change.
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
    let alarm_as_schedule = handle_promotion_at(
        clients,
        config,
        fixture("alarm-canary-error-rate-alarm.json"),
        now,
    )
    .await;
    refused(&env, &canary, alarm_as_schedule, "not an EventBridge event").await;
    assert_eq!(env.weights(&canary).await, Weights::STABLE_ONLY);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_listener_with_three_target_groups_is_refused_and_left_as_is() {
    let env = Env::start().await;
    let canary = env.canary(test_plan()).await;
    let c = &canary.config;
    let third = env.target_group("v3-extra").await;
    let three = requests::forward(&[(&c.stable_tg_arn, 80), (&c.canary_tg_arn, 10), (&third, 10)]);
    set_listener(&env, &canary, three.clone()).await;
    let now = t0();
    let promotion = handle_promotion_at(&env.clients, c, fixture("schedule-event.json"), now).await;
    refused(&env, &canary, promotion, "refused").await;
    let rollback = handle_alarm_at(
        &env.clients,
        c,
        fixture("alarm-canary-error-rate-alarm.json"),
        now,
    )
    .await;
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
