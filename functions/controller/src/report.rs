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

/// Logs one decision (inputs and outcome) and prints its metric line. The statistics that drove
/// it, each with its threshold, are flat fields (easy to query in CloudWatch Logs Insights);
/// `record` holds the whole snapshot.
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
        closed_periods = %field(&["statistics", "closed_periods"]),
        period_seconds = %field(&["statistics", "period_seconds"]),
        step_v2_requests = %field(&["statistics", "step_v2_requests"]),
        min_requests = %field(&["statistics", "min_requests"]),
        v1_requests = %field(&["statistics", "errors", "v1_requests"]),
        v1_errors = %field(&["statistics", "errors", "v1_errors"]),
        v2_requests = %field(&["statistics", "errors", "v2_requests"]),
        v2_errors = %field(&["statistics", "errors", "v2_errors"]),
        errors_ln_e_relative = %field(&["statistics", "errors", "ln_e_relative"]),
        errors_ln_e_absolute = %field(&["statistics", "errors", "ln_e_absolute"]),
        errors_ratio_estimate = %field(&["statistics", "errors", "ratio_estimate"]),
        errors_ln_threshold = %field(&["statistics", "errors", "ln_threshold"]),
        errors_final_step_ln_e = %field(&["statistics", "errors", "final_step", "ln_e"]),
        errors_final_step_ln_threshold = %field(&["statistics", "errors", "final_step", "ln_threshold"]),
        errors_step_rate = %field(&["statistics", "errors", "step_rate"]),
        latency_threshold_ms = %field(&["statistics", "latency", "threshold_ms"]),
        latency_threshold_source = %field(&["statistics", "latency", "threshold_source"]),
        latency_v1_slow = %field(&["statistics", "latency", "v1_slow"]),
        latency_v2_slow = %field(&["statistics", "latency", "v2_slow"]),
        latency_ln_e_relative = %field(&["statistics", "latency", "ln_e_relative"]),
        latency_ln_e_absolute = %field(&["statistics", "latency", "ln_e_absolute"]),
        latency_ln_e = %field(&["statistics", "latency", "ln_e"]),
        latency_ln_threshold = %field(&["statistics", "latency", "ln_threshold"]),
        latency_v2_ms = %field(&["statistics", "latency", "v2_ms"]),
        v2_percent_after = weights_after.map(|w| w.v2_percent()),
        record = %record,
        "decision"
    );
    if field(&["statistics", "latency", "threshold_source"]) == "ceiling" {
        // Without V1's latency, only a V2 slower than the ceiling is caught: someone should know.
        tracing::warn!(
            function,
            listener = %config.listener_arn,
            latency_threshold_ms = %field(&["statistics", "latency", "threshold_ms"]),
            "latency judged against the ceiling only: V1 served no latency to fix T from yet \
             (no baseline before the canary, no calibration span with V1 traffic)"
        );
    }
    if let Some(w) = weights_after {
        // Lambda sends stdout to CloudWatch Logs, which extracts the metric from this line.
        println!("{}", emf_line(config, now_ms, w));
    }
}

/// One line per judged dimension from a decision's `statistics` (its history item's): each
/// statistic next to the threshold it is compared with. `None` for a decision without them.
pub fn statistics_lines(statistics: &Value) -> Option<Vec<String>> {
    let num = |v: &Value| v.as_f64().map_or("-".to_string(), |x| format!("{x:.2}"));
    let int = |v: &Value| v.as_u64().map_or("-".to_string(), |x| x.to_string());
    let errors = statistics.get("errors")?;
    let latency = statistics.get("latency")?;
    // History written before the period was a plan setting says `closed_minutes`.
    let (closed, period) = match statistics.get("closed_periods") {
        Some(n) => (n, statistics["period_seconds"].as_u64().unwrap_or(60)),
        None => (&statistics["closed_minutes"], 60),
    };
    let mut lines = vec![format!(
        "data       {} closed {period} s periods; this step {} V2 requests of {} needed",
        int(closed),
        int(&statistics["step_v2_requests"]),
        int(&statistics["min_requests"]),
    )];
    let counts = format!(
        "V2 {} of {}, V1 {} of {}",
        int(&errors["v2_errors"]),
        int(&errors["v2_requests"]),
        int(&errors["v1_errors"]),
        int(&errors["v1_requests"])
    );
    lines.push(if errors["method"] == "threshold" {
        format!(
            "errors     threshold: {counts}; step rate {} (rolls back above {})",
            num(&errors["step_rate"]),
            num(&errors["max_rate"])
        )
    } else {
        format!(
            "errors     sequential: {counts}; ln e_rel {} and ln e_abs {} (both ≥ {} rolls back); ratio ≈ {}",
            num(&errors["ln_e_relative"]),
            num(&errors["ln_e_absolute"]),
            num(&errors["ln_threshold"]),
            num(&errors["ratio_estimate"])
        )
    });
    // The 100 % test, errors' or latency's: V2 since that step against V1's upper bound.
    let final_step = |dimension: &Value, counted: &str, bound: &str| {
        dimension
            .get("final_step")
            .filter(|f| !f.is_null())
            .map(|f| {
                format!(
                    "at 100 %   V2 {} of {}{counted} against {} (V1 upper {bound} {}): ln e {} (≥ {} rolls back)",
                    int(&f["v2_errors"]),
                    int(&f["v2_requests"]),
                    num(&f["bound_rate"]),
                    num(&f["v1_upper_rate"]),
                    num(&f["ln_e"]),
                    num(&f["ln_threshold"])
                )
            })
    };
    lines.extend(final_step(errors, "", "rate"));
    lines.push(if latency["method"] == "threshold" {
        format!(
            "latency    threshold: V2 {} ms, V1 {} ms, allowance {} ms, ceiling {} ms",
            num(&latency["v2_ms"]),
            num(&latency["v1_ms"]),
            num(&latency["allowance_ms"]),
            num(&latency["threshold_ms"])
        )
    } else {
        // History written before V1's slow share was judged has neither source nor V1 counts.
        let source = latency["threshold_source"].as_str().unwrap_or("baseline or ceiling");
        let warning = if source == "ceiling" {
            " — CEILING ONLY: no V1 latency fixed T, only a V2 slower than it is caught"
        } else {
            ""
        };
        format!(
            "latency    sequential: V2 {} of {}, V1 {} of {} slower than T {} ms (from {source}, V1 {} ms){warning}; ln e_rel {} and ln e_abs {} (both ≥ {} breaches)",
            int(&latency["v2_slow"]),
            int(&latency["v2_requests"]),
            int(&latency["v1_slow"]),
            int(&latency["v1_requests"]),
            num(&latency["threshold_ms"]),
            num(&latency["reference_ms"]),
            num(&latency["ln_e_relative"]),
            num(&latency["ln_e_absolute"]),
            num(&latency["ln_threshold"])
        )
    });
    lines.extend(final_step(latency, " slow", "share"));
    Some(lines)
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
                    env::CANARY_FLEET => "canary-fleet",
                    env::TARGET_SIGNAL => env::TARGET_SIGNAL_DISABLED,
                    env::HISTORY_DAYS => return None,
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
