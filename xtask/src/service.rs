//! The recommender service: `cargo xtask publish` (static build + upload) and
//! `cargo xtask bench-service` (a bounded wrk run against V1 and V2 on 127.0.0.1).

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::project::{root, run_command};
use crate::target::{Arch, require_std, rust_target};

/// `cargo xtask build-static`: the binary `publish` uploads, built and checked the same way;
/// prints its path (the container test builds its image from it).
pub fn build_static_command(arch: Arch) -> crate::Result {
    println!("{}", build_static(arch)?.display());
    Ok(())
}

/// What `cargo xtask publish` was asked for.
pub struct Publish {
    pub bucket: String,
    pub prefix: String,
    /// `None`: the recommender crate's version.
    pub version: Option<String>,
    pub arch: Arch,
    pub endpoint_url: Option<String>,
}

pub fn publish(request: Publish) -> crate::Result {
    let version = match request.version {
        Some(v) => v,
        None => service_version()?,
    };
    let binary = build_static(request.arch)?;

    let mut cmd = cargo();
    cmd.current_dir(root())
        .args(["run", "-q", "-p", "canaryctl", "--", "publish"])
        .args(["--bucket", &request.bucket, "--version", &version])
        .args(["--prefix", &request.prefix])
        .arg("--file")
        .arg(&binary);
    if let Some(url) = &request.endpoint_url {
        cmd.args(["--endpoint-url", url]);
    }
    run_command(&mut cmd)
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// The recommender crate's version (`services/recommender/Cargo.toml`): what `publish` and
/// `release` call this checkout's binary.
pub fn service_version() -> crate::Result<String> {
    let manifest = root().join("services/recommender/Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .map_err(|err| format!("{}: {err}", manifest.display()))?;
    text.lines()
        .find_map(|line| {
            let value = line
                .strip_prefix("version")?
                .trim_start()
                .strip_prefix('=')?;
            Some(value.trim().trim_matches('"').to_string())
        })
        .ok_or_else(|| format!("{} has no version", manifest.display()).into())
}

/// `cargo build --release -p recommender --target <arch>` with `crt-static`: one binary that runs on
/// any Linux distribution and in a `scratch` image. Checked to be static and for the right machine.
pub fn build_static(arch: Arch) -> crate::Result<PathBuf> {
    let target = rust_target(arch);
    require_std(target)?;
    eprintln!("building the static recommender for {target}");
    let mut cmd = cargo();
    // --target keeps build scripts and proc-macros out of crt-static (they must stay dynamic
    // to be loaded by the host compiler); RUSTFLAGS then applies to the target binary only.
    cmd.current_dir(root())
        .args([
            "build",
            "--release",
            "-p",
            "recommender",
            "--target",
            target,
        ])
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    run_command(&mut cmd)?;
    let binary = root()
        .join("target")
        .join(target)
        .join("release")
        .join("recommender");
    let elf = std::fs::read(&binary).map_err(|err| format!("{}: {err}", binary.display()))?;
    check_static_elf(&elf, arch).map_err(|problem| format!("{}: {problem}", binary.display()))?;
    eprintln!("{} is static ({} bytes)", binary.display(), elf.len());
    Ok(binary)
}

const PT_INTERP: u32 = 3;
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;

/// A static executable has no program interpreter (`PT_INTERP`, the dynamic loader): glibc's
/// static-pie output keeps a `PT_DYNAMIC` for self-relocation, so that is no sign of dynamic linking.
fn check_static_elf(elf: &[u8], arch: Arch) -> Result<(), String> {
    let u16_at = |at: usize| {
        elf.get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |at: usize| {
        elf.get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
    };
    let u64_at = |at: usize| {
        elf.get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
    };
    // 64-bit (class 2), little-endian (data 1): the only kind both our targets produce.
    if elf.get(..6) != Some(&[0x7f, b'E', b'L', b'F', 2, 1][..]) {
        return Err("not a 64-bit little-endian ELF file".into());
    }
    let (machine, expected) = (
        u16_at(0x12),
        match arch {
            Arch::X86_64 => EM_X86_64,
            Arch::Arm64 => EM_AARCH64,
        },
    );
    if machine != Some(expected) {
        return Err(format!(
            "ELF machine {machine:?} is not {expected} ({arch:?})"
        ));
    }
    let truncated = || "truncated ELF header".to_string();
    let phoff = u64_at(0x20).ok_or_else(truncated)? as usize;
    let phentsize = u16_at(0x36).ok_or_else(truncated)? as usize;
    let phnum = u16_at(0x38).ok_or_else(truncated)? as usize;
    for index in 0..phnum {
        let kind = u32_at(phoff + index * phentsize).ok_or_else(truncated)?;
        if kind == PT_INTERP {
            return Err("dynamically linked (it has a PT_INTERP program interpreter)".into());
        }
    }
    Ok(())
}

// ---- bench-service ----

/// wrk's POST body and a machine-readable summary line (latencies are in microseconds).
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 header with the given machine and program header types.
    fn elf(machine: u16, program_headers: &[u32]) -> Vec<u8> {
        let mut bytes = vec![0u8; 64];
        bytes[..6].copy_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1]);
        bytes[0x12..0x14].copy_from_slice(&machine.to_le_bytes());
        bytes[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        bytes[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        bytes[0x38..0x3a].copy_from_slice(&(program_headers.len() as u16).to_le_bytes());
        for kind in program_headers {
            let mut header = vec![0u8; 56];
            header[..4].copy_from_slice(&kind.to_le_bytes());
            bytes.extend(header);
        }
        bytes
    }

    #[test]
    fn an_executable_without_interpreter_is_static() {
        // PT_LOAD, PT_DYNAMIC (static-pie keeps it), PT_GNU_STACK
        assert_eq!(
            check_static_elf(&elf(EM_X86_64, &[1, 2, 0x6474e551]), Arch::X86_64),
            Ok(())
        );
    }

    #[test]
    fn an_interpreter_means_dynamic() {
        let err = check_static_elf(&elf(EM_X86_64, &[6, PT_INTERP, 1]), Arch::X86_64).unwrap_err();
        assert!(err.contains("dynamically linked"), "{err}");
        // This test binary itself is an ordinary dynamic executable.
        let own = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert!(
            check_static_elf(&own, Arch::X86_64)
                .unwrap_err()
                .contains("PT_INTERP")
        );
    }

    #[test]
    fn the_wrong_machine_or_a_non_elf_is_refused() {
        assert!(
            check_static_elf(&elf(EM_X86_64, &[1]), Arch::Arm64)
                .unwrap_err()
                .contains("not 183")
        );
        assert!(check_static_elf(b"#!/bin/sh\n", Arch::X86_64).is_err());
        assert!(
            check_static_elf(&elf(EM_AARCH64, &[1])[..0x30], Arch::Arm64)
                .unwrap_err()
                .contains("truncated")
        );
    }

    #[test]
    fn a_missing_standard_library_is_named() {
        let err = require_std("riscv64gc-unknown-linux-gnu")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("riscv64gc-unknown-linux-gnu standard library is not installed"),
            "{err}"
        );
    }
}
