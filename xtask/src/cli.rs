//! The command line of `cargo xtask`: every command with its options, `--help` with an example, and
//! clap's "did you mean" on a mistyped option. The operator commands and the judge's run in
//! `canaryctl` (crate `ops/`) and the lab in its own binary: their arguments pass through
//! untouched, and those programs' definitions answer their `--help` (canaryctl's, crate
//! `ops/args/`, before canaryctl is even built; see `ops.rs`).

use clap::{Args, Parser, Subcommand};

use crate::target::Arch;

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    arg_required_else_help = true,
    about = "The project's automation: synthesize and check the stack, test, publish and release, operate the canary, benchmark",
    after_help = "Examples:\n  cargo xtask synth --no-build\n  cargo xtask test\n  cargo xtask status --help"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Arguments handed to another program unchanged, `--help` included.
#[derive(Debug, Args)]
pub struct Passthrough {
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    pub args: Vec<String>,
}

/// `cargo xtask test`'s arguments: `cargo test`'s own, then after `--` the test binaries'.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// `cargo test`'s options (`-p judge`, a test name filter, `--help`)
    #[arg(allow_hyphen_values = true, value_name = "CARGO_TEST_ARGS")]
    pub cargo: Vec<String>,
    /// The test binaries' options (`--nocapture`, `--ignored`)
    #[arg(last = true, value_name = "TEST_BINARY_ARGS")]
    pub harness: Vec<String>,
}

impl TestArgs {
    /// The arguments after `cargo test --workspace --locked`.
    pub fn cargo_test_args(&self) -> Vec<String> {
        let mut args = self.cargo.clone();
        if !self.harness.is_empty() {
            args.push("--".to_owned());
            args.extend(self.harness.iter().cloned());
        }
        args
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write templates/ and docs/architecture.svg, and build the Lambda bundles
    #[command(
        after_help = "Example:\n  cargo xtask synth --no-build   # templates only, no bundle build"
    )]
    Synth {
        /// Compare with the committed files instead of writing them (builds nothing)
        #[arg(long)]
        check: bool,
        /// Do not build the Lambda bundles
        #[arg(long)]
        no_build: bool,
        /// The controller functions' instruction set
        #[arg(long, value_name = "ARCH", default_value = "x86_64", value_parser = Arch::parse)]
        arch: Arch,
    },
    /// Draw docs/architecture.svg from the stack (synth writes it too)
    #[command(after_help = "Example:\n  cargo xtask diagram")]
    Diagram,
    /// Prove templates/ safe: cfn-guard rules, the reachability check, the IAM proof, checkov, and
    /// AWS's Control Tower controls and Guard Rules Registry, each failure fixed or explained
    #[command(after_help = "Example:\n  cargo xtask check --verbose")]
    Check {
        /// Also print every flow with every hop it crossed
        #[arg(long)]
        verbose: bool,
    },
    /// The lint gate (fmt, clippy), then every test; the arguments go to `cargo test`
    #[command(
        disable_help_flag = true,
        after_help = "Examples:\n  cargo xtask test -- --nocapture\n  cargo xtask test -p judge -- --nocapture"
    )]
    Test(TestArgs),
    /// Build the static recommender binary and upload it as an immutable version, with its checksum
    #[command(after_help = "Example:\n  cargo xtask publish --bucket my-artifacts --version 1.2.0")]
    Publish {
        /// Where: the same options as `canaryctl publish`
        #[command(flatten)]
        store: canaryctl_args::ArtifactStore,
        /// The version to publish as (default: the recommender crate's version)
        #[arg(long, value_name = "V", value_parser = canaryctl_args::version_arg)]
        version: Option<String>,
        /// The binary's instruction set
        #[arg(long, value_name = "ARCH", default_value = "x86_64", value_parser = Arch::parse)]
        arch: Arch,
    },
    /// Build (and check) the static recommender binary only (or the target signal's); prints its path
    #[command(
        after_help = "Example:\n  cargo xtask build-static --arch x86_64\n  cargo xtask build-static --signal"
    )]
    BuildStatic {
        /// The binary's instruction set
        #[arg(long, value_name = "ARCH", default_value = "x86_64", value_parser = Arch::parse)]
        arch: Arch,
        /// Build alb-canary-signal, the target signal's proxy, instead of the recommender
        #[arg(long)]
        signal: bool,
    },
    /// Move the canary fleet to VERSION (publishing it first when it is this checkout's) [canaryctl: `cargo xtask release --help`]
    #[command(disable_help_flag = true)]
    Release(Passthrough),
    /// The deployed canary's weights, versions, release, decisions and alarms [canaryctl]
    #[command(disable_help_flag = true)]
    Status(Passthrough),
    /// Every release record; with --release, that release and its decisions [canaryctl]
    #[command(disable_help_flag = true)]
    History(Passthrough),
    /// Hold the canary at its step [canaryctl]
    #[command(disable_help_flag = true)]
    Pause(Passthrough),
    /// Continue a paused canary [canaryctl]
    #[command(disable_help_flag = true)]
    Resume(Passthrough),
    /// Skip the rest of this step's bake (formerly `promote`) [canaryctl]
    #[command(disable_help_flag = true, alias = "promote")]
    SkipBake(Passthrough),
    /// Roll back now [canaryctl]
    #[command(disable_help_flag = true)]
    Abort(Passthrough),
    /// Replay one decision from its inputs (README, section Replay a decision) [simulation]
    #[command(disable_help_flag = true)]
    Judge(Passthrough),
    /// Rehearse a canary on 127.0.0.1: HAProxy, the real controller and service, the emulator [lab binary]
    #[command(disable_help_flag = true)]
    Lab(Passthrough),
    /// Time the stack synthesis
    #[command(after_help = "Example:\n  cargo xtask bench-synth 50")]
    BenchSynth {
        /// How many syntheses to time
        #[arg(value_name = "RUNS", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
        runs: u32,
    },
    /// Time the policy and reachability check
    #[command(after_help = "Example:\n  cargo xtask bench-check --iterations 5")]
    BenchCheck {
        /// How many checks to time
        #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
        iterations: u32,
    },
    /// A bounded load run (wrk) against stable and canary on 127.0.0.1
    #[command(after_help = "Example:\n  cargo xtask bench-service --duration 5 --connections 16")]
    BenchService {
        /// Seconds of load per model
        #[arg(long, value_name = "S", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
        duration: u64,
        /// Open connections
        #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=1024))]
        connections: u64,
    },
    /// The targets' signal proxy against the service direct: p50/p99/p99.9 and published counts
    #[command(after_help = "Example:\n  cargo xtask bench-signal --rps 1000 --seconds 20")]
    BenchSignal {
        /// Requests per second, open loop (half of them through the proxy)
        #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=20_000))]
        rps: u32,
        /// Seconds of measured load (after a 1 s warm-up)
        #[arg(long, value_name = "S", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=600))]
        seconds: u32,
    },
    /// Both lab scenarios; reports their time and fault onset → canary weight 0 [lab options]
    #[command(disable_help_flag = true)]
    BenchLab(Passthrough),
    /// Release-build the Lambdas and report bundle sizes and handler times
    #[command(after_help = "Example:\n  cargo xtask bench-lambda")]
    BenchLambda,
    /// Every crash point and AWS API fault of the controller's runs and the operator commands, against the emulator; prints "faults survived: N of M explored"
    #[command(after_help = "Example:\n  cargo xtask bench-faults --only release")]
    BenchFaults {
        /// Only the scenarios whose name holds TEXT (`release`, `rollback alarm`, `promotion: a step`)
        #[arg(long, value_name = "TEXT")]
        only: Option<String>,
    },
    /// Seeded Monte Carlo canaries through the judge, both methods side by side [simulation]
    #[command(disable_help_flag = true)]
    BenchJudge(Passthrough),
    /// Our judge next to published sequential tests (savvi, expectation) on the same canaries
    #[command(
        after_help = "Example:\n  cargo xtask bench-peers --canaries 100 --only \"× stable\""
    )]
    BenchPeers {
        /// Canaries per error cell
        #[arg(long, value_name = "N", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        canaries: u32,
        /// Only the cells whose label contains this text
        #[arg(long, value_name = "TEXT")]
        only: Option<String>,
    },
}

impl Command {
    /// The commands `canaryctl` runs, by the name both programs give them.
    pub fn canaryctl_command(&self) -> Option<(&'static str, &[String])> {
        let (name, passthrough) = match self {
            Command::Release(p) => ("release", p),
            Command::Status(p) => ("status", p),
            Command::History(p) => ("history", p),
            Command::Pause(p) => ("pause", p),
            Command::Resume(p) => ("resume", p),
            Command::SkipBake(p) => ("skip-bake", p),
            Command::Abort(p) => ("abort", p),
            _ => return None,
        };
        Some((name, &passthrough.args))
    }

    /// The commands the `simulation` binary runs (the judge without AWS).
    pub fn simulation_command(&self) -> Option<(&'static str, &[String])> {
        let (name, passthrough) = match self {
            Command::Judge(p) => ("judge", p),
            Command::BenchJudge(p) => ("bench-judge", p),
            _ => return None,
        };
        Some((name, &passthrough.args))
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("cargo xtask").chain(args.iter().copied()))
    }

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_command_answers_help_with_its_options_and_an_example() {
        let root = Cli::command();
        let names: Vec<String> = root
            .get_subcommands()
            .map(|c| c.get_name().to_owned())
            .filter(|name| name != "help")
            .collect();
        assert_eq!(names.len(), 24, "{names:?}");
        for name in &names {
            match parse(&[name, "--help"]) {
                // Ours: clap's help, with the options and an example.
                Err(err) => {
                    assert_eq!(err.kind(), clap::error::ErrorKind::DisplayHelp, "{name}");
                    let help = err.to_string();
                    assert!(help.contains("Example:"), "{name}: {help}");
                    assert!(help.contains("Options:"), "{name}: {help}");
                }
                // Another program's: `--help` is handed to it.
                Ok(cli) => {
                    let args = match &cli.command {
                        Command::Test(t) => t.cargo_test_args(),
                        Command::Lab(p) | Command::BenchLab(p) => p.args.clone(),
                        other => other
                            .canaryctl_command()
                            .or(other.simulation_command())
                            .expect("passed through")
                            .1
                            .to_vec(),
                    };
                    assert_eq!(args, &["--help"], "{name}");
                }
            }
        }
    }

    #[test]
    fn test_arguments_reach_cargo_test_and_the_test_binaries() {
        for (args, expected) in [
            (&["--", "--nocapture"][..], &["--", "--nocapture"][..]),
            (
                &["-p", "judge", "--", "--nocapture"],
                &["-p", "judge", "--", "--nocapture"],
            ),
            (&["-p", "judge", "assess"], &["-p", "judge", "assess"]),
            (&["--help"], &["--help"]),
            (&[], &[]),
        ] {
            let argv: Vec<&str> = std::iter::once("test")
                .chain(args.iter().copied())
                .collect();
            let Command::Test(test) = parse(&argv).unwrap().command else {
                panic!("{args:?}: not the test command")
            };
            assert_eq!(test.cargo_test_args(), expected, "{args:?}");
        }
    }

    #[test]
    fn an_unknown_option_fails_with_a_suggestion() {
        let err = parse(&["synth", "--no-buld"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
        let text = err.to_string();
        assert!(
            text.contains("a similar argument exists: '--no-build'"),
            "{text}"
        );
        assert!(text.contains("Usage: cargo xtask synth"), "{text}");
        let err = parse(&["sytnh"]).unwrap_err().to_string();
        assert!(err.contains("similar subcommand exists: 'synth'"), "{err}");
    }

    #[test]
    fn the_options_reach_the_commands() {
        let cli = parse(&["synth", "--check", "--arch", "arm64"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Synth {
                check: true,
                no_build: false,
                arch: Arch::Arm64
            }
        ));
        let err = parse(&["synth", "--arch", "sparc"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("use x86_64 or arm64"), "{err}");
        let err = parse(&["bench-service", "--duration", "0"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("0 is not in 1..=120"), "{err}");
        let cli = parse(&["status", "--stack", "s", "--debug"]).unwrap();
        assert_eq!(
            cli.command.canaryctl_command(),
            Some((
                "status",
                &["--stack".to_owned(), "s".to_owned(), "--debug".to_owned()][..]
            ))
        );
    }

    #[test]
    fn publish_names_what_is_missing_or_unknown() {
        for (args, expected) in [
            (
                &["publish", "--prefix", "p"][..],
                "required arguments were not provided:\n  --bucket <B>",
            ),
            (
                &["publish", "--bucket", "b", "--arch", "s390x"],
                "unknown architecture `s390x`",
            ),
            (
                &["publish", "--bucket"],
                "a value is required for '--bucket <B>'",
            ),
            (
                &["publish", "--bucket", "b", "--force", "1"],
                "unexpected argument '--force'",
            ),
        ] {
            let err = parse(args).unwrap_err().to_string();
            assert!(err.contains(expected), "{args:?}: {err}");
        }
        let Command::Publish { store, version, .. } =
            parse(&["publish", "--bucket", "b"]).unwrap().command
        else {
            panic!("publish")
        };
        assert_eq!(store.prefix, "artifacts");
        assert_eq!(version, None);
    }
}
