//! What every handler scenario starts from: a clock an hour back, a canary at its first step, and
//! the minutes of ALB metrics the judge reads.

use alb_canary_tests::controller_env::{Canary, Env, fixture};
use aws_sdk_elasticloadbalancingv2::types::Action;
use contract::Plan;
use controller::Outcome;
use controller::promotion::handle_promotion_at;

/// An hour ago: metric timestamps and step starts in the past, as in production.
pub fn t0() -> i64 {
    controller::now_secs() - 3600
}

/// One scheduled promotion run at `now`, which must not fail.
pub async fn promote(env: &Env, canary: &Canary, now: i64) -> Outcome {
    handle_promotion_at(
        &env.clients,
        &canary.config,
        fixture("schedule-event.json"),
        now,
    )
    .await
    .unwrap_or_else(|e| panic!("promotion at {now}: {e}"))
}

/// A new emulator with a canary of `plan` promoted to its first step at [`t0`], which it returns;
/// the stable version's [`baseline`] before it fixes T (a calibration would depend on the clock's alignment).
pub async fn at_first_step(plan: Plan) -> (Env, Canary, i64) {
    let env = Env::start().await;
    let canary = env.canary(plan).await;
    let now = t0();
    baseline(&env, &canary, now).await;
    promote(&env, &canary, now).await;
    (env, canary, now)
}

/// The stable version's baseline before a canary starting at `canary_start` ([`Env::put_baseline`]).
pub async fn baseline(env: &Env, canary: &Canary, canary_start: i64) {
    env.put_baseline(&canary.config.stable_tg_arn, canary_start)
        .await;
}

/// The stable version's share of a 10 % split: 900 requests at 20 ms, no errors.
pub async fn stable_period(env: &Env, canary: &Canary, at: i64) {
    env.put_minute(&canary.config.stable_tg_arn, at, 900.0, 0.0, 0.020)
        .await;
}

/// The canary's share of a 10 % split: 100 requests, `errors` of them 5XX, at `latency_secs`.
pub async fn canary_period(env: &Env, canary: &Canary, at: i64, errors: f64, latency_secs: f64) {
    env.put_minute(
        &canary.config.canary_tg_arn,
        at,
        100.0,
        errors,
        latency_secs,
    )
    .await;
}

/// A healthy minute on both groups in proportion to the split: canary about 50 ms slower, no errors.
pub async fn healthy_minute(env: &Env, canary: &Canary, at: i64) {
    env.put_minute(&canary.config.stable_tg_arn, at, 900.0, 1.0, 0.020)
        .await;
    canary_period(env, canary, at, 0.0, 0.070).await;
}

/// Sets the listener's default action behind the controller's back (an operator, a drift).
pub async fn set_listener(env: &Env, canary: &Canary, action: Action) {
    env.clients
        .elbv2
        .modify_listener()
        .listener_arn(&canary.config.listener_arn)
        .default_actions(action)
        .send()
        .await
        .expect("ModifyListener");
}
