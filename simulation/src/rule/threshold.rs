//! The old rule, kept only to compare the deployed judge with (`cargo xtask bench-judge`): fixed
//! thresholds on the window since the step began, tested again at every run, so its chance of
//! rolling back a healthy canary grows with every look (the sequential test bounds it). It is not
//! in the deployed functions, and a plan cannot ask for it.

use contract::{HealthRules, LatencyRules, Method};
use judge::{
    Assessment, ErrorEvidence, LatencyEvidence, LatencyJudgement, Period, Verdict, Window,
    judgement, period_of,
};

/// The old rule's error threshold: a canary whose error rate since the step began is above it
/// (once the step served `min_step_requests`) is rolled back.
pub const MAX_ERROR_RATE: f64 = 0.05;

/// The old rule on `window`, in the judge's terms (its [`Assessment`] and [`Verdict`]).
pub fn assess(health: &HealthRules, window: &Window) -> (Assessment, Verdict) {
    let period = period_of(health.period_seconds);
    judgement(
        health,
        window,
        errors(MAX_ERROR_RATE, health.min_step_requests, window, period),
        latency(&health.latency, window, period),
    )
}

/// The canary's error rate since the step began above `max_rate`, once `min_step_requests` were
/// served.
fn errors(
    max_rate: f64,
    min_step_requests: u64,
    window: &Window,
    period: i64,
) -> (ErrorEvidence, Option<String>) {
    let total = |f: fn(&Period) -> u64| window.periods.iter().map(f).sum::<u64>();
    let (n, e) = window.step_periods(period).fold((0, 0), |(n, e), m| {
        (n + m.canary.trials(), e + m.canary.failures())
    });
    let rate = if n == 0 { 0.0 } else { e as f64 / n as f64 };
    let reason = (n >= min_step_requests && rate > max_rate).then(|| {
        format!("canary error rate {rate:.4} ({e} of {n}) since the step began above {max_rate}")
    });
    let evidence = ErrorEvidence {
        method: Method::Threshold,
        stable_requests: total(|m| m.stable.trials()),
        stable_errors: total(|m| m.stable.failures()),
        canary_requests: total(|m| m.canary.trials()),
        canary_errors: total(|m| m.canary.failures()),
        ln_e_relative: None,
        ln_e_absolute: None,
        ratio_estimate: None,
        ln_threshold: None,
        final_step: None,
        step_rate: Some(rate),
        max_rate: Some(max_rate),
        reject: reason.is_some(),
    };
    (evidence, reason)
}

/// The old rule on the step's window: canary above the ceiling rolls back; canary above every allowance
/// over stable breaches. Missing latency is a gap in the data.
fn latency(rules: &LatencyRules, window: &Window, period: i64) -> LatencyJudgement {
    let canary_ms = step_latency(rules, window, period, |m| {
        (m.canary.requests, m.canary.latency_ms)
    });
    let stable_ms = step_latency(rules, window, period, |m| {
        (m.stable.requests, m.stable.latency_ms)
    });
    let n = window.step_periods(period).map(|m| m.canary.requests).sum();
    let allowance_ms = stable_ms.map(|stable| (stable * rules.ratio).max(stable + rules.margin_ms));
    let (reason, gap) = match (canary_ms, stable_ms, allowance_ms) {
        (None, _, _) => (
            None,
            Some("insufficient data: no canary latency datapoint in the step".to_string()),
        ),
        (Some(canary), _, _) if canary > rules.ceiling_ms => (
            Some(format!(
                "canary latency {canary:.1} ms above the ceiling {} ms",
                rules.ceiling_ms
            )),
            None,
        ),
        (Some(_), _, _) if window.final_step => (None, None),
        (Some(_), None, _) | (Some(_), _, None) => (
            None,
            Some("insufficient data: no stable latency in the step to compare canary with".to_string()),
        ),
        (Some(canary), Some(stable), Some(allowed)) => (
            (canary > allowed).then(|| {
                format!("canary latency {canary:.1} ms above the allowance {allowed:.1} ms (stable {stable:.1} ms)")
            }),
            None,
        ),
    };
    let evidence = LatencyEvidence {
        method: Method::Threshold,
        statistic: rules.statistic.clone(),
        baseline_ms: window.baseline_ms,
        threshold_ms: rules.ceiling_ms,
        threshold_source: None,
        reference_ms: None,
        threshold_from: None,
        stable_requests: window.step_periods(period).map(|m| m.stable.requests).sum(),
        stable_slow: 0,
        canary_requests: n,
        canary_slow: 0,
        ln_e: None,
        ln_e_relative: None,
        ln_e_absolute: None,
        ln_threshold: None,
        final_step: None,
        stable_ms,
        canary_ms,
        allowance_ms,
        reject: reason.is_some(),
    };
    (evidence, reason, gap)
}

/// The step's latency of one version: a percentile's worst period (percentiles of periods cannot
/// be merged), or the request-weighted mean of the periods' Averages.
fn step_latency(
    rules: &LatencyRules,
    window: &Window,
    period: i64,
    pick: fn(&Period) -> (u64, Option<f64>),
) -> Option<f64> {
    let points: Vec<(u64, f64)> = window
        .step_periods(period)
        .filter_map(|m| {
            let (n, l) = pick(m);
            l.map(|l| (n, l))
        })
        .collect();
    if points.is_empty() {
        return None;
    }
    if rules.uses_percentile_rank() {
        points.iter().map(|(_, l)| *l).reduce(f64::max)
    } else {
        let weight: f64 = points.iter().map(|(n, _)| (*n).max(1) as f64).sum();
        Some(
            points
                .iter()
                .map(|(n, l)| (*n).max(1) as f64 * l)
                .sum::<f64>()
                / weight,
        )
    }
}

#[cfg(test)]
mod tests;
