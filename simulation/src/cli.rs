//! The command line of `simulation`: the judge without AWS, run by `cargo xtask judge` and
//! `cargo xtask bench-judge`.

use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Set by `cargo xtask` when it runs this binary, so that usage lines name the command typed.
pub const BIN_NAME_VAR: &str = "SIMULATION_BIN_NAME";

#[derive(Debug, Parser)]
#[command(
    name = "simulation",
    arg_required_else_help = true,
    about = "The judge without AWS: replay a recorded decision, or run seeded Monte Carlo canaries through it",
    after_help = "Examples:\n  simulation judge --replay decision.json\n  simulation bench-judge --canaries 200\n\nThe same commands run as `cargo xtask judge` and `cargo xtask bench-judge`."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Recompute one decision from its inputs and print every statistic with its threshold
    #[command(after_help = "Example:\n  simulation judge --replay decision.json")]
    Judge(ReplayArgs),
    /// Seeded Monte Carlo canaries through the judge, both methods side by side
    #[command(after_help = "Example:\n  simulation bench-judge --canaries 200 --seed 7 --json")]
    BenchJudge(BenchArgs),
}

impl Cli {
    /// Parses `args`, with usage lines and examples under `bin_name` when given (`cargo xtask`).
    pub fn parse_named(
        bin_name: Option<String>,
        args: impl IntoIterator<Item = String>,
    ) -> Result<Cli, clap::Error> {
        use clap::{CommandFactory, FromArgMatches};
        let mut command = Cli::command();
        if let Some(name) = bin_name {
            // The examples say what to type: `cargo xtask bench-judge …` under cargo xtask.
            command = command
                .bin_name(&name)
                .mut_subcommands(|sub| match sub.get_after_help() {
                    Some(help) => {
                        let help = help.to_string().replace("simulation ", &format!("{name} "));
                        sub.after_help(help)
                    }
                    None => sub,
                });
        }
        let matches = command.try_get_matches_from_mut(args)?;
        Cli::from_arg_matches(&matches).map_err(|err| err.format(&mut command))
    }
}

/// `judge`'s options.
#[derive(Clone, Debug, PartialEq, Eq, clap::Args)]
pub struct ReplayArgs {
    /// A replay input (JSON: the plan, the state, the weights and the minutes a decision saw), or
    /// a recorded decision (`{"plan", "record", "minutes"}`, `record` from its log line or history
    /// item)
    #[arg(long, value_name = "FILE")]
    pub replay: PathBuf,
}

/// `bench-judge`'s options.
#[derive(Clone, Debug, PartialEq, Eq, clap::Args)]
pub struct BenchArgs {
    /// Canaries simulated per cell and method
    #[arg(long, value_name = "N", default_value_t = NonZeroUsize::new(1000).expect("1000 > 0"))]
    pub canaries: NonZeroUsize,
    /// Seed of the simulation (the same seed gives the same table)
    #[arg(long, value_name = "S", default_value_t = 20_261_125)]
    pub seed: u64,
    /// Print the table as JSON
    #[arg(long)]
    pub json: bool,
    /// The plan's health.period_seconds: one simulated datapoint and decision per period (10, 20,
    /// 30 or a multiple of 60; below a minute the steps' limit shrinks to CloudWatch's 3 hours)
    #[arg(long, value_name = "S", default_value_t = 60)]
    pub period: u64,
    /// Only the cells whose label contains this text (e.g. "latency", "no baseline", "canary 2 %")
    #[arg(long, value_name = "TEXT")]
    pub only: Option<String>,
    /// The sequential method's plan as JSON, checked as the stack's parameter is (default: the
    /// stack's default plan); `--period` still applies to it
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Instead of the table: write the error cells' canaries under a fixed schedule, one JSON line
    /// each, with the period our judge would roll back at (`cargo xtask bench-peers` reads them)
    #[arg(long, value_name = "FILE")]
    pub export: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(name: Option<&str>, args: &[&str]) -> Result<Cli, clap::Error> {
        let argv = std::iter::once("simulation").chain(args.iter().copied());
        Cli::parse_named(name.map(str::to_owned), argv.map(str::to_owned))
    }

    #[test]
    fn help_names_the_command_typed_with_an_example() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        for command in ["judge", "bench-judge"] {
            let help = parse(Some("cargo xtask"), &[command, "--help"]).unwrap_err();
            assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
            let help = help.to_string();
            assert!(
                help.contains(&format!("Usage: cargo xtask {command}")),
                "{help}"
            );
            assert!(
                help.contains(&format!("Example:\n  cargo xtask {command} ")),
                "{help}"
            );
        }
    }

    #[test]
    fn the_options_reach_the_commands() {
        let Command::BenchJudge(args) = parse(None, &["bench-judge", "--canaries", "3", "--json"])
            .unwrap()
            .command
        else {
            panic!("not bench-judge")
        };
        assert_eq!((args.canaries.get(), args.json, args.period), (3, true, 60));
        let err = parse(None, &["bench-judge", "--canaries", "0"]).unwrap_err();
        assert!(err.to_string().contains("--canaries"), "{err}");
        let err = parse(None, &["judge"]).unwrap_err().to_string();
        assert!(err.contains("--replay <FILE>"), "{err}");
    }
}
