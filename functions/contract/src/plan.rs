//! The canary plan's JSON form: the steps, their timing and the health rules the judge applies.
//! Fields left out take the defaults below; the fields of the old threshold-only plan are refused
//! with a message naming what replaced them, so an old plan never silently means something else.

use serde::{Deserialize, Serialize};

/// How a health dimension (errors or latency) is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Anytime-valid sequential test: the chance of ever rolling back an acceptable canary stays
    /// below `alpha`, however often the controller looks.
    Sequential,
    /// The old rule: a fixed threshold on the window since the step began, tested again at every
    /// run (its chance of a false rollback grows with every look). Only a label now, in records
    /// written before it left the functions and in `cargo xtask bench-judge`, which compares the
    /// judge with it (crate `simulation`); a plan that asks for it is refused.
    Threshold,
}

/// What to do when the canary's latency breaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LatencyBreach {
    RollBack,
    Hold,
}

/// Errors (target 5XX + target connection errors) of the canary against the stable version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "ErrorRulesJson")]
pub struct ErrorRules {
    pub method: Method,
    /// The chance of ever rolling back a canary whose error rate is acceptable.
    pub alpha: f64,
    /// The canary is acceptable while its error rate is at most this many times the stable
    /// version's...
    pub max_ratio: f64,
    /// ...or at most this rate, whatever the stable version does.
    pub floor_rate: f64,
}

impl Default for ErrorRules {
    fn default() -> Self {
        ErrorRules {
            method: Method::Sequential,
            alpha: 0.01,
            max_ratio: 1.0,
            floor_rate: 0.001,
        }
    }
}

/// The JSON of [`ErrorRules`]. It still reads `max_rate`, the old threshold rule's rate, which
/// plans written before that rule left the functions carry (their default held it): the
/// sequential test never read it, so dropping it changes nothing a plan means.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ErrorRulesJson {
    method: Method,
    alpha: f64,
    max_ratio: f64,
    floor_rate: f64,
    #[serde(rename = "max_rate")]
    _max_rate: Option<f64>,
}

impl Default for ErrorRulesJson {
    fn default() -> Self {
        let d = ErrorRules::default();
        ErrorRulesJson {
            method: d.method,
            alpha: d.alpha,
            max_ratio: d.max_ratio,
            floor_rate: d.floor_rate,
            _max_rate: None,
        }
    }
}

impl From<ErrorRulesJson> for ErrorRules {
    fn from(json: ErrorRulesJson) -> Self {
        ErrorRules {
            method: json.method,
            alpha: json.alpha,
            max_ratio: json.max_ratio,
            floor_rate: json.floor_rate,
        }
    }
}

/// Latency: the share of requests slower than a threshold T, the canary's against the stable version's in the same periods
/// and against `max_slow_share`. `T = min(max(ratio × base, base + margin_ms), ceiling_ms)`, with
/// `base` the stable version's `statistic` fixed before the data it judges: over the `baseline_seconds` before the
/// canary started; without that, over the canary's first `calibration_seconds` in which stable served
/// (those periods are then judged against the ceiling); the ceiling alone until then.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LatencyRules {
    pub method: Method,
    /// Sequential: the chance of ever rolling back a canary whose slow share is acceptable.
    pub alpha: f64,
    /// Sequential: the canary's slow share is acceptable while at most `max_slow_share`...
    pub max_slow_share: f64,
    /// ...or at most this many times the stable version's slow share in the same periods (a slowdown both versions
    /// share is not the canary's fault).
    pub max_ratio: f64,
    pub ratio: f64,
    pub margin_ms: f64,
    /// Absolute ceiling on T.
    pub ceiling_ms: f64,
    /// CloudWatch statistic of `TargetResponseTime`: a percentile (`p99`) in production, where
    /// the canary's slow requests are counted with the percentile rank `PR(:T)`; `Average` where
    /// percentiles are not computed (the emulator): a minute whose canary Average exceeds T then
    /// counts all its requests as slow.
    pub statistic: String,
    /// How far before the canary's start the stable version's baseline is read.
    pub baseline_seconds: u64,
    /// Without a baseline: the unit of the stable version's data, from the canary's start, that fixes T, in
    /// metrics periods (rounded up to a period CloudWatch accepts, see
    /// [`HealthRules::calibration_span_seconds`]). T comes from the shortest of 1, 2, 4, 8 ...
    /// such spans that holds `reference_requests`.
    pub calibration_periods: u64,
    /// The fewest stable requests a baseline or a calibration is taken from: a p99 of fewer requests
    /// is close to their slowest one, and T would be loose. 400 keeps the canaries without a
    /// baseline within 2 points of those with one (`cargo xtask bench-judge`; 200 lost 3 points
    /// at +150 ms and 1 rps), at the cost of a longer calibration below a few requests a second.
    pub reference_requests: u64,
    pub on_breach: LatencyBreach,
}

impl Default for LatencyRules {
    fn default() -> Self {
        LatencyRules {
            method: Method::Sequential,
            alpha: 0.01,
            max_slow_share: 0.01,
            max_ratio: 1.5,
            ratio: 1.5,
            margin_ms: 100.0,
            ceiling_ms: 2000.0,
            statistic: "p99".to_string(),
            baseline_seconds: 3600,
            calibration_periods: 3,
            reference_requests: 400,
            on_breach: LatencyBreach::RollBack,
        }
    }
}

impl LatencyRules {
    /// The statistic is a percentile (`p99`, `p99.9`): slow requests come from its percentile rank.
    pub fn uses_percentile_rank(&self) -> bool {
        let s = self.statistic.trim();
        s.len() > 1
            && s.starts_with(['p', 'P'])
            && s[1..].parse::<f64>().is_ok_and(|p| p > 0.0 && p < 100.0)
    }
}

/// Health rules; errors and latency are judged on every closed period since the canary started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "HealthJson")]
pub struct HealthRules {
    pub errors: ErrorRules,
    pub latency: LatencyRules,
    /// Canary requests the current step must have served before it may be promoted. Too little data
    /// holds a promotion, never a rollback.
    pub min_step_requests: u64,
    /// Only periods that ended at least this long ago are judged (CloudWatch publishes late).
    pub settle_seconds: u64,
    /// The metrics period: the `Period` of every series query and the judge's unit of data
    /// (one closed period = one observation of both versions). ALB publishes per minute, so 60 in
    /// production; 10 or 30 only where the metrics are high-resolution (the lab's bridge, or the
    /// targets' signal).
    pub period_seconds: u64,
    /// Which metrics the judge reads: the load balancer's, or the targets' own high-resolution
    /// signal (the stack's `TargetSignal` parameter must be `Enabled`).
    #[serde(skip_serializing_if = "Signal::is_alb")]
    pub signal: Signal,
}

/// The source of the judge's per-period counts and latencies. Both publish the same metric names
/// and dimensions; only the namespace differs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// `AWS/ApplicationELB`: per minute, published minutes late.
    #[default]
    Alb,
    /// `AlbCanary/Targets`: each instance's signal proxy, high resolution (10 s periods).
    Targets,
}

impl Signal {
    pub fn is_alb(&self) -> bool {
        *self == Signal::Alb
    }

    /// The namespace the judge reads.
    pub fn namespace(self) -> &'static str {
        match self {
            Signal::Alb => crate::alb_metric::NAMESPACE,
            Signal::Targets => crate::target_metric::NAMESPACE,
        }
    }
}

impl HealthRules {
    /// The calibration span: the smallest period CloudWatch accepts (10, 20, 30 or a multiple of
    /// 60) that is a whole number of metrics periods and holds `calibration_periods` of them.
    pub fn calibration_span_seconds(&self) -> u64 {
        let period = self.period_seconds.max(1);
        let mut span = period.saturating_mul(self.latency.calibration_periods.max(1));
        while check_period(span).is_err() && span <= 86_400 {
            span += period;
        }
        span
    }
}

impl Default for HealthRules {
    fn default() -> Self {
        HealthRules {
            errors: ErrorRules::default(),
            latency: LatencyRules::default(),
            min_step_requests: 50,
            settle_seconds: 120,
            period_seconds: 60,
            signal: Signal::Alb,
        }
    }
}

/// The accepted JSON, including the old fields, which are refused naming their replacement.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct HealthJson {
    errors: ErrorRules,
    latency: LatencyRules,
    /// `min_requests` before the alarms' own minimum had a name beside it: still read.
    #[serde(alias = "min_requests")]
    min_step_requests: u64,
    settle_seconds: u64,
    period_seconds: u64,
    signal: Signal,
    max_error_rate: Option<serde_json::Value>,
    max_latency_ratio: Option<serde_json::Value>,
    max_latency_margin_ms: Option<serde_json::Value>,
    max_latency_ms: Option<serde_json::Value>,
    latency_statistic: Option<serde_json::Value>,
    on_latency_breach: Option<serde_json::Value>,
}

impl Default for HealthJson {
    fn default() -> Self {
        let d = HealthRules::default();
        HealthJson {
            errors: d.errors,
            latency: d.latency,
            min_step_requests: d.min_step_requests,
            settle_seconds: d.settle_seconds,
            period_seconds: d.period_seconds,
            signal: d.signal,
            max_error_rate: None,
            max_latency_ratio: None,
            max_latency_margin_ms: None,
            max_latency_ms: None,
            latency_statistic: None,
            on_latency_breach: None,
        }
    }
}

impl TryFrom<HealthJson> for HealthRules {
    type Error = String;

    fn try_from(json: HealthJson) -> Result<Self, String> {
        let replaced = [
            (
                json.max_error_rate.is_some(),
                "health.max_error_rate",
                "health.errors: the sequential test (max_ratio, floor_rate, alpha)",
            ),
            (
                json.max_latency_ratio.is_some(),
                "health.max_latency_ratio",
                "health.latency.ratio",
            ),
            (
                json.max_latency_margin_ms.is_some(),
                "health.max_latency_margin_ms",
                "health.latency.margin_ms",
            ),
            (
                json.max_latency_ms.is_some(),
                "health.max_latency_ms",
                "health.latency.ceiling_ms",
            ),
            (
                json.latency_statistic.is_some(),
                "health.latency_statistic",
                "health.latency.statistic",
            ),
            (
                json.on_latency_breach.is_some(),
                "health.on_latency_breach",
                "health.latency.on_breach",
            ),
        ];
        if let Some((_, old, new)) = replaced.iter().find(|(present, _, _)| *present) {
            return Err(format!("{old} is no longer read; it was replaced by {new}"));
        }
        Ok(HealthRules {
            errors: json.errors,
            latency: json.latency,
            min_step_requests: json.min_step_requests,
            settle_seconds: json.settle_seconds,
            period_seconds: json.period_seconds,
            signal: json.signal,
        })
    }
}

/// A canary plan: the canary's share at each step (percent), the timing of a step and the health rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Plan {
    /// The canary's percentage at each step, strictly increasing, each in 1..=100, the last 100.
    pub steps: Vec<u8>,
    /// Seconds of judged (closed) data each step must show healthy before the next.
    pub bake_seconds: u64,
    /// A step still holding after this long pauses the canary and notifies: a person decides.
    pub max_step_seconds: u64,
    pub health: HealthRules,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            steps: vec![10, 25, 50, 100],
            bake_seconds: 600,
            max_step_seconds: 3600,
            health: HealthRules::default(),
        }
    }
}

/// How long CloudWatch keeps datapoints of periods under a minute.
const HIGH_RESOLUTION_RETENTION: u64 = 3 * 3600;

/// The mixture grids of the sequential tests run up to a rate of 0.5.
const GRID_TOP: f64 = 0.5;

impl Plan {
    /// Parses and validates a plan from its JSON form.
    pub fn from_json(json: &str) -> Result<Plan, String> {
        let plan: Plan = serde_json::from_str(json).map_err(|err| format!("not a plan: {err}"))?;
        plan.validate()?;
        Ok(plan)
    }

    /// The plan's JSON form (what [`crate::env::PLAN`] holds).
    #[expect(
        clippy::expect_used,
        reason = "a plan is numbers, lists and structs: serde_json fails only on non-string map \
                  keys or a failing custom Serialize; synth and tests call this, no handler does"
    )]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a plan always serializes")
    }

    /// Checks what the controller relies on; the message names the field and its bad value.
    pub fn validate(&self) -> Result<(), String> {
        if self.steps.is_empty() {
            return Err("steps is empty".into());
        }
        if let Some(bad) = self.steps.iter().find(|s| **s == 0 || **s > 100) {
            return Err(format!("step {bad} is outside 1..=100"));
        }
        if self.steps.windows(2).any(|w| w[0] >= w[1]) {
            return Err(format!(
                "steps {:?} are not strictly increasing",
                self.steps
            ));
        }
        if self.steps.last() != Some(&100) {
            return Err(format!("steps {:?} do not end at 100", self.steps));
        }
        let h = &self.health;
        check_period(h.period_seconds)?;
        // CloudWatch keeps sub-minute datapoints for 3 hours only: every step must be judged
        // (the whole canary re-read) within them.
        let longest = self
            .max_step_seconds
            .saturating_mul(self.steps.len() as u64);
        if h.period_seconds < 60 && longest > HIGH_RESOLUTION_RETENTION {
            return Err(format!(
                "health.period_seconds {} keeps data for {HIGH_RESOLUTION_RETENTION} s only, and \
                 the canary may run {} steps × max_step_seconds {} = {longest} s",
                h.period_seconds,
                self.steps.len(),
                self.max_step_seconds
            ));
        }
        let needed = self.bake_seconds + h.settle_seconds + h.period_seconds;
        if self.max_step_seconds < needed {
            return Err(format!(
                "max_step_seconds {} is below bake_seconds + settle_seconds + \
                 health.period_seconds = {needed}: no step could finish",
                self.max_step_seconds
            ));
        }
        if h.min_step_requests == 0 {
            return Err(
                "health.min_step_requests is 0: zero requests would be enough to promote".into(),
            );
        }
        if h.settle_seconds > 3600 {
            return Err(format!(
                "health.settle_seconds {} is above 3600",
                h.settle_seconds
            ));
        }
        let e = &h.errors;
        check_alpha("health.errors.alpha", e.alpha)?;
        if !(e.max_ratio.is_finite() && e.max_ratio >= 1.0) {
            return Err(format!(
                "health.errors.max_ratio {} is below 1 or not finite",
                e.max_ratio
            ));
        }
        check_rate("health.errors.floor_rate", e.floor_rate)?;
        let l = &h.latency;
        for (name, method) in [
            ("health.errors.method", e.method),
            ("health.latency.method", l.method),
        ] {
            if method == Method::Threshold {
                return Err(format!(
                    "{name} \"threshold\" is no longer a plan's: the functions judge with the \
                     sequential test, whose chance of a false rollback is bounded; the old \
                     threshold rule is kept only to compare with, in `cargo xtask bench-judge`"
                ));
            }
        }
        check_alpha("health.latency.alpha", l.alpha)?;
        check_rate("health.latency.max_slow_share", l.max_slow_share)?;
        if !(l.max_ratio.is_finite() && l.max_ratio >= 1.0) {
            return Err(format!(
                "health.latency.max_ratio {} is below 1 or not finite",
                l.max_ratio
            ));
        }
        if l.calibration_periods == 0 || h.calibration_span_seconds() > 86_400 {
            return Err(format!(
                "health.latency.calibration_periods {} is not in 1..: the span of the stable version's data that \
                 fixes T is {} s (at most a day)",
                l.calibration_periods,
                h.calibration_span_seconds()
            ));
        }
        if !(l.ratio.is_finite() && l.ratio >= 1.0) {
            return Err(format!(
                "health.latency.ratio {} is below 1 or not finite",
                l.ratio
            ));
        }
        if !(l.margin_ms.is_finite() && l.margin_ms >= 0.0) {
            return Err(format!(
                "health.latency.margin_ms {} is negative or not finite",
                l.margin_ms
            ));
        }
        if !(l.ceiling_ms.is_finite() && l.ceiling_ms > 0.0) {
            return Err(format!(
                "health.latency.ceiling_ms {} is not positive",
                l.ceiling_ms
            ));
        }
        if !(l.uses_percentile_rank() || l.statistic.trim().eq_ignore_ascii_case("average")) {
            return Err(format!(
                "health.latency.statistic `{}` is neither a percentile (p99) nor Average",
                l.statistic
            ));
        }
        if l.baseline_seconds == 0
            || !l.baseline_seconds.is_multiple_of(60)
            || l.baseline_seconds > 86_400
        {
            return Err(format!(
                "health.latency.baseline_seconds {} is not a whole number of minutes in 1..=1440",
                l.baseline_seconds
            ));
        }
        Ok(())
    }
}

/// Periods CloudWatch's `GetMetricData` accepts from 10 s up: 10, 20 or 30 for high-resolution
/// metrics, or any multiple of 60; at most a day.
fn check_period(period: u64) -> Result<(), String> {
    if matches!(period, 10 | 20 | 30)
        || (period.is_multiple_of(60) && (60..=86_400).contains(&period))
    {
        Ok(())
    } else {
        Err(format!(
            "health.period_seconds {period} is not a CloudWatch metrics period of 10 s or more: \
             10, 20, 30 or a multiple of 60 up to 86400"
        ))
    }
}

fn check_alpha(name: &str, alpha: f64) -> Result<(), String> {
    if alpha > 0.0 && alpha <= 0.2 {
        Ok(())
    } else {
        Err(format!("{name} {alpha} is outside (0, 0.2]"))
    }
}

/// A null rate the mixture grid `[1.1 × rate, 0.5]` can sit above.
fn check_rate(name: &str, rate: f64) -> Result<(), String> {
    if rate > 0.0 && rate * 1.1 < GRID_TOP {
        Ok(())
    } else {
        Err(format!("{name} {rate} is outside (0, 0.45)"))
    }
}

#[cfg(test)]
mod tests;
