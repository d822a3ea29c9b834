//! The exploration's world: a canary set up in a phase of a release, the run or command taken in
//! it, and what AWS or the operator does next.

use alb_canary_tests::controller_env::{Canary, Env, fixture, test_plan};
use alb_canary_tests::faults::Faults;
use canaryctl::control::{self, Action};
use canaryctl::settings::Target as Operator;
use contract::release::{Fleet, fleet_key};
use controller::decision::{Decision, Weights};
use controller::history::{Entry, Inputs, Judgement, PROMOTION, Record};
use controller::state::{self, Recorded};
use controller::{Clients, listener, promotion, rollback, schedule};

/// The versions published in every canary's artifact prefix.
pub const PUBLISHED: [&str; 3] = ["1.0.0", "2.0.0", "3.0.0"];

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
    /// At the first step, canary failing: the next run rolls back.
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
    /// The rollback function, invoked by the canary 5XX alarm.
    Alarm,
    /// `release 2.0.0`.
    Release,
    /// `release 3.0.0 --force`.
    ReleaseForce,
    Abort,
    Pause,
    Resume,
    SkipBake,
}

/// The exploration's clock: an hour-aligned time two hours back (the metrics' periods fall on the
/// same grid in every run).
pub fn t0() -> i64 {
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

pub fn operator(clients: &Clients, canary: &Canary) -> Operator {
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
    let (stable, canary) = (&config.stable_tg_arn, &config.canary_tg_arn);
    match phase {
        Phase::FirstStepFailing => {
            env.put_minute(stable, t1 + 30, 900.0, 0.0, 0.020).await;
            env.put_minute(canary, t1 + 30, 100.0, 20.0, 0.070).await;
            world.now = t1 + 150;
            return world;
        }
        Phase::FirstStep | Phase::Paused => {
            env.put_minute(stable, t1 + 30, 900.0, 0.0, 0.020).await;
            env.put_minute(canary, t1 + 30, 100.0, 0.0, 0.070).await;
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
            env.put_minute(stable, now + 30, p1, 0.0, 0.020).await;
        }
        env.put_minute(canary, now + 30, p2, 0.0, 0.070).await;
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
        r.canary.bake_started_at = now;
    });
    let record = rec.release.record.clone().expect("a release record");
    state::Batch::new()
        .replace(config, Some(&rec), &next, now)
        .and_then(|b| b.step(config, &record, step, percent, now))
        .and_then(|b| b.history(config, now * 1000, &promoted(&config.plan, &rec, step, now)))
        .expect("batch")
        .commit(&clients.dynamodb, config)
        .await
        .expect("promoted");
}

/// The history record of set-up's promotion to `step`, as a promotion run writes it.
fn promoted(plan: &contract::Plan, rec: &Recorded, step: usize, now: i64) -> Record {
    let percent = |step: usize| plan.steps[step];
    let judgement = Judgement {
        release: rec.release.version.clone(),
        decision: Decision::Promote {
            step,
            weights: Weights::for_percent(percent(step)),
        },
        state_before: Some(rec.canary.clone()),
        weights_before: Weights::for_percent(percent(rec.canary.step)),
        statistics: None,
        inputs: Inputs::default(),
    };
    Record::new(PROMOTION, now, Entry::Judgement(Box::new(judgement)))
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
        Op::Alarm => rollback::handle_alarm_at(
            clients,
            config,
            fixture("alarm-canary-error-rate-alarm.json"),
            now,
        )
        .await
        .map(|o| format!("{o:?}"))
        .map_err(|e| e.to_string()),
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
        Op::SkipBake => control::apply(&ops, Action::SkipBake, now)
            .await
            .map_err(|e| e.to_string()),
    }
}

/// What comes next: a failed alarm invocation is retried twice by Lambda (about a minute, then
/// two, apart); a failed command is run again by the operator; then, while the schedule is
/// enabled, its next promotion run. Fault-free, unless `long`: then the faults last through the
/// alarm's retries (the event goes to the dead-letter queue) and end before the promotion run.
pub async fn recover(env: &Env, world: &World, op: Op, first: &Result<String, String>, long: bool) {
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
            if long {
                assert!(result.is_err(), "the outage outlasted the alarm's retries");
                world.faults.heal();
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
