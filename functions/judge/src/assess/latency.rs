//! The latency rules: V2's share of requests slower than T against V1's, per period and at the
//! last step, and the threshold method's comparison of the periods' statistics.

use super::*;

/// A version's slow requests in a period judged against `threshold_ms`: from the percentile rank
/// (the adapter counted them at the period's T), or (Average fallback) the whole period when its
/// Average exceeds T (see the crate's docs on what that count depends on).
fn slow_requests(rules: &LatencyRules, counts: &Counts, threshold_ms: f64) -> u64 {
    if rules.uses_percentile_rank() {
        counts.slow.unwrap_or(0).min(counts.requests)
    } else if counts.latency_ms.is_some_and(|l| l > threshold_ms) {
        counts.requests
    } else {
        0
    }
}

type LatencyJudgement = (LatencyEvidence, Option<String>, Option<String>);

/// Slow shares, V2's against V1's (conditional binomial, V1's share cancels) and against
/// `max_slow_share`, both at `ln(2/α)`; at 100 %, V2's against V1's upper bound at `ln(4/α)`.
/// The same construction as the errors' (crate docs), on "slower than T" instead of "failed".
pub(super) fn sequential_latency(
    health: &HealthRules,
    window: &Window,
    period: i64,
) -> LatencyJudgement {
    let rules = &health.latency;
    let threshold = latency_threshold(rules, window.baseline_ms, window.calibration);
    let mut paired = Vec::with_capacity(window.periods.len());
    let (mut n1, mut s1, mut n2, mut s2) = (0, 0, 0, 0);
    let (mut step_n2, mut step_s2) = (0, 0);
    for m in window.periods {
        let t = threshold.at(m.t, rules.ceiling_ms);
        let (slow1, slow2) = (
            slow_requests(rules, &m.v1, t),
            slow_requests(rules, &m.v2, t),
        );
        paired.push(Paired {
            n1: m.v1.requests as f64,
            e1: slow1 as f64,
            n2: m.v2.requests as f64,
            e2: slow2 as f64,
        });
        (n1, s1, n2, s2) = (
            n1 + m.v1.requests,
            s1 + slow1,
            n2 + m.v2.requests,
            s2 + slow2,
        );
        if m.t + period > window.step_started_at {
            (step_n2, step_s2) = (step_n2 + m.v2.requests, step_s2 + slow2);
        }
    }
    let relative = evidence::relative(&paired, rules.max_ratio).ln_e;
    let absolute = evidence::one_sample(s2 as f64, n2 as f64, rules.max_slow_share)
        .unwrap_or(f64::NEG_INFINITY);
    let ln_threshold = (2.0 / rules.alpha).ln();
    let ln_e = relative.min(absolute);
    let mut reason = (ln_e >= ln_threshold).then(|| {
        format!(
            "V2 latency: {s2} of {n2} requests ({:.2} %) slower than T {:.1} ms ({}) against V1 \
             {s1} of {n1} ({:.2} %) since the canary started: ln e_rel {relative:.2} and ln e_abs \
             {absolute:.2} both reach ln(2/α) {ln_threshold:.2}",
            percent(s2, n2),
            threshold.ms,
            threshold.source.as_str(),
            percent(s1, n1),
        )
    });
    let final_step = window.final_step.then(|| {
        final_step_test(
            s1,
            n1,
            step_s2,
            step_n2,
            rules.max_ratio,
            rules.max_slow_share,
            rules.alpha,
        )
    });
    if let Some(f) = &final_step
        && reason.is_none()
        && f.ln_e.is_some_and(|e| e >= f.ln_threshold)
    {
        reason = Some(format!(
            "V2 latency at 100 %: {} of {} requests ({:.2} %) slower than T {:.1} ms ({}) against \
             max({} × V1's upper share {:.4} %, {} %) = {:.4} %: ln e {:.2} reaches ln(4/α) {:.2}",
            f.v2_errors,
            f.v2_requests,
            percent(f.v2_errors, f.v2_requests),
            threshold.ms,
            threshold.source.as_str(),
            rules.max_ratio,
            100.0 * f.v1_upper_rate,
            100.0 * rules.max_slow_share,
            100.0 * f.bound_rate,
            f.ln_e.unwrap_or_default(),
            f.ln_threshold
        ));
    }
    let evidence = LatencyEvidence {
        method: Method::Sequential,
        statistic: rules.statistic.clone(),
        baseline_ms: window.baseline_ms,
        threshold_ms: threshold.ms,
        threshold_source: Some(threshold.source),
        reference_ms: threshold.reference_ms,
        threshold_from: threshold.from,
        v1_requests: n1,
        v1_slow: s1,
        v2_requests: n2,
        v2_slow: s2,
        ln_e: Some(ln_e).filter(|v| v.is_finite()),
        ln_e_relative: Some(relative),
        ln_e_absolute: Some(absolute).filter(|v| v.is_finite()),
        ln_threshold: Some(ln_threshold),
        final_step,
        v1_ms: None,
        v2_ms: None,
        allowance_ms: None,
        reject: reason.is_some(),
    };
    // A step judged against the ceiling alone is not promoted: only a V2 slower than the ceiling
    // would have been caught. Rollback evidence is still acted on.
    let gap = (threshold.source == ThresholdSource::Ceiling).then(|| {
        format!(
            "insufficient data: the latency threshold is not fixed yet (no V1 latency in the \
             baseline before the canary nor in a closed calibration span of {} s), so latency is \
             judged against the ceiling {} ms only",
            health.calibration_span_seconds(),
            rules.ceiling_ms
        )
    });
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

/// The old rule on the step's window: V2 above the ceiling rolls back; V2 above every allowance
/// over V1 breaches. Missing latency is a gap in the data.
pub(super) fn threshold_latency(
    rules: &LatencyRules,
    window: &Window,
    period: i64,
) -> LatencyJudgement {
    let v2_ms = step_latency(rules, window, period, |m| (m.v2.requests, m.v2.latency_ms));
    let v1_ms = step_latency(rules, window, period, |m| (m.v1.requests, m.v1.latency_ms));
    let n = window.step_periods(period).map(|m| m.v2.requests).sum();
    let allowance_ms = v1_ms.map(|v1| (v1 * rules.ratio).max(v1 + rules.margin_ms));
    let (reason, gap) = match (v2_ms, v1_ms, allowance_ms) {
        (None, _, _) => (
            None,
            Some("insufficient data: no V2 latency datapoint in the step".to_string()),
        ),
        (Some(v2), _, _) if v2 > rules.ceiling_ms => (
            Some(format!(
                "V2 latency {v2:.1} ms above the ceiling {} ms",
                rules.ceiling_ms
            )),
            None,
        ),
        (Some(_), _, _) if window.final_step => (None, None),
        (Some(_), None, _) | (Some(_), _, None) => (
            None,
            Some("insufficient data: no V1 latency in the step to compare V2 with".to_string()),
        ),
        (Some(v2), Some(v1), Some(allowed)) => (
            (v2 > allowed).then(|| {
                format!("V2 latency {v2:.1} ms above the allowance {allowed:.1} ms (V1 {v1:.1} ms)")
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
        v1_requests: window.step_periods(period).map(|m| m.v1.requests).sum(),
        v1_slow: 0,
        v2_requests: n,
        v2_slow: 0,
        ln_e: None,
        ln_e_relative: None,
        ln_e_absolute: None,
        ln_threshold: None,
        final_step: None,
        v1_ms,
        v2_ms,
        allowance_ms,
        reject: reason.is_some(),
    };
    (evidence, reason, gap)
}
