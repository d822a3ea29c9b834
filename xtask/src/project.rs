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
    fn a_delegated_failure_keeps_its_code_and_a_run_command_failure_names_the_command() {
        let err = delegate(Command::new("sh").args(["-c", "exit 3"])).unwrap_err();
        assert_eq!(err.downcast_ref::<Reported>(), Some(&Reported(3)));
        assert!(delegate(&mut Command::new("true")).is_ok());
        let err = run_command(Command::new("sh").args(["-c", "exit 3"])).unwrap_err();
        assert!(err.downcast_ref::<Reported>().is_none());
        assert!(err.to_string().contains("\"sh\""), "{err}");
    }
}
