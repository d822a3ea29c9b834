//! The stack's CloudWatch alarms as the template declares them (resolved for the deployment), and
//! CloudWatch's rule for their state: M of the last N periods breaching → ALARM. The emulator
//! stores alarms but evaluates none, so the lab does it on the bridged data.

use serde_json::Value;

use crate::metric_math::{self, Expr};

/// One metric an alarm reads: name, dimensions and statistic (`Sum`, `Maximum`, `p99`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub id: String,
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: Vec<(String, String)>,
    pub stat: String,
}

/// What the alarm compares with its threshold.
#[derive(Debug, Clone, PartialEq)]
pub enum Compared {
    Query(String),
    Expression(Expr),
}

#[derive(Debug, Clone, PartialEq)]
pub struct AlarmSpec {
    pub name: String,
    pub operator: String,
    pub threshold: f64,
    /// The declared period, seconds (`Period`, or the metrics' `MetricStat.Period`).
    pub period: i64,
    pub evaluation_periods: usize,
    pub datapoints_to_alarm: usize,
    /// `TreatMissingData: breaching`; every other treatment counts a missing period as not breaching.
    pub missing_breaches: bool,
    /// `ActionsEnabled` and the rollback function among `AlarmActions`.
    pub invokes_rollback: bool,
    pub queries: Vec<Query>,
    pub compared: Compared,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn number(props: &Value, key: &str) -> Result<f64, String> {
    text(&props[key])
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{key} is not a number: {}", props[key]))
}

fn dimensions(metric: &Value) -> Vec<(String, String)> {
    metric["Dimensions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| Some((text(&d["Name"])?, text(&d["Value"])?)))
        .collect()
}

impl AlarmSpec {
    /// From an `AWS::CloudWatch::Alarm`'s resolved `Properties`; `rollback_arn` is the rollback
    /// function's ARN. Anything the lab cannot evaluate is an error naming it.
    pub fn from_properties(props: &Value, rollback_arn: &str) -> Result<AlarmSpec, String> {
        let name = text(&props["AlarmName"]).ok_or("AlarmName is missing")?;
        let fail = |e: String| format!("alarm {name}: {e}");
        let evaluation_periods = number(props, "EvaluationPeriods").map_err(fail)? as usize;
        let datapoints_to_alarm = if props["DatapointsToAlarm"].is_null() {
            evaluation_periods
        } else {
            number(props, "DatapointsToAlarm").map_err(fail)? as usize
        };
        let mut queries = Vec::new();
        let mut period = text(&props["Period"]).and_then(|p| p.parse::<i64>().ok());
        let compared = match props["Metrics"].as_array() {
            Some(metrics) => {
                let mut compared = None;
                for m in metrics {
                    let id = text(&m["Id"]).ok_or_else(|| fail("a metric has no Id".into()))?;
                    if let Some(expr) = text(&m["Expression"]) {
                        if m["ReturnData"] != Value::Bool(false) {
                            compared = Some(Compared::Expression(
                                metric_math::parse(&expr).map_err(fail)?,
                            ));
                        }
                        continue;
                    }
                    let stat = &m["MetricStat"];
                    period = period.or_else(|| text(&stat["Period"])?.parse().ok());
                    queries.push(Query {
                        id: id.clone(),
                        namespace: text(&stat["Metric"]["Namespace"])
                            .ok_or_else(|| fail(format!("{id} has no Namespace")))?,
                        metric_name: text(&stat["Metric"]["MetricName"])
                            .ok_or_else(|| fail(format!("{id} has no MetricName")))?,
                        dimensions: dimensions(&stat["Metric"]),
                        stat: text(&stat["Stat"])
                            .ok_or_else(|| fail(format!("{id} has no Stat")))?,
                    });
                    if m["ReturnData"] == Value::Bool(true) {
                        compared = Some(Compared::Query(id));
                    }
                }
                compared.ok_or_else(|| fail("no metric returns data".into()))?
            }
            None => {
                let stat = text(&props["Statistic"])
                    .or_else(|| text(&props["ExtendedStatistic"]))
                    .ok_or_else(|| fail("no Statistic or ExtendedStatistic".into()))?;
                queries.push(Query {
                    id: "m".into(),
                    namespace: text(&props["Namespace"])
                        .ok_or_else(|| fail("no Namespace".into()))?,
                    metric_name: text(&props["MetricName"])
                        .ok_or_else(|| fail("no MetricName".into()))?,
                    dimensions: dimensions(props),
                    stat,
                });
                Compared::Query("m".into())
            }
        };
        let actions: Vec<String> = props["AlarmActions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(text)
            .collect();
        Ok(AlarmSpec {
            operator: text(&props["ComparisonOperator"])
                .ok_or_else(|| fail("no ComparisonOperator".into()))?,
            threshold: number(props, "Threshold").map_err(fail)?,
            period: period.ok_or_else(|| fail("no Period".into()))?,
            evaluation_periods,
            datapoints_to_alarm,
            missing_breaches: props["TreatMissingData"] == "breaching",
            invokes_rollback: props["ActionsEnabled"] != Value::Bool(false)
                && actions.iter().any(|a| a == rollback_arn),
            queries,
            compared,
            name,
        })
    }

    fn breaches(&self, value: f64) -> bool {
        match self.operator.as_str() {
            "GreaterThanThreshold" => value > self.threshold,
            "GreaterThanOrEqualToThreshold" => value >= self.threshold,
            "LessThanThreshold" => value < self.threshold,
            "LessThanOrEqualToThreshold" => value <= self.threshold,
            _ => false,
        }
    }

    /// The alarm's state over the last `evaluation_periods` values (oldest first): `Some(reason)`
    /// when it is in ALARM.
    pub fn alarm_reason(&self, values: &[Option<f64>]) -> Option<String> {
        let recent = &values[values.len().saturating_sub(self.evaluation_periods)..];
        let breaching = recent
            .iter()
            .filter(|v| v.map_or(self.missing_breaches, |x| self.breaches(x)))
            .count();
        (breaching >= self.datapoints_to_alarm).then(|| {
            let shown: Vec<String> = recent
                .iter()
                .map(|v| v.map_or("missing".into(), |x| format!("{x:.3}")))
                .collect();
            format!(
                "Threshold Crossed: {breaching} out of the last {} datapoints [{}] crossed the threshold ({}) ({})",
                recent.len(),
                shown.join(", "),
                self.threshold,
                self.operator
            )
        })
    }

    /// Checks up front that the operator is one the lab evaluates.
    pub fn check(&self) -> Result<(), String> {
        if self.breaches(f64::INFINITY) || self.breaches(f64::NEG_INFINITY) {
            Ok(())
        } else {
            Err(format!(
                "alarm {}: comparison {} is not evaluated by the lab",
                self.name, self.operator
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn error_rate_alarm() -> Value {
        json!({
            "AlarmName": "s-canary-error-rate",
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": "5",
            "EvaluationPeriods": "2",
            "DatapointsToAlarm": "2",
            "TreatMissingData": "notBreaching",
            "ActionsEnabled": true,
            "AlarmActions": ["arn:fn:rollback", "arn:topic"],
            "Metrics": [
                {"Id": "errors", "ReturnData": false, "MetricStat": {"Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "HTTPCode_Target_5XX_Count",
                  "Dimensions": [{"Name": "TargetGroup", "Value": "targetgroup/v2/1"}]}, "Period": "60", "Stat": "Sum"}},
                {"Id": "requests", "ReturnData": false, "MetricStat": {"Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "RequestCount",
                  "Dimensions": []}, "Period": "60", "Stat": "Sum"}},
                {"Id": "rate", "Expression": "IF(requests > 0, 100 * errors / requests, 0)", "ReturnData": true}
            ]
        })
    }

    #[test]
    fn metric_math_alarms_read_their_queries_and_expression() {
        let spec = AlarmSpec::from_properties(&error_rate_alarm(), "arn:fn:rollback").unwrap();
        assert!(spec.invokes_rollback);
        assert_eq!(spec.period, 60);
        assert_eq!(spec.queries.len(), 2);
        assert_eq!(
            spec.queries[0].dimensions,
            [("TargetGroup".to_owned(), "targetgroup/v2/1".to_owned())]
        );
        assert!(matches!(spec.compared, Compared::Expression(_)));
        spec.check().unwrap();
        let other = AlarmSpec::from_properties(&error_rate_alarm(), "arn:fn:other").unwrap();
        assert!(!other.invokes_rollback);
    }

    #[test]
    fn m_of_n_breaching_periods_fire_and_missing_data_does_not_breach() {
        let spec = AlarmSpec::from_properties(&error_rate_alarm(), "x").unwrap();
        assert!(spec.alarm_reason(&[Some(9.0), Some(6.0)]).is_some());
        assert!(spec.alarm_reason(&[Some(9.0), Some(5.0)]).is_none());
        assert!(spec.alarm_reason(&[Some(9.0), None]).is_none());
        // Only the last N periods count.
        assert!(
            spec.alarm_reason(&[Some(1.0), Some(9.0), Some(9.0)])
                .is_some()
        );
        let reason = spec.alarm_reason(&[Some(9.0), Some(6.0)]).unwrap();
        assert!(reason.contains("2 out of the last 2"), "{reason}");
    }

    #[test]
    fn single_metric_alarms_use_statistic_or_extended_statistic() {
        let props = json!({
            "AlarmName": "lat", "ComparisonOperator": "GreaterThanThreshold", "Threshold": "1.5",
            "EvaluationPeriods": "2", "Namespace": "AWS/ApplicationELB", "MetricName": "TargetResponseTime",
            "Dimensions": [{"Name": "TargetGroup", "Value": "tg"}], "ExtendedStatistic": "p99",
            "Period": 10, "AlarmActions": []
        });
        let spec = AlarmSpec::from_properties(&props, "x").unwrap();
        assert_eq!(spec.queries[0].stat, "p99");
        assert_eq!(spec.period, 10);
        assert_eq!(spec.compared, Compared::Query("m".into()));
        assert!(!spec.invokes_rollback);
        let bad = json!({"AlarmName": "x", "EvaluationPeriods": "1", "Namespace": "n", "MetricName": "m", "ComparisonOperator": "GreaterThanThreshold", "Threshold": 1});
        assert!(
            AlarmSpec::from_properties(&bad, "x")
                .unwrap_err()
                .contains("Statistic")
        );
    }
}
