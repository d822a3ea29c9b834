//! The latency rule: the canary's share of requests slower than T against the stable version's, per
//! period and at the last step.

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

/// A latency rule's evidence, its breach (a reason) and a gap in the data that holds a promotion.
pub type LatencyJudgement = (LatencyEvidence, Option<String>, Option<String>);

/// Slow shares, the canary's against the stable version's (conditional binomial, the stable version's share cancels) and against
/// `max_slow_share`, both at `ln(2/α)`; at 100 %, the canary's against the stable version's upper bound at `ln(4/α)`.
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
            slow_requests(rules, &m.stable, t),
            slow_requests(rules, &m.canary, t),
        );
        paired.push(Paired {
            n1: m.stable.requests as f64,
            e1: slow1 as f64,
            n2: m.canary.requests as f64,
            e2: slow2 as f64,
        });
        (n1, s1, n2, s2) = (
            n1 + m.stable.requests,
            s1 + slow1,
            n2 + m.canary.requests,
            s2 + slow2,
        );
        if m.t + period > window.step_started_at {
            (step_n2, step_s2) = (step_n2 + m.canary.requests, step_s2 + slow2);
        }
    }
    let relative = evidence::relative(&paired, rules.max_ratio).ln_e;
    let absolute = evidence::one_sample(s2 as f64, n2 as f64, rules.max_slow_share)
        .unwrap_or(f64::NEG_INFINITY);
    let ln_threshold = (2.0 / rules.alpha).ln();
    let ln_e = relative.min(absolute);
    let mut reason = (ln_e >= ln_threshold).then(|| {
        format!(
            "canary latency: {s2} of {n2} requests ({:.2} %) slower than T {:.1} ms ({}) against stable \
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
            "canary latency at 100 %: {} of {} requests ({:.2} %) slower than T {:.1} ms ({}) against \
             max({} × the stable version's upper share {:.4} %, {} %) = {:.4} %: ln e {:.2} reaches ln(4/α) {:.2}",
            f.canary_errors,
            f.canary_requests,
            percent(f.canary_errors, f.canary_requests),
            threshold.ms,
            threshold.source.as_str(),
            rules.max_ratio,
            100.0 * f.stable_upper_rate,
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
        stable_requests: n1,
        stable_slow: s1,
        canary_requests: n2,
        canary_slow: s2,
        ln_e: Some(ln_e).filter(|v| v.is_finite()),
        ln_e_relative: Some(relative),
        ln_e_absolute: Some(absolute).filter(|v| v.is_finite()),
        ln_threshold: Some(ln_threshold),
        final_step,
        stable_ms: None,
        canary_ms: None,
        allowance_ms: None,
        reject: reason.is_some(),
    };
    // A step judged against the ceiling alone is not promoted: only a canary slower than the ceiling
    // would have been caught. Rollback evidence is still acted on.
    let gap = (threshold.source == ThresholdSource::Ceiling).then(|| {
        format!(
            "insufficient data: the latency threshold is not fixed yet (no stable latency in the \
             baseline before the canary nor in a closed calibration span of {} s), so latency is \
             judged against the ceiling {} ms only",
            health.calibration_span_seconds(),
            rules.ceiling_ms
        )
    });
    (evidence, reason, gap)
}
