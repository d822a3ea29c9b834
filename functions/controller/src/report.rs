//! What each decision leaves behind besides the table: one structured JSON log line (tracing) and
//! one CloudWatch embedded-metric-format line with the canary weight, for the dashboard.

use crate::config::Config;
use crate::decision::Weights;
use canary::history::Record;
use contract::{Method, metric};
use judge::{Assessment, FinalStepEvidence, ThresholdSource};
use serde_json::json;

/// The embedded-metric-format line for the canary's share after a decision.
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
        metric::CANARY_WEIGHT: weights.canary_percent(),
    })
    .to_string()
}

/// Logs one decision (inputs and outcome) and prints its metric line. The statistics that drove
/// it, each with its threshold, are flat fields (easy to query in CloudWatch Logs Insights);
/// `record` holds the whole history record.
pub fn decision(config: &Config, now_ms: i64, record: &Record, weights_after: Option<Weights>) {
    let s = record.statistics();
    let (errors, latency) = (s.map(|s| &s.errors), s.map(|s| &s.latency));
    let errors_final = errors.and_then(|e| e.final_step.as_ref());
    let source = latency.and_then(|l| l.threshold_source);
    tracing::info!(
        function = %record.function,
        listener = %config.listener_arn,
        decision = record.kind(),
        reason = record.reason().unwrap_or_default(),
        closed_periods = s.map(|s| s.closed_periods as u64),
        period_seconds = s.map(|s| s.period_seconds),
        step_canary_requests = s.map(|s| s.step_canary_requests),
        min_step_requests = s.map(|s| s.min_step_requests),
        stable_requests = errors.map(|e| e.stable_requests),
        stable_errors = errors.map(|e| e.stable_errors),
        canary_requests = errors.map(|e| e.canary_requests),
        canary_errors = errors.map(|e| e.canary_errors),
        errors_ln_e_relative = errors.and_then(|e| e.ln_e_relative),
        errors_ln_e_absolute = errors.and_then(|e| e.ln_e_absolute),
        errors_ratio_estimate = errors.and_then(|e| e.ratio_estimate),
        errors_ln_threshold = errors.and_then(|e| e.ln_threshold),
        errors_final_step_ln_e = errors_final.and_then(|f| f.ln_e),
        errors_final_step_ln_threshold = errors_final.map(|f| f.ln_threshold),
        errors_step_rate = errors.and_then(|e| e.step_rate),
        latency_threshold_ms = latency.map(|l| l.threshold_ms),
        latency_threshold_source = source.map(|s| s.as_str()),
        latency_stable_slow = latency.map(|l| l.stable_slow),
        latency_canary_slow = latency.map(|l| l.canary_slow),
        latency_ln_e_relative = latency.and_then(|l| l.ln_e_relative),
        latency_ln_e_absolute = latency.and_then(|l| l.ln_e_absolute),
        latency_ln_e = latency.and_then(|l| l.ln_e),
        latency_ln_threshold = latency.and_then(|l| l.ln_threshold),
        latency_canary_ms = latency.and_then(|l| l.canary_ms),
        canary_percent_after = weights_after.map(|w| w.canary_percent()),
        record = %record.to_json(),
        "decision"
    );
    if let (Some(ThresholdSource::Ceiling), Some(latency)) = (source, latency) {
        // Without the stable version's latency, only a canary slower than the ceiling is caught: someone should know.
        tracing::warn!(
            function = %record.function,
            listener = %config.listener_arn,
            latency_threshold_ms = latency.threshold_ms,
            "latency judged against the ceiling only: stable served no latency to fix T from yet \
             (no baseline before the canary, no calibration span with stable traffic)"
        );
    }
    if let Some(w) = weights_after {
        // Lambda sends stdout to CloudWatch Logs, which extracts the metric from this line.
        println!("{}", emf_line(config, now_ms, w));
    }
}

/// One line per judged dimension of a decision's statistics (its history record's): each
/// statistic next to the threshold it is compared with.
pub fn statistics_lines(statistics: &Assessment) -> Vec<String> {
    let num = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.2}"));
    let Assessment {
        errors, latency, ..
    } = statistics;
    let mut lines = vec![format!(
        "data       {} closed {} s periods; this step {} canary requests of {} needed",
        statistics.closed_periods,
        statistics.period_seconds,
        statistics.step_canary_requests,
        statistics.min_step_requests,
    )];
    let counts = format!(
        "canary {} of {}, stable {} of {}",
        errors.canary_errors, errors.canary_requests, errors.stable_errors, errors.stable_requests
    );
    // `Threshold`: records written before the old rule left the functions, and its benchmark.
    lines.push(match errors.method {
        Method::Threshold => format!(
            "errors     threshold: {counts}; step rate {} (rolls back above {})",
            num(errors.step_rate),
            num(errors.max_rate)
        ),
        Method::Sequential => format!(
            "errors     sequential: {counts}; ln e_rel {} and ln e_abs {} (both ≥ {} rolls back); ratio ≈ {}",
            num(errors.ln_e_relative),
            num(errors.ln_e_absolute),
            num(errors.ln_threshold),
            num(errors.ratio_estimate)
        ),
    });
    // The 100 % test, errors' or latency's: canary since that step against the stable version's upper bound.
    let final_step = |f: &FinalStepEvidence, counted: &str, bound: &str| {
        format!(
            "at 100 %   canary {} of {}{counted} against {} (stable upper {bound} {}): ln e {} (≥ {} rolls back)",
            f.canary_errors,
            f.canary_requests,
            num(Some(f.bound_rate)),
            num(Some(f.stable_upper_rate)),
            num(f.ln_e),
            num(Some(f.ln_threshold))
        )
    };
    lines.extend(
        errors
            .final_step
            .as_ref()
            .map(|f| final_step(f, "", "rate")),
    );
    lines.push(match latency.method {
        Method::Threshold => format!(
            "latency    threshold: canary {} ms, stable {} ms, allowance {} ms, ceiling {} ms",
            num(latency.canary_ms),
            num(latency.stable_ms),
            num(latency.allowance_ms),
            num(Some(latency.threshold_ms))
        ),
        Method::Sequential => {
            // Records written before the stable version's slow share was judged have no source.
            let source = latency
                .threshold_source
                .map_or("baseline or ceiling", ThresholdSource::as_str);
            let warning = if latency.threshold_source == Some(ThresholdSource::Ceiling) {
                " — CEILING ONLY: no stable latency fixed T, only a canary slower than it is caught"
            } else {
                ""
            };
            format!(
                "latency    sequential: canary {} of {}, stable {} of {} slower than T {} ms (from {source}, stable {} ms){warning}; ln e_rel {} and ln e_abs {} (both ≥ {} breaches)",
                latency.canary_slow,
                latency.canary_requests,
                latency.stable_slow,
                latency.stable_requests,
                num(Some(latency.threshold_ms)),
                num(latency.reference_ms),
                num(latency.ln_e_relative),
                num(latency.ln_e_absolute),
                num(latency.ln_threshold)
            )
        }
    });
    lines.extend(
        latency
            .final_step
            .as_ref()
            .map(|f| final_step(f, " slow", "share")),
    );
    lines
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
    use serde_json::Value;

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
        let line: Value = serde_json::from_str(&emf_line(
            &config,
            5,
            Weights {
                stable: 75,
                canary: 25,
            },
        ))
        .unwrap();
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            metric::NAMESPACE
        );
        assert_eq!(line["_aws"]["Timestamp"], 5);
        assert_eq!(line[metric::DIMENSION], "app/alb/1");
        assert_eq!(line[metric::CANARY_WEIGHT], 25.0);
    }
}
