//! The promotion handler, in stages that tests can interleave with a rollback:
//! [`prepare`] (read and decide) → [`write`] (the listener) → [`record`] (verify, state, history)
//! → [`enforce`] (re-read the state; if a rollback happened meanwhile, canary = 0 again).
//! With no release in progress it does nothing; a deploying release starts its canary once the
//! canary fleet is healthy, and a complete one finishes in [`crate::lifecycle`].

use crate::clients::Clients;
use crate::config::Config;
use crate::decision::{
    CanaryState, Decision, Judged, Observation, Status, Weights, decide_with_statistics,
};
use crate::error::Error;
use crate::fleet::{self, Progress};
use crate::listener::{self, LiveListener};
use crate::machine::{self, Event};
use crate::outcome::Outcome;
use crate::state::{self, Recorded};
use crate::{events, lifecycle, metrics, notify, report, rollback, schedule};
use canary::history::{
    Entry, Judgement, PROMOTION as FUNCTION, PromotionUndone, Record, RollbackEnforced,
};
use contract::release::Fleet;
use serde_json::Value;

/// Everything read for one decision, and the decision.
#[derive(Debug, Clone)]
pub struct Decided {
    pub state: Recorded,
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
    /// Idle, rolled back or complete: no canary decision to take. (A paused canary is still judged.)
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
        Prepared::Idle(Status::Complete) => return lifecycle::finish(clients, config, now).await,
        // Scheduled while rolled back: the run that rolled back died before it disabled the
        // schedule (and notified). What it left is done now.
        Prepared::Idle(Status::RolledBack)
            if schedule::is_enabled(&clients.scheduler, config).await? =>
        {
            return rollback::settle(clients, config, now, FUNCTION).await;
        }
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

/// Reads the state, the listener and the canary's per-minute metrics (or, while the release
/// deploys, the canary fleet's progress), and decides. A paused canary is judged too: it may roll
/// back, never promote.
pub async fn prepare(clients: &Clients, config: &Config, now: i64) -> Result<Prepared, Error> {
    let Some(state) = state::read(&clients.dynamodb, config).await? else {
        return Ok(Prepared::Idle(Status::Idle));
    };
    let status = state.canary.status;
    if matches!(status, Status::Idle | Status::RolledBack | Status::Complete) {
        return Ok(Prepared::Idle(status));
    }
    let live = listener::read(&clients.elbv2, config).await?;
    let (observation, judged) = if status == Status::Deploying {
        let waited = now - state.release.moved_at.unwrap_or(now);
        let refresh = state.release.refresh_id.as_deref();
        match fleet::progress(clients, config, Fleet::Canary, refresh, waited).await? {
            // The canary's first step, decided by the core as the start of a canary.
            Progress::Ready { healthy } => {
                let observation = Observation {
                    canary_healthy_targets: healthy,
                    ..Observation::default()
                };
                let judged = decide_with_statistics(
                    &config.plan,
                    Some(&state.canary),
                    live.weights,
                    &observation,
                    now,
                );
                (observation, judged)
            }
            Progress::Waiting(reason) => (
                Observation::default(),
                Judged {
                    decision: Decision::Hold { reason },
                    statistics: None,
                },
            ),
            Progress::Failed(reason) => (
                Observation::default(),
                Judged {
                    decision: Decision::RollBack { reason },
                    statistics: None,
                },
            ),
        }
    } else {
        let observation = observe(clients, config, &state.canary, now).await?;
        let judged = decide_with_statistics(
            &config.plan,
            Some(&state.canary),
            live.weights,
            &observation,
            now,
        );
        (observation, judged)
    };
    let Judged {
        decision,
        statistics,
    } = judged;
    Ok(Prepared::Decided(Decided {
        state,
        live,
        observation,
        decision,
        statistics,
        now,
    }))
}

/// The per-period series since the canary started, up to `now − settle_seconds`, and (for the
/// sequential latency test) what fixes the threshold T before the data it judges: the stable version's baseline
/// before the canary, else the stable version's first calibration span in the canary.
async fn observe(
    clients: &Clients,
    config: &Config,
    state: &CanaryState,
    now: i64,
) -> Result<Observation, Error> {
    let health = &config.plan.health;
    let period = judge::period_of(health.period_seconds);
    let closed = judge::closed_until(now, health.settle_seconds, period);
    let baseline_ms =
        metrics::read_baseline(&clients.cloudwatch, config, state.canary_started_at).await?;
    let calibration = match baseline_ms {
        Some(_) => None,
        None => {
            metrics::read_calibration(&clients.cloudwatch, config, state.canary_started_at, closed)
                .await?
        }
    };
    let threshold = judge::latency_threshold(&health.latency, baseline_ms, calibration);
    let settle = i64::try_from(health.settle_seconds).unwrap_or(i64::MAX);
    let periods = metrics::read_series(
        &clients.cloudwatch,
        config,
        state.canary_started_at,
        now.saturating_sub(settle),
        &threshold,
    )
    .await?;
    Ok(Observation {
        periods,
        baseline_ms,
        calibration,
        canary_healthy_targets: 0,
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
    let prev = &d.state;
    let history = judgement(d);
    let weights_after = d.decision.writes().unwrap_or(d.live.weights);
    report::decision(config, d.now * 1000, &history, Some(weights_after));
    let outcome = match &d.decision {
        Decision::Promote { step, weights } => {
            listener::verify(&clients.elbv2, config, *weights).await?;
            let next =
                machine::transition(&config.plan, prev, &Event::Promoted { step: *step }, d.now)
                    .map_err(|refused| refused_by_state(config, refused))?;
            // The state, the record's step and the decision: all or nothing.
            let mut batch = state::Batch::new().replace(config, Some(prev), &next, d.now)?;
            if let Some(record) = &prev.release.record {
                let percent = config.plan.steps.get(*step).copied().unwrap_or(100);
                batch = batch.step(config, record, *step, percent, d.now)?;
            }
            batch
                .history(config, d.now * 1000, &history)?
                .commit(&clients.dynamodb, config)
                .await?;
            return Ok(Outcome::Promoted {
                step: *step,
                weights: *weights,
            });
        }
        Decision::RollBack { reason } => {
            // Rollback always wins: its state write is unconditional, like the rollback function's.
            return rollback::after_write(clients, config, reason, d.now, &history).await;
        }
        Decision::Hold { reason } => Outcome::Held {
            reason: reason.clone(),
        },
        Decision::Complete => {
            // Records the decision with the state.
            lifecycle::complete(clients, config, prev, d.now, &history).await?;
            return Ok(Outcome::Completed);
        }
        Decision::Pause { reason } => {
            pause(clients, config, prev, reason, d.now, &history).await?;
            let subject = "Canary paused: a step held longer than max_step_seconds";
            notify::publish(&clients.sns, config, subject, &history).await?;
            return Ok(Outcome::Paused {
                reason: reason.clone(),
            });
        }
        Decision::Drift { found, expected } => {
            let reason =
                format!("drift: listener holds {found}, the controller expected {expected}");
            let outcome = Outcome::Drift {
                found: *found,
                expected: *expected,
            };
            // Paused, so the next run does not report it again; a person resolves it.
            if prev.canary.status == Status::Running {
                pause(clients, config, prev, &reason, d.now, &history).await?;
                let subject = "Canary paused: listener weights changed by someone else";
                notify::publish(&clients.sns, config, subject, &history).await?;
                return Ok(outcome);
            }
            let subject = "Canary paused: listener weights changed by someone else";
            notify::publish(&clients.sns, config, subject, &history).await?;
            outcome
        }
    };
    state::append_history(&clients.dynamodb, config, d.now * 1000, &history).await?;
    Ok(outcome)
}

/// The history record of a decision: what it was taken on, with the statistics behind it.
fn judgement(d: &Decided) -> Record {
    let judged = Judged {
        decision: d.decision.clone(),
        statistics: d.statistics.clone(),
    };
    let judgement = Judgement::new(
        d.state.release.version.clone(),
        &d.state.canary,
        d.live.weights,
        &d.observation,
        judged,
    );
    Record::new(FUNCTION, d.now, Entry::Judgement(Box::new(judgement)))
}

/// Records the canary as paused, with why, and the decision, together; a person resumes it.
async fn pause(
    clients: &Clients,
    config: &Config,
    prev: &Recorded,
    reason: &str,
    now: i64,
    history: &Record,
) -> Result<(), Error> {
    let pause = Event::Pause {
        reason: reason.to_owned(),
    };
    let next = machine::transition(&config.plan, prev, &pause, now)
        .map_err(|refused| refused_by_state(config, refused))?;
    state::Batch::new()
        .replace(config, Some(prev), &next, now)?
        .history(config, now * 1000, history)?
        .commit(&clients.dynamodb, config)
        .await
}

/// The run lost the state's race (an operator's pause or bake skip, another run): its listener
/// write is not recorded, so it is undone. The listener goes back to the step the state records,
/// unless it no longer holds what this run wrote (then the state's next reader judges the drift).
/// Without it, a `pause` between a run's read and its record left the listener a step ahead of
/// the paused state, with no drift reported.
async fn undo_unrecorded(
    clients: &Clients,
    config: &Config,
    d: &Decided,
    written: Weights,
    current: &Recorded,
) -> Result<(), Error> {
    if !matches!(current.canary.status, Status::Running | Status::Paused) {
        return Ok(());
    }
    let Some(recorded) = config
        .plan
        .steps
        .get(current.canary.step)
        .map(|p| Weights::for_percent(*p))
    else {
        return Ok(());
    };
    if recorded == written {
        return Ok(());
    }
    let live = listener::read(&clients.elbv2, config).await?;
    if live.weights != written {
        return Ok(());
    }
    listener::write(
        &clients.elbv2,
        config,
        recorded,
        live.stickiness.as_ref(),
        false,
    )
    .await?;
    listener::verify(&clients.elbv2, config, recorded).await?;
    let undone = PromotionUndone {
        reason: "another writer changed the state before this run recorded its promotion".into(),
        promotion_discarded: d.decision.clone(),
        status: current.canary.status,
        step: current.canary.step,
    };
    let history = Record::new(FUNCTION, d.now, Entry::PromotionUndone(undone));
    report::decision(config, d.now * 1000, &history, Some(recorded));
    state::append_history(&clients.dynamodb, config, d.now * 1000, &history).await
}

/// After a promotion's own listener write: if a rollback was recorded meanwhile, canary goes back to 0.
/// Runs whatever [`record`] returned, so a failed or conflicting record cannot leave canary with traffic.
pub async fn enforce(
    clients: &Clients,
    config: &Config,
    d: &Decided,
    recorded: Result<Outcome, Error>,
) -> Result<Outcome, Error> {
    let Decision::Promote { weights, .. } = &d.decision else {
        return recorded;
    };
    let current = state::read(&clients.dynamodb, config).await?;
    let Some(rolled_back) = current
        .as_ref()
        .map(|r| r.canary.clone())
        .filter(|s| s.status == Status::RolledBack)
    else {
        if matches!(recorded, Err(Error::Conflict { .. }))
            && let Some(current) = &current
        {
            undo_unrecorded(clients, config, d, *weights, current).await?;
        }
        return recorded;
    };
    listener::write(&clients.elbv2, config, Weights::STABLE_ONLY, None, true).await?;
    listener::verify(&clients.elbv2, config, Weights::STABLE_ONLY).await?;
    let reason = rolled_back.reason.unwrap_or_else(|| "rolled back".into());
    let enforced = RollbackEnforced {
        reason: reason.clone(),
        promotion_discarded: d.decision.clone(),
        record_result: recorded.as_ref().map_err(|e| e.to_string()).err(),
    };
    let history = Record::new(FUNCTION, d.now, Entry::RollbackEnforced(enforced));
    report::decision(config, d.now * 1000, &history, Some(Weights::STABLE_ONLY));
    state::append_history(&clients.dynamodb, config, d.now * 1000, &history).await?;
    Ok(Outcome::RollbackWon { reason })
}

/// The core refused a transition the decision implied: the state changed under the run in a way
/// the decision did not see. Nothing is written.
pub fn refused_by_state(config: &Config, refused: machine::Refused) -> Error {
    Error::State {
        key: config.listener_arn.clone(),
        problem: refused.to_string(),
    }
}
