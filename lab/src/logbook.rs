//! HAProxy's per-request log lines (`%s %ST %Tr %Ta`, raw over UDP) folded into per-second and
//! per-window numbers per server: the exact latencies HAProxy's own counters do not keep.

use std::sync::Mutex;

use crate::haproxy::{CANARY_SERVER, STABLE_SERVER};

/// Which target group's server answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Stable,
    Canary,
}

/// One request as HAProxy logged it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entry {
    pub group: Group,
    pub status: u16,
    /// Time to the server's response headers (ALB's `TargetResponseTime`); `None` when there was
    /// no response (`-1`).
    pub response_ms: Option<f64>,
}

/// Parses one log line; lines for no server (`<NOSRV>`) or another server are `None`.
pub fn parse(line: &str) -> Option<Entry> {
    let mut f = line.split_whitespace();
    let group = match f.next()? {
        STABLE_SERVER => Group::Stable,
        CANARY_SERVER => Group::Canary,
        _ => return None,
    };
    let status = f.next()?.parse().ok()?;
    let response_ms = f.next()?.parse::<f64>().ok().filter(|v| *v >= 0.0);
    Some(Entry {
        group,
        status,
        response_ms,
    })
}

/// Requests and latencies of one group over some interval.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    pub requests: u64,
    pub errors_5xx: u64,
    /// Response times in ms, in arrival order.
    pub latencies_ms: Vec<f64>,
}

impl Tally {
    fn add(&mut self, e: &Entry) {
        self.requests += 1;
        if (500..600).contains(&e.status) {
            self.errors_5xx += 1;
        }
        if let Some(ms) = e.response_ms {
            self.latencies_ms.push(ms);
        }
    }

    pub fn mean_ms(&self) -> Option<f64> {
        (!self.latencies_ms.is_empty())
            .then(|| self.latencies_ms.iter().sum::<f64>() / self.latencies_ms.len() as f64)
    }
}

/// The stable version's and the canary's tallies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pair {
    pub stable: Tally,
    pub canary: Tally,
}

impl Pair {
    pub fn get(&self, g: Group) -> &Tally {
        match g {
            Group::Stable => &self.stable,
            Group::Canary => &self.canary,
        }
    }

    fn add(&mut self, e: &Entry) {
        match e.group {
            Group::Stable => self.stable.add(e),
            Group::Canary => self.canary.add(e),
        }
    }
}

/// Two running tallies filled by the log receiver: one the sampler takes every second, one the
/// bridge takes every metric window.
#[derive(Default)]
pub struct LogBook {
    inner: Mutex<(Pair, Pair)>,
}

impl LogBook {
    pub fn record(&self, e: &Entry) {
        let mut g = self.inner.lock().expect("log book lock");
        g.0.add(e);
        g.1.add(e);
    }

    pub fn take_second(&self) -> Pair {
        std::mem::take(&mut self.inner.lock().expect("log book lock").0)
    }

    pub fn take_window(&self) -> Pair {
        std::mem::take(&mut self.inner.lock().expect("log book lock").1)
    }
}

/// Receives HAProxy's log datagrams on `socket` until the task is dropped.
pub async fn receive(socket: tokio::net::UdpSocket, book: std::sync::Arc<LogBook>) {
    let mut buf = vec![0u8; 2048];
    while let Ok(n) = socket.recv(&mut buf).await {
        let text = String::from_utf8_lossy(&buf[..n]);
        for line in text.lines() {
            if let Some(e) = parse(line) {
                book.record(&e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_parsed_and_failed_connections_have_no_latency() {
        assert_eq!(
            parse("tg-v2 500 52 53"),
            Some(Entry {
                group: Group::Canary,
                status: 500,
                response_ms: Some(52.0)
            })
        );
        assert_eq!(parse("tg-v1 503 -1 3").unwrap().response_ms, None);
        assert_eq!(parse("<NOSRV> 503 -1 0"), None);
        assert_eq!(parse("garbage"), None);
    }

    #[test]
    fn tallies_count_errors_and_latencies() {
        let book = LogBook::default();
        for ms in 1..=100 {
            let status = if ms % 10 == 0 { 500 } else { 200 };
            book.record(&Entry {
                group: Group::Canary,
                status,
                response_ms: Some(f64::from(ms)),
            });
        }
        let w = book.take_window();
        assert_eq!(w.canary.requests, 100);
        assert_eq!(w.canary.errors_5xx, 10);
        assert_eq!(w.canary.mean_ms(), Some(50.5));
        assert_eq!(w.stable, Tally::default());
        // The per-second tally is independent of the window's.
        assert_eq!(book.take_second().canary.requests, 100);
        assert_eq!(book.take_window().canary.requests, 0);
    }
}
