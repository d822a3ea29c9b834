//! Where a container's journald log lines end up during a test.
//!
//! CI machines run no systemd, so nothing listens on journald's socket and Podman's `journald` log
//! driver would refuse to start the container. [`Journal::open`] then binds that socket itself and
//! decodes what arrives (journald's native protocol), so the test runs the production log driver
//! and reads the lines back. Where a real journald runs, the entries are read with `journalctl`.

use std::collections::HashMap;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub const SOCKET: &str = "/run/systemd/journal/socket";

/// One journal entry: its fields (`MESSAGE`, `CONTAINER_NAME`, ...).
pub type Entry = HashMap<String, String>;

pub enum Journal {
    /// Our own receiver on journald's socket, removed on drop.
    Sink {
        entries: Arc<Mutex<Vec<Entry>>>,
        stop: Arc<AtomicBool>,
        thread: Option<JoinHandle<()>>,
        created_dir: bool,
    },
    /// A real journald: read back with `journalctl`.
    System,
}

impl Journal {
    pub fn open() -> Journal {
        if Path::new(SOCKET).exists() {
            let live = UnixDatagram::unbound().and_then(|probe| probe.connect(SOCKET));
            if live.is_ok() {
                return Journal::System;
            }
            // A socket file nobody listens on (a receiver that was killed): ours replaces it.
            let _ = std::fs::remove_file(SOCKET);
        }
        let dir = Path::new(SOCKET).parent().unwrap();
        let created_dir = !dir.exists();
        std::fs::create_dir_all(dir)
            .unwrap_or_else(|err| panic!("cannot create {}: {err}", dir.display()));
        let socket =
            UnixDatagram::bind(SOCKET).unwrap_or_else(|err| panic!("cannot bind {SOCKET}: {err}"));
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let entries = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (entries, stop) = (entries.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 256 * 1024];
                while !stop.load(Ordering::SeqCst) {
                    if let Ok(n) = socket.recv(&mut buf) {
                        entries.lock().unwrap().push(parse(&buf[..n]));
                    }
                }
            })
        };
        Journal::Sink {
            entries,
            stop,
            thread: Some(thread),
            created_dir,
        }
    }

    /// `MESSAGE` of every entry with `CONTAINER_NAME=name`, oldest first.
    pub fn messages_of(&self, container: &str) -> Vec<String> {
        match self {
            Journal::Sink { entries, .. } => entries
                .lock()
                .unwrap()
                .iter()
                .filter(|e| e.get("CONTAINER_NAME").map(String::as_str) == Some(container))
                .filter_map(|e| e.get("MESSAGE").cloned())
                .collect(),
            Journal::System => {
                let output = Command::new("journalctl")
                    .args(["--no-pager", "--output=cat"])
                    .arg(format!("CONTAINER_NAME={container}"))
                    .output()
                    .expect("journalctl runs where journald does");
                String::from_utf8_lossy(&output.stdout)
                    .lines()
                    .map(String::from)
                    .collect()
            }
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        if let Journal::Sink {
            stop,
            thread,
            created_dir,
            ..
        } = self
        {
            stop.store(true, Ordering::SeqCst);
            if let Some(thread) = thread.take() {
                let _ = thread.join();
            }
            let _ = std::fs::remove_file(SOCKET);
            if *created_dir {
                let _ = std::fs::remove_dir(Path::new(SOCKET).parent().unwrap());
            }
        }
    }
}

/// journald's native datagram: fields `KEY=value\n`, or `KEY\n` + little-endian u64 length +
/// value + `\n` for values that may hold newlines.
pub fn parse(mut data: &[u8]) -> Entry {
    let mut entry = Entry::new();
    while !data.is_empty() {
        let line_end = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
        let line = &data[..line_end];
        if let Some(eq) = line.iter().position(|&b| b == b'=') {
            entry.insert(
                String::from_utf8_lossy(&line[..eq]).into_owned(),
                String::from_utf8_lossy(&line[eq + 1..]).into_owned(),
            );
            data = data.get(line_end + 1..).unwrap_or_default();
        } else {
            let rest = data.get(line_end + 1..).unwrap_or_default();
            let Some(len) = rest.get(..8) else { break };
            let len = u64::from_le_bytes(len.try_into().unwrap()) as usize;
            let Some(value) = rest.get(8..8 + len) else {
                break;
            };
            entry.insert(
                String::from_utf8_lossy(line).into_owned(),
                String::from_utf8_lossy(value).into_owned(),
            );
            data = rest.get(8 + len + 1..).unwrap_or_default();
        }
    }
    entry
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_field_forms_are_decoded() {
        let mut datagram = b"PRIORITY=6\nMESSAGE\n".to_vec();
        datagram.extend_from_slice(&11u64.to_le_bytes());
        datagram.extend_from_slice(b"two\nlines\n!\nCONTAINER_NAME=recommender-v2\n");
        let entry = parse(&datagram);
        assert_eq!(entry["MESSAGE"], "two\nlines\n!");
        assert_eq!(entry["PRIORITY"], "6");
        assert_eq!(entry["CONTAINER_NAME"], "recommender-v2");
    }
}
