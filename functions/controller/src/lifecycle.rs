//! The end of a release: once every step has baked, the stable fleet moves to the release; once it
//! serves the release healthily the listener returns to stable-only and the stack is idle, with
//! the release as its stable version. The canary keeps all the traffic meanwhile.

use crate::clients::Clients;
use crate::config::Config;
use crate::decision::{Status, Weights};
use crate::error::Error;
use crate::fleet::{self, Progress};
use crate::outcome::Outcome;
use crate::state::{self, Recorded};
use crate::{listener, notify, report};
use contract::release::Fleet;
use serde_json::{Value, json};

const FUNCTION: &str = "promote";

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
    history: &Value,
) -> Result<(), Error> {
    let version = release_version(config, prev)?;
    let next = prev.next(|r| {
        r.canary.status = Status::Complete;
        r.canary.reason = Some(format!(
            "every step baked healthy; the stable fleet moves to {version}"
        ));
        r.release.refresh_id = None;
        r.release.moved_at = Some(now);
    });
    state::replace(&clients.dynamodb, config, Some(prev), &next, now).await?;
    notify::publish(
        &clients.sns,
        config,
        &format!("Canary complete: {version} serves all traffic; the stable fleet moves to it"),
        history,
    )
    .await?;
    start_stable_move(clients, config, &next, &version, now).await?;
    Ok(())
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
    let next = rec.next(|r| {
        r.release.refresh_id = Some(refresh.clone());
        r.release.moved_at = Some(now);
    });
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
        let refresh = start_stable_move(clients, config, &rec, &version, now).await?;
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
                let next = rec.next(|r| r.canary.reason = Some(reason.clone()));
                state::replace(&clients.dynamodb, config, Some(&rec), &next, now).await?;
                let history = json!({"function": FUNCTION, "at": now, "release": version,
                    "decision": {"decision": "stable_move_failed", "reason": reason}});
                state::append_history(
                    &clients.dynamodb,
                    config,
                    now * 1000,
                    "stable_move_failed",
                    &history,
                )
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
    let reason = format!("release {version} complete: the stable fleet serves it");
    let next = rec.next(|r| {
        r.canary.status = Status::Idle;
        r.canary.step = 0;
        r.canary.step_started_at = now;
        r.canary.reason = Some(reason.clone());
        r.release.stable_version = Some(version.to_string());
        r.release.refresh_id = None;
        r.release.moved_at = None;
    });
    state::replace(&clients.dynamodb, config, Some(rec), &next, now).await?;
    if let Some(record) = &rec.release.record {
        state::close_release(&clients.dynamodb, config, record, "released", &reason, now).await?;
    }
    let history = json!({
        "function": FUNCTION,
        "at": now,
        "release": version,
        "decision": {"decision": "released", "reason": reason},
        "weights_before": live.weights,
        "stable_healthy_targets": healthy,
    });
    report::decision(
        config,
        FUNCTION,
        now * 1000,
        &history,
        Some(Weights::STABLE_ONLY),
    );
    state::append_history(&clients.dynamodb, config, now * 1000, "released", &history).await?;
    notify::publish(
        &clients.sns,
        config,
        &format!("Release {version} complete: the stable fleet serves it"),
        &history,
    )
    .await?;
    Ok(Outcome::Released {
        version: version.to_string(),
    })
}
