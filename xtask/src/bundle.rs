//! Lambda bundles: `cargo lambda build --release --output-format zip` for every function, into
//! `build/lambda/<function>/bootstrap.zip`, the paths the synthesized template's `Code` points at
//! (so that `sam deploy` uploads them without a `sam build` step).

use std::path::PathBuf;
use std::process::Command;

use crate::project::{root, run_command};
use crate::venv;

/// The Lambda binaries, as named by their crates under `functions/`.
pub const FUNCTIONS: [&str; 2] = ["promote", "rollback"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Arm64,
}

impl Arch {
    pub fn parse(value: &str) -> crate::Result<Arch> {
        match value {
            "x86_64" | "amd64" => Ok(Arch::X86_64),
            "arm64" | "aarch64" => Ok(Arch::Arm64),
            other => Err(format!("unknown architecture `{other}`: use x86_64 or arm64").into()),
        }
    }

    fn rust_target(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-gnu",
            Arch::Arm64 => "aarch64-unknown-linux-gnu",
        }
    }
}

pub fn dir() -> PathBuf {
    root().join("build").join("lambda")
}

/// Builds every function's zip; returns the folder that holds them.
pub fn build(arch: Arch) -> crate::Result<PathBuf> {
    require_std(arch)?;
    // cargo-lambda and the zig it links with are pinned in requirements-dev.txt; this installs them
    // into .venv on first use.
    let bin = venv::ensure()?;
    let mut cmd = Command::new(bin.join("cargo-lambda"));
    cmd.current_dir(root())
        .env("PATH", venv::path_with_bin(&bin))
        .args(["lambda", "build", "--release", "--output-format", "zip", "--lambda-dir"])
        .arg(dir());
    if arch == Arch::Arm64 {
        cmd.arg("--arm64");
    } else {
        cmd.arg("--x86-64");
    }
    for function in FUNCTIONS {
        cmd.args(["--bin", function]);
    }
    eprintln!("building the Lambda bundles ({}) into {}", arch.rust_target(), dir().display());
    run_command(&mut cmd)?;
    for function in FUNCTIONS {
        let zip = dir().join(function).join("bootstrap.zip");
        if !zip.is_file() {
            return Err(format!("cargo lambda did not produce {}", zip.display()).into());
        }
    }
    Ok(dir())
}

/// Fails early, and clearly, where the target's standard library is missing: cargo-lambda's own
/// attempt to fetch it ends in "can't find crate for core", and these machines cannot download it.
fn require_std(arch: Arch) -> crate::Result {
    let target = arch.rust_target();
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
