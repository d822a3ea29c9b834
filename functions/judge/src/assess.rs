//! The plan's health rules applied to the closed periods since the canary started: every
//! statistic with its threshold ([`Assessment`]) and what it means for the canary ([`Verdict`]).

use crate::evidence::{self, Paired};
use crate::series::{Counts, Period, period_of};
use contract::{ErrorRules, HealthRules, LatencyBreach, LatencyRules, Method};
use serde::{Deserialize, Serialize};

mod latency;
pub use latency::LatencyJudgement;
use latency::sequential_latency;

/// What the judge sees for one decision.
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    /// Closed periods since the canary started ([`crate::closed_periods`]).
    pub periods: &'a [Period],
    /// When the step in force began (epoch seconds): the window of `min_step_requests`, of the 100 %
    /// test and of the old threshold rule (crate `simulation`).
    pub step_started_at: i64,
    /// Stable serves nothing in this step (100 %): canary is compared with the stable version's earlier rate.
    pub final_step: bool,
    /// The stable version's latency statistic over the baseline before the canary, in milliseconds.
    pub baseline_ms: Option<f64>,
    /// Without a baseline: the stable version's latency statistic over the canary's first calibration span.
    pub calibration: Option<Calibration>,
}

/// The stable version's latency statistic over the canary's first `calibration_seconds` span in which stable served,
/// and the end of that span: T is fixed from it for the periods from `until` on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    #[serde(alias = "v1_ms")]
    pub stable_ms: f64,
    pub until: i64,
}

/// Where the latency threshold T came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdSource {
    /// The stable version's statistic over `baseline_seconds` before the canary.
    Baseline,
    /// The stable version's statistic over the canary's first calibration span (no baseline: stable served nothing
    /// in whole minutes before the canary).
    Calibration,
    /// No stable latency yet: the absolute ceiling, which catches only a canary slower than it.
    Ceiling,
}

impl ThresholdSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ThresholdSource::Baseline => "baseline",
            ThresholdSource::Calibration => "calibration",
            ThresholdSource::Ceiling => "ceiling",
        }
    }
}

/// The latency threshold in force: T, where it came from, and from when it applies (periods
/// starting before `from` are judged against the ceiling, fixed before any data).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencyThreshold {
    pub source: ThresholdSource,
    /// The stable version's statistic T was computed from (ms); `None` for the ceiling.
    pub reference_ms: Option<f64>,
    pub ms: f64,
    /// The first period judged against `ms` (epoch seconds); `None`: every period.
    pub from: Option<i64>,
}

impl LatencyThreshold {
    /// The threshold a period starting at `t` is judged against.
    pub fn at(&self, t: i64, ceiling_ms: f64) -> f64 {
        match self.from {
            Some(from) if t < from => ceiling_ms,
            _ => self.ms,
        }
    }
}

/// T for a decision: from the baseline, else from the calibration span, else the ceiling. Each
/// is fixed before the periods it judges, which keeps the tests anytime-valid.
pub fn latency_threshold(
    rules: &LatencyRules,
    baseline_ms: Option<f64>,
    calibration: Option<Calibration>,
) -> LatencyThreshold {
    let usable = |v: f64| v.is_finite() && v >= 0.0;
    match (baseline_ms.filter(|b| usable(*b)), calibration) {
        (Some(base), _) => LatencyThreshold {
            source: ThresholdSource::Baseline,
            reference_ms: Some(base),
            ms: latency_threshold_ms(rules, Some(base)),
            from: None,
        },
        (None, Some(c)) if usable(c.stable_ms) => LatencyThreshold {
            source: ThresholdSource::Calibration,
            reference_ms: Some(c.stable_ms),
            ms: latency_threshold_ms(rules, Some(c.stable_ms)),
            from: Some(c.until),
        },
        _ => LatencyThreshold {
            source: ThresholdSource::Ceiling,
            reference_ms: None,
            ms: rules.ceiling_ms,
            from: None,
        },
    }
}

impl Window<'_> {
    /// The periods overlapping the step in force.
    pub fn step_periods(&self, period: i64) -> impl Iterator<Item = &Period> {
        self.periods
            .iter()
            .filter(move |m| m.t + period > self.step_started_at)
    }
}

/// What the statistics mean for the canary. Rollback evidence comes first: too little data may
/// hold a promotion, never a rollback.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    RollBack(String),
    /// A latency breach configured to hold (`on_breach: hold`).
    Hold(String),
    TooLittleData(String),
    Healthy,
}

/// The 100 % step's test: canary since the step began against `max(max_ratio × U1, floor)`, with
/// `U1` an anytime-valid upper bound (level α/4) on the stable version's rate during the canary. For latency the
/// "errors" are the requests slower than T and the floor is `max_slow_share`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinalStepEvidence {
    #[serde(alias = "v1_upper_rate")]
    pub stable_upper_rate: f64,
    pub bound_rate: f64,
    #[serde(alias = "v2_requests")]
    pub canary_requests: u64,
    #[serde(alias = "v2_errors")]
    pub canary_errors: u64,
    pub ln_e: Option<f64>,
    pub ln_threshold: f64,
}

/// Errors (5XX + connection errors) since the canary started, and the tests' statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEvidence {
    pub method: Method,
    #[serde(alias = "v1_requests")]
    pub stable_requests: u64,
    #[serde(alias = "v1_errors")]
    pub stable_errors: u64,
    #[serde(alias = "v2_requests")]
    pub canary_requests: u64,
    #[serde(alias = "v2_errors")]
    pub canary_errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ln_e_relative: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ln_e_absolute: Option<f64>,
    /// Estimated `p2 / p1`; `null` when stable had no errors (unbounded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio_estimate: Option<f64>,
    /// `ln(2/α)`: both e-values at or above it roll back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ln_threshold: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_step: Option<FinalStepEvidence>,
    /// The old threshold rule (benchmarks, earlier records): the canary's rate since the step began,
    /// and the rate that rolls back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_rate: Option<f64>,
    pub reject: bool,
}

/// Latency: requests slower than T since the canary started, both versions, and the tests'
/// statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyEvidence {
    pub method: Method,
    pub statistic: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_ms: Option<f64>,
    pub threshold_ms: f64,
    /// Where T came from: `baseline`, `calibration` or `ceiling` (latency protection reduced to
    /// the ceiling).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold_source: Option<ThresholdSource>,
    /// The stable version's statistic T was computed from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_ms: Option<f64>,
    /// Periods starting before this were judged against the ceiling (calibration).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold_from: Option<i64>,
    #[serde(alias = "v1_requests")]
    pub stable_requests: u64,
    #[serde(alias = "v1_slow")]
    pub stable_slow: u64,
    #[serde(alias = "v2_requests")]
    pub canary_requests: u64,
    #[serde(alias = "v2_slow")]
    pub canary_slow: u64,
    /// `min(ln e_rel, ln e_abs)`: the test rolls back when it reaches `ln_threshold`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ln_e: Option<f64>,
    /// The canary's slow share against `max_ratio` × the stable version's, in the same periods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ln_e_relative: Option<f64>,
    /// The canary's slow share against `max_slow_share`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ln_e_absolute: Option<f64>,
    /// `ln(2/α)` of the latency test.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ln_threshold: Option<f64>,
    /// At 100 %: the canary's slow share since the step against the stable version's upper bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_step: Option<FinalStepEvidence>,
    /// The old threshold rule (benchmarks, earlier records): the step's stable and canary latency
    /// and the canary's allowance.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(alias = "v1_ms")]
    pub stable_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(alias = "v2_ms")]
    pub canary_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowance_ms: Option<f64>,
    pub reject: bool,
}

/// Every statistic a decision used, with its threshold ([`assess_with_verdict`] adds what they mean). Read back
/// from the history too: records written before the period was a plan setting say
/// `closed_minutes`, of 60 s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    /// The plan's metrics period: one entry of the series.
    #[serde(default = "sixty")]
    pub period_seconds: u64,
    #[serde(alias = "closed_minutes")]
    pub closed_periods: usize,
    /// End of the last judged period (epoch seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judged_until: Option<i64>,
    #[serde(alias = "step_v2_requests")]
    pub step_canary_requests: u64,
    #[serde(alias = "min_requests")]
    pub min_step_requests: u64,
    pub errors: ErrorEvidence,
    pub latency: LatencyEvidence,
}

fn sixty() -> u64 {
    60
}

/// `T = min(max(ratio × base, base + margin), ceiling)`; the ceiling without a baseline.
pub fn latency_threshold_ms(rules: &LatencyRules, baseline_ms: Option<f64>) -> f64 {
    match baseline_ms {
        Some(base) if base.is_finite() && base >= 0.0 => (rules.ratio * base)
            .max(base + rules.margin_ms)
            .min(rules.ceiling_ms),
        _ => rules.ceiling_ms,
    }
}

/// The plan's rules on `window`: the statistics ([`assess_with_verdict`] without the verdict).
pub fn assess(health: &HealthRules, window: &Window) -> Assessment {
    assess_with_verdict(health, window).0
}

/// The plan's rules on `window`: the statistics and what they mean. The plan is assumed valid
/// (`Plan::validate`).
pub fn assess_with_verdict(health: &HealthRules, window: &Window) -> (Assessment, Verdict) {
    let period = period_of(health.period_seconds);
    judgement(
        health,
        window,
        sequential_errors(&health.errors, window, period),
        sequential_latency(health, window, period),
    )
}

/// What a rule's evidence on `window` means: the errors' (evidence, rollback reason) and the
/// latency's (evidence, breach, gap in the data) become the [`Assessment`] and its [`Verdict`].
/// Rollback evidence comes first; too little data may hold a promotion, never a rollback. The
/// deployed judge is [`assess_with_verdict`]; a rule kept for comparison (crate `simulation`)
/// goes through the same verdict.
pub fn judgement(
    health: &HealthRules,
    window: &Window,
    errors: (ErrorEvidence, Option<String>),
    latency: LatencyJudgement,
) -> (Assessment, Verdict) {
    let period = period_of(health.period_seconds);
    let step_canary_requests = window.step_periods(period).map(|m| m.canary.requests).sum();
    let (errors, error_reason) = errors;
    let (latency, latency_reason, latency_gap) = latency;
    let verdict = if let Some(reason) = error_reason {
        Verdict::RollBack(reason)
    } else if let Some(reason) = latency_reason {
        // Above the absolute ceiling is never only a hold.
        let over_ceiling = latency
            .canary_ms
            .is_some_and(|v| v > health.latency.ceiling_ms);
        match health.latency.on_breach {
            LatencyBreach::Hold if !over_ceiling => Verdict::Hold(reason),
            _ => Verdict::RollBack(reason),
        }
    } else if step_canary_requests < health.min_step_requests {
        Verdict::TooLittleData(format!(
            "insufficient data: {step_canary_requests} canary requests judged in this step, {} needed",
            health.min_step_requests
        ))
    } else if let Some(gap) = latency_gap {
        Verdict::TooLittleData(gap)
    } else {
        Verdict::Healthy
    };
    let statistics = Assessment {
        period_seconds: health.period_seconds,
        closed_periods: window.periods.len(),
        judged_until: window.periods.iter().map(|m| m.t + period).max(),
        step_canary_requests,
        min_step_requests: health.min_step_requests,
        errors,
        latency,
    };
    (statistics, verdict)
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

fn sequential_errors(
    rules: &ErrorRules,
    window: &Window,
    period: i64,
) -> (ErrorEvidence, Option<String>) {
    let paired: Vec<Paired> = window
        .periods
        .iter()
        .map(|m| Paired {
            n1: m.stable.trials() as f64,
            e1: m.stable.failures() as f64,
            n2: m.canary.trials() as f64,
            e2: m.canary.failures() as f64,
        })
        .collect();
    let total = |f: fn(&Period) -> u64| window.periods.iter().map(f).sum::<u64>();
    let (n1, e1) = (total(|m| m.stable.trials()), total(|m| m.stable.failures()));
    let (n2, e2) = (total(|m| m.canary.trials()), total(|m| m.canary.failures()));
    let relative = evidence::relative(&paired, rules.max_ratio);
    let ln_abs =
        evidence::one_sample(e2 as f64, n2 as f64, rules.floor_rate).unwrap_or(f64::NEG_INFINITY);
    let ln_threshold = (2.0 / rules.alpha).ln();
    let mut reason = (relative.ln_e >= ln_threshold && ln_abs >= ln_threshold).then(|| {
        format!(
            "canary errors {e2} of {n2} ({:.2} %) against stable {e1} of {n1} ({:.2} %) since the canary \
             started: ln e_rel {:.2} and ln e_abs {:.2} both reach ln(2/α) {ln_threshold:.2}",
            percent(e2, n2),
            percent(e1, n1),
            relative.ln_e,
            ln_abs
        )
    });
    let final_step = window.final_step.then(|| {
        let (sn, se) = window.step_periods(period).fold((0, 0), |(n, e), m| {
            (n + m.canary.trials(), e + m.canary.failures())
        });
        final_step_test(
            e1,
            n1,
            se,
            sn,
            rules.max_ratio,
            rules.floor_rate,
            rules.alpha,
        )
    });
    if let Some(f) = &final_step
        && reason.is_none()
        && f.ln_e.is_some_and(|e| e >= f.ln_threshold)
    {
        reason = Some(format!(
            "canary errors {} of {} ({:.2} %) at 100 % against max({} × the stable version's upper rate {:.4} %, \
             floor {} %) = {:.4} %: ln e {:.2} reaches ln(4/α) {:.2}",
            f.canary_errors,
            f.canary_requests,
            percent(f.canary_errors, f.canary_requests),
            rules.max_ratio,
            100.0 * f.stable_upper_rate,
            100.0 * rules.floor_rate,
            100.0 * f.bound_rate,
            f.ln_e.unwrap_or_default(),
            f.ln_threshold
        ));
    }
    let evidence = ErrorEvidence {
        method: Method::Sequential,
        stable_requests: n1,
        stable_errors: e1,
        canary_requests: n2,
        canary_errors: e2,
        ln_e_relative: Some(relative.ln_e),
        ln_e_absolute: Some(ln_abs).filter(|v| v.is_finite()),
        ratio_estimate: relative.ratio_estimate.filter(|r| r.is_finite()),
        ln_threshold: Some(ln_threshold),
        final_step,
        step_rate: None,
        max_rate: None,
        reject: reason.is_some(),
    };
    (evidence, reason)
}

/// The 100 % step's test, for errors and slow requests alike: the canary's `events` of `trials` since the
/// step began against `max(max_ratio × U1, floor)`, `U1` the stable version's anytime-valid upper bound (level
/// α/4) from its `stable_events` of `stable_trials` during the canary; threshold `ln(4/α)`.
fn final_step_test(
    stable_events: u64,
    stable_trials: u64,
    events: u64,
    trials: u64,
    max_ratio: f64,
    floor: f64,
    alpha: f64,
) -> FinalStepEvidence {
    let upper = evidence::rate_upper_bound(stable_events as f64, stable_trials as f64, alpha / 4.0);
    let bound = (max_ratio * upper).max(floor);
    FinalStepEvidence {
        stable_upper_rate: upper,
        bound_rate: bound,
        canary_requests: trials,
        canary_errors: events,
        ln_e: evidence::one_sample(events as f64, trials as f64, bound),
        ln_threshold: (4.0 / alpha).ln(),
    }
}
