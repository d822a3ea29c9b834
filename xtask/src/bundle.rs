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
    FunctionKind::Promotion.binary(),
    FunctionKind::Rollback.binary(),
];

/// The cargo profile of the bundles (root `Cargo.toml`): release with `opt-level = "z"`.
const PROFILE: &str = "lambda";

/// Set for every build of the bundles' profile: aws-lc (the TLS crypto of the SDK clients) then
/// seeds its random generator from the kernel alone, as ring and OpenSSL do, instead of also
/// sampling CPU jitter, which cost 50.7 ms of a cold start's first TLS handshake here
/// (`cargo xtask bench-lambda`, "aws-lc's first random bytes"; 0.02 ms without it).
pub const NO_JITTER_ENTROPY: (&str, &str) = ("AWS_LC_SYS_NO_JITTER_ENTROPY", "1");

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
        .env(NO_JITTER_ENTROPY.0, NO_JITTER_ENTROPY.1)
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
    check_no_jitter(arch)?;
    Ok(dir())
}

/// Whether aws-lc-sys's build script output says it found [`NO_JITTER_ENTROPY`].
fn saw_no_jitter(output: &str) -> bool {
    let (name, value) = NO_JITTER_ENTROPY;
    output
        .lines()
        .any(|line| line == format!("cargo:warning=Environment Variable found '{name}': '{value}'"))
}

/// aws-lc-sys's build script says which settings it found: the bundles' must name ours.
fn check_no_jitter(arch: Architecture) -> crate::Result {
    let builds = crate::project::target_dir()
        .join(rust_target(arch))
        .join(PROFILE)
        .join("build");
    let mut outputs: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(&builds)?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("aws-lc-sys-"))
        .filter_map(|e| {
            let path = e.path().join("output");
            let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
            Some((modified, std::fs::read_to_string(path).ok()?))
        })
        .collect();
    outputs.sort();
    match outputs.last() {
        Some((_, output)) if saw_no_jitter(output) => Ok(()),
        Some(_) => Err(format!(
            "the bundles' aws-lc was built without {}={} (its build script's output in {})",
            NO_JITTER_ENTROPY.0,
            NO_JITTER_ENTROPY.1,
            builds.display()
        )
        .into()),
        None => Err(format!("no aws-lc-sys build output under {}", builds.display()).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::saw_no_jitter;

    #[test]
    fn the_build_scripts_own_words_say_whether_jitter_entropy_is_off() {
        let seen = "cargo:rerun-if-env-changed=AWS_LC_SYS_NO_JITTER_ENTROPY\n\
                    cargo:warning=Environment Variable found 'AWS_LC_SYS_NO_JITTER_ENTROPY': '1'\n";
        assert!(saw_no_jitter(seen));
        assert!(!saw_no_jitter(
            "cargo:rerun-if-env-changed=AWS_LC_SYS_NO_JITTER_ENTROPY\n"
        ));
        assert!(!saw_no_jitter(
            "cargo:warning=Environment Variable found 'AWS_LC_SYS_NO_JITTER_ENTROPY': '0'\n"
        ));
    }
}
