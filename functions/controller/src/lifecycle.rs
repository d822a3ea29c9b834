//! The end of a release: once every step has baked, the stable fleet moves to the release; once it
//! serves the release healthily the listener returns to stable-only and the stack is idle, with
//! the release as its stable version. The canary keeps all the traffic meanwhile.

use crate::clients::Clients;
use crate::config::Config;
use crate::decision::{Status, Weights};
use crate::error::Error;
use crate::fleet::{self, Progress};
use crate::machine::{self, Event};
use crate::outcome::Outcome;
use crate::state::{self, Recorded};
use crate::{listener, notify, report};
use canary::history::{
    Entry, Judgement, PROMOTION as FUNCTION, Record, Released, StableMoveFailed,
};
use contract::release::Fleet;

fn transition(config: &Config, rec: &Recorded, event: &Event, now: i64) -> Result<Recorded, Error> {
    machine::transition(&config.plan, rec, event, now)
        .map_err(|refused| crate::promotion::refused_by_state(config, refused))
}

fn release_version(config: &Config, rec: &Recorded) -> Result<String, Error> {
    rec.release.version.clone().ok_or_else(|| Error::State {
        key: config.listener_arn.clone(),
        problem: format!("status {} names no release", rec.canary.status.as_str()),
    })
}

/// The last step baked healthy: records `complete` (conditionally) and starts the stable fleet's move.
pub async fn complete(
    clients: &Clients,
    config: &Config,
    prev: &Recorded,
    now: i64,
    history: &Record,
) -> Result<(), Error> {
    let version = release_version(config, prev)?;
    let next = transition(config, prev, &Event::Completed, now)?;
    state::Batch::new()
        .replace(config, Some(prev), &next, now)?
        .history(config, now * 1000, history)?
        .commit(&clients.dynamodb, config)
        .await?;
    begin_stable_move(clients, config, &next, &version, now, Some(history)).await?;
    Ok(())
}

/// Notifies the completion, then starts the stable fleet's move. The next run does the same when
/// the move was recorded but not started (a run that died or failed in between): notified at
/// least once, never lost.
async fn begin_stable_move(
    clients: &Clients,
    config: &Config,
    rec: &Recorded,
    version: &str,
    now: i64,
    history: Option<&Record>,
) -> Result<String, Error> {
    // A later run starting the move notifies without the judgement: the state says it all.
    let note = Record::new(
        FUNCTION,
        now,
        Entry::Judgement(Box::new(Judgement {
            release: Some(version.to_string()),
            decision: crate::decision::Decision::Complete,
            state_before: Some(rec.canary.clone()),
            weights_before: Weights::for_percent(100),
            statistics: None,
            inputs: Default::default(),
        })),
    );
    notify::publish(
        &clients.sns,
        config,
        &format!("Canary complete: {version} serves all traffic; the stable fleet moves to it"),
        history.unwrap_or(&note),
    )
    .await?;
    start_stable_move(clients, config, rec, version, now).await
}

/// Points the stable fleet at the release and records the refresh (conditionally).
async fn start_stable_move(
    clients: &Clients,
    config: &Config,
    rec: &Recorded,
    version: &str,
    now: i64,
) -> Result<String, Error> {
    let refresh = fleet::move_to(clients, config, Fleet::Stable, version).await?;
    let started = Event::StableMoveStarted {
        refresh: refresh.clone(),
    };
    let next = transition(config, rec, &started, now)?;
    state::replace(&clients.dynamodb, config, Some(rec), &next, now).await?;
    Ok(refresh)
}

/// A scheduled run while `complete`: waits for the stable fleet, then returns the listener to
/// stable-only and records the stack idle on the release.
pub async fn finish(clients: &Clients, config: &Config, now: i64) -> Result<Outcome, Error> {
    let Some(rec) = state::read(&clients.dynamodb, config).await? else {
        return Ok(Outcome::Idle {
            status: Status::Idle,
        });
    };
    if rec.canary.status != Status::Complete {
        return Ok(Outcome::Idle {
            status: rec.canary.status,
        });
    }
    let version = release_version(config, &rec)?;
    let Some(refresh) = rec.release.refresh_id.clone() else {
        // The move was recorded but not started (a failed call): start it now.
        let refresh = begin_stable_move(clients, config, &rec, &version, now, None).await?;
        return Ok(Outcome::Held {
            reason: format!("stable fleet moving to {version} (instance refresh {refresh})"),
        });
    };
    let waited = now - rec.release.moved_at.unwrap_or(now);
    match fleet::progress(clients, config, Fleet::Stable, Some(&refresh), waited).await? {
        Progress::Waiting(reason) => Ok(Outcome::Held { reason }),
        Progress::Failed(reason) => {
            // The canary keeps serving the release; a person decides (`release --force`, `abort`).
            if rec.canary.reason.as_deref() != Some(reason.as_str()) {
                let failed = Event::StableMoveFailed {
                    reason: reason.clone(),
                };
                let next = transition(config, &rec, &failed, now)?;
                let failed = StableMoveFailed {
                    reason: reason.clone(),
                    release: version.clone(),
                };
                let history = Record::new(FUNCTION, now, Entry::StableMoveFailed(failed));
                state::Batch::new()
                    .replace(config, Some(&rec), &next, now)?
                    .history(config, now * 1000, &history)?
                    .commit(&clients.dynamodb, config)
                    .await?;
                notify::publish(
                    &clients.sns,
                    config,
                    "Release stuck: the stable fleet did not take it",
                    &history,
                )
                .await?;
            }
            Ok(Outcome::Held { reason })
        }
        Progress::Ready { healthy } => {
            released(clients, config, &rec, &version, healthy, now).await
        }
    }
}

async fn released(
    clients: &Clients,
    config: &Config,
    rec: &Recorded,
    version: &str,
    healthy: u32,
    now: i64,
) -> Result<Outcome, Error> {
    let live = listener::read(&clients.elbv2, config).await?;
    if live.weights != Weights::STABLE_ONLY {
        listener::write(&clients.elbv2, config, Weights::STABLE_ONLY, None, true).await?;
        listener::verify(&clients.elbv2, config, Weights::STABLE_ONLY).await?;
    }
    let next = transition(config, rec, &Event::Released, now)?;
    let reason = next.canary.reason.clone().unwrap_or_default();
    let done = Released {
        reason: reason.clone(),
        release: version.to_string(),
        weights_before: live.weights,
        stable_healthy_targets: healthy,
    };
    let history = Record::new(FUNCTION, now, Entry::Released(done));
    report::decision(config, now * 1000, &history, Some(Weights::STABLE_ONLY));
    // Notified first: a run that fails or dies before its record is followed by one that
    // releases (and notifies) again; after the record nothing would (at least once, never lost).
    notify::publish(
        &clients.sns,
        config,
        &format!("Release {version} complete: the stable fleet serves it"),
        &history,
    )
    .await?;
    // The state, the record's end and the decision: all or nothing.
    let mut batch = state::Batch::new().replace(config, Some(rec), &next, now)?;
    if let Some(record) = &rec.release.record {
        batch = batch.close(config, record, "released", &reason, now)?;
    }
    batch
        .history(config, now * 1000, &history)?
        .commit(&clients.dynamodb, config)
        .await?;
    Ok(Outcome::Released {
        version: version.to_string(),
    })
}
