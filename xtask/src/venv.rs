//! The project-local Python virtualenvs, each holding exactly the pinned tools of one requirements
//! file: `.venv` (moto, cfn-lint, the SAM CLI, cargo-lambda and the zig it links with) and
//! `.venv-scan` (checkov, which pins its own boto3 and so cannot share `.venv` with moto and SAM).
//!
//! A requirements file may name a package of this repository by its path (`./emulator`, the
//! extended moto server): pip runs from the workspace root, so that the path resolves whatever the
//! caller's directory, and installs it as a normal (non-editable) package. The stamp holds that
//! package's files' digests next to the requirements, so an edit of its source reinstalls it, as
//! an edit of a pin does. Non-editable because the tests then run what a fresh install gives,
//! nothing in `.venv` points back into the work tree, and a change of the package's metadata (its
//! entry point, its pins) takes effect too, which an editable install would miss.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::project::{root, run_command};

/// Written after a successful install; holds the requirements it was made from and the digests of
/// the local packages' files, so that an edit of the pins or of a local package reinstalls and an
/// unchanged tree costs nothing.
const STAMP: &str = ".installed-requirements";

/// One virtualenv and the requirements file it is installed from.
pub struct Venv {
    dir: &'static str,
    requirements: &'static str,
    /// How long a fresh install takes, for the message shown before it.
    install_time: &'static str,
    /// The repository's own packages that the requirements install from a path.
    local_packages: &'static [&'static str],
    /// The interpreter the virtualenv is made with (`PYTHON` overrides it).
    python: &'static str,
}

/// The test and packaging tools.
pub const DEV: Venv = Venv {
    dir: ".venv",
    requirements: "requirements-dev.txt",
    install_time: "about two minutes",
    local_packages: &["emulator"],
    python: "python3",
};

/// The IaC scanner the template's waivers are written for.
pub const SCAN: Venv = Venv {
    dir: ".venv-scan",
    requirements: "requirements-scan.txt",
    install_time: "about a minute",
    local_packages: &[],
    python: "python3",
};

/// The published sequential tests `bench-peers` compares the judge with; expectation 0.6 needs
/// Python 3.12 or later.
pub const PEERS: Venv = Venv {
    dir: ".venv-peers",
    requirements: "benches/peers/requirements.txt",
    install_time: "about a minute",
    local_packages: &[],
    python: "python3.12",
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
        let requirements = self.stamp_text()?;
        let stamp = self.dir().join(STAMP);
        if fs::read_to_string(&stamp).ok().as_deref() == Some(requirements.as_str()) {
            return Ok(self.bin_dir());
        }
        eprintln!(
            "installing the pinned Python tools of {} into {} ({}, once)",
            self.requirements, self.dir, self.install_time
        );
        let python = std::env::var("PYTHON").unwrap_or_else(|_| self.python.to_owned());
        if !self.bin_dir().join("python3").exists() {
            let found = Command::new(&python).arg("--version").output();
            if !found.is_ok_and(|out| out.status.success()) {
                return Err(format!(
                    "{} needs `{python}` to make {} (on PATH, or named by PYTHON)",
                    self.requirements, self.dir
                )
                .into());
            }
            run_command(Command::new(&python).args(["-m", "venv"]).arg(self.dir()))?;
        }
        run_command(
            Command::new(self.bin_dir().join("pip"))
                .current_dir(root())
                .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
                .arg(root().join(self.requirements)),
        )?;
        fs::write(stamp, requirements)?;
        Ok(self.bin_dir())
    }

    /// The requirements file's text, then [`package_digests`] of each local package.
    fn stamp_text(&self) -> crate::Result<String> {
        let mut text = fs::read_to_string(root().join(self.requirements))?;
        for package in self.local_packages {
            text.push_str(&package_digests(&root(), package)?);
        }
        Ok(text)
    }
}

/// One line per file of the package `package` (a directory under `root`), sorted: its path and
/// the FNV-1a digest of its bytes; what building or running it leaves behind is left out.
fn package_digests(root: &Path, package: &str) -> crate::Result<String> {
    let mut files = Vec::new();
    package_files(root, Path::new(package), &mut files)?;
    files.sort();
    let mut lines = String::new();
    for file in files {
        let digest = fnv1a(&fs::read(root.join(&file))?);
        writeln!(lines, "# {} {digest:016x}", file.display())?;
    }
    Ok(lines)
}

fn package_files(root: &Path, relative: &Path, files: &mut Vec<PathBuf>) -> crate::Result {
    for entry in fs::read_dir(root.join(relative))? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == "__pycache__" || name == "build" || name == "dist" || name.ends_with(".egg-info")
        {
            continue;
        }
        if entry.file_type()?.is_dir() {
            package_files(root, &relative.join(&*name), files)?;
        } else {
            files.push(relative.join(&*name));
        }
    }
    Ok(())
}

/// 64-bit FNV-1a: a stable digest (unlike `DefaultHasher`) for telling an edited file apart.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_of_a_local_package_changes_the_stamp_and_its_build_leftovers_do_not() {
        let root = std::env::temp_dir().join(format!("alb-canary-venv-{}", std::process::id()));
        let module = root.join("pkg/module");
        fs::create_dir_all(module.join("__pycache__")).unwrap();
        fs::write(root.join("pkg/pyproject.toml"), "[project]\n").unwrap();
        fs::write(module.join("a.py"), "x = 1\n").unwrap();
        let before = package_digests(&root, "pkg").unwrap();
        assert_eq!(before.lines().count(), 2, "{before}");
        assert!(before.contains("pkg/module/a.py "), "{before}");

        fs::write(module.join("__pycache__/a.pyc"), "compiled").unwrap();
        fs::create_dir_all(root.join("pkg/build")).unwrap();
        fs::write(root.join("pkg/build/a.py"), "copy").unwrap();
        assert_eq!(package_digests(&root, "pkg").unwrap(), before);

        fs::write(module.join("a.py"), "x = 2\n").unwrap();
        let edited = package_digests(&root, "pkg").unwrap();
        fs::write(module.join("b.py"), "").unwrap();
        let added = package_digests(&root, "pkg").unwrap();
        fs::remove_dir_all(&root).unwrap();
        assert_ne!(edited, before);
        assert_eq!(added.lines().count(), 3, "{added}");
    }

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
