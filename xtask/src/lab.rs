//! `cargo xtask lab`: a canary rehearsed end to end on this machine (crate `lab/`, binary `lab`):
//! HAProxy as the ALB, the real controller against the moto emulator, the real service.
//! `cargo xtask bench-lab` runs both scenarios, and the rollback with V2's process killed, under
//! both timings and reports the measured targets.
//!
//! The arguments go to the lab untouched: it parses them (clap) and answers `--help`. It runs with
//! our command as its program name (`argv[0]`), so its usage lines and suggestions name what the
//! user typed.

use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::project::{delegate, root, run_command, target_dir};
use crate::venv;

/// Builds the lab and the service, then runs the lab with `args` (its defaults write under
/// `target/lab`).
pub fn run(args: &[String]) -> crate::Result {
    run_as("cargo xtask lab", args)
}

fn run_as(name: &str, args: &[String]) -> crate::Result {
    venv::ensure()?;
    run_command(crate::project::cargo().current_dir(root()).args([
        "build",
        "-p",
        "alb-canary-lab",
        "-p",
        "recommender",
        // `--signal` runs it in front of every service process.
        "-p",
        "target-signal",
    ]))?;
    delegate(
        Command::new(target_dir().join("debug/lab"))
            .arg0(name)
            .current_dir(root())
            .env("ALB_CANARY_VENV", venv::dir())
            .args(args),
    )
}

/// Both scenarios under the compressed timing, the rollback scenario with V2's process killed
/// mid-step, then both rollbacks under AWS's timing of ALB metrics (60 s periods visible
/// 60–180 s late, `--timing aws`), then the measured numbers from the summaries the lab wrote:
/// both compressed scenarios ≤ 180 s in all, fault onset → V2's weight 0 in HAProxy ≤ 30 s
/// compressed, and the honest minutes under AWS timing.
pub fn bench(args: &[String]) -> crate::Result {
    let name = "cargo xtask bench-lab";
    // The lab's own help (under our name); there is nothing to measure.
    if args.iter().any(|a| a == "--help" || a == "-h") {
        return run_as(name, args);
    }
    let out = target_dir().join("lab-bench");
    // Only this run's summaries are reported.
    if out.exists() {
        std::fs::remove_dir_all(&out)?;
    }
    let started = std::time::Instant::now();
    // (timing, fault, scenarios run): each run's own directory.
    let runs = [
        ("compressed", "errors", &["promote", "rollback"][..]),
        ("compressed", "kill", &["rollback"][..]),
        ("aws", "errors", &["rollback"][..]),
        ("aws", "kill", &["rollback"][..]),
    ];
    for (timing, fault, scenarios) in runs {
        let scenario = if scenarios.len() == 2 {
            "both"
        } else {
            scenarios[0]
        };
        // Last: the lab takes the last value of an option, and the report needs these here.
        let mut lab_args = args.to_vec();
        lab_args.extend(
            [
                "--scenario",
                scenario,
                "--timing",
                timing,
                "--fault",
                fault,
                "--out",
            ]
            .map(String::from),
        );
        lab_args.push(out.join(format!("{timing}-{fault}")).display().to_string());
        if timing == "aws" {
            lab_args.extend(["--duration", "1500"].map(String::from));
        }
        run_as(name, &lab_args)?;
    }
    let wall = started.elapsed().as_secs_f64();
    let mut scenarios = 0.0;
    for (timing, fault, names) in runs {
        for name in names {
            let path = out
                .join(format!("{timing}-{fault}"))
                .join(name)
                .join("summary.json");
            let summary: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path)?)?;
            let seconds = summary["seconds"].as_f64().unwrap_or(f64::NAN);
            if (timing, fault) == ("compressed", "errors") {
                scenarios += seconds;
            }
            let label = if *name == "rollback" {
                format!("{name} ({fault})")
            } else {
                name.to_string()
            };
            println!(
                "{timing:<10} {label:<18} {seconds:>6.1} s  end {}",
                summary["end"]
            );
            if let Some(onset) = summary["onset_to_zero_seconds"].as_f64() {
                let target = if timing == "compressed" {
                    "target ≤ 30 s"
                } else {
                    "ALB metrics as AWS delivers them: no target, measured"
                };
                println!(
                    "           fault onset → V2 weight 0 in HAProxy: {onset:.1} s ({target})"
                );
            }
            let fail_open = &summary["fail_open"];
            if let Some(sent) = fail_open["v2_requests_after_kill"].as_u64() {
                println!(
                    "           the dead V2 (fail open): {sent} requests after the kill, {} failed; its target unhealthy {} s after the kill",
                    fail_open["v2_failed_after_kill"],
                    fail_open["v2_unhealthy_at"]
                        .as_f64()
                        .zip(fail_open["killed_at"].as_f64())
                        .map_or("-".to_owned(), |(u, k)| format!("{:.1}", u - k))
                );
            }
        }
    }
    println!(
        "compressed scenarios: {scenarios:.1} s (target ≤ 180 s); wall time with builds: {wall:.1} s"
    );
    Ok(())
}
