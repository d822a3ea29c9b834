//! Debian packages the tests need, installed with apt-get when missing (as root).
//!
//! Tests run as parallel threads, and the lab's tests as parallel processes: two installs at once
//! fail on dpkg's lock (on a fresh CI machine two of the three boot tests did). An install holds a
//! lock shared by every process of the machine (`flock` on a file in the temporary directory;
//! two opens in one process exclude each other too), checks again whether the packages arrived
//! meanwhile, and apt-get waits for dpkg's own lock rather than failing.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::process::Command;

/// Held while installing; released when dropped.
pub struct Lock {
    _file: File,
}

/// Waits for the machine-wide install lock.
pub fn lock() -> Result<Lock, String> {
    let path = std::env::temp_dir().join("alb-canary-apt.lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|err| format!("{}: {err}", path.display()))?;
    // SAFETY: the descriptor is open for as long as `file` lives.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(format!(
            "{}: {}",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(Lock { _file: file })
}

/// `apt-get ARGS`, non-interactive, waiting up to ten minutes for dpkg's lock.
pub fn apt_get(args: &[&str]) -> Result<(), String> {
    let status = Command::new("apt-get")
        .args(["-o", "DPkg::Lock::Timeout=600"])
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .map_err(|err| format!("apt-get: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("apt-get {} failed with {status}", args.join(" ")))
    }
}

/// Installs `packages` unless `present()` says they are there, under [`lock`]; `apt-get update`
/// first only when the install fails (a fresh machine's lists may be missing or stale).
pub fn ensure(packages: &[&str], present: impl Fn() -> bool) -> Result<(), String> {
    if present() {
        return Ok(());
    }
    let _lock = lock()?;
    if present() {
        return Ok(());
    }
    eprintln!(
        "missing: installing the Debian packages `{}` with apt-get",
        packages.join(" ")
    );
    let install: Vec<&str> = ["install", "-y", "-q"]
        .into_iter()
        .chain(packages.iter().copied())
        .collect();
    if apt_get(&install).is_err() {
        apt_get(&["update", "-q"])?;
        apt_get(&install)?;
    }
    if present() {
        Ok(())
    } else {
        Err(format!(
            "apt-get installed `{}`, but it is still not found",
            packages.join(" ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_excludes_a_second_holder_in_the_same_process() {
        let first = lock().unwrap();
        let path = std::env::temp_dir().join("alb-canary-apt.lock");
        let other = File::open(&path).unwrap();
        // SAFETY: `other` is open.
        let taken = unsafe { libc::flock(other.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        assert_ne!(taken, 0, "a second holder got the lock");
        drop(first);
        // SAFETY: `other` is open.
        let taken = unsafe { libc::flock(other.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        assert_eq!(taken, 0, "the lock was not released");
    }

    #[test]
    fn present_packages_need_no_lock_nor_apt() {
        assert_eq!(ensure(&["no-such-package-at-all"], || true), Ok(()));
    }
}
