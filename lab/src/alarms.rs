//! The stack's V2 alarms evaluated on the bridged data after every window, as CloudWatch would
//! with the compressed period; a transition into ALARM sets the alarm's state in the emulator and,
//! when the alarm's actions name the rollback function, invokes the real rollback code with the
//! alarm's event.
//!
//! Sums, maxima and averages come from the emulator (`GetMetricData`). Percentiles (`p99`) come
//! from the bridge's own request log for the same windows: the emulator answers a percentile
//! query with HTTP 500.

use std::collections::HashMap;

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, StateValue};
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use controller::Outcome;
use controller::rollback::handle_alarm_at;
use serde_json::{Value, json};

use crate::alarm_spec::{AlarmSpec, Compared, Query};
use crate::context::{Ctx, End, PERIOD_SECS};

/// Evaluates every alarm for the periods ending with the window that starts at `latest`.
pub async fn evaluate(ctx: &Ctx, latest: i64) -> Result<(), String> {
    for spec in &ctx.alarms {
        let periods = spec.evaluation_periods.max(1) as i64;
        let first = latest - (periods - 1) * PERIOD_SECS;
        let values = values(ctx, spec, first, latest).await?;
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
    first: i64,
    latest: i64,
) -> Result<Vec<Option<f64>>, String> {
    let starts: Vec<i64> = (first..=latest).step_by(PERIOD_SECS as usize).collect();
    let mut series: HashMap<String, Vec<Option<f64>>> = HashMap::new();
    let from_emulator: Vec<&Query> = spec
        .queries
        .iter()
        .filter(|q| percentile(&q.stat).is_none())
        .collect();
    if !from_emulator.is_empty() {
        series.extend(fetch(ctx, &from_emulator, &starts).await?);
    }
    for q in spec.queries.iter() {
        if let Some(p) = percentile(&q.stat) {
            series.insert(q.id.clone(), logged_percentile(ctx, q, p, &starts));
        }
    }
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

/// `p99` → 99.0.
fn percentile(stat: &str) -> Option<f64> {
    stat.strip_prefix('p')?.parse().ok()
}

fn logged_percentile(ctx: &Ctx, q: &Query, p: f64, starts: &[i64]) -> Vec<Option<f64>> {
    let Some(group) = ctx.group_of(&q.dimensions) else {
        return vec![None; starts.len()];
    };
    let windows = ctx.windows.lock().expect("windows lock");
    starts
        .iter()
        .map(|s| {
            windows
                .iter()
                .find(|w| w.start == *s)
                .and_then(|w| w.log.get(group).percentile_ms(p))
                // TargetResponseTime is in seconds.
                .map(|ms| ms / 1000.0)
        })
        .collect()
}

async fn fetch(
    ctx: &Ctx,
    queries: &[&Query],
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
                        .period(PERIOD_SECS as i32)
                        .stat(&q.stat)
                        .build(),
                )
                .return_data(true)
                .build()
        })
        .collect();
    let first = starts[0];
    let end = starts[starts.len() - 1] + PERIOD_SECS;
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
            &json!({"AlarmName": "s-canary-5xx-rate", "ComparisonOperator": "GreaterThanThreshold",
                    "Threshold": 5, "EvaluationPeriods": 2, "Namespace": "n", "MetricName": "m",
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
        assert_eq!(change.alarm_name, "s-canary-5xx-rate");
        assert_eq!(change.reason, "crossed");
        assert_eq!(percentile("p99"), Some(99.0));
        assert_eq!(percentile("Sum"), None);
    }
}
