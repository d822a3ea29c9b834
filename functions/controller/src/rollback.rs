//! The rollback handler, in stages that tests can interleave with a promotion:
//! [`write_stable`] (canary = 0 first) → [`record`] (state, history, schedule off, notification)
//! → [`confirm`] (read the listener back; canary = 0 again if a promotion wrote in between).
//! With no release in progress and the canary at 0 an alarm moves nothing: it is recorded and
//! notified as an alarm while idle.

use crate::clients::Clients;
use crate::config::Config;
use crate::decision::{Status, Weights};
use crate::error::Error;
use crate::outcome::Outcome;
use crate::state::Recorded;
use crate::{events, fleet, listener, notify, report, schedule, state};
use aws_lambda_events::cloudwatch_alarms::CloudWatchAlarmStateValue;
use canary::history::{
    AlarmWhileIdle, Entry, ROLLBACK as FUNCTION, Record, RolledBack, SCHEDULE_AFTER_ROLLBACK,
};
use contract::release::Fleet;
use serde_json::Value;

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
    // Rolled back with the schedule still on: this is the alarm retried after the invocation that
    // rolled back failed or died before finishing; it finishes now.
    if current
        .as_ref()
        .is_some_and(|r| r.canary.status == Status::RolledBack)
        && schedule::is_enabled(&clients.scheduler, config).await?
    {
        return settle(clients, config, now, FUNCTION).await;
    }
    if current.as_ref().is_none_or(|r| !r.in_progress()) {
        let live = listener::read(&clients.elbv2, config).await?;
        // Canary with traffic is a canary in all but name: that one is rolled back like any other.
        if live.weights.canary == 0 {
            return alarm_while_idle(clients, config, &change.alarm_name, &reason, now, current)
                .await;
        }
    }
    let before = match write_stable(clients, config).await {
        Ok(before) => before,
        Err(err @ (Error::Aws { .. } | Error::NotLanded { .. })) => {
            return Err(pending(clients, config, &change.alarm_name, &reason, now, err).await);
        }
        Err(err) => return Err(err),
    };
    let rolled_back = RolledBack {
        reason: reason.clone(),
        alarm: Some(change.alarm_name),
        weights_before: Some(before),
        ..RolledBack::default()
    };
    let history = Record::new(FUNCTION, now, Entry::RolledBack(rolled_back));
    after_write(clients, config, &reason, now, &history).await
}

/// An alarm with no canary in progress: no weight written, no rollback recorded, the schedule
/// left as it is; one history item and one notification.
async fn alarm_while_idle(
    clients: &Clients,
    config: &Config,
    alarm: &str,
    reason: &str,
    now: i64,
    current: Option<Recorded>,
) -> Result<Outcome, Error> {
    let status = current.as_ref().map_or(Status::Idle, |r| r.canary.status);
    let alarmed = AlarmWhileIdle {
        reason: reason.to_string(),
        alarm: alarm.to_string(),
        status,
        canary_version: current
            .as_ref()
            .and_then(|r| r.release.canary_version.clone()),
    };
    let history = Record::new(FUNCTION, now, Entry::AlarmWhileIdle(alarmed));
    report::decision(config, now * 1000, &history, None);
    state::append_history(&clients.dynamodb, config, now * 1000, &history).await?;
    notify::publish(
        &clients.sns,
        config,
        "Canary alarm while idle (no weights changed)",
        &history,
    )
    .await?;
    Ok(Outcome::AlarmWhileIdle {
        alarm: alarm.to_string(),
    })
}

/// Stage 1: canary = 0 with stickiness off, unless the listener already holds exactly that.
/// Returns the weights found. A listener of the wrong shape is refused before any write.
pub async fn write_stable(clients: &Clients, config: &Config) -> Result<Weights, Error> {
    let live = listener::read(&clients.elbv2, config).await?;
    let unstuck = live
        .stickiness
        .as_ref()
        .is_none_or(|s| s.enabled() != Some(true));
    if live.weights.canary != 0 || !unstuck {
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
    history: &Record,
) -> Result<Outcome, Error> {
    let recorded = record(clients, config, reason, now, history).await;
    confirm(clients, config).await?;
    recorded
}

/// Stage 2: records the rollback (unconditionally: rollback always wins) with the release record's
/// end and its history item in one transaction, disables the promotion schedule and notifies.
/// A repeated rollback adds history and notifies again: it is an alarm retried because its first
/// invocation failed or died, maybe before it notified (at least once, never lost).
pub async fn record(
    clients: &Clients,
    config: &Config,
    reason: &str,
    now: i64,
    history: &Record,
) -> Result<Outcome, Error> {
    report::decision(config, now * 1000, history, Some(Weights::STABLE_ONLY));
    let repeated = commit(clients, config, reason, now, history).await?;
    // Notified before the schedule stops: while it runs, a promotion run that finds the canary
    // rolled back finishes what a failed or dead run left ([`settle`]), so the notification is
    // never lost.
    let subject = if repeated {
        "Canary rollback confirmed: canary weight 0 (repeated)"
    } else {
        "Canary rolled back: canary weight set to 0"
    };
    notify::publish(&clients.sns, config, subject, history).await?;
    schedule::disable(&clients.scheduler, config).await?;
    if repeated {
        return Ok(Outcome::AlreadyRolledBack);
    }
    Ok(Outcome::RolledBack {
        reason: reason.to_string(),
    })
}

/// The rollback's state, release record and history item in one transaction, then the stable
/// fleet moved back if it had begun moving to the release; only a history item if the canary is
/// rolled back already. Returns whether it was.
async fn commit(
    clients: &Clients,
    config: &Config,
    reason: &str,
    now: i64,
    history: &Record,
) -> Result<bool, Error> {
    let before = state::read(&clients.dynamodb, config).await?;
    let repeated = before
        .as_ref()
        .is_some_and(|r| r.canary.status == Status::RolledBack);
    if repeated {
        let repeated = Record::new(
            &history.function,
            history.at,
            Entry::Repeated(Box::new(history.entry.clone())),
        );
        state::append_history(&clients.dynamodb, config, now * 1000, &repeated).await?;
        return Ok(true);
    }
    let in_progress = before.as_ref().filter(|b| b.in_progress());
    let back = in_progress.and_then(stable_to_move_back);
    let mut batch = state::Batch::new().rollback(config, reason, now, back.as_deref())?;
    if let Some(record) = in_progress.and_then(|b| b.release.record.as_ref()) {
        batch = batch.close(config, record, "rolled_back", reason, now)?;
    }
    batch
        .history(config, now * 1000, history)?
        .commit(&clients.dynamodb, config)
        .await?;
    if let Some(previous) = &back {
        move_stable_back(clients, config, previous).await?;
    }
    Ok(false)
}

/// The alarm's rollback when the listener could not be written (ELBv2 failing): the rollback is
/// recorded now and the schedule left on, so that what runs next (the alarm's retries, then every
/// promotion run) finds the canary rolled back and finishes it once ELBv2 answers ([`settle`]).
/// Without it, an outage longer than Lambda's two retries left the event in the dead-letter queue
/// and canary its traffic. Notified as pending; returns the listener's error, so the invocation fails
/// and Lambda retries it.
async fn pending(
    clients: &Clients,
    config: &Config,
    alarm: &str,
    reason: &str,
    now: i64,
    listener_error: Error,
) -> Error {
    let pending = RolledBack {
        reason: reason.to_string(),
        alarm: Some(alarm.to_string()),
        listener_pending: Some(listener_error.to_string()),
        ..RolledBack::default()
    };
    let history = Record::new(FUNCTION, now, Entry::RolledBack(pending));
    report::decision(config, now * 1000, &history, None);
    tracing::error!(function = FUNCTION, alarm = %alarm, error = %listener_error, "the listener could not be written: rollback recorded as pending, finished by the next run once ELBv2 answers");
    let recorded = async {
        if !commit(clients, config, reason, now, &history).await? {
            notify::publish(
                &clients.sns,
                config,
                "Canary rollback pending: canary keeps its traffic until ELBv2 answers",
                &history,
            )
            .await?;
        }
        Ok::<(), Error>(())
    }
    .await;
    if let Err(err) = recorded {
        tracing::error!(function = FUNCTION, error = %err, "the pending rollback could not be recorded either");
    }
    listener_error
}

/// The version the stable fleet must move back to: it had begun moving to the release rolled back.
/// The canary fleet keeps the bad version.
fn stable_to_move_back(before: &Recorded) -> Option<String> {
    let stable_was_moving = before.canary.status == Status::Complete
        && before.release.refresh_id.is_some()
        && before.release.stable_version != before.release.version;
    stable_was_moving
        .then(|| before.release.stable_version.clone())
        .flatten()
}

/// Points the stable fleet back at `previous`, then forgets that it had to (recorded with the
/// rollback, so that a run dying in between leaves it to the next: [`settle`]).
async fn move_stable_back(clients: &Clients, config: &Config, previous: &str) -> Result<(), Error> {
    fleet::move_to(clients, config, Fleet::Stable, previous).await?;
    state::clear_stable_back(&clients.dynamodb, config).await
}

/// A promotion run that finds the canary rolled back while the schedule still runs: the run that
/// rolled back died after recording it. Canary = 0 is confirmed, the schedule disabled, and the
/// rollback notified (again, maybe: at least once).
pub async fn settle(
    clients: &Clients,
    config: &Config,
    now: i64,
    function: &str,
) -> Result<Outcome, Error> {
    confirm(clients, config).await?;
    let current = state::read(&clients.dynamodb, config).await?;
    if let Some(previous) = current.and_then(|r| r.release.stable_back) {
        move_stable_back(clients, config, &previous).await?;
    }
    let repeated = RolledBack {
        reason: SCHEDULE_AFTER_ROLLBACK.into(),
        ..RolledBack::default()
    };
    let history = Record::new(
        function,
        now,
        Entry::Repeated(Box::new(Entry::RolledBack(repeated))),
    );
    report::decision(config, now * 1000, &history, Some(Weights::STABLE_ONLY));
    state::append_history(&clients.dynamodb, config, now * 1000, &history).await?;
    notify::publish(
        &clients.sns,
        config,
        "Canary rollback confirmed: canary weight 0 (repeated)",
        &history,
    )
    .await?;
    schedule::disable(&clients.scheduler, config).await?;
    Ok(Outcome::AlreadyRolledBack)
}

/// Stage 3: reads the listener back; if a promotion wrote canary > 0 since stage 1, writes canary = 0 again.
pub async fn confirm(clients: &Clients, config: &Config) -> Result<(), Error> {
    let live = listener::read(&clients.elbv2, config).await?;
    if live.weights.canary != 0 {
        tracing::warn!(function = FUNCTION, found = %live.weights, "canary had traffic again after the rollback; writing canary = 0 again");
        listener::write(&clients.elbv2, config, Weights::STABLE_ONLY, None, true).await?;
        listener::verify(&clients.elbv2, config, Weights::STABLE_ONLY).await?;
    }
    Ok(())
}
