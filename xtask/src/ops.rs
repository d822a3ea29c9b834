//! `cargo xtask release | status | history | pause | resume | skip-bake | abort | judge |
//! bench-judge`: run by the `canaryctl` binary (crate `ops/`), which holds the AWS SDK work this
//! crate stays free of. The arguments are parsed here first with canaryctl's own definition
//! (crate `ops/args/`, no SDK): `--help` and usage mistakes are answered without building
//! canaryctl, and `release` finds its VERSION as canaryctl will read it.

use std::process::Command;

use canaryctl_args::{BIN_NAME_VAR, Cli, Command as Canaryctl};

use crate::project::{delegate, root, target_dir};
use crate::service::{build_static, build_static_signal, service_version};
use crate::target::Arch;

/// Our name in canaryctl's usage lines and suggestions.
const BIN_NAME: &str = "cargo xtask";

pub fn run(command: &str, args: &[String]) -> crate::Result {
    // --help and usage errors: clap prints them and exits, as canaryctl would.
    let cli = parse(command, args).unwrap_or_else(|err| err.exit());
    let mut extra = Vec::new();
    // `release` publishes first when the version is this checkout's: the static binary is built
    // and handed over; any other version must already be published.
    if let Some(version) = version_to_build(&cli)
        && version == service_version()?
    {
        let binary = build_static(Arch::X86_64)?;
        let signal = build_static_signal(Arch::X86_64)?;
        extra = vec![
            "--file".to_string(),
            binary.display().to_string(),
            "--signal-file".to_string(),
            signal.display().to_string(),
        ];
    }
    // canaryctl prints its own errors (one line, --debug for the rest).
    delegate(
        canaryctl()
            .args(["--", command])
            .env(BIN_NAME_VAR, BIN_NAME)
            .args(args)
            .args(extra),
    )
}

/// Where canaryctl is built: a target directory of its own, so that no other build (the tests'
/// unified features, the static and Lambda builds' flags) makes it stale. `synth` builds it, so
/// in an incident `cargo xtask abort` finds it built and acts at once.
pub fn canaryctl_target_dir() -> std::path::PathBuf {
    target_dir().join("canaryctl")
}

/// `cargo run` of canaryctl in [`canaryctl_target_dir`]; the caller adds `--` and its arguments.
pub fn canaryctl() -> Command {
    let mut cmd = crate::project::cargo();
    cmd.current_dir(root())
        .args(["run", "--quiet", "--locked", "--package", "canaryctl"])
        .arg("--target-dir")
        .arg(canaryctl_target_dir());
    cmd
}

/// Builds canaryctl where the operator commands run it (`synth`'s last step).
pub fn build_canaryctl() -> crate::Result {
    crate::project::run_command(
        crate::project::cargo()
            .current_dir(root())
            .args(["build", "--quiet", "--locked", "--package", "canaryctl"])
            .arg("--target-dir")
            .arg(canaryctl_target_dir()),
    )
}

fn parse(command: &str, args: &[String]) -> Result<Cli, clap::Error> {
    let argv = [BIN_NAME, command].into_iter().map(str::to_owned);
    Cli::parse_named(Some(BIN_NAME.to_owned()), argv.chain(args.iter().cloned()))
}

/// The VERSION of a `release` that names no `--file` of its own: the one to build if it is this
/// checkout's.
fn version_to_build(cli: &Cli) -> Option<&str> {
    match &cli.command {
        Canaryctl::Release(release) if release.file.is_none() => Some(&release.version),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(args: &[&str]) -> Result<Option<String>, String> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        parse("release", &args)
            .map(|cli| version_to_build(&cli).map(str::to_owned))
            .map_err(|err| err.to_string())
    }

    #[test]
    fn the_release_version_is_read_as_canaryctl_reads_it() {
        assert_eq!(version(&["1.2.0", "--force"]), Ok(Some("1.2.0".into())));
        assert_eq!(
            version(&["--stack", "s", "--force", "1.2.0"]),
            Ok(Some("1.2.0".into()))
        );
        assert_eq!(
            version(&["--endpoint-url", "http://127.0.0.1:5000", "1.2.0"]),
            Ok(Some("1.2.0".into()))
        );
        // A binary of the caller's own: nothing to build.
        assert_eq!(version(&["--file", "bin", "1.2.0"]), Ok(None));
        let other = parse("status", &["--stack".into(), "s".into()]).unwrap();
        assert_eq!(version_to_build(&other), None);
    }

    #[test]
    fn help_and_mistakes_are_canaryctls_under_our_name() {
        let help = parse("release", &["--help".into()]).unwrap_err();
        assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
        let help = help.to_string();
        assert!(
            help.contains("Usage: cargo xtask release [OPTIONS] <VERSION>"),
            "{help}"
        );
        assert!(help.contains("Example:"), "{help}");
        for (args, expected) in [
            (
                &["1.2.0", "--stak", "s"][..],
                "a similar argument exists: '--stack'",
            ),
            (&["--force"], "required arguments were not provided"),
            (&["../1.2.0"], "contains `/`"),
            (
                &["1.2.0", "--stack"],
                "a value is required for '--stack <NAME>'",
            ),
        ] {
            let err = version(args).unwrap_err();
            assert!(err.contains(expected), "{args:?}: {err}");
        }
        let err = version(&["1.2.0", "--stak", "s"]).unwrap_err();
        assert!(err.contains("Usage: cargo xtask release"), "{err}");
    }
}
