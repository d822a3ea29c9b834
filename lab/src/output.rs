//! What a scenario leaves under `--out/<scenario>/`: `timeline.json` (every sample, decision and
//! event), `decisions.json`, `summary.json` (the measured numbers), `timeline.txt` and `lab.svg`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use controller::decision::Weights;
use serde::{Deserialize, Serialize};

use crate::context::End;
use crate::fail_open::FailOpen;
use crate::haproxy::Stats;
use crate::release::{Processes, StateTable};
use crate::timeline::Record;
use crate::traffic::Totals;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub scenario: String,
    /// `released` or `rolled_back`, as the lab's loops saw the handlers' outcomes.
    pub end: String,
    /// Wall time of the scenario, set-up included.
    pub seconds: f64,
    /// When the canary's faults switched on (seconds into the scenario).
    pub fault_on_at: Option<f64>,
    /// When the syncer next set the canary's weight in HAProxy to 0 after that.
    pub canary_weight_zero_at: Option<f64>,
    pub onset_to_zero_seconds: Option<f64>,
    /// With `--fault kill`: what HAProxy showed of the dead canary (fail open, then weight 0).
    #[serde(default)]
    pub fail_open: Option<FailOpen>,
    /// The emulator's listener at the end (read by the lab, not reported by the controller).
    pub listener_final: Weights,
    /// HAProxy's counters, weights and server addresses at the end.
    pub haproxy_final: Stats,
    /// The state table at the end (read by the lab): the lifecycle's state and the release's record.
    pub state_final: StateTable,
    /// The ports of the stable version's and the release's processes.
    pub processes: Processes,
    pub traffic: Totals,
    pub decisions: usize,
    /// Per alarm the lab evaluated: its threshold and the highest value it compared with it
    /// (`None`: never a datapoint). A run that ends released shows how far it stayed from each.
    #[serde(default)]
    pub alarm_peaks: BTreeMap<String, AlarmPeak>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmPeak {
    pub threshold: f64,
    pub peak: Option<f64>,
}

/// Every alarm with its peak (see [`Summary::alarm_peaks`]).
pub fn alarm_peaks(
    alarms: &[crate::alarm_spec::AlarmSpec],
    peaks: &BTreeMap<String, f64>,
) -> BTreeMap<String, AlarmPeak> {
    alarms
        .iter()
        .map(|a| {
            let peak = AlarmPeak {
                threshold: a.threshold,
                peak: peaks.get(&a.name).copied(),
            };
            (a.name.clone(), peak)
        })
        .collect()
}

/// What the lab reads itself once a scenario is over.
pub struct Finally {
    pub listener: Weights,
    pub haproxy: Stats,
    pub table: StateTable,
    pub processes: Processes,
    pub alarm_peaks: BTreeMap<String, AlarmPeak>,
}

impl Summary {
    /// One line saying what a finished run failed to show beyond its end (the kill fault's
    /// evidence in HAProxy); `None` when there is nothing more to show or it was all shown.
    pub fn missed_evidence(&self) -> Option<String> {
        self.fail_open.as_ref().and_then(FailOpen::missed)
    }

    pub fn new(record: &Record, end: End, finally: Finally, traffic: Totals) -> Summary {
        let fault_on_at = record
            .events
            .iter()
            .find(|e| e.kind == crate::fault::ON)
            .map(|e| e.t);
        let canary_weight_zero_at = fault_on_at.and_then(|on| {
            record
                .events
                .iter()
                .find(|e| e.source == "syncer" && e.t > on && e.detail["canary"] == 0)
                .map(|e| e.t)
        });
        Summary {
            scenario: record.scenario.clone(),
            end: match end {
                End::Released => "released",
                End::RolledBack => "rolled_back",
            }
            .into(),
            seconds: record.events.last().map_or(0.0, |e| e.t),
            fault_on_at,
            canary_weight_zero_at,
            onset_to_zero_seconds: fault_on_at.zip(canary_weight_zero_at).map(|(a, b)| b - a),
            fail_open: FailOpen::new(record, &finally.haproxy.canary),
            listener_final: finally.listener,
            haproxy_final: finally.haproxy,
            state_final: finally.table,
            processes: finally.processes,
            traffic,
            decisions: record.decisions.len(),
            alarm_peaks: finally.alarm_peaks,
        }
    }
}

fn opt(v: Option<f64>, unit: &str) -> String {
    v.map_or("-".into(), |v| format!("{v:.0}{unit}"))
}

/// A line every 5 s and every decision and event, in time order.
pub fn text_timeline(record: &Record) -> String {
    let mut lines: Vec<(f64, String)> = record
        .samples
        .iter()
        .filter(|s| (s.t.round() as i64) % 5 == 0)
        .map(|s| {
            (
                s.t,
                format!(
                    "HAProxy stable {:>3} / canary {:>3}  rps stable {:>5.1} canary {:>5.1}  canary 5xx {:>4}  latency stable {:>5} canary {:>5}",
                    s.haproxy.stable.weight,
                    s.haproxy.canary.weight,
                    s.stable_rps,
                    s.canary_rps,
                    opt(s.canary_error_percent, "%"),
                    opt(s.stable_latency_ms, "ms"),
                    opt(s.canary_latency_ms, "ms"),
                ),
            )
        })
        .collect();
    for m in record.decisions.iter().chain(&record.events) {
        lines.push((m.t, format!("{:<8} {:<14} {}", m.source, m.kind, m.text)));
    }
    lines.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = String::new();
    for (t, line) in lines {
        let _ = writeln!(out, "{t:7.1}s  {line}");
    }
    out
}

fn write_json<T: Serialize>(dir: &Path, name: &str, value: &T) -> Result<(), String> {
    let path = dir.join(name);
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn write(dir: &Path, record: &Record, summary: &Summary) -> Result<(), String> {
    write_json(dir, "timeline.json", record)?;
    write_json(dir, "decisions.json", &record.decisions)?;
    write_json(dir, "summary.json", summary)?;
    std::fs::write(dir.join("timeline.txt"), text_timeline(record)).map_err(|e| e.to_string())?;
    crate::plot::draw(&dir.join("lab.svg"), record)
}
