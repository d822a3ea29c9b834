//! `recommender --model v1|v2`, or `recommender --health-check`: see the library docs for the
//! contract and the knobs.

use std::process::ExitCode;

use recommender::{Config, health_check};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some(health_check::FLAG) {
        return health(args.skip(1));
    }
    let config = match Config::parse(args, |name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("recommender: {err}");
            return ExitCode::from(2);
        }
    };
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
fn health(args: impl Iterator<Item = String>) -> ExitCode {
    let result = health_check::Target::parse(args, |name| std::env::var(name).ok())
        .and_then(|target| health_check::check(target, health_check::DEADLINE));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("recommender: unhealthy: {err}");
            ExitCode::FAILURE
        }
    }
}
