//! What each decision leaves behind besides the table: one structured JSON log line (tracing) and
//! one CloudWatch embedded-metric-format line with the canary weight, for the dashboard.

use crate::config::Config;
use crate::decision::Weights;
use contract::metric;
use serde_json::{Value, json};

/// The embedded-metric-format line for V2's share after a decision.
pub fn emf_line(config: &Config, now_ms: i64, weights: Weights) -> String {
    json!({
        "_aws": {
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": metric::NAMESPACE,
                "Dimensions": [[metric::DIMENSION]],
                "Metrics": [{"Name": metric::CANARY_WEIGHT, "Unit": "Percent"}],
            }],
        },
        metric::DIMENSION: config.load_balancer,
        metric::CANARY_WEIGHT: weights.v2_percent(),
    })
    .to_string()
}

/// Logs one decision (inputs and outcome) and prints its metric line. The main inputs are flat
/// fields (easy to query in CloudWatch Logs Insights); `record` holds the whole snapshot.
pub fn decision(
    config: &Config,
    function: &str,
    now_ms: i64,
    record: &Value,
    weights_after: Option<Weights>,
) {
    let field = |path: &[&str]| -> String {
        let mut v = record;
        for key in path {
            v = &v[*key];
        }
        match v {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    };
    tracing::info!(
        function,
        listener = %config.listener_arn,
        decision = %field(&["decision", "decision"]),
        reason = %field(&["decision", "reason"]),
        v1_requests = %field(&["metrics", "v1", "requests"]),
        v1_latency_ms = %field(&["metrics", "v1", "latency_ms"]),
        v2_requests = %field(&["metrics", "v2", "requests"]),
        v2_errors_5xx = %field(&["metrics", "v2", "errors_5xx"]),
        v2_latency_ms = %field(&["metrics", "v2", "latency_ms"]),
        v2_percent_after = weights_after.map(|w| w.v2_percent()),
        record = %record,
        "decision"
    );
    if let Some(w) = weights_after {
        // Lambda sends stdout to CloudWatch Logs, which extracts the metric from this line.
        println!("{}", emf_line(config, now_ms, w));
    }
}

/// JSON logs for the Lambda binaries, one line per event.
pub fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .without_time()
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::env;

    #[test]
    fn emf_line_names_namespace_metric_and_dimension() {
        let config = Config::from_lookup(|name| {
            Some(
                match name {
                    env::LISTENER_ARN | env::STABLE_TARGET_GROUP_ARN => {
                        "arn:aws:elasticloadbalancing:r:1:targetgroup/a/1"
                    }
                    env::CANARY_TARGET_GROUP_ARN => {
                        "arn:aws:elasticloadbalancing:r:1:targetgroup/b/2"
                    }
                    env::LOAD_BALANCER_DIMENSION => "app/alb/1",
                    env::TOPIC_ARN => "arn:aws:sns:r:1:t",
                    env::PLAN => "{}",
                    _ => "x",
                }
                .to_string(),
            )
        })
        .unwrap();
        let line: Value =
            serde_json::from_str(&emf_line(&config, 5, Weights { v1: 75, v2: 25 })).unwrap();
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            metric::NAMESPACE
        );
        assert_eq!(line["_aws"]["Timestamp"], 5);
        assert_eq!(line[metric::DIMENSION], "app/alb/1");
        assert_eq!(line[metric::CANARY_WEIGHT], 25.0);
    }
}
