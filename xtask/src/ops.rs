//! `cargo xtask release | status | history | pause | resume | promote | abort`: the operator
//! commands, run by the `canaryctl` binary (crate `ops/`), which holds the AWS SDK work this crate
//! stays free of.

use std::process::Command;

use crate::project::{root, run_command};
use crate::service::{build_static, service_version};
use crate::target::Arch;

pub const COMMANDS: [&str; 7] = [
    "release", "status", "history", "pause", "resume", "promote", "abort",
];

pub fn run(command: &str, args: &[String]) -> crate::Result {
    let mut extra = Vec::new();
    // `release` publishes first when the version is this checkout's: the static binary is built
    // and handed over; any other version must already be published.
    if command == "release"
        && let Some(version) = args.iter().find(|a| !a.starts_with("--"))
        && *version == service_version()?
    {
        let binary = build_static(Arch::X86_64)?;
        extra = vec!["--file".to_string(), binary.display().to_string()];
    }
    run_command(
        Command::new(env!("CARGO"))
            .current_dir(root())
            .args(["run", "--quiet", "--package", "canaryctl", "--", command])
            .args(args)
            .args(extra),
    )
}
