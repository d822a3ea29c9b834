//! The two invocation events, parsed strictly: a payload of the wrong shape is a clear
//! [`Error::BadEvent`] before anything is read or written.

use crate::error::Error;
use aws_lambda_events::cloudwatch_alarms::{CloudWatchAlarm, CloudWatchAlarmStateValue};
use aws_lambda_events::eventbridge::EventBridgeEvent;
use contract::schedule_event;
use serde_json::Value;

/// What the rollback function needs from a CloudWatch alarm event.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmChange {
    pub alarm_name: String,
    pub state: CloudWatchAlarmStateValue,
    pub reason: String,
}

/// Parses a CloudWatch alarm → Lambda event (the generic type: the metric-alarm type cannot hold
/// periods above 65535 s).
pub fn alarm(event: Value) -> Result<AlarmChange, Error> {
    // The event type defaults a missing `alarmData`; an alarm event without one is malformed.
    if !event.get("alarmData").is_some_and(Value::is_object) {
        return Err(Error::BadEvent(
            "not a CloudWatch alarm event: alarmData is missing".into(),
        ));
    }
    let alarm: CloudWatchAlarm = serde_json::from_value(event)
        .map_err(|err| Error::BadEvent(format!("not a CloudWatch alarm event: {err}")))?;
    if alarm.source.as_deref() != Some("aws.cloudwatch") {
        return Err(Error::BadEvent(format!(
            "alarm event source is {:?}, expected \"aws.cloudwatch\"",
            alarm.source
        )));
    }
    let state = alarm.alarm_data.state.ok_or_else(|| {
        Error::BadEvent(format!(
            "alarm event for {} has no alarmData.state",
            alarm.alarm_data.alarm_name
        ))
    })?;
    Ok(AlarmChange {
        alarm_name: alarm.alarm_data.alarm_name,
        state: state.value,
        reason: state.reason,
    })
}

/// Checks a scheduled EventBridge event (EventBridge rule or Scheduler with the same payload).
pub fn schedule(event: Value) -> Result<(), Error> {
    let event: EventBridgeEvent = serde_json::from_value(event)
        .map_err(|err| Error::BadEvent(format!("not an EventBridge event: {err}")))?;
    if event.detail_type != schedule_event::DETAIL_TYPE {
        return Err(Error::BadEvent(format!(
            "EventBridge detail-type is {:?}, expected \"Scheduled Event\"",
            event.detail_type
        )));
    }
    let sources = [schedule_event::SOURCE, "aws.events", "aws.scheduler"];
    if !sources.contains(&event.source.as_str()) {
        return Err(Error::BadEvent(format!(
            "EventBridge source is {:?}, expected one of {sources:?}",
            event.source
        )));
    }
    Ok(())
}

/// Parses raw invocation bytes (what the runtime receives) as JSON.
pub fn json(bytes: &[u8]) -> Result<Value, Error> {
    serde_json::from_slice(bytes)
        .map_err(|err| Error::BadEvent(format!("event is not JSON: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stack_schedule_input_is_accepted() {
        schedule(serde_json::from_str(schedule_event::INPUT).unwrap()).unwrap();
    }

    #[test]
    fn a_scheduled_event_from_elsewhere_is_refused() {
        let event =
            serde_json::json!({"source": "my.app", "detail-type": "Scheduled Event", "detail": {}});
        let err = schedule(event).unwrap_err().to_string();
        assert!(err.contains("\"my.app\""), "{err}");
        let err = schedule(serde_json::json!({"detail": {}}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an EventBridge event"), "{err}");
    }
}
