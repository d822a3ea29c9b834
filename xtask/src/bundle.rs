//! Lambda bundles: `cargo lambda build --profile lambda --output-format zip` for every function, into
//! `build/lambda/<function>/bootstrap.zip`, the paths the synthesized template's `Code` points at
//! (so that `sam deploy` uploads them without a `sam build` step).

use std::path::PathBuf;
use std::process::Command;

use crate::project::{root, run_command};
use crate::target::{Architecture, require_std, rust_target};
use crate::venv;
use stack::controller::FunctionKind;

/// The Lambda binaries, as named by their crates under `functions/`.
pub const FUNCTIONS: [&str; 2] = [
    FunctionKind::Promote.binary(),
    FunctionKind::Rollback.binary(),
];

/// The cargo profile of the bundles (root `Cargo.toml`): release with `opt-level = "z"`.
const PROFILE: &str = "lambda";

pub fn dir() -> PathBuf {
    root().join("build").join("lambda")
}

/// Builds every function's zip; returns the folder that holds them.
pub fn build(arch: Architecture) -> crate::Result<PathBuf> {
    require_std(rust_target(arch))?;
    // cargo-lambda and the zig it links with are pinned in requirements-dev.txt; this installs them
    // into .venv on first use.
    let bin = venv::ensure()?;
    let mut cmd = crate::project::as_from_a_shell(Command::new(bin.join("cargo-lambda")));
    cmd.current_dir(root())
        .env("PATH", venv::path_with_bin(&bin))
        .args([
            "lambda",
            "build",
            "--profile",
            PROFILE,
            "--output-format",
            "zip",
            "--lambda-dir",
        ])
        .arg(dir());
    if arch == Architecture::Arm64 {
        cmd.arg("--arm64");
    } else {
        cmd.arg("--x86-64");
    }
    for function in FunctionKind::ALL {
        cmd.args(["--bin", function.binary()]);
    }
    eprintln!(
        "building the Lambda bundles ({}) into {}",
        rust_target(arch),
        dir().display()
    );
    run_command(&mut cmd)?;
    for function in FunctionKind::ALL {
        let zip = dir().join(function.binary()).join("bootstrap.zip");
        if !zip.is_file() {
            return Err(format!("cargo lambda did not produce {}", zip.display()).into());
        }
    }
    Ok(dir())
}
