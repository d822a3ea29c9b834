//! What happened, second by second: HAProxy's counters and the request log per second, the
//! listener as the syncer last read it, every decision and event. Written as JSON under `--out`,
//! printed live (one line per decision or event) and drawn by [`crate::plot`].

use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::haproxy::Stats;

/// One second of traffic as HAProxy saw it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since the scenario began.
    pub t: f64,
    /// HAProxy's own counters and weights at `t` (`show stat`).
    pub haproxy: Stats,
    /// The canary's share in the emulator's listener, as the syncer last read it.
    pub listener_canary_percent: Option<f64>,
    pub stable_rps: f64,
    pub canary_rps: f64,
    /// The canary's failed share of its requests (5XX, refused or broken connections) over the last
    /// [`crate::sampler::ERROR_RATE_SECONDS`] (percent).
    pub canary_error_percent: Option<f64>,
    /// Mean server response time in this second (HAProxy's `%Tr`).
    pub stable_latency_ms: Option<f64>,
    pub canary_latency_ms: Option<f64>,
}

/// A decision (a handler's outcome) or an event (weights applied, fault on, alarm state).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Mark {
    pub t: f64,
    /// `schedule`, `alarm`, `syncer`, `fault`, ...
    pub source: String,
    /// For decisions the outcome (`promoted`, `held`, `rolled_back`, ...); for events what happened.
    pub kind: String,
    pub text: String,
    #[serde(default)]
    pub detail: Value,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Record {
    pub scenario: String,
    pub samples: Vec<Sample>,
    pub decisions: Vec<Mark>,
    pub events: Vec<Mark>,
}

/// Where live lines go: the terminal the lab was started from (see `main`), else stderr.
static LIVE: OnceLock<Mutex<std::fs::File>> = OnceLock::new();

pub fn set_live_output(file: std::fs::File) {
    let _ = LIVE.set(Mutex::new(file));
}

pub fn live(line: &str) {
    match LIVE.get() {
        Some(f) => {
            let mut f = f.lock().expect("live output lock");
            let _ = writeln!(f, "{line}");
            let _ = f.flush();
        }
        None => eprintln!("{line}"),
    }
}

pub struct Recorder {
    start: Instant,
    record: Mutex<Record>,
}

impl Recorder {
    pub fn new(scenario: &str) -> Recorder {
        Recorder {
            start: Instant::now(),
            record: Mutex::new(Record {
                scenario: scenario.to_owned(),
                ..Record::default()
            }),
        }
    }

    /// Seconds since the scenario began.
    pub fn t(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    pub fn sample(&self, s: Sample) {
        self.record.lock().expect("record lock").samples.push(s);
    }

    fn mark(&self, source: &str, kind: &str, text: String, detail: Value) -> Mark {
        let m = Mark {
            t: self.t(),
            source: source.to_owned(),
            kind: kind.to_owned(),
            text,
            detail,
        };
        let scenario = self.record.lock().expect("record lock").scenario.clone();
        live(&format!(
            "[{scenario} {:6.1}s] {:<8} {:<14} {}",
            m.t, m.source, m.kind, m.text
        ));
        tracing::info!(scenario = %scenario, t = m.t, source = %m.source, kind = %m.kind, text = %m.text, detail = %m.detail, "lab");
        m
    }

    pub fn decision(&self, source: &str, kind: &str, text: String, detail: Value) {
        let m = self.mark(source, kind, text, detail);
        self.record.lock().expect("record lock").decisions.push(m);
    }

    pub fn event(&self, source: &str, kind: &str, text: String) {
        self.event_with(source, kind, text, Value::Null);
    }

    pub fn event_with(&self, source: &str, kind: &str, text: String, detail: Value) {
        let m = self.mark(source, kind, text, detail);
        self.record.lock().expect("record lock").events.push(m);
    }

    pub fn snapshot(&self) -> Record {
        self.record.lock().expect("record lock").clone()
    }
}
