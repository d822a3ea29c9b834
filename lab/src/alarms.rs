//! The stack's canary alarms evaluated as CloudWatch would: each on its period (the timing profile's,
//! [`crate::timing::Timing::alarm_period`]), right after each of its periods closes, over an
//! evaluation range a few periods longer than it evaluates, on what the emulator shows then
//! ([`crate::timing::evaluated`]). A transition into ALARM sets the alarm's state in the emulator
//! and, when the alarm's actions name the rollback function, invokes the real rollback code with
//! the alarm's event. Every statistic (sums, maxima, `p99`) comes from the emulator
//! (`GetMetricData`), so late datapoints are late for the alarms too.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, StateValue};
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use controller::Outcome;
use controller::rollback::handle_alarm_at;
use serde_json::{Value, json};

use crate::alarm_spec::{AlarmSpec, Compared, Query};
use crate::context::{Ctx, End};
use crate::timing::{EXTRA_RANGE_PERIODS, evaluated};

/// How often an alarm may be evaluated: CloudWatch's shortest alarm period.
const EVALUATION_TICK_SECS: i64 = 10;

/// Evaluates the alarms until dropped: every 10 s boundary (a second after it, so the datapoints
/// put at the boundary are in), those whose period ends there.
pub async fn run(ctx: Arc<Ctx>) -> Result<(), String> {
    loop {
        let now = controller::now_secs();
        let boundary = (now / EVALUATION_TICK_SECS + 1) * EVALUATION_TICK_SECS;
        let wait = (boundary - now) as f64 + 1.0;
        tokio::time::sleep(Duration::from_secs_f64(wait.max(0.0))).await;
        evaluate(&ctx, boundary).await?;
    }
}

/// Evaluates every alarm whose period ends at `boundary`.
pub async fn evaluate(ctx: &Ctx, boundary: i64) -> Result<(), String> {
    for spec in &ctx.alarms {
        let period = ctx
            .timing
            .alarm_period(spec.period)
            .max(EVALUATION_TICK_SECS);
        if boundary % period != 0 {
            continue;
        }
        let latest = boundary - period;
        let range = spec.evaluation_periods.max(1) + EXTRA_RANGE_PERIODS;
        let first = latest - (range as i64 - 1) * period;
        let values = values(ctx, spec, period, first, latest).await?;
        if let Some(high) = values.iter().flatten().copied().reduce(f64::max) {
            let mut peaks = ctx.alarm_peaks.lock().unwrap();
            let peak = peaks.entry(spec.name.clone()).or_insert(high);
            *peak = peak.max(high);
        }
        let values = evaluated(&values, spec.evaluation_periods.max(1));
        let reason = spec.alarm_reason(&values);
        let was_alarm = is_alarm(ctx, &spec.name).await?;
        match (reason, was_alarm) {
            (Some(reason), false) => fire(ctx, spec, &reason, latest).await?,
            (None, true) => {
                set_state(
                    ctx,
                    &spec.name,
                    StateValue::Ok,
                    "Threshold no longer crossed",
                )
                .await?;
                ctx.recorder
                    .event("alarm", "ok", format!("{} back to OK", spec.name));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The compared value per period, oldest first.
async fn values(
    ctx: &Ctx,
    spec: &AlarmSpec,
    period: i64,
    first: i64,
    latest: i64,
) -> Result<Vec<Option<f64>>, String> {
    let starts: Vec<i64> = (first..=latest).step_by(period as usize).collect();
    let queries: Vec<&Query> = spec.queries.iter().collect();
    let series = fetch(ctx, &queries, period, &starts).await?;
    Ok((0..starts.len())
        .map(|i| match &spec.compared {
            Compared::Query(id) => series.get(id).and_then(|s| s[i]),
            Compared::Expression(e) => {
                let vars = series.iter().map(|(k, s)| (k.clone(), s[i])).collect();
                e.eval(&vars)
            }
        })
        .collect())
}

async fn fetch(
    ctx: &Ctx,
    queries: &[&Query],
    period: i64,
    starts: &[i64],
) -> Result<HashMap<String, Vec<Option<f64>>>, String> {
    let built: Vec<MetricDataQuery> = queries
        .iter()
        .map(|q| {
            let mut metric = Metric::builder()
                .namespace(&q.namespace)
                .metric_name(&q.metric_name);
            for (n, v) in &q.dimensions {
                metric = metric.dimensions(Dimension::builder().name(n).value(v).build());
            }
            MetricDataQuery::builder()
                .id(&q.id)
                .metric_stat(
                    MetricStat::builder()
                        .metric(metric.build())
                        .period(period as i32)
                        .stat(&q.stat)
                        .build(),
                )
                .return_data(true)
                .build()
        })
        .collect();
    let first = starts[0];
    let end = starts[starts.len() - 1] + period;
    let out = ctx
        .clients
        .cloudwatch
        .get_metric_data()
        .set_metric_data_queries(Some(built))
        .start_time(DateTime::from_secs(first))
        .end_time(DateTime::from_secs(end))
        .send()
        .await
        .map_err(|e| format!("GetMetricData: {e:?}"))?;
    let mut series = HashMap::new();
    for r in out.metric_data_results() {
        let mut values = vec![None; starts.len()];
        for (t, v) in r.timestamps().iter().zip(r.values()) {
            if let Some(i) = starts.iter().position(|s| *s == t.secs()) {
                values[i] = Some(*v);
            }
        }
        series.insert(r.id().unwrap_or_default().to_owned(), values);
    }
    Ok(series)
}

async fn is_alarm(ctx: &Ctx, name: &str) -> Result<bool, String> {
    let out = ctx
        .clients
        .cloudwatch
        .describe_alarms()
        .alarm_names(name)
        .send()
        .await
        .map_err(|e| format!("DescribeAlarms: {e:?}"))?;
    Ok(out
        .metric_alarms()
        .iter()
        .any(|a| a.state_value() == Some(&StateValue::Alarm)))
}

async fn set_state(ctx: &Ctx, name: &str, state: StateValue, reason: &str) -> Result<(), String> {
    ctx.clients
        .cloudwatch
        .set_alarm_state()
        .alarm_name(name)
        .state_value(state)
        .state_reason(reason)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("SetAlarmState: {e:?}"))
}

fn iso(secs: i64) -> String {
    DateTime::from_secs(secs)
        .fmt(Format::DateTime)
        .unwrap_or_default()
}

/// The event CloudWatch sends a Lambda alarm action.
pub fn alarm_event(spec: &AlarmSpec, arn: &str, reason: &str, at: i64) -> Value {
    json!({
        "source": "aws.cloudwatch",
        "alarmArn": arn,
        "accountId": alb_canary_tests::template::ACCOUNT,
        "time": iso(at),
        "region": "us-east-1",
        "alarmData": {
            "alarmName": spec.name,
            "state": {"value": "ALARM", "reason": reason, "timestamp": iso(at)},
            "previousState": {"value": "OK", "reason": "Threshold not crossed", "timestamp": iso(at)},
            "configuration": {"metrics": []}
        }
    })
}

async fn fire(ctx: &Ctx, spec: &AlarmSpec, reason: &str, latest: i64) -> Result<(), String> {
    set_state(ctx, &spec.name, StateValue::Alarm, reason).await?;
    ctx.recorder.event(
        "alarm",
        "alarm",
        format!("{} entered ALARM: {reason}", spec.name),
    );
    if !spec.invokes_rollback {
        return Ok(());
    }
    let arn = ctx.alarm_arns.get(&spec.name).cloned().unwrap_or_default();
    let now = controller::now_secs();
    let event = alarm_event(spec, &arn, reason, now);
    let outcome = handle_alarm_at(&ctx.clients, &ctx.config, event, now).await;
    let detail = json!({"alarm": spec.name, "window_start": latest});
    crate::promoter::record(ctx, "alarm", outcome, detail);
    Ok(())
}

/// Whether an outcome ends the scenario.
pub fn ends(outcome: &Outcome) -> Option<End> {
    match outcome {
        Outcome::Released { .. } => Some(End::Released),
        Outcome::RolledBack { .. } | Outcome::AlreadyRolledBack | Outcome::RollbackWon { .. } => {
            Some(End::RolledBack)
        }
        Outcome::Idle { status } if status.as_str() == "rolled_back" => Some(End::RolledBack),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alarm_event_is_one_the_rollback_code_accepts() {
        let spec = AlarmSpec::from_properties(
            &json!({"AlarmName": "s-canary-error-rate", "ComparisonOperator": "GreaterThanThreshold",
                    "Threshold": 5, "EvaluationPeriods": 2, "Period": 60, "Namespace": "n", "MetricName": "m",
                    "Statistic": "Sum"}),
            "x",
        )
        .unwrap();
        let event = alarm_event(
            &spec,
            "arn:aws:cloudwatch:us-east-1:1:alarm:a",
            "crossed",
            1_764_000_000,
        );
        let change = controller::events::alarm(event).unwrap();
        assert_eq!(change.alarm_name, "s-canary-error-rate");
        assert_eq!(change.reason, "crossed");
    }
}
