//! The real `recommender` processes behind HAProxy: stable, canary, and for a fault drill a second canary
//! started with the fault knobs, which takes over the canary's server at the scenario's moment. With the
//! target signal, each process has the real `alb-canary-signal` in front of it, as on an instance.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use alb_canary_tests::child::Guarded;

/// The canary's fault knobs (the service's own environment variables).
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
    spawn_healthy(name, binary, &args, &env, port, dir, max_secs).await
}

/// Spawns `binary` (its output in `dir/<name>.log`) and waits up to 10 s until `/health` on
/// 127.0.0.1:`port` answers 200; the process stops when dropped.
async fn spawn_healthy(
    name: &str,
    binary: &Path,
    args: &[String],
    env: &[(&str, String)],
    port: u16,
    dir: &Path,
    max_secs: u64,
) -> Result<Guarded, String> {
    let mut child = Guarded::spawn(
        name,
        binary,
        args,
        env,
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

/// One target as the balancer sees it on `port`: the service alone, or with the target signal
/// the service on a port of its own and the proxy on `port`. Both stop when dropped.
pub struct Target {
    service: Guarded,
    _signal: Option<Guarded>,
}

impl Target {
    /// The service's own process (not the proxy's): what a fault that kills the service kills.
    pub fn service_pid(&self) -> Result<u32, String> {
        self.service.program_pid()
    }
}

/// Starts the target `name` (see [`Target`]).
#[allow(clippy::too_many_arguments)]
pub async fn start_target(
    binary: &Path,
    name: &str,
    model: &str,
    port: u16,
    faults: Faults,
    signal: Option<(&Path, &SignalSink<'_>)>,
    dir: &Path,
    max_secs: u64,
) -> Result<Target, String> {
    let Some((signal_binary, sink)) = signal else {
        return Ok(Target {
            service: start(binary, name, model, port, faults, dir, max_secs).await?,
            _signal: None,
        });
    };
    let upstream = alb_canary_tests::free_port();
    let service = start(binary, name, model, upstream, faults, dir, max_secs).await?;
    let proxy = start_signal(
        signal_binary,
        &format!("{name}-signal"),
        port,
        upstream,
        sink,
        dir,
        max_secs,
    )
    .await?;
    Ok(Target {
        service,
        _signal: Some(proxy),
    })
}

/// Where the signal's proxy publishes: the emulator's environment and the ALB metrics' dimensions
/// of the process's target group.
pub struct SignalSink<'a> {
    pub env: &'a [(&'static str, String)],
    pub load_balancer: &'a str,
    pub target_group: &'a str,
}

/// Starts `alb-canary-signal` on 127.0.0.1:`port` in front of 127.0.0.1:`upstream` (a service
/// already answering) and waits until `/health` answers through it.
pub async fn start_signal(
    binary: &Path,
    name: &str,
    port: u16,
    upstream: u16,
    sink: &SignalSink<'_>,
    dir: &Path,
    max_secs: u64,
) -> Result<Guarded, String> {
    let args: Vec<String> = [
        "--listen".to_string(),
        format!("127.0.0.1:{port}"),
        "--upstream".into(),
        format!("127.0.0.1:{upstream}"),
        "--load-balancer".into(),
        sink.load_balancer.into(),
        "--target-group".into(),
        sink.target_group.into(),
    ]
    .into();
    let mut env: Vec<(&str, String)> = sink.env.to_vec();
    env.push(("RUST_LOG", "warn".into()));
    spawn_healthy(name, binary, &args, &env, port, dir, max_secs)
        .await
        .map_err(|err| format!("{err} (forwarding to {upstream})"))
}

fn health(port: u16) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    write!(s, "GET /health HTTP/1.0\r\nHost: lab\r\n\r\n").ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    crate::traffic::status(&buf)
}
