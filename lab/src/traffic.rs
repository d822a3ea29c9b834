//! Bounded load: `rps` recommendation requests per second through HAProxy, open loop (a slow
//! server does not slow the arrivals), each its own HTTP/1.1 connection with a 5 s bound, at most
//! [`MAX_IN_FLIGHT`] at once (beyond that a request is counted as dropped, not queued).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

pub const MAX_IN_FLIGHT: usize = 256;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Default)]
pub struct Counts {
    pub sent: AtomicU64,
    pub ok: AtomicU64,
    pub server_errors: AtomicU64,
    pub other_status: AtomicU64,
    pub failed: AtomicU64,
    pub dropped: AtomicU64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Totals {
    pub sent: u64,
    pub ok: u64,
    pub server_errors: u64,
    pub other_status: u64,
    pub failed: u64,
    pub dropped: u64,
}

impl Counts {
    pub fn totals(&self) -> Totals {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Totals {
            sent: g(&self.sent),
            ok: g(&self.ok),
            server_errors: g(&self.server_errors),
            other_status: g(&self.other_status),
            failed: g(&self.failed),
            dropped: g(&self.dropped),
        }
    }
}

/// Sends until dropped.
pub async fn run(port: u16, rps: u32, counts: Arc<Counts>) {
    let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rps.max(1))));
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut n: u64 = 0;
    loop {
        interval.tick().await;
        n += 1;
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            counts.dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let counts = counts.clone();
        tokio::spawn(async move {
            counts.sent.fetch_add(1, Ordering::Relaxed);
            let status = tokio::time::timeout(REQUEST_TIMEOUT, request(port, n)).await;
            let counter = match status {
                Ok(Ok(200)) => &counts.ok,
                Ok(Ok(s)) if (500..600).contains(&s) => &counts.server_errors,
                Ok(Ok(_)) => &counts.other_status,
                _ => &counts.failed,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            drop(permit);
        });
    }
}

/// One recommendation request; its HTTP status.
async fn request(port: u16, n: u64) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let body = format!("{{\"user_id\": \"lab-{}\"}}", n % 1000);
    let head = format!(
        "POST /api/v1/recommendation HTTP/1.1\r\nHost: lab\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    status(&response).ok_or_else(|| std::io::Error::other("not an HTTP response"))
}

/// The status code of an HTTP/1.x response.
pub fn status(response: &[u8]) -> Option<u16> {
    let line = response.split(|b| *b == b'\n').next()?;
    let text = std::str::from_utf8(line).ok()?;
    let mut parts = text.split_whitespace();
    parts.next().filter(|v| v.starts_with("HTTP/1."))?;
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(
            status(b"HTTP/1.1 500 Internal Server Error\r\n\r\n"),
            Some(500)
        );
        assert_eq!(status(b"HTTP/1.0 200 OK\r\n"), Some(200));
        assert_eq!(status(b"SSH-2.0\r\n"), None);
        assert_eq!(status(b""), None);
    }
}
