//! `cargo xtask release | status | history | pause | resume | promote | abort`: the operator
//! commands, run by the `canaryctl` binary (crate `ops/`), which holds the AWS SDK work this crate
//! stays free of.

use std::process::Command;

use crate::project::{root, run_command};
use crate::service::{build_static, service_version};
use crate::target::Arch;

/// Values of these options are not the release's VERSION.
const OPTIONS_WITH_VALUES: [&str; 4] = ["--file", "--stack", "--function", "--endpoint-url"];

pub fn run(command: &str, args: &[String]) -> crate::Result {
    let mut extra = Vec::new();
    // `release` publishes first when the version is this checkout's: the static binary is built
    // and handed over; any other version must already be published.
    if command == "release"
        && let Some(version) = release_version(args)
        && *version == service_version()?
    {
        let binary = build_static(Arch::X86_64)?;
        extra = vec!["--file".to_string(), binary.display().to_string()];
    }
    run_command(
        Command::new(env!("CARGO"))
            .current_dir(root())
            .args(["run", "--quiet", "--package", "canaryctl", "--", command])
            // canaryctl's usage lines and suggestions then name the command typed here.
            .env("CANARYCTL_BIN_NAME", "cargo xtask")
            .args(args)
            .args(extra),
    )
}

/// The VERSION argument of `release` (canaryctl parses and checks it; this only finds it).
fn release_version(args: &[String]) -> Option<&String> {
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if OPTIONS_WITH_VALUES.contains(&arg.as_str()) {
            args.next();
        } else if !arg.starts_with('-') {
            return Some(arg);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_release_version_is_the_argument_that_is_no_option_value() {
        let args = |list: &[&str]| list.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        let found = |list: &[&str]| release_version(&args(list)).cloned();
        assert_eq!(found(&["1.2.0", "--force"]), Some("1.2.0".into()));
        assert_eq!(
            found(&["--stack", "s", "--force", "1.2.0"]),
            Some("1.2.0".into())
        );
        assert_eq!(found(&["--file", "bin", "1.2.0"]), Some("1.2.0".into()));
        assert_eq!(found(&["--help"]), None);
    }
}
