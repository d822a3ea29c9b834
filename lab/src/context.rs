//! What the lab's concurrent parts share during one scenario.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use controller::decision::Weights;
use controller::{Clients, Config};
use serde_json::Value;
use tokio::sync::watch;

use crate::alarm_spec::AlarmSpec;
use crate::logbook::{Group, LogBook};
use crate::target_health::HostBook;
use crate::timeline::Recorder;
use crate::timing::Timing;

/// How a scenario ended, as the lab's own loops saw it (the test asserts on HAProxy instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The canary completed and the stable fleet took the release: the stack is idle on it.
    Released,
    RolledBack,
}

pub struct Ctx {
    pub clients: Clients,
    pub config: Config,
    /// HAProxy's runtime API socket.
    pub socket: PathBuf,
    pub book: Arc<LogBook>,
    /// The target health checks' host counts, per bridge window.
    pub health: HostBook,
    pub recorder: Arc<Recorder>,
    /// When the ALB metrics become visible, and the alarms' periods.
    pub timing: Timing,
    /// The event the promotion schedule sends (from the template).
    pub schedule_event: Value,
    pub alarms: Vec<AlarmSpec>,
    /// Alarm name → ARN, for the alarm events.
    pub alarm_arns: std::collections::HashMap<String, String>,
    /// The listener's weights as the syncer last read them.
    pub listener: Mutex<Option<Weights>>,
    /// Alarm name → the highest value it compared with its threshold so far: how near a run
    /// came to each alarm, for the summary.
    pub alarm_peaks: Mutex<std::collections::BTreeMap<String, f64>>,
    pub end: watch::Sender<Option<End>>,
}

impl Ctx {
    /// The target group (by its `TargetGroup` dimension value) a dimension set names, if ours.
    pub fn group_of(&self, dimensions: &[(String, String)]) -> Option<Group> {
        let tg = dimensions
            .iter()
            .find(|(n, _)| n == "TargetGroup")
            .map(|(_, v)| v.as_str())?;
        let dim = |arn: &str| controller::listener::target_group_dimension(arn).map(str::to_owned);
        if Some(tg.to_owned()) == dim(&self.config.stable_tg_arn) {
            Some(Group::Stable)
        } else if Some(tg.to_owned()) == dim(&self.config.canary_tg_arn) {
            Some(Group::Canary)
        } else {
            None
        }
    }

    pub fn finish(&self, end: End) {
        self.end.send_if_modified(|e| {
            if e.is_none() {
                *e = Some(end);
                true
            } else {
                false
            }
        });
    }
}
