//! One instance, booted: the root file system ([`super::rootfs`]) under an overlay (the cached
//! tree is never written), systemd as PID 1 in a Podman container with state of its own, and the
//! rendered user data run once at boot by a oneshot unit laid out as cloud-init's final stage on
//! Ubuntu (after `multi-user.target`, no time limit, output to the journal).
//!
//! The container has a user-mode network (slirp4netns) of its own: the service's port 8000 is the
//! container's, never the host's, and `10.0.2.2` is the host's loopback, where the emulator and the
//! metadata service listen (both bound to 127.0.0.1 only).

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::podman::Podman;

use super::rootfs::RootFs;

/// The host's 127.0.0.1 as the container sees it through slirp4netns.
pub const HOST_LOOPBACK: &str = "10.0.2.2";
/// Where cloud-init keeps the user data script it runs (`scripts_user`).
pub const SCRIPT: &str = "/var/lib/cloud/instance/scripts/part-001";
pub const USER_DATA_UNIT: &str = "alb-canary-user-data.service";
/// Where the user data copies its own output (`exec > >(tee -a ...)`).
pub const USER_DATA_LOG: &str = "/var/log/alb-canary-user-data.log";
/// Kills the container by itself if the test dies without cleaning up.
const LIFETIME_SECS: &str = "900";

/// The oneshot that stands in for `cloud-final.service`: the ordering, type and time limit of
/// Ubuntu 24.04's unit; `environment` points the script at the emulator.
fn user_data_unit(environment: &[(&str, String)]) -> String {
    let environment: String = environment
        .iter()
        .map(|(k, v)| format!("Environment={k}={v}\n"))
        .collect();
    format!(
        "[Unit]\n\
         Description=alb-canary user data (cloud-init's final stage on EC2)\n\
         After=network-online.target multi-user.target\n\
         Wants=network-online.target\n\n\
         [Service]\n\
         Type=oneshot\n\
         {environment}\
         ExecStart={SCRIPT}\n\
         RemainAfterExit=yes\n\
         TimeoutSec=0\n\
         KillMode=process\n\
         StandardOutput=journal+console\n\n\
         [Install]\n\
         WantedBy=multi-user.target\n"
    )
}

pub struct Machine {
    podman: Podman,
    name: String,
    /// When `podman run` was called: boot times are measured from here.
    pub started: Instant,
}

impl Machine {
    /// Boots `rootfs` as a machine named after `name` and runs `user_data` at boot with `environment`. `extra` are further
    /// `podman run` options (the Docker host needs more privileges for its own engine).
    pub fn boot(
        name: &str,
        rootfs: &RootFs,
        user_data: &str,
        environment: &[(&str, String)],
        extra: &[&str],
    ) -> Machine {
        // One name per boot of this process: tests boot the same launch template in parallel.
        static BOOTS: AtomicUsize = AtomicUsize::new(0);
        let boot = BOOTS.fetch_add(1, Ordering::SeqCst);
        let name = format!("{name}-{}-{boot}", std::process::id());
        let name = name.as_str();
        // Short: podman refuses a run root path longer than 50 characters.
        let podman = Podman::new(&format!("b{boot}"));
        let files = podman.dir().join("files");
        std::fs::create_dir_all(&files).unwrap();
        let script = files.join("user-data");
        std::fs::write(&script, user_data).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let unit = files.join(USER_DATA_UNIT);
        std::fs::write(&unit, user_data_unit(environment)).unwrap();
        let mount = |from: &PathBuf, to: &str| format!("{}:{to}:ro", from.display());
        let mut args: Vec<String> = [
            "run",
            "--detach",
            "--name",
            name,
            "--hostname",
            name,
            "--timeout",
            LIFETIME_SECS,
            "--systemd=always",
            "--network",
            "slirp4netns:allow_host_loopback=true",
            // podman's root defaults exceed this machine's hard limits.
            "--ulimit",
            "nofile=16384:16384",
            "--ulimit",
            "nproc=4096:4096",
        ]
        .map(String::from)
        .to_vec();
        args.extend(extra.iter().map(|a| a.to_string()));
        for (from, to) in [
            (&script, SCRIPT.to_owned()),
            (&unit, format!("/etc/systemd/system/{USER_DATA_UNIT}")),
        ] {
            args.extend(["--volume".into(), mount(from, &to)]);
        }
        // `--rootfs` ends the options: the next word is the tree, then the command.
        args.extend([
            "--rootfs".into(),
            format!("{}:O", rootfs.dir.display()),
            "/sbin/init".into(),
            // In a container systemd reads its own arguments as the kernel command line: the
            // unit is pulled into the boot as `systemctl enable` would (a bind-mounted file in
            // a `.wants/` directory is not a symlink, and systemd ignores it).
            format!("systemd.wants={USER_DATA_UNIT}"),
        ]);
        let started = Instant::now();
        podman.ok(&args);
        tracing::info!(machine = name, "booted");
        Machine {
            podman,
            name: name.to_owned(),
            started,
        }
    }

    /// `podman exec` of `args` in the machine, whatever its status.
    pub fn exec(&self, args: &[&str]) -> Output {
        let mut all = vec!["exec", self.name.as_str()];
        all.extend(args);
        self.podman.output(all)
    }

    /// A shell command in the machine that must succeed; its stdout, trimmed.
    pub fn sh(&self, command: &str) -> String {
        let output = self.exec(&["sh", "-c", command]);
        assert!(
            output.status.success(),
            "`{command}` failed in {} ({}):\n{}{}",
            self.name,
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// The status `GET /health` on the machine's port 8000 answers, if any.
    pub fn health(&self) -> Option<u16> {
        let output = self.exec(&[
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "2",
            "http://127.0.0.1:8000/health",
        ]);
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .ok()
            .filter(|code| *code != 0)
    }

    /// Waits until `/health` answers 200; the time since boot. Panics with the user data's
    /// journal after `patience`.
    pub fn wait_healthy(&self, patience: Duration) -> Duration {
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            if self.health() == Some(200) {
                return self.started.elapsed();
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "{}: /health did not answer 200 within {patience:?}\n{}",
            self.name,
            self.diagnosis()
        );
    }

    /// Waits until `unit` is in one of `states` (`ActiveState`); panics after `patience`.
    pub fn wait_state(&self, unit: &str, states: &[&str], patience: Duration) -> String {
        let deadline = Instant::now() + patience;
        loop {
            // systemctl fails until systemd's bus is up, right after the boot starts.
            let state = self.try_property(unit, "ActiveState").unwrap_or_default();
            if states.contains(&state.as_str()) {
                return state;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{}: {unit} is {state}, not {states:?}, after {patience:?}\n{}",
                    self.name,
                    self.diagnosis()
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Waits until the user data's output contains `text`; panics after `patience`. Its output
    /// goes through `tee` to the journal and to its own log: the unit may be over before the last
    /// lines arrive (and the Docker host's script restarts journald), so both are read, again.
    pub fn wait_output(&self, text: &str, patience: Duration) {
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            if self.output().contains(text) {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!(
            "{}: the user data never printed {text:?} within {patience:?}\n{}\n{}",
            self.name,
            self.output(),
            self.diagnosis()
        );
    }

    /// The user data's output: its unit's journal, then its own log.
    pub fn output(&self) -> String {
        let log = self.exec(&["cat", USER_DATA_LOG]);
        format!(
            "{}\n{}",
            self.journal(USER_DATA_UNIT),
            String::from_utf8_lossy(&log.stdout)
        )
    }

    /// What a failed wait prints: the boot's state, failed units and the whole journal's tail.
    pub fn diagnosis(&self) -> String {
        let run = |args: &[&str]| {
            let output = self.exec(args);
            format!(
                "$ {}\n{}{}",
                args.join(" "),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        };
        [
            run(&["systemctl", "is-system-running"]),
            run(&["systemctl", "--no-pager", "--failed"]),
            run(&["systemctl", "--no-pager", "status", USER_DATA_UNIT]),
            // Without auditd, which a container keeps restarting (the Docker host installs it).
            run(&[
                "sh",
                "-c",
                "journalctl --no-pager -b | grep -v ' audit' | tail -n 80",
            ]),
        ]
        .join("\n")
    }

    /// One property of a unit as `systemctl show` gives it.
    pub fn property(&self, unit: &str, property: &str) -> String {
        self.sh(&format!(
            "systemctl show --property={property} --value {unit}"
        ))
    }

    /// [`Machine::property`], or `None` while systemd does not answer yet.
    pub fn try_property(&self, unit: &str, property: &str) -> Option<String> {
        let output = self.exec(&["systemctl", "show", "--value", "--property", property, unit]);
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// A unit's journal, messages only.
    pub fn journal(&self, unit: &str) -> String {
        let output = self.exec(&["journalctl", "--no-pager", "-o", "cat", "-u", unit]);
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// `Key:` of `/proc/<pid>/status` in the machine.
    pub fn proc_status(&self, pid: &str, key: &str) -> String {
        let status = self.sh(&format!("cat /proc/{pid}/status"));
        status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}:")))
            .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
            .trim()
            .to_owned()
    }

    /// Whether a path exists in the machine.
    pub fn exists(&self, path: &str) -> bool {
        self.exec(&["test", "-e", path]).status.success()
    }
}
