//! What the exploration compares after recovery: the world's snapshot, and the invariants that
//! hold whatever the clean run did.

use alb_canary_tests::controller_env::Env;
use contract::release::Fleet;
use controller::decision::{Status, Weights};
use controller::{fleet, listener, schedule, state};

use crate::explore::Scenario;
use crate::world::{Op, PUBLISHED, World};

/// A release record as compared: version, outcome, and its steps (step, percent).
pub type Record = (String, String, Vec<(u64, u64)>);

/// What the exploration compares with the clean run's (no times: a recovered run is later).
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub status: Status,
    pub step: usize,
    pub reason_drift: bool,
    pub release: Option<String>,
    pub stable_version: Option<String>,
    pub canary_version: Option<String>,
    pub fleet_moving: bool,
    pub weights: Weights,
    pub schedule_enabled: bool,
    pub stable_pointer: Option<String>,
    pub canary_pointer: Option<String>,
    /// Each record: version, outcome, and its steps (step, percent).
    pub records: Vec<Record>,
    /// The history's decisions, sorted (holds and retries' traces left out).
    pub decisions: Vec<String>,
}

pub async fn snapshot(env: &Env, world: &World) -> Snapshot {
    let (clients, config) = (&env.clients, &world.canary.config);
    let rec = state::read(&clients.dynamodb, config)
        .await
        .expect("state readable")
        .expect("state recorded");
    let mut decisions: Vec<String> = state::history(&clients.dynamodb, config)
        .await
        .expect("history readable")
        .into_iter()
        .map(|item| item.kind)
        // A hold changes nothing: a run that failed before it recorded its hold lost nothing.
        // A repeated rollback, and an alarm retried after its rollback was complete (recorded as
        // the fleet unhealthy while idle, as any alarm after a rollback is), are retries' traces.
        .filter(|kind| {
            !matches!(
                kind.as_str(),
                "hold" | "roll_back_repeat" | "alarm_while_idle"
            )
        })
        .collect();
    decisions.sort();
    let records = state::releases(&clients.dynamodb, config)
        .await
        .expect("records readable")
        .into_iter()
        .map(|r| {
            let steps = r.steps.iter().map(|(s, p, _)| (*s, *p)).collect();
            (r.version, r.outcome, steps)
        })
        .collect();
    Snapshot {
        status: rec.canary.status,
        step: rec.canary.step,
        reason_drift: rec
            .canary
            .reason
            .as_deref()
            .is_some_and(|r| r.starts_with("drift")),
        release: rec.release.version,
        stable_version: rec.release.stable_version,
        canary_version: rec.release.canary_version,
        fleet_moving: rec.release.refresh_id.is_some(),
        weights: listener::read(&clients.elbv2, config)
            .await
            .expect("listener readable")
            .weights,
        schedule_enabled: schedule::is_enabled(&clients.scheduler, config)
            .await
            .expect("schedule readable"),
        stable_pointer: fleet::pointer(clients, config, Fleet::Stable)
            .await
            .expect("pointer readable"),
        canary_pointer: fleet::pointer(clients, config, Fleet::Canary)
            .await
            .expect("pointer readable"),
        records,
        decisions,
    }
}

/// The invariants that hold whatever the clean run did.
pub fn invariants(world: &World, scenario: &Scenario, s: &Snapshot) -> Vec<String> {
    let plan = &world.canary.config.plan;
    let mut problems = Vec::new();
    if scenario.rolls_back && s.weights.canary != 0 {
        problems.push(format!(
            "canary has traffic after the rollback: {}",
            s.weights
        ));
    }
    if scenario.rolls_back && scenario.op != Op::ReleaseForce && s.status != Status::RolledBack {
        problems.push(format!(
            "a rollback was decided; the state is {}",
            s.status.as_str()
        ));
    }
    let step_weights: Vec<Weights> = plan
        .steps
        .iter()
        .map(|p| Weights::for_percent(*p))
        .collect();
    if s.weights != Weights::STABLE_ONLY && !step_weights.contains(&s.weights) {
        problems.push(format!(
            "the listener holds {}, neither a plan step nor stable-only",
            s.weights
        ));
    }
    let expected = match s.status {
        Status::Running | Status::Paused => plan
            .steps
            .get(s.step)
            .map(|p| Weights::for_percent(*p))
            .unwrap_or(Weights::STABLE_ONLY),
        Status::Complete => Weights::for_percent(100),
        _ => Weights::STABLE_ONLY,
    };
    let drift_reported = s.status == Status::Paused && s.reason_drift;
    if s.weights != expected && !drift_reported {
        problems.push(format!(
            "state {} step {} and listener {} disagree, and no drift is reported",
            s.status.as_str(),
            s.step,
            s.weights
        ));
    }
    let in_progress = matches!(
        s.status,
        Status::Deploying | Status::Running | Status::Paused | Status::Complete
    );
    if in_progress && !s.schedule_enabled {
        problems.push(format!(
            "stuck: {} with the schedule disabled",
            s.status.as_str()
        ));
    }
    for (which, pointer) in [("stable", &s.stable_pointer), ("canary", &s.canary_pointer)] {
        if pointer.as_deref().is_some_and(|v| !PUBLISHED.contains(&v)) {
            problems.push(format!(
                "the {which} fleet's pointer names {pointer:?}, unpublished"
            ));
        }
    }
    if matches!(s.status, Status::Idle | Status::RolledBack) && s.stable_pointer != s.stable_version
    {
        problems.push(format!(
            "{}: the stable fleet runs {:?}, the state says {:?}",
            s.status.as_str(),
            s.stable_pointer,
            s.stable_version
        ));
    }
    let open: Vec<&String> = s
        .records
        .iter()
        .filter(|(_, outcome, _)| outcome == "in_progress")
        .map(|(v, _, _)| v)
        .collect();
    if open.len() > usize::from(in_progress) {
        problems.push(format!("release records left open: {open:?}"));
    }
    problems
}
