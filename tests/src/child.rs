//! Child processes (the emulator here; HAProxy and the recommenders in the lab): bounded in time
//! and never left behind. Each runs under `timeout` (a hard bound even if its parent is killed
//! with SIGKILL), receives SIGTERM when the thread that started it dies, and is stopped when
//! dropped.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Guarded {
    name: String,
    child: Child,
}

impl Guarded {
    /// Starts `program args` under `timeout max_secs`, stdout and stderr into `log` (or nowhere).
    pub fn spawn(
        name: &str,
        program: &Path,
        args: &[String],
        envs: &[(&str, String)],
        max_secs: u64,
        log: Option<&Path>,
    ) -> Result<Guarded, String> {
        let (out, err) = match log {
            Some(log) => {
                let out = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
                let err = out.try_clone().map_err(|e| e.to_string())?;
                (Stdio::from(out), Stdio::from(err))
            }
            None => (Stdio::null(), Stdio::null()),
        };
        let mut command = Command::new("timeout");
        command
            .args(["--signal=TERM", &max_secs.to_string()])
            .arg(program)
            .args(args)
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        // SAFETY: prctl is async-signal-safe; it asks the kernel to TERM the child when the
        // thread that spawned it goes away, so a crashed lab or test leaves nothing running.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = command
            .spawn()
            .map_err(|e| format!("could not start {name} ({}): {e}", program.display()))?;
        tracing::info!(process = name, pid = child.id(), "started");
        Ok(Guarded {
            name: name.to_owned(),
            child,
        })
    }

    /// The program's own pid: `timeout` runs it as its only child. A fault drill kills it with
    /// that, leaving `timeout` to exit after it and nothing to restart it.
    pub fn program_pid(&self) -> Result<u32, String> {
        let parent = self.child.id();
        let children = std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children"))
            .map_err(|e| format!("{}: the children of timeout ({parent}): {e}", self.name))?;
        let mut pids = children.split_whitespace().filter_map(|p| p.parse().ok());
        match (pids.next(), pids.next()) {
            (Some(pid), None) => Ok(pid),
            _ => Err(format!(
                "{}: timeout ({parent}) has not exactly one child: `{}`",
                self.name,
                children.trim()
            )),
        }
    }

    /// `Err` with the exit status when the process has already ended.
    pub fn check_running(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!("{} exited early with {status}", self.name)),
            Err(e) => Err(format!("{}: {e}", self.name)),
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        // `timeout` forwards TERM to its child and exits with it.
        // SAFETY: plain kill(2) on the pid of our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                tracing::info!(process = %self.name, "stopped");
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        tracing::warn!(process = %self.name, "killed after 5 s without stopping");
    }
}
