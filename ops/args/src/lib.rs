//! canaryctl's command line: every command with its options, `--help` with an example, and
//! clap's "did you mean" on a mistyped option. `cargo xtask` runs these commands under its own
//! name (see [`BIN_NAME_VAR`]).
//!
//! A crate of its own, free of the AWS SDK: xtask parses `cargo xtask release` with this very
//! definition (to find the VERSION it may publish first), so the two cannot disagree on an option.

mod options;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

pub use options::{
    ArtifactStore, DEFAULT_STACK, HistoryArgs, Options, PublishArgs, ReleaseArgs, version_arg,
};

/// Set by `cargo xtask` when it runs canaryctl, so that usage lines and suggestions name the
/// command the user typed.
pub const BIN_NAME_VAR: &str = "CANARYCTL_BIN_NAME";

#[derive(Debug, Parser)]
#[command(
    name = "canaryctl",
    arg_required_else_help = true,
    about = "Operate the deployed canary: publish and release versions, read its status and history, pause, resume, skip a bake or abort",
    after_help = "Examples:\n  canaryctl status --stack alb-canary\n  canaryctl release 1.2.0\n  canaryctl abort --function alb-canary-rollback\n\nThe same commands run as `cargo xtask <command>` (README, section Operate)."
)]
pub struct Cli {
    /// On failure, print the whole chain of causes (every SDK error's source) after the summary
    #[arg(long, global = true)]
    pub debug: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Upload the recommender binary as an immutable version, with its SHA-256
    #[command(
        after_help = "Example:\n  canaryctl publish --bucket my-artifacts --version 1.2.0 --file target/x86_64-unknown-linux-gnu/release/recommender"
    )]
    Publish(PublishArgs),
    /// Move the canary fleet to a published version; its canary starts once that fleet is healthy
    #[command(after_help = "Example:\n  canaryctl release 1.2.0 --stack alb-canary")]
    Release(ReleaseArgs),
    /// The weights, the versions, the release in progress, the last decisions and the alarms
    #[command(after_help = "Example:\n  canaryctl status --stack alb-canary")]
    Status(Options),
    /// Every release record, oldest first; with --release, that release and its decisions
    #[command(after_help = "Example:\n  canaryctl history --release 1.2.0")]
    History(HistoryArgs),
    /// Hold the canary at its step until `resume`
    #[command(after_help = "Example:\n  canaryctl pause --stack alb-canary")]
    Pause(Options),
    /// Continue a paused canary; the bake of its step starts again
    #[command(after_help = "Example:\n  canaryctl resume --stack alb-canary")]
    Resume(Options),
    /// Skip the rest of this step's bake: the next run may promote if the canary is healthy (`promote`
    /// is its former name, still accepted)
    #[command(
        alias = "promote",
        after_help = "Example:\n  canaryctl skip-bake --stack alb-canary"
    )]
    SkipBake(Options),
    /// Roll back now: canary weight 0, recorded, schedule disabled, notified
    #[command(after_help = "Example:\n  canaryctl abort --stack alb-canary")]
    Abort(Options),
}

impl Cli {
    /// The command line definition, named as [`BIN_NAME_VAR`] says when it is set.
    pub fn command_named(bin_name: Option<String>) -> clap::Command {
        let command = Cli::command();
        match bin_name {
            Some(name) => {
                // The examples say what to type: `cargo xtask release 1.2.0` under cargo xtask.
                let renamed = |help: Option<&clap::builder::StyledStr>| {
                    help.map(|h| h.to_string().replace("canaryctl ", &format!("{name} ")))
                };
                let mut command = command.bin_name(&name);
                if let Some(help) = renamed(command.get_after_help()) {
                    command = command.after_help(help);
                }
                let subcommands: Vec<String> = command
                    .get_subcommands()
                    .map(|c| c.get_name().to_owned())
                    .collect();
                for sub in subcommands {
                    command = command.mut_subcommand(sub, |c| match renamed(c.get_after_help()) {
                        Some(help) => c.after_help(help),
                        None => c,
                    });
                }
                command
            }
            None => command,
        }
    }

    /// Parses `args` (program name first); on a usage error or `--help`, clap's error, which
    /// prints itself with the right exit code.
    pub fn parse_named(
        bin_name: Option<String>,
        args: impl IntoIterator<Item = String>,
    ) -> Result<Cli, clap::Error> {
        let mut command = Cli::command_named(bin_name);
        let matches = command.try_get_matches_from_mut(args)?;
        Cli::from_arg_matches(&matches).map_err(|err| err.format(&mut command))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_examples_name_the_command_the_user_typed() {
        let help = |bin: Option<&str>, args: &[&str]| {
            let argv = std::iter::once(bin.unwrap_or("canaryctl"))
                .chain(args.iter().copied())
                .map(String::from);
            Cli::parse_named(bin.map(String::from), argv)
                .unwrap_err()
                .to_string()
        };
        let release = help(Some("cargo xtask"), &["release", "--help"]);
        assert!(
            release.contains("  cargo xtask release 1.2.0 --stack alb-canary"),
            "{release}"
        );
        assert!(!release.contains("canaryctl"), "{release}");
        let root = help(Some("cargo xtask"), &["--help"]);
        assert!(
            root.contains("  cargo xtask status --stack alb-canary"),
            "{root}"
        );
        let own = help(None, &["release", "--help"]);
        assert!(own.contains("  canaryctl release 1.2.0"), "{own}");
    }

    #[test]
    fn skip_bake_keeps_its_former_name_promote() {
        for word in ["skip-bake", "promote"] {
            let cli = Cli::parse_named(None, ["canaryctl", word, "--stack", "s"].map(String::from))
                .unwrap();
            assert!(matches!(cli.command, Command::SkipBake(_)), "{word}");
        }
    }

    #[test]
    fn every_command_answers_help_with_its_options_and_an_example() {
        let mut root = Cli::command();
        let root_help = root.render_long_help().to_string();
        assert!(root_help.contains("Examples:"), "{root_help}");
        let names: Vec<String> = root
            .get_subcommands()
            .map(|c| c.get_name().to_owned())
            .filter(|name| name != "help")
            .collect();
        assert_eq!(names.len(), 8, "{names:?}");
        for name in &names {
            let err = Cli::parse_named(None, ["canaryctl", name, "--help"].map(String::from))
                .expect_err("--help ends the parse");
            assert_eq!(err.kind(), clap::error::ErrorKind::DisplayHelp, "{name}");
            let help = err.to_string();
            assert!(help.contains("Example:"), "{name}: {help}");
            assert!(help.contains("Options:"), "{name}: {help}");
            assert!(
                help.contains("--debug"),
                "{name}: the global flag is listed"
            );
        }
        let status = Cli::parse_named(None, ["canaryctl", "status", "--help"].map(String::from))
            .unwrap_err()
            .to_string();
        for option in [
            "--stack <NAME>",
            "--function <NAME>",
            "--endpoint-url <URL>",
        ] {
            assert!(status.contains(option), "{status}");
        }
    }

    #[test]
    fn an_unknown_option_fails_with_a_suggestion_under_the_callers_name() {
        let err = Cli::parse_named(
            Some("cargo xtask".into()),
            ["canaryctl", "status", "--stak", "x"].map(String::from),
        )
        .unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
        let text = err.to_string();
        assert!(text.contains("unexpected argument '--stak'"), "{text}");
        assert!(
            text.contains("a similar argument exists: '--stack'"),
            "{text}"
        );
        assert!(text.contains("Usage: cargo xtask status"), "{text}");
    }

    #[test]
    fn the_options_reach_the_commands() {
        let cli = Cli::parse_named(
            None,
            [
                "canaryctl",
                "release",
                "1.2.0",
                "--force",
                "--function",
                "f",
                "--debug",
            ]
            .map(String::from),
        )
        .unwrap();
        assert!(cli.debug);
        let Command::Release(args) = cli.command else {
            panic!("{:?}", cli.command)
        };
        assert_eq!(args.version, "1.2.0");
        assert!(args.force);
        assert_eq!(args.target.function.as_deref(), Some("f"));
        assert_eq!(args.target.stack, DEFAULT_STACK);
        let err = Cli::parse_named(None, ["canaryctl", "release", "../x"].map(String::from))
            .unwrap_err()
            .to_string();
        assert!(err.contains("contains `/`"), "{err}");
    }
}
