//! The exploration: for each scenario (a phase of a release and the run or command taken in it),
//! a clean run, then the same run under each fault, each in a fresh canary of one emulator:
//!
//! 1. **crash after call k**, for every k below the clean run's number of calls: the run dies
//!    there (a Lambda timeout, a dead terminal); the remaining calls never happen;
//! 2. **answer lost on call k**: the call took effect, its answer was lost, the SDK retries it;
//! 3. **outage** of each service the run uses, of each kind (throttling, 500, 503, timeout,
//!    dropped connection): every attempt fails, outlasting the SDK's retries;
//! 4. **burst**: three throttled attempts on each service the run uses, which the SDK's
//!    retries absorb (`controller::clients::MAX_ATTEMPTS` is 4).
//!
//! Then what AWS or the operator does next, fault-free: the schedule's next run a minute later;
//! a failed alarm invocation retried twice by Lambda (then the dead-letter queue); a failed command
//! run again by the operator. Then the invariants, on the state table, the listener, the schedule,
//! the fleets' pointers and the release records:
//!
//! - after a rollback was decided or an alarm delivered, V2's weight is 0 and the state rolled back;
//! - the listener's weights are a plan step or stable-only;
//! - the state and the listener agree, or the state says drift (paused, notified);
//! - a release in progress has its schedule running (else nothing moves it on: stuck);
//! - a fleet pointer names a published version; idle or rolled back, the stable fleet's names the
//!   stable version; every record is closed unless its release is in progress;
//! - the world after recovery is the clean run's world: the same state, weights, schedule,
//!   pointers, records (their steps too) and decisions (no history item lost or doubled; a
//!   repeated rollback's `roll_back_repeat` aside), and no notification fewer.

use alb_canary_tests::controller_env::{Canary, Env, fixture, test_plan};
use alb_canary_tests::faults::{Faults, Kind, Target};
use canaryctl::control::{self, Action};
use canaryctl::settings::Target as Operator;
use contract::release::{Fleet, fleet_key};
use controller::decision::{Status, Weights};
use controller::state::{self, Recorded};
use controller::{Clients, fleet, listener, promotion, rollback, schedule};
use std::collections::BTreeSet;

/// The versions published in every canary's artifact prefix.
const PUBLISHED: [&str; 3] = ["1.0.0", "2.0.0", "3.0.0"];

/// Where the release stands when the run or command is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Stable on 1.0.0, no release in progress.
    Idle,
    /// `release 2.0.0` done, the canary fleet healthy on it: the next run starts the canary.
    Deploying,
    /// At the first step (10 %), its bake not over.
    FirstStep,
    /// At the first step, baked healthy: the next run promotes to 25 %.
    FirstStepBaked,
    /// At the first step, V2 failing: the next run rolls back.
    FirstStepFailing,
    /// Paused by an operator at the first step.
    Paused,
    /// At 100 %, baked: the next run completes (the stable fleet starts moving).
    LastStepBaked,
    /// Complete, the stable fleet's refresh in progress.
    StableMoving,
    /// Complete, the stable fleet's refresh succeeded: the next run releases.
    StableReady,
}

/// The run or command that faults hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// The scheduled promotion run.
    Promotion,
    /// The rollback function, invoked by the V2 5XX alarm.
    Alarm,
    /// `release 2.0.0`.
    Release,
    /// `release 3.0.0 --force`.
    ReleaseForce,
    Abort,
    Pause,
    Resume,
    Promote,
}

pub struct Scenario {
    pub name: &'static str,
    pub phase: Phase,
    pub op: Op,
    /// A rollback is decided or delivered: V2 must end at 0.
    pub rolls_back: bool,
}

const fn scenario(name: &'static str, phase: Phase, op: Op, rolls_back: bool) -> Scenario {
    Scenario {
        name,
        phase,
        op,
        rolls_back,
    }
}

pub const SCENARIOS: &[Scenario] = &[
    scenario(
        "promotion: deploying → first step",
        Phase::Deploying,
        Op::Promotion,
        false,
    ),
    scenario("promotion: hold", Phase::FirstStep, Op::Promotion, false),
    scenario(
        "promotion: a step (10 → 25 %)",
        Phase::FirstStepBaked,
        Op::Promotion,
        false,
    ),
    scenario(
        "promotion: rollback decision",
        Phase::FirstStepFailing,
        Op::Promotion,
        true,
    ),
    scenario(
        "promotion: completion (stable fleet moves)",
        Phase::LastStepBaked,
        Op::Promotion,
        false,
    ),
    scenario(
        "promotion: released",
        Phase::StableReady,
        Op::Promotion,
        false,
    ),
    scenario(
        "rollback alarm: at a step",
        Phase::FirstStep,
        Op::Alarm,
        true,
    ),
    scenario(
        "rollback alarm: stable fleet moving",
        Phase::StableMoving,
        Op::Alarm,
        true,
    ),
    scenario("release", Phase::Idle, Op::Release, false),
    scenario("release --force", Phase::FirstStep, Op::ReleaseForce, true),
    scenario("abort", Phase::FirstStep, Op::Abort, true),
    scenario("pause", Phase::FirstStep, Op::Pause, false),
    scenario("resume", Phase::Paused, Op::Resume, false),
    scenario("promote", Phase::FirstStep, Op::Promote, false),
];

/// A kind of fault exploration (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Campaign {
    Crash,
    /// The crash points right after a call that changes something (a crash after a read is the
    /// crash before it, as far as AWS can tell): the test's shorter run.
    CrashAfterWrites,
    AnswerLost,
    Outage,
    Burst,
}

impl Campaign {
    pub const ALL: &[Campaign] = &[
        Campaign::Crash,
        Campaign::AnswerLost,
        Campaign::Outage,
        Campaign::Burst,
    ];
}

const OUTAGE_KINDS: [Kind; 5] = [
    Kind::Throttle,
    Kind::Http500,
    Kind::Http503,
    Kind::Timeout,
    Kind::Dropped,
];

/// The exploration's clock: an hour-aligned time two hours back (the metrics' periods fall on the
/// same grid in every run).
fn t0() -> i64 {
    (controller::now_secs() / 3600) * 3600 - 7200
}

/// One canary set up in a phase, with the clients the faults act on.
pub struct World {
    pub canary: Canary,
    pub faults: Faults,
    pub clients: Clients,
    /// When the explored run or command is taken.
    pub now: i64,
}

/// What is counted.
#[derive(Debug, Default)]
pub struct Tally {
    pub explored: usize,
    pub crash_points: usize,
    pub api_faults: usize,
    pub violations: Vec<String>,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, other: Tally) {
        self.explored += other.explored;
        self.crash_points += other.crash_points;
        self.api_faults += other.api_faults;
        self.violations.extend(other.violations);
    }
}

impl Tally {
    pub fn line(&self, scenario: &Scenario) -> String {
        format!(
            "{:<46} crash points {:>3}  API faults {:>3}  violations {}",
            scenario.name,
            self.crash_points,
            self.api_faults,
            self.violations.len()
        )
    }

    pub fn summary(&self) -> String {
        let survived = self.explored - self.violations.len().min(self.explored);
        format!(
            "faults survived: {survived} of {} explored ({} crash points, {} API faults across {} operations); invariant violations: {}",
            self.explored,
            self.crash_points,
            self.api_faults,
            SCENARIOS.len(),
            self.violations.len()
        )
    }
}

/// One fault, as it is injected into a run's plan.
type Inject = Box<dyn Fn(&Faults)>;

/// A release record as compared: version, outcome, and its steps (step, percent).
pub type Record = (String, String, Vec<(u64, u64)>);

/// The clean run of a scenario: its world after recovery, and what it did.
struct Clean {
    snapshot: Snapshot,
    notifications: usize,
    /// Each call it made, `service:operation`, in order.
    calls: Vec<String>,
    services: BTreeSet<String>,
}

async fn clean_run(env: &Env, scenario: &Scenario, t0: i64) -> Result<Clean, String> {
    let world = setup(env, scenario.phase, t0).await;
    let first = run(&world, scenario.op).await;
    if let Err(err) = &first {
        return Err(format!(
            "{} / no fault: the run itself fails: {err}",
            scenario.name
        ));
    }
    let log = world.faults.log();
    let calls = log
        .iter()
        .map(|c| format!("{}:{}", c.service, c.operation))
        .collect();
    let services = log.into_iter().map(|c| c.service).collect();
    recover(env, &world, scenario.op, &first).await;
    Ok(Clean {
        snapshot: snapshot(env, &world).await,
        notifications: world.faults.delivered("sns", "Publish"),
        calls,
        services,
    })
}

/// One faulty run of `scenario`, recovered: what is wrong with its world (nothing, if it survived).
async fn faulty_run(
    env: &Env,
    scenario: &Scenario,
    t0: i64,
    clean: &Clean,
    inject: &dyn Fn(&Faults),
) -> (Result<String, String>, Vec<String>) {
    let world = setup(env, scenario.phase, t0).await;
    inject(&world.faults);
    let result = run(&world, scenario.op).await;
    world.faults.heal();
    recover(env, &world, scenario.op, &result).await;
    let after = snapshot(env, &world).await;
    let mut problems = invariants(&world, scenario, &after);
    if after != clean.snapshot {
        problems.push(format!(
            "the world differs from the clean run's:\n    clean: {:?}\n    after: {after:?}",
            clean.snapshot
        ));
    }
    let notes = world.faults.delivered("sns", "Publish");
    if notes < clean.notifications {
        problems.push(format!(
            "{notes} notifications delivered, the clean run delivers {}",
            clean.notifications
        ));
    }
    (result, problems)
}

/// The scenario named `name`.
pub fn scenario_named(name: &str) -> &'static Scenario {
    SCENARIOS
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no scenario {name}"))
}

/// One fault on one scenario: the problems found after recovery (none: survived).
pub async fn check_one(scenario: &Scenario, inject: impl Fn(&Faults)) -> Vec<String> {
    let env = &Env::start().await;
    let t0 = t0();
    match clean_run(env, scenario, t0).await {
        Err(err) => vec![err],
        Ok(clean) => faulty_run(env, scenario, t0, &clean, &inject).await.1,
    }
}

/// Explores `scenario` under `campaigns`, on an emulator of its own (moto's CloudWatch reads
/// slow down with every datum it holds), each explored run in a canary of its own.
pub async fn explore(scenario: &Scenario, campaigns: &[Campaign]) -> Tally {
    let env = &Env::start().await;
    let t0 = t0();
    let mut tally = Tally::default();
    let clean = match clean_run(env, scenario, t0).await {
        Ok(clean) => clean,
        Err(violation) => {
            // Nothing to compare with: the run fails without any fault injected.
            eprintln!("VIOLATION {violation}");
            tally.explored = 1;
            tally.violations.push(violation);
            return tally;
        }
    };
    let calls = clean.calls.len();
    let mut faults: Vec<(String, Inject)> = Vec::new();
    for campaign in campaigns {
        match campaign {
            Campaign::Crash => {
                for k in 0..calls {
                    let after = k
                        .checked_sub(1)
                        .map_or("none".to_string(), |i| clean.calls[i].clone());
                    faults.push((
                        format!("crash after call {k} (last done: {after})"),
                        Box::new(move |f: &Faults| f.crash_after(k)),
                    ));
                }
            }
            Campaign::CrashAfterWrites => {
                for k in 1..calls {
                    let after = clean.calls[k - 1].clone();
                    let op = after.split(':').nth(1).unwrap_or_default();
                    if op.starts_with("Get")
                        || op.starts_with("Describe")
                        || op.starts_with("Head")
                        || op == "Query"
                    {
                        continue;
                    }
                    faults.push((
                        format!("crash after call {k} (last done: {after})"),
                        Box::new(move |f: &Faults| f.crash_after(k)),
                    ));
                }
            }
            Campaign::AnswerLost => {
                for k in 0..calls {
                    faults.push((
                        format!("answer of call {k} ({}) lost", clean.calls[k]),
                        Box::new(move |f: &Faults| f.fail_nth(k, Kind::AnswerLost)),
                    ));
                }
            }
            Campaign::Outage => {
                for service in &clean.services {
                    let service: &'static str = service_name(service);
                    for kind in OUTAGE_KINDS {
                        faults.push((
                            format!("{service} outage ({})", kind.name()),
                            Box::new(move |f: &Faults| {
                                f.fail(Target::service(service), kind, u32::MAX)
                            }),
                        ));
                    }
                }
            }
            Campaign::Burst => {
                for service in &clean.services {
                    let service: &'static str = service_name(service);
                    faults.push((
                        format!("{service} throttled 3 times"),
                        Box::new(move |f: &Faults| {
                            f.fail(Target::service(service), Kind::Throttle, 3)
                        }),
                    ));
                }
            }
        }
    }
    for (name, inject) in faults {
        let (result, problems) = faulty_run(env, scenario, t0, &clean, &*inject).await;
        tally.explored += 1;
        if name.starts_with("crash") {
            tally.crash_points += 1;
        } else {
            tally.api_faults += 1;
        }
        if !problems.is_empty() {
            let violation = format!(
                "{} / {name} (run: {result:?}):\n  {}",
                scenario.name,
                problems.join("\n  ")
            );
            eprintln!("VIOLATION {violation}");
            tally.violations.push(violation);
        }
    }
    tally
}

fn service_name(service: &str) -> &'static str {
    match service {
        "elbv2" => "elbv2",
        "cloudwatch" => "cloudwatch",
        "dynamodb" => "dynamodb",
        "sns" => "sns",
        "scheduler" => "scheduler",
        "s3" => "s3",
        "autoscaling" => "autoscaling",
        other => panic!("a service the exploration does not know: {other}"),
    }
}

fn operator(clients: &Clients, canary: &Canary) -> Operator {
    Operator {
        clients: clients.clone(),
        config: canary.config.clone(),
    }
}

/// A new canary in `phase`, set up fault-free with the harness's own clients.
pub async fn setup(env: &Env, phase: Phase, t0: i64) -> World {
    let canary = env.idle_canary(test_plan()).await;
    let config = &canary.config;
    let (clean, plain) = (&env.clients, operator(&env.clients, &canary));
    for version in PUBLISHED {
        canaryctl::publish::upload(
            &clean.s3,
            &config.artifact_bucket,
            &config.artifact_prefix,
            version,
            format!("recommender {version}\n").as_bytes(),
        )
        .await
        .expect("published");
    }
    for which in [Fleet::Stable, Fleet::Canary] {
        clean
            .s3
            .put_object()
            .bucket(&config.artifact_bucket)
            .key(fleet_key(&config.artifact_prefix, which))
            .body(b"1.0.0\n".to_vec().into())
            .send()
            .await
            .expect("pointer written");
    }
    let idle = Recorded::idle().next(|r| {
        r.release.version = Some("1.0.0".into());
        r.release.stable_version = Some("1.0.0".into());
        r.release.canary_version = Some("1.0.0".into());
        r.canary.reason = Some("release 1.0.0 complete".into());
    });
    state::replace(&clean.dynamodb, config, None, &idle, t0)
        .await
        .expect("idle on 1.0.0");
    // The exploration's canaries share one schedule: each starts with it enabled.
    schedule::enable(&clean.scheduler, config)
        .await
        .expect("schedule enabled");
    let faults = Faults::new();
    let clients = env
        .refreshes
        .clients(&faults.sdk_config(&env.moto.sdk_config().await));
    let mut world = World {
        canary,
        faults,
        clients,
        now: t0,
    };
    if phase == Phase::Idle {
        // As after a rollback: the schedule is off until the next release turns it on.
        schedule::disable(&clean.scheduler, &world.canary.config)
            .await
            .expect("schedule disabled");
        return world;
    }
    canaryctl::release::release(&plain, "2.0.0", false, t0)
        .await
        .expect("release 2.0.0");
    env.refreshes
        .finish(&world.canary.config.canary_fleet, "Successful");
    let t1 = t0 + 60;
    world.now = t1;
    if phase == Phase::Deploying {
        return world;
    }
    let config = world.canary.config.clone();
    env.put_baseline(&config.stable_tg_arn, t1).await;
    tick(clean, &world.canary, t1, "Promoted").await;
    let (v1, v2) = (&config.stable_tg_arn, &config.canary_tg_arn);
    match phase {
        Phase::FirstStepFailing => {
            env.put_minute(v1, t1 + 30, 900.0, 0.0, 0.020).await;
            env.put_minute(v2, t1 + 30, 100.0, 20.0, 0.070).await;
            world.now = t1 + 150;
            return world;
        }
        Phase::FirstStep | Phase::Paused => {
            env.put_minute(v1, t1 + 30, 900.0, 0.0, 0.020).await;
            env.put_minute(v2, t1 + 30, 100.0, 0.0, 0.070).await;
            world.now = t1 + 120;
            if phase == Phase::Paused {
                control::apply(&plain, Action::Pause, t1 + 60)
                    .await
                    .expect("paused");
            }
            return world;
        }
        _ => {}
    }
    // Healthy minutes, each bake 361 s (300 s + 60 s settled + 1).
    let mut now = t1;
    let steps = if phase == Phase::FirstStepBaked { 1 } else { 4 };
    for step in 0..steps {
        let (p1, p2) = match step {
            0 => (900.0, 100.0),
            1 => (750.0, 250.0),
            2 => (500.0, 500.0),
            _ => (0.0, 1000.0),
        };
        // One minute a step: the bake counts time; the step's requests are enough to judge.
        if p1 > 0.0 {
            env.put_minute(v1, now + 30, p1, 0.0, 0.020).await;
        }
        env.put_minute(v2, now + 30, p2, 0.0, 0.070).await;
        now += 361;
        if step + 1 < steps {
            advance(clean, &world.canary, step + 1, now).await;
        }
    }
    world.now = now;
    if matches!(phase, Phase::FirstStepBaked | Phase::LastStepBaked) {
        return world;
    }
    tick(clean, &world.canary, now, "Completed").await;
    world.now = now + 60;
    if phase == Phase::StableReady {
        env.refreshes
            .finish(&world.canary.config.stable_fleet, "Successful");
    }
    world
}

/// Set-up's promotion to `step` at `now`, written as a promotion run writes it (listener, then
/// state, record step and history together) without its reads: the later phases' set-up stays
/// cheap (the exploration sets up a canary for every fault).
async fn advance(clients: &Clients, canary: &Canary, step: usize, now: i64) {
    let config = &canary.config;
    let percent = config.plan.steps[step];
    listener::write(
        &clients.elbv2,
        config,
        Weights::for_percent(percent),
        None,
        false,
    )
    .await
    .expect("listener written");
    let rec = state::read(&clients.dynamodb, config)
        .await
        .expect("state readable")
        .expect("state recorded");
    let next = rec.next(|r| {
        r.canary.step = step;
        r.canary.step_started_at = now;
    });
    let record = rec.release.record.clone().expect("a release record");
    state::Batch::new()
        .replace(config, Some(&rec), &next, now)
        .and_then(|b| b.step(config, &record, step, percent, now))
        .and_then(|b| {
            b.history(
                config,
                now * 1000,
                "promote",
                &serde_json::json!({"set_up": step}),
            )
        })
        .expect("batch")
        .commit(&clients.dynamodb, config)
        .await
        .expect("promoted");
}

/// A fault-free promotion run during set-up, which must end as `expected` says.
async fn tick(clients: &Clients, canary: &Canary, now: i64, expected: &str) {
    let outcome = promotion::handle_promotion_at(
        clients,
        &canary.config,
        fixture("schedule-event.json"),
        now,
    )
    .await
    .expect("set-up run");
    assert!(
        format!("{outcome:?}").starts_with(expected),
        "set-up run at {now}: {outcome:?}, expected {expected}"
    );
}

/// The explored run or command, on the world's (faulty) clients.
pub async fn run(world: &World, op: Op) -> Result<String, String> {
    run_at(world, op, world.now).await
}

async fn run_at(world: &World, op: Op, now: i64) -> Result<String, String> {
    let (clients, config) = (&world.clients, &world.canary.config);
    let ops = operator(clients, &world.canary);
    match op {
        Op::Promotion => {
            promotion::handle_promotion_at(clients, config, fixture("schedule-event.json"), now)
                .await
                .map(|o| format!("{o:?}"))
                .map_err(|e| e.to_string())
        }
        Op::Alarm => {
            rollback::handle_alarm_at(clients, config, fixture("alarm-v2-5xx-alarm.json"), now)
                .await
                .map(|o| format!("{o:?}"))
                .map_err(|e| e.to_string())
        }
        Op::Release => canaryctl::release::release(&ops, "2.0.0", false, now)
            .await
            .map_err(|e| e.to_string()),
        Op::ReleaseForce => canaryctl::release::release(&ops, "3.0.0", true, now)
            .await
            .map_err(|e| e.to_string()),
        Op::Abort => control::apply(&ops, Action::Abort, now)
            .await
            .map_err(|e| e.to_string()),
        Op::Pause => control::apply(&ops, Action::Pause, now)
            .await
            .map_err(|e| e.to_string()),
        Op::Resume => control::apply(&ops, Action::Resume, now)
            .await
            .map_err(|e| e.to_string()),
        Op::Promote => control::apply(&ops, Action::Promote, now)
            .await
            .map_err(|e| e.to_string()),
    }
}

/// What comes next, fault-free: a failed alarm invocation is retried twice by Lambda (about a
/// minute, then two, apart); a failed command is run again by the operator; then, while the
/// schedule is enabled, its next promotion run.
pub async fn recover(env: &Env, world: &World, op: Op, first: &Result<String, String>) {
    let mut now = world.now;
    match op {
        Op::Promotion => {}
        Op::Alarm => {
            let mut result = first.clone();
            for delay in [60, 120] {
                if result.is_ok() {
                    break;
                }
                now += delay;
                result = run_at(world, op, now).await;
            }
        }
        _ => {
            if first.is_err() {
                now += 30;
                let _ = run_at(world, op, now).await;
            }
        }
    }
    let enabled = schedule::is_enabled(&env.clients.scheduler, &world.canary.config)
        .await
        .expect("schedule readable");
    if enabled {
        let _ = run_at(world, Op::Promotion, now + 60).await;
    }
}

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
        .map(|(kind, _)| kind)
        // A hold changes nothing: a run that failed before it recorded its hold lost nothing.
        // A repeated rollback, and an alarm retried after its rollback was complete (recorded as
        // the fleet unhealthy while idle, as any alarm after a rollback is), are retries' traces.
        .filter(|kind| {
            !matches!(
                kind.as_str(),
                "hold" | "roll_back_repeat" | "unhealthy_while_idle"
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
fn invariants(world: &World, scenario: &Scenario, s: &Snapshot) -> Vec<String> {
    let plan = &world.canary.config.plan;
    let mut problems = Vec::new();
    if scenario.rolls_back && s.weights.v2 != 0 {
        problems.push(format!("V2 has traffic after the rollback: {}", s.weights));
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
