//! `cargo xtask bench-lambda`: release-builds the Lambda bundles (`cargo lambda build --profile lambda
//! --output-format zip`, through [`crate::bundle`]), reports each zip's size against the 4 MB target,
//! then measures the handler time per decision against a moto server on 127.0.0.1 (the
//! `bench_handlers` example of the controller crate, built like the bundles).

use crate::bundle::{self, FUNCTIONS};
use crate::project::root;
use crate::target::Arch;

const TARGET_ZIP_BYTES: u64 = 4 * 1024 * 1024;

pub fn bench() -> crate::Result {
    // arm64 first, x86_64 last: both write build/lambda/, which must end up holding the default arch.
    let mut report = Vec::new();
    for arch in [Arch::Arm64, Arch::X86_64] {
        match bundle::build(arch) {
            Ok(dir) => {
                for function in FUNCTIONS {
                    let zip = dir.join(function).join("bootstrap.zip");
                    let bytes = std::fs::metadata(&zip)?.len();
                    report.push(format!(
                        "{arch:?} {function}: {bytes} bytes zipped ({:.2} MiB) — {}",
                        bytes as f64 / 1024.0 / 1024.0,
                        if bytes < TARGET_ZIP_BYTES {
                            "under the 4 MiB target"
                        } else {
                            "OVER the 4 MiB target"
                        }
                    ));
                }
            }
            // Only a missing standard library is expected here (these machines cannot download one).
            Err(err)
                if arch == Arch::Arm64
                    && err
                        .to_string()
                        .contains("standard library is not installed") =>
            {
                report.push(format!("Arm64: skipped — {err}"));
            }
            Err(err) => return Err(err),
        }
    }
    println!("Lambda bundles (cargo lambda build --profile lambda --output-format zip):");
    for line in &report {
        println!("  {line}");
    }
    println!(
        "Handler time per decision against moto (lambda profile, each AWS call on 127.0.0.1 included):"
    );
    for line in handler_times()? {
        println!("  {line}");
    }
    Ok(())
}

/// Runs the `bench_handlers` example with the bundles' profile and returns its result lines.
fn handler_times() -> crate::Result<Vec<String>> {
    // The bundles' profile and target triple: the code measured is the code shipped, and the
    // dependencies cargo-lambda built are reused.
    let output = crate::project::cargo()
        .current_dir(root())
        .args([
            "run",
            "--quiet",
            "--profile",
            "lambda",
            "--target",
            "x86_64-unknown-linux-gnu",
            "--package",
            "controller",
            "--example",
            "bench_handlers",
        ])
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|err| format!("could not start cargo: {err}"))?;
    if !output.status.success() {
        return Err(format!("the bench_handlers example failed with {}", output.status).into());
    }
    // The handlers also print their decision and metric lines; keep only the results.
    let lines: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.contains("\"bench\":\"handler_per_decision\""))
        .map(str::to_string)
        .collect();
    if lines.is_empty() {
        return Err("the bench_handlers example printed no result".into());
    }
    Ok(lines)
}
