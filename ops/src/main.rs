//! `canaryctl`: the operator commands behind `cargo xtask publish | release | status | history |
//! pause | resume | promote | abort`.
//!
//! They need the AWS SDK, which xtask keeps out of its own build; xtask runs this binary instead.
//! `--endpoint-url URL` (or `AWS_ENDPOINT_URL`) points every client at the local emulator.

use std::process::ExitCode;

use canaryctl::{Result, control, history, judge, publish, release, status};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &[String]) -> Result {
    let Some((command, rest)) = args.split_first() else {
        return Err(
            "usage: canaryctl <publish|release|status|history|pause|resume|promote|abort|judge|bench-judge> [options]"
                .into(),
        );
    };
    match command.as_str() {
        "publish" => publish::run(rest).await,
        "release" => release::run(rest).await,
        "status" => status::run(rest).await,
        "judge" => judge::run(rest),
        "bench-judge" => judge::bench(rest),
        "history" => history::run(rest).await,
        name => match control::Action::parse(name) {
            Some(action) => control::run(action, rest).await,
            None => Err(format!("unknown command `{name}`").into()),
        },
    }
}
