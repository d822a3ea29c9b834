//! The userland the boot rehearsal runs the user data in: a Debian root file system made by
//! `debootstrap` from the distribution's own packages (no image registry is reachable here),
//! with systemd as its init and what Ubuntu 24.04's cloud image has that the user data uses
//! (bash, curl, coreutils, the NSS module that names `DynamicUser=` accounts).
//!
//! It is built once and cached under `build/boot/`, keyed by a digest of everything that decides
//! its content, so an unchanged recipe costs nothing and a changed one builds a new tree. The
//! packages' exact versions are written next to it (`packages.txt`) and logged.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

use sha2::{Digest, Sha256};

/// Debian 12: the release this machine and CI run, so its kernel features and its packages'
/// mirror are the ones known to work here (see `docs/boot-rehearsal.md` for how it differs
/// from Ubuntu 24.04).
pub const SUITE: &str = "bookworm";
pub const MIRROR: &str = "http://deb.debian.org/debian";
/// `minbase`: essential packages and apt only, plus these. Ubuntu's cloud image has all of
/// them; the Docker host installs its engine itself, as on AWS.
pub const PACKAGES: &[&str] = &[
    "systemd",
    "systemd-sysv",
    "libnss-systemd",
    "dbus",
    "curl",
    "ca-certificates",
    // `sysctl` (the Docker host's user data sets one).
    "procps",
];

/// Bumped when the steps below change what they make from the same recipe.
const LAYOUT: u32 = 1;

/// A built root file system.
#[derive(Debug, Clone)]
pub struct RootFs {
    pub dir: PathBuf,
    /// `package version` lines of the tree, from its own dpkg database.
    pub packages: String,
}

impl RootFs {
    /// The version of one package in the tree.
    pub fn version_of(&self, package: &str) -> Option<&str> {
        self.packages.lines().find_map(|line| {
            let (name, version) = line.split_once(' ')?;
            (name == package).then_some(version)
        })
    }
}

/// The recipe's digest: the cache key.
pub fn digest() -> String {
    let recipe = format!("{LAYOUT}\n{SUITE}\n{MIRROR}\n{}", PACKAGES.join(","));
    hex::encode(Sha256::digest(recipe.as_bytes()))[..16].to_owned()
}

/// Tests of one binary share one tree; the first builds it.
static BUILD: Mutex<Option<RootFs>> = Mutex::new(None);

/// The cached tree, built first when missing.
pub fn ensure() -> RootFs {
    let mut built = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(root) = built.as_ref() {
        return root.clone();
    }
    let base = crate::project_root().join("build").join("boot");
    let dir = base.join(format!("rootfs-{SUITE}-{}", digest()));
    let packages_file = dir.join("packages.txt");
    if !packages_file.is_file() {
        build(&dir);
    } else {
        tracing::info!(dir = %dir.display(), "root file system cached");
        eprintln!(
            "{}",
            serde_json::json!({"measure": "rootfs_cached", "suite": SUITE, "dir": dir})
        );
    }
    let packages = std::fs::read_to_string(&packages_file)
        .unwrap_or_else(|err| panic!("{}: {err}", packages_file.display()));
    let root = RootFs {
        dir: dir.join("root"),
        packages,
    };
    tracing::info!(
        systemd = root.version_of("systemd"),
        curl = root.version_of("curl"),
        bash = root.version_of("bash"),
        "root file system packages"
    );
    *built = Some(root.clone());
    root
}

fn build(dir: &Path) {
    ensure_debootstrap();
    let partial = dir.with_extension("partial");
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial).unwrap();
    let started = Instant::now();
    tracing::info!(suite = SUITE, mirror = MIRROR, dir = %dir.display(), "debootstrap started");
    let output = Command::new("timeout")
        .args(["--signal=KILL", "900", "debootstrap", "--variant=minbase"])
        .arg(format!("--include={}", PACKAGES.join(",")))
        .args([SUITE])
        .arg(partial.join("root"))
        .arg(MIRROR)
        .output()
        .expect("debootstrap runs");
    assert!(
        output.status.success(),
        "debootstrap {SUITE} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // The tree's own package database says what was installed, not the recipe.
    let packages = Command::new("chroot")
        .arg(partial.join("root"))
        .args(["dpkg-query", "-W", "-f", "${Package} ${Version}\\n"])
        .output()
        .expect("dpkg-query runs in the tree");
    assert!(packages.status.success(), "dpkg-query failed");
    std::fs::write(partial.join("packages.txt"), &packages.stdout).unwrap();
    // Only a complete tree gets the final name.
    let _ = std::fs::remove_dir_all(dir);
    std::fs::rename(&partial, dir).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(seconds, dir = %dir.display(), "debootstrap finished");
    // Also on stderr, one JSON line like the boot times: CI's figure for a cold cache.
    eprintln!(
        "{}",
        serde_json::json!({"measure": "rootfs_build", "suite": SUITE, "seconds": seconds})
    );
}

/// debootstrap from Debian's packages when missing (as root); a loud failure otherwise.
fn ensure_debootstrap() {
    if Path::new("/usr/sbin/debootstrap").is_file() {
        return;
    }
    // SAFETY: getuid has no preconditions.
    let root = unsafe { libc::getuid() } == 0;
    assert!(
        root,
        "the boot rehearsal needs debootstrap and root: run it as root, or \
         `sudo apt-get install -y debootstrap`"
    );
    crate::apt::ensure(&["debootstrap"], || {
        Path::new("/usr/sbin/debootstrap").is_file()
    })
    .unwrap_or_else(|err| panic!("debootstrap: {err}"));
}
