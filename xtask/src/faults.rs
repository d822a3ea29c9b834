//! `cargo xtask bench-faults`: the full fault exploration (`ops/tests/faults/`, the ignored
//! `bench_faults_full_exploration`): every scenario, every crash point, every lost answer, an outage
//! of each kind and a throttling burst on each service a run uses; it prints one line per scenario
//! and the figure, "faults survived: N of M explored". The functions' metric lines (EMF JSON on
//! stdout) are left out of the report.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::project::root;
use crate::venv;

pub fn bench(only: Option<String>) -> crate::Result {
    let bin = venv::ensure()?;
    let mut cmd = crate::project::cargo();
    cmd.current_dir(root())
        .env("PATH", venv::path_with_bin(&bin))
        .env("ALB_CANARY_FAULTS_ONLY", only.unwrap_or_default())
        .args([
            "test",
            "--locked",
            "-p",
            "canaryctl",
            "--test",
            "faults",
            "--",
        ])
        .args([
            "--ignored",
            "--exact",
            "bench_faults_full_exploration",
            "--nocapture",
        ])
        .stdout(Stdio::piped());
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .spawn()
        .map_err(|err| format!("could not start {shown}: {err}"))?;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            if !line.starts_with("{\"_aws\"") {
                println!("{line}");
            }
        }
    }
    let status = child.wait()?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed with {status}").into())
    }
}
