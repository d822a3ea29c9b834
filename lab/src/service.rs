//! The real `recommender` processes behind HAProxy: V1, V2, and for a fault drill a second V2
//! started with the fault knobs, which takes over V2's server at the scenario's moment.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use alb_canary_tests::child::Guarded;

/// V2's fault knobs (the service's own environment variables).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Faults {
    pub error_rate: f64,
    pub extra_latency_ms: u64,
}

/// Starts `recommender --model <model>` on 127.0.0.1:`port` and waits until `/health` answers.
pub async fn start(
    binary: &Path,
    name: &str,
    model: &str,
    port: u16,
    faults: Faults,
    dir: &Path,
    max_secs: u64,
) -> Result<Guarded, String> {
    let args: Vec<String> = ["--model", model, "--host", "127.0.0.1", "--port"]
        .iter()
        .map(|s| s.to_string())
        .chain([port.to_string()])
        .collect();
    let env = [
        ("RECOMMENDER_ERROR_RATE", faults.error_rate.to_string()),
        (
            "RECOMMENDER_EXTRA_LATENCY_MS",
            faults.extra_latency_ms.to_string(),
        ),
        ("RUST_LOG", "warn".to_string()),
    ];
    let mut child = Guarded::spawn(
        name,
        binary,
        &args,
        &env,
        max_secs,
        Some(&dir.join(format!("{name}.log"))),
    )?;
    for _ in 0..200 {
        child.check_running()?;
        if health(port) == Some(200) {
            return Ok(child);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!(
        "{name} did not answer /health on port {port} within 10 s"
    ))
}

fn health(port: u16) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    write!(s, "GET /health HTTP/1.0\r\nHost: lab\r\n\r\n").ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    crate::traffic::status(&buf)
}
