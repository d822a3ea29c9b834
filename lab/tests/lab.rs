//! The closed loop, end to end: `lab --scenario both` at a modest rate, a slow canary and a canary whose
//! process dies, judged on what HAProxy counted and what the emulator's listener holds, not on
//! the controller's own report.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use alb_canary_lab::haproxy::ServerStat;
use alb_canary_lab::output::Summary;
use alb_canary_lab::timeline::{Record, Sample};

/// Each scenario is bounded by the lab itself (`--duration`: past it the lab fails); this only
/// stops a lab that hangs (two labs run, one after the other). The lab's plan judges 10 s periods with 20 s bakes: a release takes
/// about 120 s, a rollback 30 s (measured by `cargo xtask bench-lab`, not asserted here).
const SCENARIO_LIMIT_SECS: u64 = 200;
const WALL_LIMIT: Duration = Duration::from_secs(2 * SCENARIO_LIMIT_SECS + 60);

fn recommender() -> PathBuf {
    let root = alb_canary_tests::project_root();
    let status = Command::new(env!("CARGO"))
        .current_dir(&root)
        .args(["build", "--quiet", "-p", "recommender"])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the recommender failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    target.join("debug/recommender")
}

/// The target signal's proxy, built like the recommender (`--signal-binary`).
fn signal() -> PathBuf {
    let root = alb_canary_tests::project_root();
    let status = Command::new(env!("CARGO"))
        .current_dir(&root)
        .args(["build", "--quiet", "-p", "target-signal"])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building alb-canary-signal failed");
    recommender().with_file_name("alb-canary-signal")
}

fn read<T: serde::de::DeserializeOwned>(dir: &Path, name: &str) -> T {
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn last(record: &Record) -> &Sample {
    record.samples.last().expect("the sampler recorded samples")
}

/// Labs run one at a time: each drives real traffic and measures seconds.
static ONE_LAB: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs the lab with `args` (plus the recommender and an output directory) to its end; fails the
/// test when the lab does (a scenario that ends otherwise than it set out to is a lab failure).
fn run_lab(name: &str, args: &[impl AsRef<std::ffi::OsStr> + std::fmt::Debug]) -> PathBuf {
    let _one = ONE_LAB
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // Short: HAProxy's runtime socket lives under it (unix socket paths stop at 108 bytes).
    let out = tempdir(name);
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(args)
        .args(["--duration", &SCENARIO_LIMIT_SECS.to_string()])
        .arg("--recommender")
        .arg(recommender())
        .arg("--out")
        .arg(&out)
        .spawn()
        .expect("the lab starts");
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > WALL_LIMIT {
            let _ = child.kill();
            panic!("the lab ran longer than {WALL_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(status.success(), "lab {args:?} failed: {status}");
    out
}

#[test]
fn a_canary_only_slower_than_stable_is_cut_off_and_the_stable_fleet_stays() {
    // No errors at all, canary 400 ms slower; stable served nothing before the canary, so the
    // threshold comes from the stable version's first 30 s in it.
    let out = run_lab("latency", &latency_fault(400));
    let decisions = slow_canary_cut_off(&out.join("rollback"), 400.0);
    let rollback = rolled_back_by(&decisions);
    assert_eq!(
        rollback["source"], "schedule",
        "the judge rolled back: {rollback}"
    );
}

#[test]
fn the_latency_alarm_alone_cuts_off_a_canary_slower_than_its_threshold() {
    // The backstop: a judge that only holds on a latency breach (as a broken or throttled
    // promotion function would do nothing at all), and a canary 1.7 s slow, over the alarm's 1.5 s.
    let out = tempdir("hold-plan");
    let plan = out.join("plan.json");
    let mut hold = alb_canary_lab::options::lab_plan();
    hold.health.latency.on_breach = contract::LatencyBreach::Hold;
    std::fs::write(&plan, hold.to_json()).unwrap();
    let mut args = latency_fault(1700);
    args.extend(["--plan".to_owned(), plan.display().to_string()]);
    let out = run_lab("alarm", &args);
    let decisions = slow_canary_cut_off(&out.join("rollback"), 1700.0);
    let rollback = rolled_back_by(&decisions);
    assert_eq!(rollback["source"], "alarm", "{rollback}");
    assert!(
        rollback["text"]
            .as_str()
            .unwrap_or_default()
            .contains("p99-latency"),
        "{rollback}"
    );
}

#[test]
fn the_target_signal_alone_cuts_off_a_canary_slower_than_stable_but_under_the_albs_threshold() {
    // The real proxy in front of every process, its 10 s metrics delayed in the emulator as
    // CloudWatch ingests them; a judge that only holds on a latency breach, and a canary 400 ms slow:
    // far below the ALB alarm's absolute 1.5 s, so only the target alarm, relative to stable, sees it.
    let out = tempdir("signal-plan");
    let plan = out.join("plan.json");
    let mut hold = alb_canary_lab::options::lab_plan();
    hold.health.latency.on_breach = contract::LatencyBreach::Hold;
    hold.health.signal = contract::Signal::Targets;
    std::fs::write(&plan, hold.to_json()).unwrap();
    let mut args = latency_fault(400);
    args.extend(["--plan".to_owned(), plan.display().to_string()]);
    args.extend(["--signal".to_owned(), "--signal-binary".to_owned()]);
    args.push(signal().display().to_string());
    let out = run_lab("signal", &args);
    let decisions = slow_canary_cut_off(&out.join("rollback"), 400.0);
    let rollback = rolled_back_by(&decisions);
    assert_eq!(rollback["source"], "alarm", "{rollback}");
    assert!(
        rollback["text"]
            .as_str()
            .unwrap_or_default()
            .contains("canary-target-p90-latency"),
        "{rollback}"
    );
}

/// The rollback scenario at 40 rps with canary `ms` slower and no errors.
fn latency_fault(ms: u32) -> Vec<String> {
    [
        "--scenario",
        "rollback",
        "--rps",
        "40",
        "--fault-error-rate",
        "0",
        "--fault-latency-ms",
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .chain([ms.to_string()])
    .collect()
}

/// The lab's decisions' one rollback.
fn rolled_back_by(decisions: &[serde_json::Value]) -> &serde_json::Value {
    let rollbacks: Vec<_> = decisions
        .iter()
        .filter(|d| d["kind"] == "rolled_back")
        .collect();
    assert_eq!(rollbacks.len(), 1, "{rollbacks:?}");
    rollbacks[0]
}

/// What HAProxy and the emulator show after a canary `slow_ms` slower (no errors) was rolled back:
/// Canary answered slowly, got no request once its weight went to 0, the listener is stable-only,
/// and stable still serves the stable version. Returns the lab's decisions.
fn slow_canary_cut_off(dir: &Path, slow_ms: f64) -> Vec<serde_json::Value> {
    let summary: Summary = read(dir, "summary.json");
    let record: Record = read(dir, "timeline.json");
    assert_eq!(summary.end, "rolled_back");
    assert_eq!(
        (summary.listener_final.stable, summary.listener_final.canary),
        (100, 0)
    );
    let end = last(&record).haproxy;
    assert_eq!(end.canary.weight, 0);
    assert_eq!(end.canary.hrsp_5xx, 0, "the fault was latency alone");
    let fault_on = summary.fault_on_at.expect("the fault switched on");
    // HAProxy's own per-request log saw canary slow once the fault was on.
    assert!(
        record
            .samples
            .iter()
            .filter(|s| s.t > fault_on + 1.0)
            .filter_map(|s| s.canary_latency_ms)
            .any(|ms| ms >= slow_ms),
        "canary never answered slowly in HAProxy's log"
    );
    let zero = record
        .samples
        .iter()
        .find(|s| s.t > fault_on && s.haproxy.canary.weight == 0)
        .expect("HAProxy's canary weight went back to 0");
    let settled = at(&record, zero.t + 2.0);
    quiet(
        &record,
        settled.t,
        f64::MAX,
        |s| s.haproxy.canary.stot,
        "canary after the rollback",
    );
    assert_eq!(
        end.stable.port, summary.processes.stable,
        "the stable fleet was not moved: stable still serves 1.0.0"
    );
    let table = &summary.state_final;
    assert_eq!(
        (table.status.as_str(), table.stable_version.as_deref()),
        ("rolled_back", Some("1.0.0"))
    );
    read(dir, "decisions.json")
}

#[test]
fn a_healthy_canary_reaches_all_traffic_and_a_failing_one_is_cut_off() {
    let out = run_lab("both", &["--scenario", "both", "--rps", "40"]);

    // Promote, as a release: HAProxy's canary weight goes through every step to 100 % and, once the
    // stable fleet serves the release, back to 0 with the listener stable-only again; at 100 %
    // the stable server got no request; at the end the stable server points at the release's process and
    // the canary server gets nothing. The state table says idle on the release, the record released.
    let dir = out.join("promote");
    let summary: Summary = read(&dir, "summary.json");
    let record: Record = read(&dir, "timeline.json");
    assert_eq!(summary.end, "released");
    assert_eq!(
        (summary.listener_final.stable, summary.listener_final.canary),
        (100, 0)
    );
    let end = last(&record).haproxy;
    assert_eq!((end.stable.weight, end.canary.weight), (100, 0));
    assert_eq!(end.canary.hrsp_5xx, 0);
    assert_eq!(
        (end.stable.port, end.canary.port),
        (summary.processes.release, summary.processes.release),
        "the stable fleet's server serves the release"
    );
    let steps: Vec<u32> = record
        .samples
        .windows(2)
        .filter(|w| w[0].haproxy.canary.weight != w[1].haproxy.canary.weight)
        .map(|w| w[1].haproxy.canary.weight)
        .collect();
    assert_eq!(
        steps,
        [10, 25, 50, 100, 0],
        "HAProxy's canary weight went through every step, then back to 0"
    );
    let all_canary = became(&record, |s| s.haproxy.canary.weight == 100);
    let released = became(&record, |s| {
        s.haproxy.stable.weight == 100 && s.t > all_canary
    });
    quiet(
        &record,
        all_canary + 2.0,
        released,
        |s| s.haproxy.stable.stot,
        "stable at 100 % canary",
    );
    quiet(
        &record,
        released + 2.0,
        f64::MAX,
        |s| s.haproxy.canary.stot,
        "canary after the release",
    );
    assert!(
        end.stable.stot > at(&record, released).haproxy.stable.stot,
        "traffic went on, to the stable server"
    );
    let table = &summary.state_final;
    assert_eq!(
        (table.status.as_str(), table.stable_version.as_deref()),
        ("idle", Some("2.0.0"))
    );
    assert_eq!(table.record_outcome.as_deref(), Some("released"));

    // Rollback: canary served requests and failed some after its faults switched on; the listener
    // and HAProxy end with canary at 0, and from 2 s after HAProxy's canary weight became 0 its request
    // counter never moves again.
    let dir = out.join("rollback");
    let summary: Summary = read(&dir, "summary.json");
    let record: Record = read(&dir, "timeline.json");
    assert_eq!(summary.end, "rolled_back");
    assert_eq!(
        (summary.listener_final.stable, summary.listener_final.canary),
        (100, 0)
    );
    let end = last(&record).haproxy;
    assert_eq!(end.canary.weight, 0);
    assert!(
        end.canary.hrsp_5xx > 0,
        "the canary's faults never showed in HAProxy"
    );
    let fault_on = summary.fault_on_at.expect("the faults switched on");
    let zero = record
        .samples
        .iter()
        .find(|s| s.t > fault_on && s.haproxy.canary.weight == 0)
        .expect("HAProxy's canary weight went back to 0");
    let settled = record
        .samples
        .iter()
        .find(|s| s.t >= zero.t + 2.0)
        .expect("the timeline goes on for 2 s after the rollback");
    assert!(settled.haproxy.canary.stot > 0);
    for s in record.samples.iter().filter(|s| s.t >= settled.t) {
        assert_eq!(
            s.haproxy.canary.stot, settled.haproxy.canary.stot,
            "canary got a request at {:.1} s, after the rollback took effect at {:.1} s",
            s.t, zero.t
        );
    }
    assert!(
        end.stable.stot > settled.haproxy.stable.stot,
        "traffic went on, to stable"
    );
    assert_eq!(
        end.stable.port, summary.processes.stable,
        "stable still serves 1.0.0"
    );
    let table = &summary.state_final;
    assert_eq!(
        (table.status.as_str(), table.stable_version.as_deref()),
        ("rolled_back", Some("1.0.0"))
    );
    assert_eq!(table.record_outcome.as_deref(), Some("rolled_back"));
    let decisions: Vec<serde_json::Value> = read(&dir, "decisions.json");
    assert!(!decisions.is_empty());
    for name in ["lab.svg", "timeline.txt"] {
        assert!(dir.join(name).metadata().unwrap().len() > 0, "{name}");
    }
}

#[test]
fn a_canary_whose_process_dies_keeps_its_share_and_fails_until_the_controller_takes_it_to_0() {
    let out = run_lab(
        "kill",
        &["--scenario", "rollback", "--fault", "kill", "--rps", "40"],
    );
    let dir = out.join("rollback");
    let summary: Summary = read(&dir, "summary.json");
    let record: Record = read(&dir, "timeline.json");
    assert_eq!(summary.end, "rolled_back");
    assert_eq!(
        (summary.listener_final.stable, summary.listener_final.canary),
        (100, 0)
    );
    // HAProxy's canary counters right after the kill, as the lab read them.
    let kill = record
        .events
        .iter()
        .find(|e| e.kind == "fault_on")
        .expect("the kill happened");
    assert_eq!(kill.detail["kind"], "kill", "{kill:?}");
    let at_kill: ServerStat =
        serde_json::from_value(kill.detail["canary_at_kill"].clone()).unwrap();
    assert!(at_kill.weight > 0, "canary was killed with no weight");
    let zero = record
        .samples
        .iter()
        .find(|s| s.t > kill.t && s.haproxy.canary.weight == 0)
        .expect("HAProxy's canary weight went to 0 after the kill");
    // Fail open: while the canary still had its weight, HAProxy kept sending it requests, and every one
    // failed (a refused connection, not a target 5XX).
    let before_zero = record
        .samples
        .iter()
        .rfind(|s| s.t > kill.t && s.t < zero.t)
        .expect("samples between the kill and the canary's weight 0")
        .haproxy
        .canary;
    let sent = before_zero.stot - at_kill.stot;
    let refused = before_zero.econ - at_kill.econ;
    let failed = refused + (before_zero.eresp - at_kill.eresp);
    assert!(
        sent > 0,
        "the dead canary got no request: HAProxy routed around it"
    );
    assert!(refused > 0, "no refused connection to the dead canary");
    assert!(
        failed >= sent,
        "{sent} requests to the dead canary, {failed} failed"
    );
    assert_eq!(
        before_zero.hrsp_5xx, at_kill.hrsp_5xx,
        "a dead canary answers no 5XX"
    );
    // The target health checks saw it, and the controller's cut-off held: nothing reached canary
    // from 2 s after its weight became 0.
    assert!(
        record
            .events
            .iter()
            .any(|e| e.source == "health" && e.kind == "unhealthy" && e.t > kill.t),
        "the canary's target never turned unhealthy"
    );
    quiet(
        &record,
        zero.t + 2.0,
        f64::MAX,
        |s| s.haproxy.canary.stot,
        "canary after its weight 0",
    );
    let end = last(&record).haproxy;
    assert_eq!(
        (end.stable.econ, end.stable.hrsp_5xx),
        (0, 0),
        "stable was untouched"
    );
    assert!(
        end.stable.stot > at(&record, zero.t).haproxy.stable.stot,
        "traffic went on, to stable"
    );
    let fail_open = summary.fail_open.expect("the summary measured the kill");
    assert_eq!(fail_open.missed(), None);
    assert!(fail_open.canary_requests_after_kill >= sent);
    let table = &summary.state_final;
    assert_eq!(
        (table.status.as_str(), table.stable_version.as_deref()),
        ("rolled_back", Some("1.0.0"))
    );
}

/// When a sample first satisfied `what` (seconds into the scenario).
fn became(record: &Record, what: impl Fn(&Sample) -> bool) -> f64 {
    record
        .samples
        .iter()
        .find(|s| what(s))
        .map(|s| s.t)
        .expect("the timeline shows it")
}

/// The first sample at or after `t`.
fn at(record: &Record, t: f64) -> &Sample {
    record
        .samples
        .iter()
        .find(|s| s.t >= t)
        .expect("the timeline goes on")
}

/// A server's request counter did not move between `from` and `until`.
fn quiet(record: &Record, from: f64, until: f64, counter: fn(&Sample) -> u64, what: &str) {
    let first = counter(at(record, from));
    for s in record.samples.iter().filter(|s| s.t >= from && s.t < until) {
        assert_eq!(counter(s), first, "{what}: a request at {:.1} s", s.t);
    }
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alb-canary-lab-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
