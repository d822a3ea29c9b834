//! The promotion schedule, compressed: every tick, while the stack's schedule is enabled in the
//! emulator (a rollback disables it), the real promotion code runs with the schedule's event.

use std::sync::Arc;
use std::time::Duration;

use controller::promotion::handle_promotion_at;
use controller::{Error, Outcome};
use serde_json::{Value, json};

use crate::context::Ctx;

pub async fn run(ctx: Arc<Ctx>, tick: Duration) -> Result<(), String> {
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let enabled = controller::schedule::is_enabled(&ctx.clients.scheduler, &ctx.config)
            .await
            .map_err(|e| format!("GetSchedule: {e}"))?;
        if !enabled {
            continue;
        }
        let now = controller::now_secs();
        let outcome =
            handle_promotion_at(&ctx.clients, &ctx.config, ctx.schedule_event.clone(), now).await;
        record(&ctx, "schedule", outcome, Value::Null);
    }
}

/// One decision: a live line, a timeline mark, and the scenario's end when it is one.
pub fn record(ctx: &Ctx, source: &str, outcome: Result<Outcome, Error>, detail: Value) {
    match outcome {
        Ok(outcome) => {
            let (kind, text) = describe(&outcome);
            let listener = *ctx.listener.lock().expect("listener lock");
            let detail =
                json!({"outcome": outcome, "listener_before": listener, "context": detail});
            ctx.recorder.decision(source, &kind, text, detail);
            if let Some(end) = crate::alarms::ends(&outcome) {
                ctx.finish(end);
            }
        }
        // A failed invocation is what Lambda would retry; the lab reports it and goes on.
        Err(err) => ctx.recorder.decision(
            source,
            "error",
            err.to_string(),
            json!({"error": err.to_string()}),
        ),
    }
}

fn describe(outcome: &Outcome) -> (String, String) {
    let kind = serde_json::to_value(outcome)
        .ok()
        .and_then(|v| v["outcome"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into());
    let text = match outcome {
        Outcome::Promoted { step, weights } => format!("step {} → {weights}", step + 1),
        Outcome::Held { reason } => reason.clone(),
        Outcome::RolledBack { reason } | Outcome::RollbackWon { reason } => reason.clone(),
        Outcome::Idle { status } => format!("nothing to do: {}", status.as_str()),
        Outcome::Completed => "every step baked healthy: canary serves everything".into(),
        Outcome::AlreadyRolledBack => "already rolled back".into(),
        Outcome::Drift { found, expected } => format!("drift: {found}, expected {expected}"),
        Outcome::Ignored { alarm, state } => format!("{alarm} {state}"),
        Outcome::Paused { reason } => reason.clone(),
        Outcome::Released { version } => format!("the stable fleet serves {version}: idle"),
        Outcome::AlarmWhileIdle { alarm } => {
            format!("{alarm}: canary alarm while idle")
        }
    };
    (kind, text)
}
