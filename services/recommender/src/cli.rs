//! The command line, parsed by clap like `cargo xtask` and `canaryctl`: `recommender --model v1|v2
//! [--port N] [--host IP]` serves, `recommender --health-check [--port N] [--host IP]` checks the
//! local server once. The environment (`PORT`, the fault knobs) is read through a lookup function,
//! so tests need not touch the process's own.

use std::ffi::OsString;
use std::net::IpAddr;

use clap::Parser;
use clap::error::ErrorKind;

use crate::config::{Config, ConfigError};
use crate::health_check::Target;
use crate::model::Model;

const EXAMPLES: &str = "\
Examples:
  recommender --model v2 --port 8000
  RECOMMENDER_ERROR_RATE=0.25 recommender --model v2     (a drill: a quarter of answers are 500)
  recommender --health-check                            (exit 0 when the local server is healthy)

Environment: PORT (when --port is not given), RECOMMENDER_EXTRA_LATENCY_MS,
RECOMMENDER_ERROR_RATE, RECOMMENDER_REQUEST_TIMEOUT_MS, RUST_LOG; an empty variable counts as unset.";

#[derive(Debug, Parser)]
#[command(
    name = "recommender",
    version,
    override_usage = "recommender --model <v1|v2> [--port <N>] [--host <IP>]\n       \
                      recommender --health-check [--port <N>] [--host <IP>]",
    about = "The recommendation API (POST /api/v1/recommendation, GET /health), V1 or V2",
    after_help = EXAMPLES
)]
struct Cli {
    /// The model to serve
    #[arg(
        long,
        value_name = "v1|v2",
        value_parser = model,
        required_unless_present = "health_check",
        conflicts_with = "health_check"
    )]
    model: Option<Model>,
    /// The port to listen on (0 picks a free one) or to check; else PORT, else 8000
    #[arg(long, value_name = "N")]
    port: Option<u16>,
    /// The address to listen on (default: every interface) or to check (default: 127.0.0.1)
    #[arg(long, value_name = "IP")]
    host: Option<IpAddr>,
    /// Ask the local server's GET /health once: exit 0 on a 200 within 2 s, else 1 (a container's
    /// health command, in an image without a shell)
    #[arg(long)]
    health_check: bool,
}

fn model(value: &str) -> Result<Model, String> {
    value
        .parse()
        .map_err(|()| format!("`{value}` is not a model: expected v1 or v2"))
}

/// What the process was asked to do.
#[derive(Debug, PartialEq)]
pub enum Command {
    Serve(Config),
    HealthCheck(Target),
}

/// Why the command line was not run. [`CliError::exit_code`] says how to exit.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A usage error, or `--help`/`--version` (clap's text, to print as it is).
    #[error("{error}")]
    Usage {
        error: Box<clap::Error>,
        health_check: bool,
    },
    #[error("{error}")]
    Config {
        error: ConfigError,
        health_check: bool,
    },
}

impl CliError {
    /// 0 for `--help` and `--version`, 2 for a bad start-up, but 1 in health-check mode:
    /// container engines reserve 2 of a health command.
    pub fn exit_code(&self) -> u8 {
        let health_check = match self {
            CliError::Usage {
                error,
                health_check,
            } => {
                if matches!(
                    error.kind(),
                    ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
                ) {
                    return 0;
                }
                *health_check
            }
            CliError::Config { health_check, .. } => *health_check,
        };
        if health_check { 1 } else { 2 }
    }

    /// Help and version go to stdout; errors to stderr.
    pub fn is_error(&self) -> bool {
        self.exit_code() != 0
    }
}

/// Parses the command line (program name first) and reads the environment through `env`.
pub fn parse<I, T, F>(args: I, env: F) -> Result<Command, CliError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
    F: Fn(&str) -> Option<String>,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let health_check = args.iter().any(|arg| arg == "--health-check");
    let cli = Cli::try_parse_from(&args).map_err(|error| CliError::Usage {
        error: Box::new(error),
        health_check,
    })?;
    let env = |name: &str| env(name).filter(|value| !value.is_empty());
    let command = match cli.model {
        Some(model) if !cli.health_check => {
            Config::from_flags(model, cli.port, cli.host, env).map(Command::Serve)
        }
        _ => Target::from_flags(cli.port, cli.host, env).map(Command::HealthCheck),
    };
    command.map_err(|error| CliError::Config {
        error,
        health_check,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::{ERROR_RATE_VAR, EXTRA_LATENCY_VAR, PORT_VAR};

    fn run(args: &[&str], vars: &[(&str, &str)]) -> Result<Command, CliError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse(
            std::iter::once("recommender").chain(args.iter().copied()),
            move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
        )
    }

    fn serve(args: &[&str], vars: &[(&str, &str)]) -> Config {
        match run(args, vars) {
            Ok(Command::Serve(config)) => config,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn check(args: &[&str], vars: &[(&str, &str)]) -> Target {
        match run(args, vars) {
            Ok(Command::HealthCheck(target)) => target,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn serving_defaults_to_port_8000_on_every_interface_without_faults() {
        let config = serve(&["--model", "v1"], &[]);
        assert_eq!(config, Config::new(Model::V1));
        assert_eq!(config.port, 8000);
        assert_eq!(config.host.to_string(), "0.0.0.0");
        assert_eq!(serve(&["--model=V2"], &[]).model, Model::V2);
    }

    #[test]
    fn the_port_flag_wins_over_the_port_variable_and_an_empty_variable_is_unset() {
        let port = |args: &[&str], vars: &[(&str, &str)]| serve(args, vars).port;
        assert_eq!(
            port(&["--model=v2", "--port", "9001"], &[(PORT_VAR, "9002")]),
            9001
        );
        assert_eq!(port(&["--model", "v2"], &[(PORT_VAR, "9002")]), 9002);
        assert_eq!(port(&["--model", "v2"], &[(PORT_VAR, "")]), 8000);
        let host = serve(&["--model", "v2", "--host", "127.0.0.1"], &[]).host;
        assert_eq!(host.to_string(), "127.0.0.1");
    }

    #[test]
    fn the_fault_knobs_reach_the_configuration() {
        let config = serve(
            &["--model", "v2"],
            &[(EXTRA_LATENCY_VAR, "250"), (ERROR_RATE_VAR, "0.3")],
        );
        assert_eq!(config.faults.extra_latency, Duration::from_millis(250));
        assert_eq!(config.faults.error_rate, 0.3);
    }

    #[test]
    fn the_health_check_targets_the_servers_own_port_on_loopback() {
        assert_eq!(
            check(&["--health-check"], &[]).0.to_string(),
            "127.0.0.1:8000"
        );
        assert_eq!(
            check(&["--health-check"], &[(PORT_VAR, "9000")]).0.port(),
            9000
        );
        assert_eq!(
            check(&["--health-check", "--port", "9001"], &[(PORT_VAR, "9000")])
                .0
                .port(),
            9001
        );
        let target = check(&["--port=9002", "--health-check", "--host", "::1"], &[]);
        assert_eq!(target.0.to_string(), "[::1]:9002");
    }

    /// Arguments, environment, the text the error must contain, and the exit code.
    type Case = (
        &'static [&'static str],
        &'static [(&'static str, &'static str)],
        &'static str,
        u8,
    );

    #[test]
    fn bad_input_names_the_flag_or_variable_and_exits_2_or_1_when_checking_health() {
        let cases: &[Case] = &[
            (&[], &[], "--model <v1|v2>", 2),
            (&["--model", "v3"], &[], "`v3` is not a model", 2),
            (
                &["--model"],
                &[],
                "a value is required for '--model <v1|v2>'",
                2,
            ),
            (&["--model", "v1", "--verbose"], &[], "'--verbose'", 2),
            (
                &["--model", "v1", "--prot", "80"],
                &[],
                "tip: a similar argument exists: '--port'",
                2,
            ),
            (
                &["--model", "v1", "--port", "80000"],
                &[],
                "'80000' for '--port <N>'",
                2,
            ),
            (&["--model", "v1"], &[(PORT_VAR, "http")], "PORT `http`", 2),
            (
                &["--model", "v1", "--host", "localhost"],
                &[],
                "'localhost' for '--host <IP>'",
                2,
            ),
            (
                &["--model", "v1"],
                &[(ERROR_RATE_VAR, "1.5")],
                "RECOMMENDER_ERROR_RATE=`1.5`",
                2,
            ),
            (
                &["--health-check", "--model", "v2"],
                &[],
                "cannot be used with",
                1,
            ),
            (
                &["--health-check", "--port", "http"],
                &[],
                "'http' for '--port <N>'",
                1,
            ),
            (
                &["--health-check"],
                &[(PORT_VAR, "99999")],
                "PORT `99999`",
                1,
            ),
        ];
        for (args, vars, expected, code) in cases {
            let err = run(args, vars).expect_err(expected);
            let text = err.to_string();
            assert!(
                text.contains(expected),
                "{args:?}: `{text}` should contain `{expected}`"
            );
            assert_eq!(err.exit_code(), *code, "{args:?}: {text}");
            assert!(err.is_error());
        }
    }

    #[test]
    fn help_lists_the_options_with_examples_and_exits_0() {
        let err = run(&["--help"], &[]).unwrap_err();
        let text = err.to_string();
        for expected in [
            "--model <v1|v2>",
            "--port <N>",
            "--host <IP>",
            "--health-check",
            "Examples:",
            "PORT",
        ] {
            assert!(text.contains(expected), "{expected}: {text}");
        }
        assert_eq!(err.exit_code(), 0);
        assert!(!err.is_error());
    }
}
