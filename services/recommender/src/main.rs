//! `recommender --model v1|v2`, or `recommender --health-check`: see the library docs for the
//! contract and the knobs, `recommender --help` for the flags.

use std::process::ExitCode;

use recommender::cli::{self, CliError, Command};
use recommender::{Config, health_check};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    match cli::parse(std::env::args_os(), |name| std::env::var(name).ok()) {
        Ok(Command::Serve(config)) => serve(config),
        Ok(Command::HealthCheck(target)) => health(target),
        Err(err) => {
            match &err {
                // clap picks the stream (help on stdout, errors on stderr); a closed pipe
                // (`recommender --help | head`) is no reason to fail.
                CliError::Usage { error, .. } => {
                    let _ = error.print();
                }
                CliError::Config { .. } => eprintln!("recommender: {err}"),
            }
            ExitCode::from(err.exit_code())
        }
    }
}

fn serve(config: Config) -> ExitCode {
    tracing_subscriber::fmt()
        .json()
        .with_current_span(false)
        .with_span_list(false)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("recommender: could not start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(recommender::server::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "recommender failed");
            eprintln!("recommender: {err}");
            ExitCode::FAILURE
        }
    }
}

/// `--health-check`: exit 0 when `/health` answers 200, 1 otherwise (engines reserve 2).
fn health(target: health_check::Target) -> ExitCode {
    match health_check::check(target, health_check::DEADLINE) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("recommender: unhealthy: {err}");
            ExitCode::FAILURE
        }
    }
}
