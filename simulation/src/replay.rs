//! `cargo xtask judge --replay FILE`: one decision replayed from its inputs. The decision is a
//! pure function of (plan, state, weights, the per-period series, now), so the same input gives
//! the same decision and statistics as the promotion function computed. `periods` holds one entry
//! per period of the plan's `health.period_seconds` (60 unless the plan says otherwise); each `t`
//! starts a period (files written before the period was a plan setting say `minutes`; they
//! still read).
//!
//! ```json
//! {"plan": {}, "canary_started_at": 1700000000, "step": 0, "step_started_at": 1700000000,
//!  "now": 1700000900, "weights": {"stable": 90, "canary": 10}, "baseline_ms": 60.0,
//!  "periods": [{"t": 1700000000, "stable": {"requests": 540, "errors": 1},
//!               "canary": {"requests": 60, "errors": 0, "connection_errors": 0, "slow": 0}}]}
//! ```
//! Plan fields left out take the defaults; `status` (`running` or `paused`), `baseline_ms`,
//! `calibration` (`{"stable_ms": 3.1, "until": 1700000180}`, used without a baseline) and,
//! per version, `connection_errors`, `slow` and `latency_ms` are optional.

use canary::decision::{
    Calibration, CanaryState, Judged, Observation, Period, Status, Weights, decide_with_statistics,
};
use canary::history::{Entry, Record, describe};
use contract::Plan;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;

/// The replay file's form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayInput {
    #[serde(default)]
    pub plan: Plan,
    #[serde(default = "running")]
    pub status: Status,
    pub canary_started_at: i64,
    pub step: usize,
    pub step_started_at: i64,
    /// When the step's bake (re)started (a `resume`); absent: the step's start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bake_started_at: Option<i64>,
    /// An operator skipped the rest of the step's bake.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bake_skipped: bool,
    pub now: i64,
    pub weights: Weights,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_ms: Option<f64>,
    /// Without a baseline: the stable version's statistic over the canary's first calibration span, and its end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
    /// The series, one entry per period (`minutes` in files written before periods were a plan
    /// setting).
    #[serde(default, alias = "minutes")]
    pub periods: Vec<Period>,
}

fn running() -> Status {
    Status::Running
}

impl ReplayInput {
    /// The input that reproduces a decision taken on a recorded state.
    pub fn new(
        plan: &Plan,
        state: &CanaryState,
        weights: Weights,
        observed: &Observation,
        now: i64,
    ) -> ReplayInput {
        ReplayInput {
            plan: plan.clone(),
            status: state.status,
            canary_started_at: state.canary_started_at,
            step: state.step,
            step_started_at: state.step_started_at,
            bake_started_at: Some(state.bake_started_at).filter(|at| *at != state.step_started_at),
            bake_skipped: state.bake_skipped,
            now,
            weights,
            baseline_ms: observed.baseline_ms,
            calibration: observed.calibration,
            periods: observed.periods.clone(),
        }
    }

    /// Parses and checks a replay file; the error names the field.
    pub fn from_json(text: &str) -> Result<ReplayInput, String> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let input: ReplayInput = serde_path_to_error::deserialize(de).map_err(|err| {
            let path = err.path().to_string();
            if path == "." {
                err.into_inner().to_string()
            } else {
                format!("{path}: {}", err.into_inner())
            }
        })?;
        input.validate()?;
        Ok(input)
    }

    fn validate(&self) -> Result<(), String> {
        self.plan.validate().map_err(|err| format!("plan: {err}"))?;
        if !matches!(self.status, Status::Running | Status::Paused) {
            return Err(format!(
                "status `{}`: only a running or paused canary is judged",
                self.status.as_str()
            ));
        }
        if self.step >= self.plan.steps.len() {
            return Err(format!(
                "step {} is not in the plan's {} steps (0-based)",
                self.step,
                self.plan.steps.len()
            ));
        }
        if self.step_started_at < self.canary_started_at {
            return Err(format!(
                "step_started_at {} is before canary_started_at {}",
                self.step_started_at, self.canary_started_at
            ));
        }
        if self.now < self.step_started_at {
            return Err(format!(
                "now {} is before step_started_at {}",
                self.now, self.step_started_at
            ));
        }
        Weights::new(self.weights.stable, self.weights.canary)
            .map_err(|err| format!("weights: {err}"))?;
        if let Some(b) = self.baseline_ms
            && !(b.is_finite() && b >= 0.0)
        {
            return Err(format!("baseline_ms {b} is not a non-negative number"));
        }
        if let Some(c) = self.calibration
            && !(c.stable_ms.is_finite() && c.stable_ms >= 0.0)
        {
            return Err(format!(
                "calibration.stable_ms {} is not a non-negative number",
                c.stable_ms
            ));
        }
        let period = self.plan.health.period_seconds;
        let mut seen = HashMap::new();
        for (i, m) in self.periods.iter().enumerate() {
            if let Some(first) = seen.insert(m.t, i) {
                return Err(format!("periods[{i}].t duplicates periods[{first}].t"));
            }
            // Each entry covers [t, t + period): two closer than a period would overlap.
            let near = self
                .periods
                .iter()
                .position(|o| o.t != m.t && (o.t - m.t).unsigned_abs() < period);
            if let Some(j) = near {
                return Err(format!(
                    "periods[{i}].t and periods[{j}].t are less than plan.health.period_seconds \
                     {period} apart: each entry is one period"
                ));
            }
            for (name, c) in [("stable", &m.stable), ("canary", &m.canary)] {
                if let Some(slow) = c.slow
                    && slow > c.requests
                {
                    return Err(format!(
                        "periods[{i}].{name}.slow {slow} exceeds requests {}",
                        c.requests
                    ));
                }
                if let Some(l) = c.latency_ms
                    && !(l.is_finite() && l >= 0.0)
                {
                    return Err(format!(
                        "periods[{i}].{name}.latency_ms {l} is not a non-negative number"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The input of a decision the history recorded (a [`Judgement`]), with the plan the
    /// function ran and the series it read (neither is in the record: the plan is the stack's,
    /// the series CloudWatch's).
    pub fn from_record(
        plan: &Plan,
        record: &Record,
        periods: Vec<Period>,
    ) -> Result<ReplayInput, String> {
        let Entry::Judgement(judgement) = &record.entry else {
            return Err(format!(
                "a `{}` record is not a judgement: nothing to replay",
                record.kind()
            ));
        };
        let state = judgement
            .state_before
            .as_ref()
            .ok_or("the judgement was taken before any release: no canary to replay")?;
        let observed = Observation {
            periods,
            baseline_ms: judgement.inputs.baseline_ms,
            calibration: judgement.inputs.calibration,
            canary_healthy_targets: judgement.inputs.canary_healthy_targets,
        };
        let input = ReplayInput::new(plan, state, judgement.weights_before, &observed, record.at);
        input.validate()?;
        Ok(input)
    }

    /// The decision and its statistics.
    pub fn decide(&self) -> Judged {
        let state = CanaryState {
            status: self.status,
            step: self.step,
            step_started_at: self.step_started_at,
            bake_started_at: self.bake_started_at.unwrap_or(self.step_started_at),
            bake_skipped: self.bake_skipped,
            canary_started_at: self.canary_started_at,
            version: 0,
            reason: None,
        };
        let observed = Observation {
            periods: self.periods.clone(),
            baseline_ms: self.baseline_ms,
            calibration: self.calibration,
            canary_healthy_targets: 0,
        };
        decide_with_statistics(&self.plan, Some(&state), self.weights, &observed, self.now)
    }
}

/// The printed result: `decision`, `reason`, what it writes, and every statistic with its threshold.
pub fn render(judged: &Judged) -> Value {
    let d = &judged.decision;
    let reason = describe(d);
    json!({
        "decision": d.kind(),
        "reason": reason,
        "writes": d.writes(),
        "statistics": judged.statistics,
    })
}

/// A decision as the history recorded it (the `record` field of the decision's log line, or the
/// table item's `record`), with the plan and the series it was taken on.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordedDecision {
    #[serde(default)]
    plan: Plan,
    record: Value,
    #[serde(default, alias = "minutes")]
    periods: Vec<Period>,
}

/// Reads, decides, renders: the whole `--replay` command on a file's text, which is a replay
/// input or a recorded decision (`{"plan", "record", "minutes"}`).
pub fn replay(text: &str) -> Result<Value, String> {
    let recorded = serde_json::from_str::<Value>(text)
        .ok()
        .filter(|v| v.get("record").is_some());
    let input = match recorded {
        None => ReplayInput::from_json(text)?,
        Some(value) => {
            let r: RecordedDecision =
                serde_json::from_value(value).map_err(|e| format!("recorded decision: {e}"))?;
            let kind = r.record["decision"]["decision"]
                .as_str()
                .ok_or("record.decision.decision: the record names no decision")?;
            let record = Record::from_json(kind, &r.record.to_string())
                .map_err(|e| format!("record: {e}"))?;
            ReplayInput::from_record(&r.plan, &record, r.periods)?
        }
    };
    Ok(render(&input.decide()))
}

#[cfg(test)]
mod tests;
