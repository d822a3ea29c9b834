//! The promotion handler, in stages that tests can interleave with a rollback:
//! [`prepare`] (read and decide) → [`write`] (the listener) → [`record`] (verify, state, history)
//! → [`enforce`] (re-read the state; if a rollback happened meanwhile, V2 = 0 again).

use crate::clients::Clients;
use crate::config::Config;
use crate::decision::{
    CanaryState, Decision, Judged, Observation, Status, Weights, decide_with_statistics,
};
use crate::error::Error;
use crate::listener::{self, LiveListener};
use crate::outcome::Outcome;
use crate::{events, metrics, notify, report, rollback, state};
use serde_json::{Value, json};

const FUNCTION: &str = "promote";

/// Everything read for one decision, and the decision.
#[derive(Debug, Clone)]
pub struct Decided {
    pub state: Option<CanaryState>,
    pub live: LiveListener,
    pub observation: Observation,
    pub decision: Decision,
    /// The statistics behind the decision (logged, recorded in the history item).
    pub statistics: Option<judge::Assessment>,
    pub now: i64,
}

// One value per invocation, moved once: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Prepared {
    /// Rolled back or complete: nothing to do. (A paused canary is still judged.)
    Idle(Status),
    Decided(Decided),
}

/// The scheduled invocation, at the current time.
pub async fn handle_promotion(
    clients: &Clients,
    config: &Config,
    event: Value,
) -> Result<Outcome, Error> {
    handle_promotion_at(clients, config, event, crate::now_secs()).await
}

/// The scheduled invocation at `now` (epoch seconds).
pub async fn handle_promotion_at(
    clients: &Clients,
    config: &Config,
    event: Value,
    now: i64,
) -> Result<Outcome, Error> {
    events::schedule(event)?;
    let decided = match prepare(clients, config, now).await? {
        Prepared::Idle(status) => {
            tracing::info!(
                function = FUNCTION,
                status = status.as_str(),
                "nothing to do"
            );
            return Ok(Outcome::Idle { status });
        }
        Prepared::Decided(d) => d,
    };
    write(clients, config, &decided).await?;
    let recorded = record(clients, config, &decided).await;
    enforce(clients, config, &decided, recorded).await
}

/// Reads the state, the listener and the canary's per-minute metrics, and decides. A paused
/// canary is judged too: it may roll back, never promote.
pub async fn prepare(clients: &Clients, config: &Config, now: i64) -> Result<Prepared, Error> {
    let state = state::read(&clients.dynamodb, config).await?;
    if let Some(s) = &state
        && matches!(s.status, Status::RolledBack | Status::Complete)
    {
        return Ok(Prepared::Idle(s.status));
    }
    let live = listener::read(&clients.elbv2, config).await?;
    let observation = match &state {
        None => Observation {
            v2_healthy_targets: listener::healthy_canary_targets(&clients.elbv2, config).await?,
            ..Observation::default()
        },
        Some(s) => observe(clients, config, s, now).await?,
    };
    let Judged {
        decision,
        statistics,
    } = decide_with_statistics(
        &config.plan,
        state.as_ref(),
        live.weights,
        &observation,
        now,
    );
    Ok(Prepared::Decided(Decided {
        state,
        live,
        observation,
        decision,
        statistics,
        now,
    }))
}

/// The per-minute series since the canary started, up to `now − settle_seconds`, and (for the
/// sequential latency test) V1's baseline before the canary, which fixes the threshold T.
async fn observe(
    clients: &Clients,
    config: &Config,
    state: &CanaryState,
    now: i64,
) -> Result<Observation, Error> {
    let health = &config.plan.health;
    let baseline_ms = match health.latency.method {
        contract::Method::Sequential => {
            metrics::read_baseline(&clients.cloudwatch, config, state.canary_started_at).await?
        }
        contract::Method::Threshold => None,
    };
    let threshold_ms = judge::latency_threshold_ms(&health.latency, baseline_ms);
    let settle = i64::try_from(health.settle_seconds).unwrap_or(i64::MAX);
    let minutes = metrics::read_series(
        &clients.cloudwatch,
        config,
        state.canary_started_at,
        now.saturating_sub(settle),
        threshold_ms,
    )
    .await?;
    Ok(Observation {
        minutes,
        baseline_ms,
        v2_healthy_targets: 0,
    })
}

/// Writes the listener when the decision moves weights: one `ModifyListener`.
pub async fn write(clients: &Clients, config: &Config, d: &Decided) -> Result<(), Error> {
    match &d.decision {
        Decision::Promote { weights, .. } => {
            listener::write(
                &clients.elbv2,
                config,
                *weights,
                d.live.stickiness.as_ref(),
                false,
            )
            .await
        }
        Decision::RollBack { .. } => {
            listener::write(&clients.elbv2, config, Weights::STABLE_ONLY, None, true).await
        }
        Decision::Hold { .. }
        | Decision::Complete
        | Decision::Drift { .. }
        | Decision::Pause { .. } => Ok(()),
    }
}

/// Verifies written weights landed, records the decision (conditionally) and its history item.
pub async fn record(clients: &Clients, config: &Config, d: &Decided) -> Result<Outcome, Error> {
    let prev = d.state.as_ref();
    let next_version = prev.map_or(1, |s| s.version + 1);
    let history = json!({
        "function": FUNCTION,
        "at": d.now,
        "decision": d.decision,
        "state_before": d.state,
        "weights_before": d.live.weights,
        "statistics": d.statistics,
        "inputs": {
            "minutes_read": d.observation.minutes.len(),
            "baseline_ms": d.observation.baseline_ms,
            "v2_healthy_targets": d.observation.v2_healthy_targets,
        },
    });
    let weights_after = d.decision.writes().unwrap_or(d.live.weights);
    report::decision(
        config,
        FUNCTION,
        d.now * 1000,
        &history,
        Some(weights_after),
    );
    let outcome = match &d.decision {
        Decision::Promote { step, weights } => {
            listener::verify(&clients.elbv2, config, *weights).await?;
            let next = CanaryState {
                status: Status::Running,
                step: *step,
                step_started_at: d.now,
                canary_started_at: prev.map_or(d.now, |s| s.canary_started_at),
                version: next_version,
                reason: None,
            };
            state::replace(&clients.dynamodb, config, prev, &next, d.now).await?;
            Outcome::Promoted {
                step: *step,
                weights: *weights,
            }
        }
        Decision::RollBack { reason } => {
            // Rollback always wins: its state write is unconditional, like the rollback function's.
            return rollback::after_write(clients, config, reason, d.now, FUNCTION, &history).await;
        }
        Decision::Hold { reason } => Outcome::Held {
            reason: reason.clone(),
        },
        Decision::Complete => {
            let next = CanaryState {
                status: Status::Complete,
                version: next_version,
                reason: Some("every step baked healthy".into()),
                ..prev
                    .cloned()
                    .expect("Complete is only decided on a recorded state")
            };
            state::replace(&clients.dynamodb, config, prev, &next, d.now).await?;
            notify::publish(
                &clients.sns,
                config,
                "Canary complete: V2 serves all traffic",
                &history,
            )
            .await?;
            Outcome::Completed
        }
        Decision::Pause { reason } => {
            let prev_state = prev
                .cloned()
                .expect("Pause is only decided on a recorded state");
            let next = CanaryState {
                status: Status::Paused,
                version: next_version,
                reason: Some(reason.clone()),
                ..prev_state
            };
            state::replace(&clients.dynamodb, config, prev, &next, d.now).await?;
            notify::publish(
                &clients.sns,
                config,
                "Canary paused: a step held longer than max_step_seconds",
                &history,
            )
            .await?;
            Outcome::Paused {
                reason: reason.clone(),
            }
        }
        Decision::Drift { found, expected } => {
            let reason =
                format!("drift: listener holds {found}, the controller expected {expected}");
            // Paused, so the next run does not report it again; a person resolves it.
            if let Some(p) = prev {
                let next = CanaryState {
                    status: Status::Paused,
                    version: next_version,
                    reason: Some(reason.clone()),
                    ..p.clone()
                };
                state::replace(&clients.dynamodb, config, prev, &next, d.now).await?;
            }
            notify::publish(
                &clients.sns,
                config,
                "Canary paused: listener weights changed by someone else",
                &history,
            )
            .await?;
            Outcome::Drift {
                found: *found,
                expected: *expected,
            }
        }
    };
    state::append_history(
        &clients.dynamodb,
        config,
        d.now * 1000,
        d.decision.kind(),
        &history,
    )
    .await?;
    Ok(outcome)
}

/// After a promotion's own listener write: if a rollback was recorded meanwhile, V2 goes back to 0.
/// Runs whatever [`record`] returned, so a failed or conflicting record cannot leave V2 with traffic.
pub async fn enforce(
    clients: &Clients,
    config: &Config,
    d: &Decided,
    recorded: Result<Outcome, Error>,
) -> Result<Outcome, Error> {
    if !matches!(d.decision, Decision::Promote { .. }) {
        return recorded;
    }
    let current = state::read(&clients.dynamodb, config).await?;
    let Some(rolled_back) = current.filter(|s| s.status == Status::RolledBack) else {
        return recorded;
    };
    listener::write(&clients.elbv2, config, Weights::STABLE_ONLY, None, true).await?;
    listener::verify(&clients.elbv2, config, Weights::STABLE_ONLY).await?;
    let reason = rolled_back.reason.unwrap_or_else(|| "rolled back".into());
    let history = json!({
        "function": FUNCTION,
        "at": d.now,
        "decision": {"decision": "rollback_enforced", "reason": reason},
        "promotion_discarded": d.decision,
        "record_result": recorded.as_ref().map_err(|e| e.to_string()).err(),
    });
    report::decision(
        config,
        FUNCTION,
        d.now * 1000,
        &history,
        Some(Weights::STABLE_ONLY),
    );
    state::append_history(
        &clients.dynamodb,
        config,
        d.now * 1000,
        "rollback_enforced",
        &history,
    )
    .await?;
    Ok(Outcome::RollbackWon { reason })
}
