//! `cargo xtask bench-service`: a bounded wrk run against V1 and V2 of the static release build on
//! 127.0.0.1, with latency percentiles, errors and peak memory per model.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::project::run_command;
use crate::service::build_static;
use crate::target::Arch;

const WRK_SCRIPT: &str = r#"
wrk.method = "POST"
wrk.body = '{"user_id": "bench-user"}'
wrk.headers["Content-Type"] = "application/json"

done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format("XTASK requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
"#;

struct BenchRow {
    model: &'static str,
    requests: u64,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
    non_2xx: u64,
    socket_errors: u64,
    peak_rss_kib: u64,
}

pub fn bench(duration: u64, connections: u64) -> crate::Result {
    let wrk = ensure_wrk()?;
    // The static build is the one we ship, so it is the one measured.
    let binary = build_static(Arch::X86_64)?;
    let script =
        std::env::temp_dir().join(format!("xtask-bench-service-{}.lua", std::process::id()));
    std::fs::write(&script, WRK_SCRIPT)?;
    let rows: crate::Result<Vec<BenchRow>> = ["v1", "v2"]
        .into_iter()
        .map(|model| bench_model(&wrk, &binary, &script, model, duration, connections))
        .collect();
    let _ = std::fs::remove_file(&script);
    let rows = rows?;

    println!(
        "\nrecommender (static release build), wrk -t2 -c{connections} -d{duration}s, POST /api/v1/recommendation on 127.0.0.1, {} cores shared with wrk",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    println!(
        "| model | requests/s | p50 ms | p99 ms | requests | non-2xx | socket errors | peak RSS (VmHWM) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for row in &rows {
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {} | {} | {} | {:.1} MiB |",
            row.model,
            row.requests as f64 / row.seconds,
            row.p50_ms,
            row.p99_ms,
            row.requests,
            row.non_2xx,
            row.socket_errors,
            row.peak_rss_kib as f64 / 1024.0
        );
    }
    Ok(())
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

/// wrk from the distribution's packages: installed with apt-get when missing and running as root.
fn ensure_wrk() -> crate::Result<PathBuf> {
    if let Some(wrk) = find_in_path("wrk") {
        return Ok(wrk);
    }
    let uid = Command::new("id").arg("-u").output()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Err(
            "wrk is not installed: run `sudo apt-get install -y wrk` (Debian/Ubuntu package `wrk`)"
                .into(),
        );
    }
    eprintln!("wrk is not installed: installing the Debian package `wrk` with apt-get");
    let install = || {
        run_command(
            Command::new("apt-get")
                .args(["install", "-y", "--no-install-recommends", "wrk"])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
    };
    if install().is_err() {
        run_command(Command::new("apt-get").arg("update"))?;
        install()?;
    }
    find_in_path("wrk").ok_or_else(|| "apt-get installed wrk but it is not on PATH".into())
}

/// The server under test, stopped (SIGTERM, then SIGKILL) when dropped, so no run leaves it behind.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bench_model(
    wrk: &Path,
    binary: &Path,
    script: &Path,
    model: &'static str,
    duration: u64,
    connections: u64,
) -> crate::Result<BenchRow> {
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port();
    let child = Command::new(binary)
        .args([
            "--model",
            model,
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        // V2's per-request log line is part of its cost; journald would receive it in production.
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let server = Server(child);
    wait_listening(port)?;

    eprintln!("bench {model}: wrk -t2 -c{connections} -d{duration}s");
    let output = Command::new("timeout")
        // wrk stops by itself after --duration; this bounds a wedged run.
        .args(["--signal=KILL", &(duration + 30).to_string()])
        .arg(wrk)
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{duration}s"),
            "--timeout",
            "5s",
            "-s",
        ])
        .arg(script)
        .arg(format!("http://127.0.0.1:{port}/api/v1/recommendation"))
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "wrk failed ({}): {stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    // Read before stopping the server: VmHWM is the peak resident set of its whole life.
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.0.id()))?;
    let peak_rss_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or("no VmHWM in /proc/<pid>/status")?;
    drop(server);

    let summary = stdout
        .lines()
        .find_map(|line| line.strip_prefix("XTASK "))
        .ok_or_else(|| format!("wrk printed no summary: {stdout}"))?;
    let field = |name: &str| -> crate::Result<u64> {
        summary
            .split_whitespace()
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
            .and_then(|value| value.parse().ok())
            .ok_or_else(|| format!("`{name}` missing in wrk's summary: {summary}").into())
    };
    Ok(BenchRow {
        model,
        requests: field("requests")?,
        seconds: field("duration_us")? as f64 / 1e6,
        p50_ms: field("p50_us")? as f64 / 1000.0,
        p99_ms: field("p99_us")? as f64 / 1000.0,
        non_2xx: field("non2xx")?,
        socket_errors: field("socket_errors")?,
        peak_rss_kib,
    })
}

fn wait_listening(port: u16) -> crate::Result {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("the recommender did not listen on 127.0.0.1:{port} within 10 s").into())
}
