//! `cargo xtask bench-signal`: what the targets' signal proxy (`services/signal`) costs a request.
//!
//! Builds the static release recommender and proxy (the binaries an instance runs) and the
//! driver (the crate's example `bench_signal`, which holds the load generator and reuses the test
//! harness's emulator), prints the proxy's stripped size, and runs the driver: recommender on
//! 127.0.0.1:A, proxy on 127.0.0.1:B → A publishing to moto, open-loop load alternating direct and
//! proxied slices. The driver fails (exit 1, naming why) over the 0.2 ms p99 budget, on any failed
//! or non-2xx request, or when the emulator's RequestCount differs from the proxied requests sent.

use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::project::{delegate, root, run_command, target_dir};
use crate::service::{build_static, build_static_signal};
use crate::target::Arch;
use crate::venv;

pub fn bench(rps: u32, seconds: u32) -> crate::Result {
    venv::ensure()?;
    let recommender = build_static(Arch::X86_64)?;
    let signal = build_static_signal(Arch::X86_64)?;
    // The driver in the dev profile: the binaries measured are the release ones, and the driver's
    // own cost falls on both sides of the comparison alike.
    run_command(crate::project::cargo().current_dir(root()).args([
        "build",
        "-p",
        "target-signal",
        "--example",
        "bench_signal",
    ]))?;
    let size = std::fs::metadata(&signal)?.len();
    println!(
        "alb-canary-signal (static release build, stripped): {size} bytes ({:.2} MiB)",
        size as f64 / (1024.0 * 1024.0)
    );
    let log_dir = target_dir().join("bench-signal");
    delegate(
        Command::new(target_dir().join("debug/examples/bench_signal"))
            .arg0("cargo xtask bench-signal")
            .current_dir(root())
            .env("ALB_CANARY_VENV", venv::dir())
            .arg("--recommender")
            .arg(&recommender)
            .arg("--signal")
            .arg(&signal)
            .args(["--rps", &rps.to_string(), "--seconds", &seconds.to_string()])
            .arg("--log-dir")
            .arg(&log_dir),
    )
}
