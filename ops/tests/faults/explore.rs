//! The exploration: for each scenario (a phase of a release and the run or command taken in it),
//! a clean run, then the same run under each fault, each in a fresh canary of one emulator:
//!
//! 1. **crash after call k**, for every k below the clean run's number of calls: the run dies
//!    there (a Lambda timeout, a dead terminal); the remaining calls never happen;
//! 2. **answer lost on call k**: the call took effect, its answer was lost, the SDK retries it;
//! 3. **outage** of each service the run uses, of each kind (throttling, 500, 503, timeout,
//!    dropped connection): every attempt fails, outlasting the SDK's retries;
//! 4. **burst**: three throttled attempts on each service the run uses, which the SDK's
//!    retries absorb (`controller::clients::MAX_ATTEMPTS` is 4);
//! 5. **long outage** of ELBv2 while the rollback function runs on an alarm, of each kind: it
//!    outlasts the invocation and Lambda's two retries (the event goes to the dead-letter queue)
//!    and ends before the schedule's next run.
//!
//! Then what AWS or the operator does next, fault-free: the schedule's next run a minute later;
//! a failed alarm invocation retried twice by Lambda (then the dead-letter queue); a failed command
//! run again by the operator. Then the invariants, on the state table, the listener, the schedule,
//! the fleets' pointers and the release records:
//!
//! - after a rollback was decided or an alarm delivered, the canary's weight is 0 and the state rolled back;
//! - the listener's weights are a plan step or stable-only;
//! - the state and the listener agree, or the state says drift (paused, notified);
//! - a release in progress has its schedule running (else nothing moves it on: stuck);
//! - a fleet pointer names a published version; idle or rolled back, the stable fleet's names the
//!   stable version; every record is closed unless its release is in progress;
//! - the world after recovery is the clean run's world: the same state, weights, schedule,
//!   pointers, records (their steps too) and decisions (no history item lost or doubled; a
//!   repeated rollback's `roll_back_repeat` aside), and no notification fewer.

use alb_canary_tests::controller_env::Env;
use alb_canary_tests::faults::{Faults, Kind, Target};
use std::collections::BTreeSet;

use crate::snapshot::{Snapshot, invariants, snapshot};
pub use crate::world::{Op, Phase, World, operator, setup, t0};
use crate::world::{recover, run};

pub struct Scenario {
    pub name: &'static str,
    pub phase: Phase,
    pub op: Op,
    /// A rollback is decided or delivered: canary must end at 0.
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
    scenario("skip-bake", Phase::FirstStep, Op::SkipBake, false),
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
    /// ELBv2 failing through an alarm's invocation and both of Lambda's retries (alarm scenarios).
    LongOutage,
}

impl Campaign {
    pub const ALL: &[Campaign] = &[
        Campaign::Crash,
        Campaign::AnswerLost,
        Campaign::Outage,
        Campaign::Burst,
        Campaign::LongOutage,
    ];
}

const OUTAGE_KINDS: [Kind; 5] = [
    Kind::Throttle,
    Kind::Http500,
    Kind::Http503,
    Kind::Timeout,
    Kind::Dropped,
];

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
    recover(env, &world, scenario.op, &first, false).await;
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
    long: bool,
) -> (Result<String, String>, Vec<String>) {
    let world = setup(env, scenario.phase, t0).await;
    inject(&world.faults);
    let result = run(&world, scenario.op).await;
    if !long {
        world.faults.heal();
    }
    recover(env, &world, scenario.op, &result, long).await;
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

/// One fault on one scenario: the problems found after recovery (none: survived). `long`: the
/// fault lasts through the alarm's retries ([`recover`]).
pub async fn check_one(scenario: &Scenario, inject: impl Fn(&Faults), long: bool) -> Vec<String> {
    let env = &Env::start().await;
    let t0 = t0();
    match clean_run(env, scenario, t0).await {
        Err(err) => vec![err],
        Ok(clean) => faulty_run(env, scenario, t0, &clean, &inject, long).await.1,
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
    // Faults that last through the recovery's retries.
    let mut long_faults: Vec<(String, Inject)> = Vec::new();
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
            Campaign::LongOutage => {
                if scenario.op != Op::Alarm || !clean.services.contains("elbv2") {
                    continue;
                }
                for kind in OUTAGE_KINDS {
                    long_faults.push((
                        format!("elbv2 outage ({}) through the alarm's retries", kind.name()),
                        Box::new(move |f: &Faults| {
                            f.fail(Target::service("elbv2"), kind, u32::MAX)
                        }),
                    ));
                }
            }
        }
    }
    let faults = faults
        .into_iter()
        .map(|(name, inject)| (name, inject, false));
    let long_faults = long_faults
        .into_iter()
        .map(|(name, inject)| (name, inject, true));
    for (name, inject, long) in faults.chain(long_faults) {
        let (result, problems) = faulty_run(env, scenario, t0, &clean, &*inject, long).await;
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
