//! `cargo xtask <command>`: the project's automation in plain Rust (see `cargo xtask help`).
//!
//! The command line is declared in `cli.rs` (clap); each command lives in its own module, and this
//! file only dispatches.

mod bench_service;
mod bench_signal;
mod bundle;
mod check;
mod cli;
mod diagram;
mod faults;
mod lab;
mod lambda;
mod ops;
mod peers;
mod project;
mod scan;
mod service;
mod simulation;
mod synth;
mod target;
mod test;
mod venv;

use std::process::ExitCode;

pub type Result<T = (), E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => match err.downcast_ref::<project::Reported>() {
            Some(project::Reported(code)) => ExitCode::from(*code),
            None => {
                eprintln!("error: {err}");
                ExitCode::FAILURE
            }
        },
    }
}

fn run() -> Result {
    use cli::Command;
    // `--help` and usage errors: clap prints them and exits (0 for help, 2 for a mistake).
    let command = <cli::Cli as clap::Parser>::parse().command;
    match command {
        Command::Synth {
            check,
            no_build,
            arch,
        } => {
            let mode = if check {
                synth::Mode::Check
            } else {
                synth::Mode::Write
            };
            synth::run(mode, !no_build, arch)
        }
        Command::Diagram => diagram::run(),
        Command::Check { verbose } => check::run(verbose),
        Command::Test(args) => test::run(&args.cargo_test_args()),
        Command::Publish {
            store,
            version,
            arch,
        } => service::publish(service::Publish {
            store,
            version,
            arch,
        }),
        Command::BuildStatic { arch, signal } => service::build_static_command(arch, signal),
        Command::Lab(passthrough) => lab::run(&passthrough.args),
        Command::BenchLab(passthrough) => lab::bench(&passthrough.args),
        Command::BenchSynth { runs } => synth::bench(runs),
        Command::BenchCheck { iterations } => check::bench(iterations),
        Command::BenchService {
            duration,
            connections,
        } => bench_service::bench(duration, connections),
        Command::BenchSignal { rps, seconds } => bench_signal::bench(rps, seconds),
        Command::BenchLambda => lambda::bench(),
        Command::BenchPeers { canaries, only } => peers::bench(canaries, only.as_deref()),
        Command::BenchFaults { only } => faults::bench(only),
        // The operator commands run in canaryctl (they need the SDK and the controller crate); the
        // judge's in `simulation` (no SDK).
        other => match (other.canaryctl_command(), other.simulation_command()) {
            (Some((name, args)), _) => ops::run(name, args),
            (None, Some((name, args))) => simulation::run(name, args),
            (None, None) => Err(format!("no handler for {other:?}").into()),
        },
    }
}
