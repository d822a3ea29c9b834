//! The closed loop, end to end: `lab --scenario both` at a modest rate, judged on what HAProxy
//! counted and what the emulator's listener holds, not on the controller's own report.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use alb_canary_lab::output::Summary;
use alb_canary_lab::timeline::{Record, Sample};

/// Each scenario is bounded by the lab itself (`--duration`: past it the lab fails); this only
/// stops a lab that hangs. The lab's plan judges 10 s periods with 20 s bakes: a release takes
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

fn read<T: serde::de::DeserializeOwned>(dir: &Path, name: &str) -> T {
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn last(record: &Record) -> &Sample {
    record.samples.last().expect("the sampler recorded samples")
}

#[test]
fn a_healthy_canary_reaches_all_traffic_and_a_failing_one_is_cut_off() {
    let out = tempdir();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(["--scenario", "both", "--rps", "40", "--duration"])
        .arg(SCENARIO_LIMIT_SECS.to_string())
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
    assert!(status.success(), "lab failed: {status}");

    // Promote, as a release: HAProxy's V2 weight goes through every step to 100 % and, once the
    // stable fleet serves the release, back to 0 with the listener stable-only again; at 100 %
    // the V1 server got no request; at the end the V1 server points at the release's process and
    // the V2 server gets nothing. The state table says idle on the release, the record released.
    let dir = out.join("promote");
    let summary: Summary = read(&dir, "summary.json");
    let record: Record = read(&dir, "timeline.json");
    assert_eq!(summary.end, "released");
    assert_eq!(
        (summary.listener_final.v1, summary.listener_final.v2),
        (100, 0)
    );
    let end = last(&record).haproxy;
    assert_eq!((end.v1.weight, end.v2.weight), (100, 0));
    assert_eq!(end.v2.hrsp_5xx, 0);
    assert_eq!(
        (end.v1.port, end.v2.port),
        (summary.processes.release, summary.processes.release),
        "the stable fleet's server serves the release"
    );
    let steps: Vec<u32> = record
        .samples
        .windows(2)
        .filter(|w| w[0].haproxy.v2.weight != w[1].haproxy.v2.weight)
        .map(|w| w[1].haproxy.v2.weight)
        .collect();
    assert_eq!(
        steps,
        [10, 25, 50, 100, 0],
        "HAProxy's V2 weight went through every step, then back to 0"
    );
    let all_v2 = became(&record, |s| s.haproxy.v2.weight == 100);
    let released = became(&record, |s| s.haproxy.v1.weight == 100 && s.t > all_v2);
    quiet(
        &record,
        all_v2 + 2.0,
        released,
        |s| s.haproxy.v1.stot,
        "V1 at 100 % V2",
    );
    quiet(
        &record,
        released + 2.0,
        f64::MAX,
        |s| s.haproxy.v2.stot,
        "V2 after the release",
    );
    assert!(
        end.v1.stot > at(&record, released).haproxy.v1.stot,
        "traffic went on, to the stable server"
    );
    let table = &summary.state_final;
    assert_eq!(
        (table.status.as_str(), table.stable_version.as_deref()),
        ("idle", Some("2.0.0"))
    );
    assert_eq!(table.record_outcome.as_deref(), Some("released"));

    // Rollback: V2 served requests and failed some after its faults switched on; the listener
    // and HAProxy end with V2 at 0, and from 2 s after HAProxy's V2 weight became 0 its request
    // counter never moves again.
    let dir = out.join("rollback");
    let summary: Summary = read(&dir, "summary.json");
    let record: Record = read(&dir, "timeline.json");
    assert_eq!(summary.end, "rolled_back");
    assert_eq!(
        (summary.listener_final.v1, summary.listener_final.v2),
        (100, 0)
    );
    let end = last(&record).haproxy;
    assert_eq!(end.v2.weight, 0);
    assert!(end.v2.hrsp_5xx > 0, "V2's faults never showed in HAProxy");
    let fault_on = summary.fault_on_at.expect("the faults switched on");
    let zero = record
        .samples
        .iter()
        .find(|s| s.t > fault_on && s.haproxy.v2.weight == 0)
        .expect("HAProxy's V2 weight went back to 0");
    let settled = record
        .samples
        .iter()
        .find(|s| s.t >= zero.t + 2.0)
        .expect("the timeline goes on for 2 s after the rollback");
    assert!(settled.haproxy.v2.stot > 0);
    for s in record.samples.iter().filter(|s| s.t >= settled.t) {
        assert_eq!(
            s.haproxy.v2.stot, settled.haproxy.v2.stot,
            "V2 got a request at {:.1} s, after the rollback took effect at {:.1} s",
            s.t, zero.t
        );
    }
    assert!(
        end.v1.stot > settled.haproxy.v1.stot,
        "traffic went on, to V1"
    );
    assert_eq!(
        end.v1.port, summary.processes.stable,
        "V1 still serves 1.0.0"
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

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alb-canary-lab-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
