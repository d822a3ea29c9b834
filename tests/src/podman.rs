//! Podman for the container tests, with state of its own.
//!
//! - [`ensure_installed`]: podman and runc from the distribution, installed with apt-get when
//!   missing and running as root (CI); otherwise a loud failure that names the install command.
//! - [`Podman`]: every command runs with its own `--root`, `--runroot` and `--tmpdir` under one
//!   temporary directory, so a test never touches the machine's containers or images; dropping it
//!   removes its containers, images and the directory. Each command is bounded by `timeout`.
//!
//! Engine flags our CI machines need (rootful podman in a container without systemd): `--runtime runc` (crun refuses the
//! hybrid cgroups), `--cgroup-manager cgroupfs` and `--events-backend file` (no systemd). They
//! are global flags of the test's engine, not run flags of the container.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// Upper bound of any one podman command (a build of a scratch image takes about a second).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
        .unwrap_or(false)
}

/// podman and runc, from Debian's packages when missing (as root); panics with what to do otherwise.
pub fn ensure_installed() {
    if on_path("podman") && on_path("runc") {
        return;
    }
    // SAFETY: getuid has no preconditions.
    let root = unsafe { libc::getuid() } == 0;
    assert!(
        root,
        "podman and runc are needed by the container test: run `sudo apt-get install -y podman runc`"
    );
    crate::apt::ensure(&["podman", "runc"], || on_path("podman") && on_path("runc"))
        .unwrap_or_else(|err| panic!("podman and runc: {err}"));
}

pub struct Podman {
    dir: PathBuf,
}

impl Podman {
    /// An engine with fresh state under the system's temporary directory.
    pub fn new(name: &str) -> Podman {
        ensure_installed();
        let dir =
            std::env::temp_dir().join(format!("alb-canary-podman-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|err| panic!("cannot create {}: {err}", dir.display()));
        Podman { dir }
    }

    /// The directory holding this engine's state; tests may put build contexts in it too.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `podman <global flags> <args>`, killed after [`COMMAND_TIMEOUT`].
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut command = Command::new("timeout");
        command
            .args([
                "--signal=KILL",
                &COMMAND_TIMEOUT.as_secs().to_string(),
                "podman",
            ])
            .arg("--root")
            .arg(self.dir.join("root"))
            .arg("--runroot")
            .arg(self.dir.join("runroot"))
            .arg("--tmpdir")
            .arg(self.dir.join("tmp"))
            .args([
                "--runtime",
                "runc",
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "file",
            ])
            .args(args);
        command
    }

    /// Runs a podman command and returns its output, whatever its status.
    pub fn output<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut command = self.command(args);
        command
            .output()
            .unwrap_or_else(|err| panic!("cannot run {command:?}: {err}"))
    }

    /// Runs a podman command that must succeed; returns its stdout, trimmed.
    pub fn ok<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let output = self.output(&args);
        assert!(
            output.status.success(),
            "podman {args:?} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// One field of `podman inspect` (a Go template such as `{{.State.Pid}}`).
    pub fn inspect(&self, container: &str, format: &str) -> String {
        self.ok(["inspect", "--format", format, container])
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.output(["rm", "--all", "--force", "--time", "0"]);
        let _ = self.output(["rmi", "--all", "--force"]);
        // Whatever is still mounted under the state directory (overlay layers) goes before it.
        let dir = self.dir.to_string_lossy().into_owned();
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut points: Vec<&str> = mounts
            .lines()
            .filter_map(|line| line.split(' ').nth(4))
            .filter(|point| point.starts_with(&dir))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for point in points {
            let _ = Command::new("umount").args(["--lazy", point]).status();
        }
        if let Err(err) = std::fs::remove_dir_all(&self.dir) {
            eprintln!("could not remove {}: {err}", self.dir.display());
        }
    }
}

/// The static (`crt-static`) recommender, built by `cargo xtask build-static`: the same build,
/// flags and checks as the published binary, in the same target directory.
pub fn static_recommender() -> PathBuf {
    build_static(&[])
}

/// The target signal's static proxy, as `cargo xtask publish` builds it beside the recommender.
pub fn static_signal() -> PathBuf {
    build_static(&["--signal"])
}

fn build_static(flags: &[&str]) -> PathBuf {
    let root = crate::project_root();
    let output = Command::new(env!("CARGO"))
        .current_dir(&root)
        .args(["xtask", "build-static"])
        .args(flags)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo xtask build-static failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The path is the last line printed.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let path = PathBuf::from(stdout.lines().last().unwrap_or_default().trim());
    assert!(path.is_file(), "{} is not a file", path.display());
    path
}
