//! The project-local Python virtualenv (`.venv`) holding the pinned tools of `requirements-dev.txt`:
//! moto (the AWS emulator for tests), cfn-lint, the SAM CLI, cargo-lambda and the zig it links with.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use crate::project::{root, run_command};

const REQUIREMENTS: &str = "requirements-dev.txt";
/// Written after a successful install; holds the requirements it was made from, so that an edit
/// of the pins reinstalls and an unchanged file costs nothing.
const STAMP: &str = ".installed-requirements";

pub fn dir() -> PathBuf {
    root().join(".venv")
}

pub fn bin_dir() -> PathBuf {
    dir().join("bin")
}

/// Creates or updates `.venv` so that it holds exactly the pinned tools, and returns its `bin`.
pub fn ensure() -> crate::Result<PathBuf> {
    let requirements = fs::read_to_string(root().join(REQUIREMENTS))?;
    let stamp = dir().join(STAMP);
    if fs::read_to_string(&stamp).ok().as_deref() == Some(requirements.as_str()) {
        return Ok(bin_dir());
    }
    eprintln!(
        "installing the pinned Python tools of {REQUIREMENTS} into .venv (about two minutes, once)"
    );
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    if !bin_dir().join("python3").exists() {
        run_command(Command::new(&python).args(["-m", "venv"]).arg(dir()))?;
    }
    let pip = bin_dir().join("pip");
    run_command(
        Command::new(&pip)
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(root().join(REQUIREMENTS)),
    )?;
    fs::write(stamp, requirements)?;
    Ok(bin_dir())
}

/// `PATH` with the venv's `bin` first, as cargo-lambda needs to find zig through the venv's python.
pub fn path_with_bin(bin: &std::path::Path) -> std::ffi::OsString {
    let mut paths = vec![bin.to_path_buf()];
    if let Some(existing) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&existing));
    }
    std::env::join_paths(paths).expect("PATH entries contain no separator")
}
