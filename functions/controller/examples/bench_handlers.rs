//! Handler time per decision against the moto emulator (a benchmark, not a test): run by
//! `cargo xtask bench-lambda` in release. Prints one JSON line per measured kind of decision.
//!
//! The time includes every AWS call the handler makes (to moto on 127.0.0.1), which dominates.

use alb_canary_tests::controller_env::{Env, fixture, test_plan};
use controller::Outcome;
use controller::promotion::handle_promotion_at;
use controller::rollback::handle_alarm_at;
use std::time::{Duration, Instant};

const RUNS: usize = 20;

fn summary(kind: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mean = times.iter().map(|d| ms(*d)).sum::<f64>() / times.len() as f64;
    println!(
        "{}",
        serde_json::json!({
            "bench": "handler_per_decision",
            "kind": kind,
            "runs": times.len(),
            "mean_ms": (mean * 10.0).round() / 10.0,
            "median_ms": (ms(times[times.len() / 2]) * 10.0).round() / 10.0,
            "max_ms": (ms(times[times.len() - 1]) * 10.0).round() / 10.0,
        })
    );
}

#[tokio::main]
async fn main() {
    let env = Env::start().await;
    let schedule = fixture("schedule-event.json");
    let alarm = fixture("alarm-canary-error-rate-alarm.json");
    let t0 = controller::now_secs() - 7200;

    // Warm-up: moto loads each service on its first call.
    let warm = env.canary(test_plan()).await;
    handle_promotion_at(&env.clients, &warm.config, schedule.clone(), t0)
        .await
        .unwrap();

    let (mut start, mut hold, mut promote, mut rollback) = (vec![], vec![], vec![], vec![]);
    for _ in 0..RUNS {
        let canary = env.canary(test_plan()).await;
        let c = &canary.config;
        env.put_baseline(&c.stable_tg_arn, t0).await;
        let timed = Instant::now();
        let outcome = handle_promotion_at(&env.clients, c, schedule.clone(), t0)
            .await
            .unwrap();
        start.push(timed.elapsed());
        assert!(
            matches!(outcome, Outcome::Promoted { step: 0, .. }),
            "{outcome:?}"
        );
        env.put_minute(&c.stable_tg_arn, t0 + 30, 900.0, 0.0, 0.020)
            .await;
        env.put_minute(&c.canary_tg_arn, t0 + 30, 100.0, 0.0, 0.070)
            .await;

        let timed = Instant::now();
        let outcome = handle_promotion_at(&env.clients, c, schedule.clone(), t0 + 120)
            .await
            .unwrap();
        hold.push(timed.elapsed());
        assert!(matches!(outcome, Outcome::Held { .. }), "{outcome:?}");

        let timed = Instant::now();
        // The bake judges settled periods only: 300 s of them end a minute later.
        let outcome = handle_promotion_at(&env.clients, c, schedule.clone(), t0 + 361)
            .await
            .unwrap();
        promote.push(timed.elapsed());
        assert!(
            matches!(outcome, Outcome::Promoted { step: 1, .. }),
            "{outcome:?}"
        );

        let timed = Instant::now();
        let outcome = handle_alarm_at(&env.clients, c, alarm.clone(), t0 + 390)
            .await
            .unwrap();
        rollback.push(timed.elapsed());
        assert!(matches!(outcome, Outcome::RolledBack { .. }), "{outcome:?}");
    }
    summary("promotion_start", start);
    summary("promotion_hold", hold);
    summary("promotion_step", promote);
    summary("rollback_alarm", rollback);
}
