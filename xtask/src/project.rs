//! Paths and process helpers shared by the commands.

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
