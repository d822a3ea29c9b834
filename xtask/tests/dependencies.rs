//! What each crate is built from, read from `cargo tree` on the lock file: the Lambdas contain
//! what they run (no simulation, no samplers, one HTTP stack), and the pure core and the
//! simulation build without the AWS SDK.

use std::path::Path;
use std::process::Command;

/// The packages `package` is built from (normal dependencies, itself included), as
/// `name version` lines.
fn built_from(package: &str) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace root");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(root)
        .args(["tree", "--locked", "--edges", "normal", "--prefix", "none"])
        .args(["--format", "{p}", "--package", package])
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<String> = String::from_utf8(out.stdout)
        .expect("UTF-8")
        .lines()
        // `name stable.2.3 (path)` or `name stable.2.3 (*)`: the name and version only.
        .map(|line| line.split(" (").next().unwrap_or(line).trim().to_owned())
        .filter(|line| !line.is_empty())
        .collect();
    lines.sort();
    lines.dedup();
    lines
}

fn offending(packages: &[String], is_bad: impl Fn(&str, &str) -> bool) -> Vec<&str> {
    packages
        .iter()
        .filter(|p| {
            let (name, version) = p.split_once(' ').unwrap_or((p, ""));
            is_bad(name, version)
        })
        .map(String::as_str)
        .collect()
}

#[test]
fn the_lambdas_hold_one_http_stack_and_no_benchmark_code() {
    for lambda in ["promotion", "rollback"] {
        let packages = built_from(lambda);
        assert!(
            packages.iter().any(|p| p.starts_with("canary v")),
            "{lambda}: the pure core is missing: {packages:?}"
        );
        let bad = offending(&packages, |name, version| {
            // (fastrand is there: the SDK's retries jitter with it.)
            matches!(name, "simulation" | "proptest" | "clap")
                || (name == "hyper" && version.starts_with("v0."))
                || (name == "rustls" && !version.starts_with("v0.23"))
        });
        assert!(bad.is_empty(), "{lambda} is built from {bad:?}");
    }
}

#[test]
fn the_pure_core_and_the_simulation_build_without_the_sdk() {
    for package in ["judge", "canary", "simulation"] {
        let packages = built_from(package);
        let bad = offending(&packages, |name, _| {
            name.starts_with("aws-")
                || matches!(name, "tokio" | "hyper" | "controller" | "lambda_runtime")
                // The samplers' randomness belongs to the simulation alone.
                || (name == "fastrand" && package != "simulation")
        });
        assert!(bad.is_empty(), "{package} is built from {bad:?}");
    }
}
