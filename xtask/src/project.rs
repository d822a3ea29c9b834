//! Paths and process helpers shared by the commands.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root, wherever cargo was invoked from.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Where cargo builds: `CARGO_TARGET_DIR` if set (relative to the workspace root, as cargo reads
/// it when run there), else the workspace's `target/`.
pub fn target_dir() -> PathBuf {
    target_dir_from(std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from))
}

fn target_dir_from(var: Option<PathBuf>) -> PathBuf {
    match var {
        Some(dir) if dir.as_os_str().is_empty() => root().join("target"),
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

/// Variables cargo sets for the program it runs (`cargo xtask` is `cargo run`), which a build
/// script may track: ring's (brought in by the SDK's legacy HTTP stack, since dropped) reran when
/// `CARGO_MANIFEST_DIR` changed, so a cargo run by xtask with xtask's values rebuilt ring and all
/// above it (88 s) after any build from a shell, and the reverse. Cargo runs from xtask without
/// them, as from a shell.
const RUN_VARS: &[&str] = &[
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_MANIFEST_LINKS",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
];

/// `cargo`, as a shell would run it (see [`RUN_VARS`]; the `CARGO_PKG_*` variables too).
pub fn cargo() -> Command {
    as_from_a_shell(Command::new(env!("CARGO")))
}

/// `cmd` without the variables cargo set for xtask (for programs that run cargo themselves).
pub fn as_from_a_shell(mut cmd: Command) -> Command {
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if RUN_VARS.contains(&name.as_ref()) || name.starts_with("CARGO_PKG_") {
            cmd.env_remove(name.as_ref());
        }
    }
    cmd
}

/// Runs `cmd` to completion; a non-zero exit is an error that names the command.
pub fn run_command(cmd: &mut Command) -> crate::Result {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .map_err(|err| format!("could not start {shown}: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed with {status}").into())
    }
}

/// A program that said itself why it failed (canaryctl, the lab): xtask exits with its code and
/// adds no line of its own, so the person reads one error, not two.
#[derive(Debug, PartialEq, Eq)]
pub struct Reported(pub u8);

impl fmt::Display for Reported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exited with code {}", self.0)
    }
}

impl std::error::Error for Reported {}

/// Runs a program that reports its own errors; a failure is [`Reported`] with its exit code.
pub fn delegate(cmd: &mut Command) -> crate::Result {
    let status = cmd
        .status()
        .map_err(|err| format!("could not start {cmd:?}: {err}"))?;
    if status.success() {
        return Ok(());
    }
    // Killed by a signal: no code; 1 like any other failure.
    let code = status
        .code()
        .and_then(|c| u8::try_from(c).ok())
        .unwrap_or(1);
    Err(Box::new(Reported(code.max(1))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_dir_is_cargos() {
        assert_eq!(target_dir_from(None), root().join("target"));
        assert_eq!(target_dir_from(Some("".into())), root().join("target"));
        assert_eq!(target_dir_from(Some("/tmp/t".into())), Path::new("/tmp/t"));
        assert_eq!(target_dir_from(Some("out".into())), root().join("out"));
    }

    #[test]
    fn a_delegated_failure_keeps_its_code_and_a_run_command_failure_names_the_command() {
        let err = delegate(Command::new("sh").args(["-c", "exit 3"])).unwrap_err();
        assert_eq!(err.downcast_ref::<Reported>(), Some(&Reported(3)));
        assert!(delegate(&mut Command::new("true")).is_ok());
        let err = run_command(Command::new("sh").args(["-c", "exit 3"])).unwrap_err();
        assert!(err.downcast_ref::<Reported>().is_none());
        assert!(err.to_string().contains("\"sh\""), "{err}");
    }
}
