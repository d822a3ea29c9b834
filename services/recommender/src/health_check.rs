//! `recommender --health-check [--port N] [--host IP]`: one `GET /health` against the local server,
//! exit 0 when it answers 200 and 1 otherwise, so a `scratch` image (no shell, no curl) checks itself.
//!
//! Exit 1 also for a bad flag: container engines reserve exit 2 of a health command. Plain
//! blocking std I/O with one deadline for the whole exchange: no runtime to start, and a server
//! that accepts but never answers cannot hang the check.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::api::HEALTH_PATH;
use crate::config::{ConfigError, port_or_variable};

/// Whole exchange (connect, request, status line); below any engine's health timeout (seconds).
pub const DEADLINE: Duration = Duration::from_secs(2);

/// Where to check: the server's own port (same precedence: `--port`, then `PORT`, then 8000) on
/// the loopback address, since the server binds every interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target(pub SocketAddr);

impl Target {
    /// The parsed flags' target, `PORT` read through `env` (`None` for unset or empty).
    pub fn from_flags<F>(
        port: Option<u16>,
        host: Option<IpAddr>,
        env: F,
    ) -> Result<Target, ConfigError>
    where
        F: Fn(&str) -> Option<String>,
    {
        let host = host.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        Ok(Target(SocketAddr::new(host, port_or_variable(port, &env)?)))
    }
}

/// Asks `GET /health` and returns `Ok` on a 200 status line, else why not.
pub fn check(target: Target, deadline: Duration) -> Result<(), String> {
    let start = Instant::now();
    let remaining = || {
        deadline
            .checked_sub(start.elapsed())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("no answer from {} within {deadline:?}", target.0))
    };
    let mut stream = TcpStream::connect_timeout(&target.0, remaining()?)
        .map_err(|err| format!("cannot connect to {}: {err}", target.0))?;
    stream
        .set_write_timeout(Some(remaining()?))
        .map_err(|err| err.to_string())?;
    write!(
        stream,
        "GET {HEALTH_PATH} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        target.0
    )
    .map_err(|err| format!("cannot send the request to {}: {err}", target.0))?;
    // Only the status line matters: read until its end, each read bounded by what is left.
    let mut head = Vec::new();
    let mut buf = [0u8; 256];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 1024 {
        stream
            .set_read_timeout(Some(remaining()?))
            .map_err(|err| err.to_string())?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(err) => return Err(format!("no answer from {}: {err}", target.0)),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let status_line = text.lines().next().unwrap_or_default();
    match status_line.split(' ').nth(1) {
        Some("200") if status_line.starts_with("HTTP/1.") => Ok(()),
        _ => Err(format!(
            "{HEALTH_PATH} on {} answered `{status_line}`, not 200",
            target.0
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    /// A one-shot server that reads the request and answers `response`, returning the request.
    fn serve_once(response: &'static [u8]) -> (Target, thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = Target(listener.local_addr().unwrap());
        let handle = thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 512];
            while !request.ends_with(b"\r\n\r\n") {
                let n = stream.read(&mut buf).unwrap();
                request.extend_from_slice(&buf[..n]);
            }
            stream.write_all(response).unwrap();
            String::from_utf8(request).unwrap()
        });
        (target, handle)
    }

    #[test]
    fn a_200_passes_and_the_request_is_get_health() {
        let (target, server) = serve_once(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
        assert_eq!(check(target, DEADLINE), Ok(()));
        let request = server.join().unwrap();
        assert!(request.starts_with("GET /health HTTP/1.1\r\n"), "{request}");
    }

    #[test]
    fn any_other_status_fails() {
        let (target, server) = serve_once(b"HTTP/1.1 503 Service Unavailable\r\n\r\n");
        let err = check(target, DEADLINE).unwrap_err();
        assert!(err.contains("503"), "{err}");
        server.join().unwrap();
        let (target, server) = serve_once(b"garbage 200\r\n\r\n");
        assert!(check(target, DEADLINE).is_err());
        server.join().unwrap();
    }

    #[test]
    fn nothing_listening_fails() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        // The listener is dropped: the port is closed.
        let err = check(Target(port), DEADLINE).unwrap_err();
        assert!(err.contains("cannot connect"), "{err}");
    }

    #[test]
    fn a_server_that_never_answers_fails_at_the_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = Target(listener.local_addr().unwrap());
        // Accepted by the kernel's backlog, never read or answered.
        let err = check(target, Duration::from_millis(300)).unwrap_err();
        assert!(err.contains("no answer"), "{err}");
        drop(listener);
    }
}
