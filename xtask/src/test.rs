//! `cargo xtask test`: the one command that runs every test on a fresh machine.
//!
//! The lint gate runs first (formatting, then clippy with warnings as errors), so that a change that
//! passes here passes CI; then every test of the workspace.

use crate::project::{root, run_command};
use crate::venv;

pub fn run(args: &[String]) -> crate::Result {
    lint()?;
    let bin = venv::ensure()?;
    // checkov in its own virtualenv: the xtask tests scan the committed template with it.
    venv::SCAN.ensure()?;
    run_command(
        crate::project::cargo()
            .current_dir(root())
            .env("PATH", venv::path_with_bin(&bin))
            .env("SAM_CLI_TELEMETRY", "0")
            .args(["test", "--workspace", "--locked"])
            .args(args),
    )
}

/// `cargo fmt --check` and `cargo clippy --all-targets -- -D warnings` over the workspace; the lints
/// themselves are configured once, in the workspace manifest's `[workspace.lints]`.
fn lint() -> crate::Result {
    eprintln!("lint gate: cargo fmt --check");
    run_command(
        crate::project::cargo()
            .current_dir(root())
            .args(["fmt", "--all", "--check"]),
    )
    .map_err(|err| format!("{err}\n  fix: cargo fmt --all"))?;
    eprintln!("lint gate: cargo clippy --workspace --all-targets -- -D warnings");
    run_command(
        crate::project::cargo()
            .current_dir(root())
            .args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--locked",
                "--quiet",
            ])
            .args(["--", "-D", "warnings"]),
    )
}
