//! The closed loop, end to end: `lab --scenario both` at a modest rate, judged on what HAProxy
//! counted and what the emulator's listener holds, not on the controller's own report.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use alb_canary_lab::output::Summary;
use alb_canary_lab::timeline::{Record, Sample};

/// Each scenario is bounded by the lab itself (`--duration`: past it the lab fails); this only
/// stops a lab that hangs. The lab's plan judges 10 s periods with 20 s bakes: about 110 s to
/// promote and 20 s to roll back (measured by `cargo xtask bench-lab`, not asserted here).
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

    // Promote: the listener and HAProxy both end with everything on V2, and V1 served nothing
    // in the last seconds; V2 got requests and no errors all along.
    let dir = out.join("promote");
    let summary: Summary = read(&dir, "summary.json");
    let record: Record = read(&dir, "timeline.json");
    assert_eq!(summary.end, "completed");
    assert_eq!(
        (summary.listener_final.v1, summary.listener_final.v2),
        (0, 100)
    );
    let end = last(&record).haproxy;
    assert_eq!((end.v1.weight, end.v2.weight), (0, 100));
    assert_eq!(end.v2.hrsp_5xx, 0);
    let steps: Vec<u32> = record
        .samples
        .windows(2)
        .filter(|w| w[0].haproxy.v2.weight != w[1].haproxy.v2.weight)
        .map(|w| w[1].haproxy.v2.weight)
        .collect();
    assert_eq!(
        steps,
        [10, 25, 50, 100],
        "HAProxy's V2 weight went through every step"
    );
    let tail: Vec<&Sample> = record
        .samples
        .iter()
        .filter(|s| s.t > last(&record).t - 3.0)
        .collect();
    assert!(tail.len() >= 2);
    assert_eq!(
        tail[0].haproxy.v1.stot, end.v1.stot,
        "V1 still got requests at 100 % V2"
    );
    assert!(end.v2.stot > tail[0].haproxy.v2.stot);

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
    let decisions: Vec<serde_json::Value> = read(&dir, "decisions.json");
    assert!(!decisions.is_empty());
    for name in ["lab.svg", "timeline.txt"] {
        assert!(dir.join(name).metadata().unwrap().len() > 0, "{name}");
    }
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alb-canary-lab-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
