//! `simulation judge --replay FILE` and `simulation bench-judge`: see the library's docs.

use std::process::ExitCode;

use simulation::bench;
use simulation::cli::{BIN_NAME_VAR, Cli, Command};

fn main() -> ExitCode {
    let cli = match Cli::parse_named(std::env::var(BIN_NAME_VAR).ok(), std::env::args()) {
        Ok(cli) => cli,
        // --help and usage errors: clap prints them (stdout or stderr) and picks the exit code.
        Err(err) => err.exit(),
    };
    let outcome = match cli.command {
        Command::Judge(args) => bench::run(&args),
        Command::BenchJudge(args) => bench::bench(&args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{err}");
            ExitCode::FAILURE
        }
    }
}
