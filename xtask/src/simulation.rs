//! `cargo xtask judge | bench-judge`: run by the `simulation` binary (crate `simulation/`), the
//! judge without AWS. It depends on the pure core only, so neither command builds the AWS SDK.

use std::process::Command;

use crate::project::{delegate, root};

/// Our name in the binary's usage lines and examples.
const BIN_NAME: &str = "cargo xtask";
/// The binary reads our name from this variable (its `cli::BIN_NAME_VAR`).
const BIN_NAME_VAR: &str = "SIMULATION_BIN_NAME";

pub fn run(command: &str, args: &[String]) -> crate::Result {
    delegate(simulation().arg(command).args(args))
}

/// `cargo run` of the `simulation` binary, with `--` added: the caller adds its arguments.
pub fn simulation() -> Command {
    let mut cmd = crate::project::cargo();
    cmd.current_dir(root())
        .args([
            "run",
            "--quiet",
            "--locked",
            "--package",
            "simulation",
            "--",
        ])
        .env(BIN_NAME_VAR, BIN_NAME);
    cmd
}
