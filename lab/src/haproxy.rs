//! HAProxy from Debian as the ALB stand-in: one frontend on 127.0.0.1, one backend with one server
//! per target group, weights changed live through the runtime API (no reload, no failed request),
//! and one log line per request (server, status, response time) sent over UDP to the bridge.
//!
//! The servers have no health checks: an ALB forwarding to weighted target groups keeps a group's
//! share when none of its targets is healthy (it fails open), so traffic here follows the weights
//! whatever the targets' health. The ALB's health checks are played by
//! [`crate::target_health`], which only publishes the host counts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::weights::HaproxyWeights;
use alb_canary_tests::child::Guarded;

pub const BACKEND: &str = "tg";
pub const STABLE_SERVER: &str = "tg-v1";
pub const CANARY_SERVER: &str = "tg-v2";
/// Debian 12's HAProxy series (LTS); the lab relies on its runtime API and log format.
const SERIES: &str = "2.6.";

/// Finds `haproxy` on PATH, or installs Debian's with apt (root only), saying so loudly.
pub fn ensure_installed() -> Result<PathBuf, String> {
    if let Some(path) = which("haproxy") {
        return check_version(path);
    }
    eprintln!(
        "\n*** HAProxy is not installed: installing Debian's haproxy {SERIES}x with apt-get (needs root) ***\n"
    );
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(
            "haproxy is missing and this is not root: run `apt-get install -y haproxy` \
                    (Debian 12 ships 2.6, the series the lab is built for)"
                .into(),
        );
    }
    // The lab's tests run labs in parallel: one installs, the others wait and find it installed.
    let _lock = alb_canary_tests::apt::lock()?;
    if let Some(path) = which("haproxy") {
        return check_version(path);
    }
    apt(&["update", "-q"])?;
    let candidate = apt_candidate()?;
    if !candidate.starts_with(SERIES) {
        return Err(format!(
            "apt offers haproxy {candidate}, not the {SERIES}x series the lab is built for"
        ));
    }
    apt(&["install", "-y", "-q", &format!("haproxy={candidate}")])?;
    eprintln!("*** installed haproxy {candidate} ***\n");
    let path = which("haproxy").ok_or("apt installed haproxy but it is not on PATH")?;
    check_version(path)
}

fn apt(args: &[&str]) -> Result<(), String> {
    alb_canary_tests::apt::apt_get(args)
}

fn apt_candidate() -> Result<String, String> {
    let out = Command::new("apt-cache")
        .args(["policy", "haproxy"])
        .output()
        .map_err(|e| format!("apt-cache: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Candidate:")
                .map(|v| v.trim().to_owned())
        })
        .filter(|v| v != "(none)")
        .ok_or_else(|| "apt knows no haproxy package (is this Debian?)".into())
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn check_version(path: PathBuf) -> Result<PathBuf, String> {
    let out = Command::new(&path)
        .arg("-v")
        .output()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !text.contains(&format!("version {SERIES}")) {
        tracing::warn!(version = %text.lines().next().unwrap_or(""), "not the HAProxy series the lab was measured with");
    }
    Ok(path)
}

/// Where HAProxy listens and what it forwards to.
pub struct Layout {
    pub frontend_port: u16,
    pub stable_port: u16,
    pub canary_port: u16,
    pub log_port: u16,
    pub dir: PathBuf,
}

impl Layout {
    pub fn socket(&self) -> PathBuf {
        self.dir.join("haproxy.sock")
    }

    /// The configuration: stable takes everything until the syncer says otherwise, as the template's
    /// listener does. `http-server-close` makes every request its own server connection, so
    /// `stot` counts requests and each request is balanced on the weights in force.
    ///
    /// A refused connection, as ALB does it: measured on 2.6.12 without `check`, the default
    /// `retries 3` tries the same server three more times a second apart, answers 503 after 3 s
    /// and counts every attempt in the server's `stot` (4 per request) and the retries in
    /// `wretr`. ALB does not retry: `retries 0` gives one `stot` and one `econ` per request and
    /// an immediate 503 (not in the server's `hrsp_5xx`, as ALB's 502 is not a target 5XX).
    /// `option redispatch` stays off (HAProxy's default), so a failed request is never sent to
    /// the other group's server.
    pub fn config(&self) -> String {
        let Layout {
            frontend_port,
            stable_port,
            canary_port,
            log_port,
            ..
        } = self;
        format!(
            "global
    maxconn 2000
    stats socket {socket} mode 600 level admin
    log 127.0.0.1:{log_port} len 512 format raw local0 info

defaults
    mode http
    log global
    option http-server-close
    retries 0
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    # server, status, server response time (ALB's TargetResponseTime), total active time
    log-format \"%s %ST %Tr %Ta\"

frontend alb
    bind 127.0.0.1:{frontend_port}
    default_backend {BACKEND}

backend {BACKEND}
    balance roundrobin
    server {STABLE_SERVER} 127.0.0.1:{stable_port} weight 100
    server {CANARY_SERVER} 127.0.0.1:{canary_port} weight 0
",
            socket = self.socket().display()
        )
    }
}

/// Starts HAProxy in the foreground as a guarded child and waits for its runtime API.
pub async fn start(binary: &Path, layout: &Layout, max_secs: u64) -> Result<Guarded, String> {
    let config = layout.dir.join("haproxy.cfg");
    std::fs::write(&config, layout.config()).map_err(|e| e.to_string())?;
    let mut child = Guarded::spawn(
        "haproxy",
        binary,
        &["-db".into(), "-f".into(), config.display().to_string()],
        &[],
        max_secs,
        Some(&layout.dir.join("haproxy.log")),
    )?;
    for _ in 0..100 {
        child.check_running()?;
        if command(&layout.socket(), "show info").await.is_ok() {
            return Ok(child);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err("haproxy's runtime API did not answer within 5 s".into())
}

/// One runtime API command (several separated by `;`), its answer.
pub async fn command(socket: &Path, line: &str) -> Result<String, String> {
    let mut stream = UnixStream::connect(socket)
        .await
        .map_err(|e| format!("haproxy socket {}: {e}", socket.display()))?;
    stream
        .write_all(format!("{line}\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(2), stream.read_to_string(&mut answer))
        .await
        .map_err(|_| format!("haproxy did not answer `{line}` within 2 s"))?
        .map_err(|e| e.to_string())?;
    Ok(answer)
}

/// Both servers' weights in one command line, so no request sees a half-applied split.
pub async fn set_weights(socket: &Path, w: HaproxyWeights) -> Result<(), String> {
    let answer = command(
        socket,
        &format!(
            "set weight {BACKEND}/{STABLE_SERVER} {}; set weight {BACKEND}/{CANARY_SERVER} {}",
            w.stable, w.canary
        ),
    )
    .await?;
    if answer.trim().is_empty() {
        Ok(())
    } else {
        Err(format!("haproxy refused the weights: {}", answer.trim()))
    }
}

/// Points a server at another process, as a fleet's instance refresh replacing its instances
/// would.
pub async fn repoint(socket: &Path, server: &str, port: u16) -> Result<(), String> {
    let answer = command(
        socket,
        &format!("set server {BACKEND}/{server} addr 127.0.0.1 port {port}"),
    )
    .await?;
    if answer.contains("changed") || answer.trim().is_empty() {
        Ok(())
    } else {
        Err(format!(
            "haproxy refused the new address of {server}: {}",
            answer.trim()
        ))
    }
}

/// One server's counters from `show stat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ServerStat {
    /// Requests sent to the server (one connection each under `http-server-close`).
    pub stot: u64,
    pub hrsp_5xx: u64,
    /// Connections to the server that failed.
    pub econ: u64,
    /// Responses that broke off (the server closed or reset the connection).
    pub eresp: u64,
    pub weight: u32,
    /// The port of the process the server points at (`addr`).
    #[serde(default)]
    pub port: u16,
}

/// The stable version's and the canary's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Stats {
    pub stable: ServerStat,
    pub canary: ServerStat,
}

pub async fn stats(socket: &Path) -> Result<Stats, String> {
    parse_stats(&command(socket, "show stat").await?)
}

/// Parses `show stat` CSV by its header's column names.
pub fn parse_stats(csv: &str) -> Result<Stats, String> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines
        .next()
        .and_then(|h| h.strip_prefix("# "))
        .ok_or("show stat: no header line")?
        .split(',')
        .collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or(format!("show stat: no column {name}"))
    };
    let (px, sv) = (col("pxname")?, col("svname")?);
    let (stot, h5, econ, eresp, weight) = (
        col("stot")?,
        col("hrsp_5xx")?,
        col("econ")?,
        col("eresp")?,
        col("weight")?,
    );
    // `addr` is `127.0.0.1:PORT`.
    let addr = col("addr").ok();
    let mut found = (None, None);
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < header.len() || f[px] != BACKEND {
            continue;
        }
        let num = |i: usize| f[i].parse::<u64>().unwrap_or(0);
        let stat = ServerStat {
            stot: num(stot),
            hrsp_5xx: num(h5),
            econ: num(econ),
            eresp: num(eresp),
            weight: num(weight) as u32,
            port: addr
                .and_then(|i| f[i].rsplit_once(':'))
                .and_then(|(_, p)| p.parse().ok())
                .unwrap_or(0),
        };
        match f[sv] {
            STABLE_SERVER => found.0 = Some(stat),
            CANARY_SERVER => found.1 = Some(stat),
            _ => {}
        }
    }
    match found {
        (Some(stable), Some(canary)) => Ok(Stats { stable, canary }),
        _ => Err("show stat: the backend's servers are missing".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_rows_are_read_by_column_name() {
        let csv = "# pxname,svname,stot,econ,eresp,weight,status,hrsp_5xx,addr,\n\
                   alb,FRONTEND,30,,,,OPEN,0,,\n\
                   tg,tg-v1,20,0,1,90,no check,0,127.0.0.1:4101,\n\
                   tg,tg-v2,10,2,0,10,no check,3,127.0.0.1:4102,\n\
                   tg,BACKEND,30,2,1,100,UP,3,,\n";
        let s = parse_stats(csv).unwrap();
        assert_eq!(
            s.canary,
            ServerStat {
                stot: 10,
                hrsp_5xx: 3,
                econ: 2,
                eresp: 0,
                weight: 10,
                port: 4102,
            }
        );
        assert_eq!(s.stable.port, 4101);
        assert_eq!(s.stable.eresp, 1);
        assert!(parse_stats("# pxname,svname\n").is_err());
    }

    #[test]
    fn servers_follow_the_weights_whatever_their_health_and_a_refused_connection_is_not_retried() {
        let layout = Layout {
            frontend_port: 1,
            stable_port: 2,
            canary_port: 3,
            log_port: 4,
            dir: "/tmp/lab".into(),
        };
        let config = layout.config();
        let servers: Vec<&str> = config
            .lines()
            .filter(|l| l.trim_start().starts_with("server "))
            .collect();
        assert_eq!(servers.len(), 2, "{config}");
        // A check would take a dead canary out of rotation, which the ALB does not do (fail open).
        assert!(servers.iter().all(|l| !l.contains("check")), "{config}");
        assert!(!config.contains("httpchk"), "{config}");
        assert!(config.contains("\n    retries 0\n"), "{config}");
        assert!(!config.contains("redispatch"), "{config}");
    }
}
