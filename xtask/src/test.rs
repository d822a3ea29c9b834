//! `cargo xtask test`: the one command that runs every test on a fresh machine.

use std::process::Command;

use crate::project::{root, run_command};
use crate::venv;

pub fn run(args: &[String]) -> crate::Result {
    let bin = venv::ensure()?;
    run_command(
        Command::new(env!("CARGO"))
            .current_dir(root())
            .env("PATH", venv::path_with_bin(&bin))
            .env("SAM_CLI_TELEMETRY", "0")
            .args(["test", "--workspace", "--locked"])
            .args(args),
    )
}
