//! The rollback handler run by the alarms: an alarm entering ALARM rolls the canary back at once,
//! a repeat or an alarm while idle moves nothing, and OK or INSUFFICIENT_DATA changes nothing.

use alb_canary_tests::controller_env::{self, Env, fixture, test_plan};
use aws_sdk_elasticloadbalancingv2::types::TargetGroupStickinessConfig;
use controller::Outcome;
use controller::decision::{Status, Weights};
use controller::rollback::handle_alarm_at;

use crate::setup::{at_first_step, promote, set_listener, t0};

#[tokio::test(flavor = "multi_thread")]
async fn alarm_rolls_back_first_and_twice_is_harmless() {
    let (env, canary, now) = at_first_step(test_plan()).await;
    // Sticky sessions on: the rollback must switch them off so the canary's clients leave too.
    let c = &canary.config;
    let stickiness = TargetGroupStickinessConfig::builder()
        .enabled(true)
        .duration_seconds(3600)
        .build();
    let sticky =
        controller::listener::action(c, Weights::for_percent(10), Some(&stickiness), false)
            .unwrap();
    set_listener(&env, &canary, sticky).await;
    let event = fixture("alarm-canary-error-rate-alarm.json");
    let outcome = handle_alarm_at(&env.clients, c, event.clone(), now + 60)
        .await
        .unwrap();
    assert!(
        matches!(&outcome, Outcome::RolledBack { reason } if reason.contains("alb-canary-canary-error-rate entered ALARM")),
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
        Outcome::AlarmWhileIdle {
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
        ["promote", "roll_back", "alarm_while_idle"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ok_and_insufficient_data_transitions_change_nothing() {
    let (env, canary, now) = at_first_step(test_plan()).await;
    let before = env.state(&canary).await;
    for (name, state) in [
        ("alarm-canary-error-rate-ok.json", "Ok"),
        (
            "alarm-canary-error-rate-insufficient.json",
            "InsufficientData",
        ),
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
        fixture("alarm-canary-error-rate-alarm.json"),
        now + 60,
    )
    .await
    .unwrap();
    assert_eq!(
        outcome,
        Outcome::AlarmWhileIdle {
            alarm: controller_env::ALARM_5XX.into()
        }
    );
    assert_eq!(env.weights(&canary).await, Weights::STABLE_ONLY);
    assert_eq!(env.state(&canary).await, None, "no rollback recorded");
    assert!(env.schedule_enabled(&canary).await, "nothing disabled");
    assert_eq!(env.history(&canary).await, ["alarm_while_idle"]);
}
