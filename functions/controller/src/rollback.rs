//! The rollback handler, in stages that tests can interleave with a promotion:
//! [`write_stable`] (V2 = 0 first) → [`record`] (state, history, schedule off, notification)
//! → [`confirm`] (read the listener back; V2 = 0 again if a promotion wrote in between).
//! With no release in progress and V2 at 0 an alarm moves nothing: it is recorded and notified as
//! the canary fleet being unhealthy while idle.

use crate::clients::Clients;
use crate::config::Config;
use crate::decision::{Status, Weights};
use crate::error::Error;
use crate::outcome::Outcome;
use crate::state::Recorded;
use crate::{events, fleet, listener, notify, report, schedule, state};
use aws_lambda_events::cloudwatch_alarms::CloudWatchAlarmStateValue;
use contract::release::Fleet;
use serde_json::{Value, json};

const FUNCTION: &str = "rollback";

/// The alarm invocation, at the current time.
pub async fn handle_alarm(
    clients: &Clients,
    config: &Config,
    event: Value,
) -> Result<Outcome, Error> {
    handle_alarm_at(clients, config, event, crate::now_secs()).await
}

/// The alarm invocation at `now` (epoch seconds).
pub async fn handle_alarm_at(
    clients: &Clients,
    config: &Config,
    event: Value,
    now: i64,
) -> Result<Outcome, Error> {
    let change = events::alarm(event)?;
    if !config.rollback_alarms.contains(&change.alarm_name) {
        tracing::warn!(function = FUNCTION, alarm = %change.alarm_name, "unknown alarm; nothing changed");
        return Err(Error::BadEvent(format!(
            "alarm {} is not one of the configured rollback alarms ({})",
            change.alarm_name,
            config.rollback_alarms.join(", ")
        )));
    }
    if change.state != CloudWatchAlarmStateValue::Alarm {
        let state = format!("{:?}", change.state);
        tracing::info!(function = FUNCTION, alarm = %change.alarm_name, state = %state, "not an ALARM transition; nothing changed");
        return Ok(Outcome::Ignored {
            alarm: change.alarm_name,
            state,
        });
    }
    let reason = format!(
        "alarm {} entered ALARM: {}",
        change.alarm_name, change.reason
    );
    let current = state::read(&clients.dynamodb, config).await?;
    if current.as_ref().is_none_or(|r| !r.in_progress()) {
        let live = listener::read(&clients.elbv2, config).await?;
        // V2 with traffic is a canary in all but name: that one is rolled back like any other.
        if live.weights.v2 == 0 {
            return unhealthy_while_idle(
                clients,
                config,
                &change.alarm_name,
                &reason,
                now,
                current,
            )
            .await;
        }
    }
    let before = write_stable(clients, config).await?;
    let history = json!({
        "function": FUNCTION,
        "at": now,
        "decision": {"decision": "roll_back", "reason": reason},
        "alarm": change.alarm_name,
        "weights_before": before,
    });
    after_write(clients, config, &reason, now, FUNCTION, &history).await
}

/// An alarm with no canary in progress: no weight written, no rollback recorded, the schedule
/// left as it is; one history item and one notification.
async fn unhealthy_while_idle(
    clients: &Clients,
    config: &Config,
    alarm: &str,
    reason: &str,
    now: i64,
    current: Option<Recorded>,
) -> Result<Outcome, Error> {
    let status = current.as_ref().map_or(Status::Idle, |r| r.canary.status);
    let history = json!({
        "function": FUNCTION,
        "at": now,
        "decision": {"decision": "unhealthy_while_idle", "reason": reason},
        "alarm": alarm,
        "status": status,
        "canary_version": current.as_ref().and_then(|r| r.release.canary_version.clone()),
    });
    report::decision(config, FUNCTION, now * 1000, &history, None);
    state::append_history(
        &clients.dynamodb,
        config,
        now * 1000,
        "unhealthy_while_idle",
        &history,
    )
    .await?;
    notify::publish(
        &clients.sns,
        config,
        "Canary fleet unhealthy while idle (no weights changed)",
        &history,
    )
    .await?;
    Ok(Outcome::UnhealthyWhileIdle {
        alarm: alarm.to_string(),
    })
}

/// Stage 1: V2 = 0 with stickiness off, unless the listener already holds exactly that.
/// Returns the weights found. A listener of the wrong shape is refused before any write.
pub async fn write_stable(clients: &Clients, config: &Config) -> Result<Weights, Error> {
    let live = listener::read(&clients.elbv2, config).await?;
    let unstuck = live
        .stickiness
        .as_ref()
        .is_none_or(|s| s.enabled() != Some(true));
    if live.weights.v2 != 0 || !unstuck {
        listener::write(&clients.elbv2, config, Weights::STABLE_ONLY, None, true).await?;
    }
    Ok(live.weights)
}

/// Stages 2 and 3 after the listener write: record, stop the schedule, notify, confirm.
/// The confirmation runs even when recording failed.
pub async fn after_write(
    clients: &Clients,
    config: &Config,
    reason: &str,
    now: i64,
    function: &str,
    history: &Value,
) -> Result<Outcome, Error> {
    let recorded = record(clients, config, reason, now, function, history).await;
    confirm(clients, config).await?;
    recorded
}

/// Stage 2: records the rollback (unconditionally: rollback always wins), its history item,
/// disables the promotion schedule and notifies. A repeated rollback only adds history.
pub async fn record(
    clients: &Clients,
    config: &Config,
    reason: &str,
    now: i64,
    function: &str,
    history: &Value,
) -> Result<Outcome, Error> {
    report::decision(
        config,
        function,
        now * 1000,
        history,
        Some(Weights::STABLE_ONLY),
    );
    let before = state::read(&clients.dynamodb, config).await?;
    let repeated = before
        .as_ref()
        .is_some_and(|r| r.canary.status == Status::RolledBack);
    if !repeated {
        state::record_rollback(&clients.dynamodb, config, reason, now).await?;
        if let Some(before) = &before {
            undo_release(clients, config, before, reason, now).await?;
        }
    }
    let kind = if repeated {
        "roll_back_repeat"
    } else {
        "roll_back"
    };
    state::append_history(&clients.dynamodb, config, now * 1000, kind, history).await?;
    schedule::disable(&clients.scheduler, config).await?;
    if repeated {
        return Ok(Outcome::AlreadyRolledBack);
    }
    notify::publish(
        &clients.sns,
        config,
        "Canary rolled back: V2 weight set to 0",
        history,
    )
    .await?;
    Ok(Outcome::RolledBack {
        reason: reason.to_string(),
    })
}

/// Closes the release's record as rolled back; if the stable fleet had begun moving to the
/// release, points it back at the version it served. The canary fleet keeps the bad version.
async fn undo_release(
    clients: &Clients,
    config: &Config,
    before: &Recorded,
    reason: &str,
    now: i64,
) -> Result<(), Error> {
    if !before.in_progress() {
        return Ok(());
    }
    if let Some(record) = &before.release.record {
        state::close_release(
            &clients.dynamodb,
            config,
            record,
            "rolled_back",
            reason,
            now,
        )
        .await?;
    }
    let stable_was_moving = before.canary.status == Status::Complete
        && before.release.refresh_id.is_some()
        && before.release.stable_version != before.release.version;
    if let (true, Some(previous)) = (stable_was_moving, &before.release.stable_version) {
        fleet::move_to(clients, config, Fleet::Stable, previous).await?;
    }
    Ok(())
}

/// Stage 3: reads the listener back; if a promotion wrote V2 > 0 since stage 1, writes V2 = 0 again.
pub async fn confirm(clients: &Clients, config: &Config) -> Result<(), Error> {
    let live = listener::read(&clients.elbv2, config).await?;
    if live.weights.v2 != 0 {
        tracing::warn!(function = FUNCTION, found = %live.weights, "V2 had traffic again after the rollback; writing V2 = 0 again");
        listener::write(&clients.elbv2, config, Weights::STABLE_ONLY, None, true).await?;
        listener::verify(&clients.elbv2, config, Weights::STABLE_ONLY).await?;
    }
    Ok(())
}
