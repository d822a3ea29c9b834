//! The promotion handler, in stages that tests can interleave with a rollback:
//! [`prepare`] (read and decide) → [`write`] (the listener) → [`record`] (verify, state, history)
//! → [`enforce`] (re-read the state; if a rollback happened meanwhile, V2 = 0 again).

use crate::clients::Clients;
use crate::config::Config;
use crate::decision::{CanaryState, Decision, Observation, Status, Weights, decide};
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
    pub now: i64,
}

#[derive(Debug, Clone)]
pub enum Prepared {
    /// Rolled back, paused or complete: nothing to do.
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

/// Reads the state, the listener and the window's metrics, and decides.
pub async fn prepare(clients: &Clients, config: &Config, now: i64) -> Result<Prepared, Error> {
    let state = state::read(&clients.dynamodb, config).await?;
    if let Some(s) = &state
        && s.status != Status::Running
    {
        return Ok(Prepared::Idle(s.status));
    }
    let live = listener::read(&clients.elbv2, config).await?;
    let mut observation = Observation::default();
    match &state {
        None => {
            observation.v2_healthy_targets =
                listener::healthy_canary_targets(&clients.elbv2, config).await?;
        }
        Some(s) => {
            let (v1, v2) =
                metrics::read_window(&clients.cloudwatch, config, s.step_started_at, now).await?;
            observation.v1 = v1;
            observation.v2 = v2;
        }
    }
    let decision = decide(
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
        now,
    }))
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
        Decision::Hold { .. } | Decision::Complete | Decision::Drift { .. } => Ok(()),
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
        "metrics": d.observation,
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
