//! `canaryctl`: the operator commands behind `cargo xtask publish | release | status | history |
//! pause | resume | skip-bake | abort`.
//!
//! They need the AWS SDK, which xtask keeps out of its own build; xtask runs this binary instead.
//! `--endpoint-url URL` (or `AWS_ENDPOINT_URL`) points every client at the local emulator.

use std::process::ExitCode;

use canaryctl::cli::{BIN_NAME_VAR, Cli, Command};
use canaryctl::control::Action;
use canaryctl::{Result, aws_error, control, history, publish, release, status};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::parse_named(std::env::var(BIN_NAME_VAR).ok(), std::env::args()) {
        Ok(cli) => cli,
        // --help and usage errors: clap prints them (stdout or stderr) and picks the exit code.
        Err(err) => err.exit(),
    };
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{}", aws_error::render(err.as_ref(), cli.debug));
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result {
    match command {
        Command::Publish(args) => publish::run(&args).await,
        Command::Release(args) => release::run(&args).await,
        Command::Status(options) => status::run(&options).await,
        Command::History(args) => history::run(&args).await,
        Command::Pause(options) => control::run(Action::Pause, &options).await,
        Command::Resume(options) => control::run(Action::Resume, &options).await,
        Command::SkipBake(options) => control::run(Action::SkipBake, &options).await,
        Command::Abort(options) => control::run(Action::Abort, &options).await,
    }
}
