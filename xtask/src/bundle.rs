//! Lambda bundles: `cargo lambda build --release --output-format zip` for every function, into
//! `build/lambda/<function>/bootstrap.zip`, the paths the synthesized template's `Code` points at
//! (so that `sam deploy` uploads them without a `sam build` step).

use std::path::PathBuf;
use std::process::Command;

use crate::project::{root, run_command};
use crate::venv;
use stack::controller::FunctionKind;

use Arch as Architecture;
/// The instruction set of the bundles (and of the published service binary).
pub use stack::controller::Architecture as Arch;

/// The Lambda binaries, as named by their crates under `functions/`.
pub const FUNCTIONS: [&str; 2] = [
    FunctionKind::Promote.binary(),
    FunctionKind::Rollback.binary(),
];

pub fn rust_target(arch: Architecture) -> &'static str {
    match arch {
        Architecture::X86_64 => "x86_64-unknown-linux-gnu",
        Architecture::Arm64 => "aarch64-unknown-linux-gnu",
    }
}

pub fn dir() -> PathBuf {
    root().join("build").join("lambda")
}

/// Builds every function's zip; returns the folder that holds them.
pub fn build(arch: Architecture) -> crate::Result<PathBuf> {
    require_std(arch)?;
    // cargo-lambda and the zig it links with are pinned in requirements-dev.txt; this installs them
    // into .venv on first use.
    let bin = venv::ensure()?;
    let mut cmd = Command::new(bin.join("cargo-lambda"));
    cmd.current_dir(root())
        .env("PATH", venv::path_with_bin(&bin))
        .args([
            "lambda",
            "build",
            "--release",
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

/// Fails early, and clearly, where the target's standard library is missing: cargo-lambda's own
/// attempt to fetch it ends in "can't find crate for core", and these machines cannot download it.
fn require_std(arch: Architecture) -> crate::Result {
    let target = rust_target(arch);
    let output = Command::new("rustc")
        .args(["--print", "target-libdir", "--target", target])
        .output()?;
    let libdir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    let has_core = std::fs::read_dir(&libdir)
        .map(|entries| {
            entries
                .flatten()
                .any(|entry| entry.file_name().to_string_lossy().starts_with("libcore-"))
        })
        .unwrap_or(false);
    if output.status.success() && has_core {
        Ok(())
    } else {
        Err(format!(
            "the {target} standard library is not installed: run `rustup target add {target}` \
             (or build for the default x86_64)"
        )
        .into())
    }
}
