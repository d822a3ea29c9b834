//! The project-local Python virtualenvs, each holding exactly the pinned tools of one requirements
//! file: `.venv` (moto, cfn-lint, the SAM CLI, cargo-lambda and the zig it links with) and
//! `.venv-scan` (checkov, which pins its own boto3 and so cannot share `.venv` with moto and SAM).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::project::{root, run_command};

/// Written after a successful install; holds the requirements it was made from, so that an edit
/// of the pins reinstalls and an unchanged file costs nothing.
const STAMP: &str = ".installed-requirements";

/// One virtualenv and the requirements file it is installed from.
pub struct Venv {
    dir: &'static str,
    requirements: &'static str,
    /// How long a fresh install takes, for the message shown before it.
    install_time: &'static str,
}

/// The test and packaging tools.
pub const DEV: Venv = Venv {
    dir: ".venv",
    requirements: "requirements-dev.txt",
    install_time: "about two minutes",
};

/// The IaC scanner the template's waivers are written for.
pub const SCAN: Venv = Venv {
    dir: ".venv-scan",
    requirements: "requirements-scan.txt",
    install_time: "about a minute",
};

impl Venv {
    pub fn dir(&self) -> PathBuf {
        root().join(self.dir)
    }

    pub fn bin_dir(&self) -> PathBuf {
        self.dir().join("bin")
    }

    /// Creates or updates the virtualenv so that it holds exactly the pinned tools, and returns
    /// its `bin`.
    pub fn ensure(&self) -> crate::Result<PathBuf> {
        let requirements = fs::read_to_string(root().join(self.requirements))?;
        let stamp = self.dir().join(STAMP);
        if fs::read_to_string(&stamp).ok().as_deref() == Some(requirements.as_str()) {
            return Ok(self.bin_dir());
        }
        eprintln!(
            "installing the pinned Python tools of {} into {} ({}, once)",
            self.requirements, self.dir, self.install_time
        );
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
        if !self.bin_dir().join("python3").exists() {
            run_command(Command::new(&python).args(["-m", "venv"]).arg(self.dir()))?;
        }
        run_command(
            Command::new(self.bin_dir().join("pip"))
                .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
                .arg(root().join(self.requirements)),
        )?;
        fs::write(stamp, requirements)?;
        Ok(self.bin_dir())
    }
}

pub fn dir() -> PathBuf {
    DEV.dir()
}

/// Creates or updates `.venv` (see [`Venv::ensure`]).
pub fn ensure() -> crate::Result<PathBuf> {
    DEV.ensure()
}

/// `PATH` with the venv's `bin` first, as cargo-lambda needs to find zig through the venv's python.
pub fn path_with_bin(bin: &Path) -> std::ffi::OsString {
    let mut paths = vec![bin.to_path_buf()];
    if let Some(existing) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&existing));
    }
    std::env::join_paths(paths).expect("PATH entries contain no separator")
}
