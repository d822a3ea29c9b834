//! `cargo xtask status | pause | resume | promote | abort`: the operator commands, run by the
//! `canaryctl` binary (crate `ops/`), which holds the AWS SDK work this crate stays free of.

use std::process::Command;

use crate::project::{root, run_command};

pub const COMMANDS: [&str; 5] = ["status", "pause", "resume", "promote", "abort"];

pub fn run(command: &str, args: &[String]) -> crate::Result {
    run_command(
        Command::new(env!("CARGO"))
            .current_dir(root())
            .args(["run", "--quiet", "--package", "canaryctl", "--", command])
            .args(args),
    )
}
