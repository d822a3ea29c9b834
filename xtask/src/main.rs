//! `cargo xtask <command>`: the project's automation in plain Rust (see `cargo xtask help`).
//!
//! Each command lives in its own module with a `run(args)` entry point; this file only dispatches.

mod bundle;
mod check;
mod diagram;
mod lab;
mod lambda;
mod ops;
mod project;
mod service;
mod synth;
mod target;
mod test;
mod venv;

use std::process::ExitCode;

pub type Result<T = (), E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

const HELP: &str = "\
cargo xtask <command> [options]

commands:
  synth [--check] [--no-build] [--arch x86_64|arm64]
                      write templates/ (and build the Lambda bundles); --check compares instead
  diagram             draw docs/architecture.svg from the stack (synth writes it too)
  check               prove templates/ safe: cfn-guard rules and the reachability check
  test                install the pinned Python tools into .venv and run every test
  publish --bucket B [--prefix P] [--version V] [--arch x86_64|arm64] [--endpoint-url URL]
                      build the static recommender binary and upload it to s3://B/P/V/recommender
                      with its checksum (V: the crate's version); a published version is immutable
  build-static [--arch x86_64|arm64]
                      build (and check) that static binary only; prints its path
  release VERSION [--force]
                      move the canary fleet to VERSION (publishing it first when it is this
                      checkout's version) and start its canary once that fleet is healthy
  history [--release VERSION]
                      every release record; with --release, that release and its decisions
  status | pause | resume | promote | abort [--stack NAME | --function NAME] [--endpoint-url URL]
                      operate the deployed canary (README, section Operate)
  judge --replay FILE replay one decision from its inputs (JSON; README, section Replay a decision)
  lab [--scenario promote|rollback|both] [--rps N] [--duration S] [--plan FILE] [--out DIR]
                      rehearse a canary on 127.0.0.1: HAProxy, the real controller and service,
                      the emulator; timeline, decisions and picture under --out (default target/lab)
  bench-synth         time the stack synthesis
  bench-check         time the policy and reachability check
  bench-service [--duration S] [--connections N]
                      bounded load run against V1 and V2 on 127.0.0.1
  bench-lab [lab options]
                      both lab scenarios; reports their time and fault onset → V2 weight 0
  bench-lambda        release-build the Lambdas and report bundle sizes and handler times
  bench-judge [--canaries N] [--seed S] [--json]
                      seeded Monte Carlo canaries through the judge, both methods side by side
";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        print!("{HELP}");
        return Ok(());
    };
    match command.as_str() {
        "synth" => synth::run(rest),
        "bench-synth" => synth::bench(rest),
        "diagram" => diagram::run(rest),
        "check" => check::run(rest),
        "bench-check" => check::bench(rest),
        "test" => test::run(rest),
        "publish" => service::publish(rest),
        "build-static" => service::build_static_command(rest),
        "lab" => lab::run(rest),
        "bench-lab" => lab::bench(rest),
        "bench-service" => service::bench(rest),
        "bench-lambda" => lambda::bench(rest),
        command if ops::COMMANDS.contains(&command) => ops::run(command, rest),
        // The judge's commands run in canaryctl too: they need the controller crate.
        "judge" | "bench-judge" => ops::run(command, rest),
        "help" | "--help" | "-h" => {
            print!("{HELP}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n\n{HELP}").into()),
    }
}
