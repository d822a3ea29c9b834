//! One scenario from start to stop: the emulator deployed as the template says, the services,
//! HAProxy, and the loops (syncer, sampler, bridge + alarms, schedule, traffic, fault), until the
//! canary completes or is rolled back, then a few seconds more to show the traffic settle.
//! Every process and task belongs to this function's frame: returning, failing or being
//! cancelled (Ctrl-C) stops them all.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alb_canary_tests::refresh::InstanceRefreshes;
use alb_canary_tests::stack_in_moto::{self, LoadBalancer};
use alb_canary_tests::{Moto, free_port};
use contract::Plan;
use controller::Config;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::alarm_spec::AlarmSpec;
use crate::context::{Ctx, End};
use crate::logbook::Group;
use crate::service::Faults;
use crate::target_health::{HealthCheck, HostBook};
use crate::timeline::Recorder;
use crate::timing::{Profile, Timing};
use crate::weights::HaproxyWeights;
use crate::{
    alarms, bridge, fault, haproxy, logbook, output, promoter, release, sampler, service, syncer,
    target_health, traffic,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// A healthy canary goes through every step and completes.
    Promote,
    /// Canary goes bad at its first step (its errors switch on, or its process dies: `--fault`); the
    /// canary must be rolled back.
    Rollback,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Promote => "promote",
            Scenario::Rollback => "rollback",
        }
    }

    /// How the scenario must end: a healthy canary released, a faulty one rolled back.
    pub fn expected_end(self) -> &'static str {
        match self {
            Scenario::Promote => "released",
            Scenario::Rollback => "rolled_back",
        }
    }

    /// One line saying what went wrong when the scenario ended otherwise (`end` as the summary
    /// says it); `None` when it did what it set out to do.
    pub fn missed(self, end: &str) -> Option<String> {
        (end != self.expected_end()).then(|| match self {
            Scenario::Promote => format!(
                "promote scenario: the healthy canary ended {end}, not released (a false rollback)"
            ),
            Scenario::Rollback => format!(
                "rollback scenario: the faulty canary ended {end}, not rolled back (the fault was not caught)"
            ),
        })
    }
}

pub struct Options {
    pub rps: u32,
    /// Upper bound on one scenario.
    pub duration: Duration,
    pub plan: Plan,
    pub out: PathBuf,
    pub recommender: PathBuf,
    pub haproxy: PathBuf,
    /// The rollback scenario's fault.
    pub fault: fault::Kind,
    /// The canary's fault knobs under the `errors` fault.
    pub faults: Faults,
    /// How often the promotion schedule fires (the stack's minute, compressed).
    pub tick: Duration,
    /// When the ALB metrics become visible.
    pub timing: Timing,
    /// The target signal in front of every process (`--signal`).
    pub signal: Option<crate::options::SignalOptions>,
}

/// The canary's share (percent) at which the rollback scenario's faults switch on: its first step.
fn fault_at_percent(plan: &Plan) -> f64 {
    f64::from(plan.steps[0])
}

pub async fn run(scenario: Scenario, opts: &Options) -> Result<output::Summary, String> {
    let dir = opts.out.join(scenario.name());
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let recorder = Arc::new(Recorder::new(scenario.name()));
    let bound = opts.duration.as_secs() + 30;

    // The AWS side, as the template declares it, with the lab's plan as the CanaryPlan parameter
    // and, compressed, the alarm's minimum requests scaled like its period (60 s → 10 s).
    // With the target signal, the emulator delays the proxies' metrics as CloudWatch ingests them.
    let emulator_env: Vec<(&str, String)> = match &opts.signal {
        Some(signal) => vec![
            (
                "ALB_CANARY_INGESTION_DELAY",
                format!(
                    "{}={}-{}",
                    contract::target_metric::NAMESPACE,
                    signal.delay_secs.0,
                    signal.delay_secs.1
                ),
            ),
            ("ALB_CANARY_INGESTION_SEED", opts.timing.seed.to_string()),
        ],
        None => Vec::new(),
    };
    let moto = tokio::task::block_in_place(|| Moto::start_with(&emulator_env));
    let lb = LoadBalancer::create(&moto, "lab-alb").await;
    let plan = opts.plan.to_json();
    let min_requests = stack_default("CanaryAlarmMinRequests")?;
    let min_requests = match opts.timing.profile {
        Profile::Compressed => scaled_min_requests(&min_requests, opts.timing.period_secs),
        Profile::Aws => min_requests,
    };
    let target_signal = if opts.signal.is_some() {
        "enabled"
    } else {
        "disabled"
    };
    let deployed = stack_in_moto::deploy(
        &moto,
        &lb,
        &[
            ("CanaryPlan", plan.as_str()),
            ("CanaryAlarmMinRequests", min_requests.as_str()),
            ("TargetSignal", target_signal),
        ],
    )
    .await;
    let vars = &deployed.function_env["PromotionFunction"];
    let config = Config::from_lookup(|n| vars.get(n).cloned())
        .map_err(|e| format!("the template's PromotionFunction environment: {e}"))?;
    // moto has no instance refreshes: the harness's refresh server answers them, and the lab
    // finishes each once HAProxy points the fleet's server at the version's process.
    let refreshes = Arc::new(InstanceRefreshes::start());
    let clients = refreshes.clients(&moto.sdk_config().await);
    // The release lifecycle's start: the stack idle on the stable version, the release
    // published and released by the operators' `release`: a deploying release whose canary starts
    // once its fleet's refresh is done.
    let released = release::start(
        &clients,
        &config,
        &opts.recommender,
        opts.signal.as_ref().map(|s| s.binary.as_path()),
        controller::now_secs(),
    )
    .await?;
    let (alarms, alarm_arns) = alarm_specs(&deployed.deployment)?;
    let health_checks = health_checks(&deployed.deployment, &opts.timing)?;
    let checked = health_checks
        .last()
        .map(|(_, c)| {
            format!(
                "target health checked every {} ms (timeout {} ms), unhealthy after {} failures, healthy after {} passes",
                c.interval.as_millis(),
                c.timeout.as_millis(),
                c.unhealthy_threshold,
                c.healthy_threshold
            )
        })
        .unwrap_or_default();

    // The services and the balancer.
    let ports = (free_port(), free_port(), free_port(), free_port());
    let (stable_port, canary_port, faulty_port, frontend_port) = ports;
    let recommender = &opts.recommender;
    let healthy = Faults::default();
    let moto_env = moto.env();
    let signal = match &opts.signal {
        Some(signal) => Some((
            signal.binary.as_path(),
            group_dimension(&config.stable_tg_arn)?,
            group_dimension(&config.canary_tg_arn)?,
        )),
        None => None,
    };
    let sink = |target_group| service::SignalSink {
        env: &moto_env,
        load_balancer: &config.load_balancer,
        target_group,
    };
    let stable_sink = signal.map(|(_, stable, _)| sink(stable));
    let canary_sink = signal.map(|(_, _, canary)| sink(canary));
    let binary = signal.map(|(binary, ..)| binary);
    let _stable = service::start_target(
        recommender,
        "stable",
        "v1",
        stable_port,
        healthy,
        binary.zip(stable_sink.as_ref()),
        &dir,
        bound,
    )
    .await?;
    let canary = service::start_target(
        recommender,
        "canary",
        "v2",
        canary_port,
        healthy,
        binary.zip(canary_sink.as_ref()),
        &dir,
        bound,
    )
    .await?;
    let _faulty = match (scenario, opts.fault) {
        (Scenario::Rollback, fault::Kind::Errors) => Some(
            service::start_target(
                recommender,
                "canary-faulty",
                "v2",
                faulty_port,
                opts.faults,
                binary.zip(canary_sink.as_ref()),
                &dir,
                bound,
            )
            .await?,
        ),
        _ => None,
    };
    let log_socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let layout = haproxy::Layout {
        frontend_port,
        stable_port,
        canary_port,
        log_port: log_socket.local_addr().map_err(|e| e.to_string())?.port(),
        dir: dir.clone(),
    };
    let _haproxy = haproxy::start(&opts.haproxy, &layout, bound).await?;
    let processes = release::Processes {
        stable: stable_port,
        release: canary_port,
    };

    let (end_tx, mut end_rx) = watch::channel(None);
    let ctx = Arc::new(Ctx {
        clients,
        config,
        socket: layout.socket(),
        book: Arc::new(logbook::LogBook::default()),
        health: HostBook::default(),
        recorder: recorder.clone(),
        timing: opts.timing.clone(),
        schedule_event: deployed.schedule_event.clone(),
        alarms,
        alarm_arns,
        listener: Mutex::new(None),
        alarm_peaks: Mutex::default(),
        end: end_tx,
    });
    let counts = Arc::new(traffic::Counts::default());
    let (applied_tx, applied_rx) = watch::channel(HaproxyWeights {
        stable: 100,
        canary: 0,
    });
    let mut tasks: JoinSet<Result<(), String>> = JoinSet::new();
    let book = ctx.book.clone();
    tasks.spawn(async move {
        logbook::receive(log_socket, book).await;
        Ok(())
    });
    tasks.spawn(syncer::run(ctx.clone(), applied_tx));
    tasks.spawn(sampler::run(ctx.clone()));
    tasks.spawn(bridge::run(ctx.clone()));
    for (group, check) in health_checks {
        tasks.spawn(target_health::run(ctx.clone(), group, check));
    }
    tasks.spawn(alarms::run(ctx.clone()));
    tasks.spawn(promoter::run(ctx.clone(), opts.tick));
    tasks.spawn(release::fleets(ctx.clone(), refreshes.clone(), processes));
    let (c, rps) = (counts.clone(), opts.rps);
    tasks.spawn(async move {
        traffic::run(frontend_port, rps, c).await;
        Ok(())
    });
    if scenario == Scenario::Rollback {
        let at = fault_at_percent(&opts.plan);
        match opts.fault {
            fault::Kind::Errors => {
                tasks.spawn(fault::errors_on(
                    ctx.clone(),
                    applied_rx,
                    at,
                    faulty_port,
                    opts.faults,
                ));
            }
            fault::Kind::Kill => {
                let mid_step = Duration::from_secs(opts.plan.bake_seconds / 2);
                let pid = canary.service_pid()?;
                tasks.spawn(fault::kill_at_step(
                    ctx.clone(),
                    applied_rx,
                    at,
                    mid_step,
                    pid,
                ));
            }
        }
    }
    recorder.event("operator", "release", released);
    recorder.event(
        "lab",
        "start",
        format!(
            "{} rps through HAProxy 127.0.0.1:{frontend_port}; plan {:?} with {} s bakes on {} s periods; {} timing: ALB periods of {} s visible {}-{} s after they end; {checked}",
            opts.rps, opts.plan.steps, opts.plan.bake_seconds, opts.plan.health.period_seconds,
            opts.timing.profile.name(), opts.timing.period_secs, opts.timing.delay_secs.0, opts.timing.delay_secs.1
        ),
    );

    let deadline = tokio::time::Instant::now() + opts.duration;
    let end = loop {
        tokio::select! {
            changed = end_rx.changed() => {
                changed.map_err(|_| "the scenario's end signal was dropped")?;
                if let Some(end) = *end_rx.borrow() { break end; }
            }
            Some(done) = tasks.join_next() => match done {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(format!("{} scenario: {e}", scenario.name())),
                Err(e) => return Err(format!("{} scenario: a task failed: {e}", scenario.name())),
            },
            _ = tokio::time::sleep_until(deadline) => {
                return Err(format!(
                    "{} scenario did not finish within {} s (--duration); see {}",
                    scenario.name(), opts.duration.as_secs(), dir.display()
                ));
            }
        }
    };
    // Keep traffic, syncer and sampler running: the timeline shows where requests go after the
    // last decision (the test checks that the canary gets none after a rollback).
    tokio::time::sleep(Duration::from_secs(match end {
        End::RolledBack => 6,
        End::Released => 4,
    }))
    .await;
    let listener = controller::listener::read(&ctx.clients.elbv2, &ctx.config)
        .await
        .map_err(|e| format!("DescribeListeners: {e}"))?
        .weights;
    let stats = haproxy::stats(&ctx.socket).await?;
    let table = release::recorded(&ctx.clients, &ctx.config).await?;
    tasks.abort_all();
    recorder.event(
        "lab",
        "stop",
        format!("listener {listener}; stopping everything"),
    );
    let record = recorder.snapshot();
    let alarm_peaks = output::alarm_peaks(&ctx.alarms, &ctx.alarm_peaks.lock().unwrap());
    let summary = output::Summary::new(
        &record,
        end,
        output::Finally {
            listener,
            haproxy: stats,
            table,
            processes,
            alarm_peaks,
        },
        counts.totals(),
    );
    output::write(&dir, &record, &summary)?;
    Ok(summary)
}

/// A target group's `TargetGroup` dimension, from its ARN.
fn group_dimension(arn: &str) -> Result<&str, String> {
    controller::listener::target_group_dimension(arn)
        .ok_or_else(|| format!("{arn} has no target group dimension"))
}

/// A stack parameter's default value.
fn stack_default(name: &str) -> Result<String, String> {
    let template = stack::synthesize(&stack::Options::default()).to_json();
    template["Parameters"][name]["Default"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("the stack has no parameter {name} with a default"))
}

/// Requests per alarm period scale with the period: the stack's per-minute minimum over the
/// compressed periods (at least 1).
fn scaled_min_requests(per_minute: &str, period_secs: i64) -> String {
    let n: u64 = per_minute.parse().unwrap_or(50);
    (n * period_secs.max(1) as u64)
        .div_ceil(60)
        .max(1)
        .to_string()
}

/// Each target group's health check as the template declares it, on the profile's ALB clock.
fn health_checks(
    d: &alb_canary_tests::template::Deployment,
    timing: &Timing,
) -> Result<Vec<(Group, HealthCheck)>, String> {
    [
        (Group::Stable, "TargetGroupV1"),
        (Group::Canary, "TargetGroupV2"),
    ]
    .into_iter()
    .map(|(group, id)| {
        let check =
            HealthCheck::from_properties(&d.property(id, &[])).map_err(|e| format!("{id}: {e}"))?;
        Ok((group, check.scaled(timing.alb_clock_factor())))
    })
    .collect()
}

/// The template's alarms, resolved, and their ARNs by name.
fn alarm_specs(
    d: &alb_canary_tests::template::Deployment,
) -> Result<(Vec<AlarmSpec>, HashMap<String, String>), String> {
    let rollback_arn = d.get_att("RollbackFunction", "Arn");
    let mut specs = Vec::new();
    let mut arns = HashMap::new();
    let resources = d.template["Resources"].as_object().ok_or("no Resources")?;
    for (id, resource) in resources {
        if resource["Type"] != "AWS::CloudWatch::Alarm" {
            continue;
        }
        // An alarm whose condition is false is not deployed (the target signal's, when off).
        if let Some(condition) = resource["Condition"].as_str()
            && !d.condition(condition)
        {
            continue;
        }
        // The lab evaluates the alarms that roll back; the dead-letter queue's only notifies,
        // and the lab has no queue.
        let invokes_rollback = resource["Properties"]["AlarmActions"]
            .as_array()
            .is_some_and(|actions| {
                actions.contains(&serde_json::json!({"Fn::GetAtt": ["RollbackFunction", "Arn"]}))
            });
        if !invokes_rollback {
            continue;
        }
        let spec = AlarmSpec::from_properties(&d.property(id, &[]), &rollback_arn)?;
        spec.check()?;
        arns.insert(spec.name.clone(), d.get_att(id, "Arn"));
        specs.push(spec);
    }
    Ok((specs, arns))
}

#[cfg(test)]
mod scenario_tests {
    use super::Scenario;

    #[test]
    fn a_scenario_that_ends_otherwise_says_so() {
        assert_eq!(Scenario::Promote.missed("released"), None);
        assert_eq!(Scenario::Rollback.missed("rolled_back"), None);
        let missed = Scenario::Rollback.missed("released").unwrap();
        assert!(missed.contains("not rolled back"), "{missed}");
        let missed = Scenario::Promote.missed("rolled_back").unwrap();
        assert!(missed.contains("false rollback"), "{missed}");
    }
}
