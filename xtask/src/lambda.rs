//! `cargo xtask bench-lambda`: release-builds the Lambda bundles (`cargo lambda build --profile lambda
//! --output-format zip`, through [`crate::bundle`]), reports each zip's size against the 4 MB target,
//! then measures the handler time per decision against a moto server on 127.0.0.1 (the
//! `bench_handlers` example of the controller crate, built like the bundles) and the rollback's
//! cold start next to the same calls in Python with boto3 (`bench_cold_start`,
//! `benches/cold_start/rollback.py`).

use crate::bundle::{self, FUNCTIONS};
use crate::project::root;
use crate::target::{Arch, rust_target};
use crate::venv;
use stack::controller::FunctionKind;

const TARGET_ZIP_BYTES: u64 = 4 * 1024 * 1024;
/// Fresh processes per runtime in the cold-start comparison.
const COLD_RUNS: usize = 15;

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
    println!(
        "Cold start of the rollback, a fresh process per run against a runtime API and moto on 127.0.0.1 (medians of {COLD_RUNS}):"
    );
    for line in cold_starts()? {
        println!("  {line}");
    }
    println!(
        "aws-lc's first random bytes in a fresh process (the DRBG's seeding, paid at a cold start's first TLS handshake; medians of {COLD_RUNS}):"
    );
    for line in entropy_lever()? {
        println!("  {line}");
    }
    Ok(())
}

/// Runs the `bench_handlers` example with the bundles' profile and returns its result lines.
fn handler_times() -> crate::Result<Vec<String>> {
    example_results("bench_handlers", &[], "handler_per_decision")
}

/// Fresh processes of each rollback started as Lambda starts them (the `bench_cold_start` example):
/// the bundle's binary, and the same AWS calls in Python with boto3. Fails unless the Rust cold
/// start, init and first invocation together, is the shorter.
fn cold_starts() -> crate::Result<Vec<String>> {
    let rust = crate::project::target_dir()
        .join(rust_target(Arch::X86_64))
        .join("lambda")
        .join(FunctionKind::Rollback.binary());
    if !rust.is_file() {
        return Err(format!("{} was not built by the bundle build", rust.display()).into());
    }
    let python = venv::ensure()?.join("python");
    let script = root()
        .join("benches")
        .join("cold_start")
        .join("rollback.py");
    let runs = COLD_RUNS.to_string();
    let mut lines = Vec::new();
    let mut totals = Vec::new();
    for (name, program, args) in [
        ("rust", rust.as_path(), vec![]),
        (
            "python-boto3",
            python.as_path(),
            vec![script.display().to_string()],
        ),
    ] {
        let mut example_args = vec![
            name.to_string(),
            runs.clone(),
            program.display().to_string(),
        ];
        example_args.extend(args);
        for line in example_results("bench_cold_start", &example_args, "cold_start")? {
            let parsed: serde_json::Value = serde_json::from_str(&line)?;
            let total = parsed["cold_total_ms_median"]
                .as_f64()
                .ok_or("the cold start printed no total")?;
            totals.push((name, total));
            lines.push(line);
        }
    }
    if let [(_, rust), (_, python)] = totals.as_slice()
        && rust >= python
    {
        return Err(format!(
            "the Rust rollback's cold start ({rust:.1} ms) is not shorter than Python's ({python:.1} ms)"
        )
        .into());
    }
    Ok(lines)
}

/// The entropy lever: `benches/entropy` built with aws-lc's default seeding (CPU jitter entropy)
/// and with `AWS_LC_SYS_NO_JITTER_ENTROPY=1`, each in a target directory of its own; its build
/// time, and its first and second 32 random bytes in fresh processes.
fn entropy_lever() -> crate::Result<Vec<String>> {
    let manifest = root().join("benches").join("entropy").join("Cargo.toml");
    let mut lines = Vec::new();
    for (name, no_jitter) in [
        ("jitter entropy (default)", false),
        ("no jitter entropy", true),
    ] {
        let dir = crate::project::target_dir()
            .join("entropy-probe")
            .join(if no_jitter { "no-jitter" } else { "default" });
        let mut build = crate::project::cargo();
        build
            .args(["build", "--release", "--locked", "--manifest-path"])
            .arg(&manifest)
            .env("CARGO_TARGET_DIR", &dir)
            .env_remove("AWS_LC_SYS_NO_JITTER_ENTROPY");
        if no_jitter {
            build.env("AWS_LC_SYS_NO_JITTER_ENTROPY", "1");
        }
        let started = std::time::Instant::now();
        crate::project::run_command(&mut build)?;
        let built = started.elapsed().as_secs_f64();
        let probe = dir.join("release").join("entropy-probe");
        let (mut first, mut second) = (Vec::new(), Vec::new());
        for _ in 0..COLD_RUNS {
            let out = std::process::Command::new(&probe).output()?;
            if !out.status.success() {
                return Err(format!("{} failed with {}", probe.display(), out.status).into());
            }
            let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
            let field = |k: &str| v[k].as_f64().ok_or(format!("the probe printed no {k}"));
            first.push(field("first_fill_us")? / 1000.0);
            second.push(field("second_fill_us")? / 1000.0);
        }
        lines.push(format!(
            "{name}: first 32 bytes {:.2} ms, next 32 {:.3} ms (cargo build: {built:.0} s)",
            median(first),
            median(second)
        ));
    }
    Ok(lines)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Runs a controller example with the bundles' profile and target and returns the lines holding
/// `"bench":"<bench>"`.
fn example_results(example: &str, args: &[String], bench: &str) -> crate::Result<Vec<String>> {
    // The bundles' profile and target triple: the code measured is the code shipped, and the
    // dependencies cargo-lambda built are reused.
    let output = crate::project::cargo()
        .current_dir(root())
        .env("PATH", venv::path_with_bin(&venv::ensure()?))
        .env(bundle::NO_JITTER_ENTROPY.0, bundle::NO_JITTER_ENTROPY.1)
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
            example,
            "--",
        ])
        .args(args)
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|err| format!("could not start cargo: {err}"))?;
    if !output.status.success() {
        return Err(format!("the {example} example failed with {}", output.status).into());
    }
    // The handlers also print their decision and metric lines; keep only the results.
    let marker = format!("\"bench\":\"{bench}\"");
    let lines: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.contains(&marker))
        .map(str::to_string)
        .collect();
    if lines.is_empty() {
        return Err(format!("the {example} example printed no result").into());
    }
    Ok(lines)
}
