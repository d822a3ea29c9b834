//! Instruction sets we build for: the Lambda bundles and the published service binary.

use std::path::PathBuf;
use std::process::Command;

pub use stack::controller::Architecture;
/// The short name the commands use.
pub use stack::controller::Architecture as Arch;

pub fn rust_target(arch: Architecture) -> &'static str {
    match arch {
        Architecture::X86_64 => "x86_64-unknown-linux-gnu",
        Architecture::Arm64 => "aarch64-unknown-linux-gnu",
    }
}

/// Fails early, naming the target, where its standard library is missing: our machines have only
/// x86_64-unknown-linux-gnu's and cannot download another (cargo-lambda's own attempt ends in
/// "can't find crate for core").
pub fn require_std(target: &str) -> crate::Result {
    let output = Command::new("rustc")
        .args(["--print", "target-libdir", "--target", target])
        .output()?;
    let libdir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    let has_std = std::fs::read_dir(&libdir)
        .map(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("libstd-"))
        })
        .unwrap_or(false);
    if output.status.success() && has_std {
        Ok(())
    } else {
        Err(format!(
            "the {target} standard library is not installed: run `rustup target add {target}` \
             on a machine that can download it, or build for the default x86_64"
        )
        .into())
    }
}
