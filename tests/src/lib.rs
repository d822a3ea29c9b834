//! Test harness shared by the workspace's integration tests.
//!
//! - [`child::Guarded`]: a child process bounded in time and stopped when dropped.
//! - [`Moto`]: a real moto server (the local AWS emulator, pinned in `requirements-dev.txt`) on
//!   127.0.0.1, one per test for isolation, stopped when dropped and killed with the test process;
//!   run through `alb-canary-moto` (`emulator/`), which adds CloudWatch's percentiles, percentile
//!   rank and trimmed statistics to moto.
//! - [`refresh::InstanceRefreshes`]: the two Auto Scaling instance-refresh actions moto lacks.
//! - [`tool`]: the path of a pinned Python tool in the project's `.venv` (cfn-lint, sam, ...).
//! - [`calls`]: an SDK interceptor recording every AWS call as IAM sees it, for the IAM proof.
//! - [`stack_in_moto`]: the controller's resources deployed into a [`Moto`] as the synthesized
//!   template declares them ([`template`] resolves its expressions).
//! - [`controller_env`]: the controller's handlers against the emulator (listener, target groups,
//!   table, topic, schedule, bucket) and the shared event fixtures (`tests/fixtures/`).
//! - [`requests`]: what both emulator set-ups send alike (forward action, IP target, schedule).
//! - [`settings`]: one valid set of the controller's settings (configuration, cold-start tests).
//! - [`cold_start`]: both functions' cold-start cases ([`cold_start_tests!`] declares them).
//! - [`podman`]: Podman with isolated state for the container test, and the static service binary.
//! - [`journal`]: the container's journald log lines, read back.
//! - [`boot`]: the stack's user data run at boot under systemd, against the emulator.
//!
//! A missing tool is a loud failure that says how to install it, never a skipped test.

pub mod apt;
pub mod auth;
pub mod boot;
pub mod calls;
pub mod child;
pub mod cold_start;
pub mod controller_env;
pub mod faults;
pub mod journal;
pub mod podman;
pub mod refresh;
pub mod requests;
pub mod sdk_errors;
pub mod settings;
pub mod stack_in_moto;
pub mod template;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use child::Guarded;

/// The workspace root.
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives one level below the workspace root")
        .to_path_buf()
}

/// Path of an executable from the project's virtualenv (`.venv/bin/<name>`), or `$ALB_CANARY_VENV/bin`.
///
/// Panics with the install command when it is missing.
pub fn tool(name: &str) -> PathBuf {
    let venv = std::env::var_os("ALB_CANARY_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_root().join(".venv"));
    let path = venv.join("bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo xtask test` (it installs requirements-dev.txt into .venv)",
        path.display()
    );
    path
}

/// A moto server on 127.0.0.1, started for one test: moto's own server with the project's
/// CloudWatch extension (`emulator/`, the `alb-canary-moto` launcher, same arguments as
/// `moto_server`), so that `p99`, `PR(:T)` and the other extended statistics have values.
pub struct Moto {
    child: Guarded,
    port: u16,
}

/// Upper bound on a server's life, in case neither `Drop` nor the parent-death signal reaches it.
const MAX_LIFETIME_SECS: u64 = 1800;
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

impl Moto {
    /// Starts a fresh server and waits until it answers.
    pub fn start() -> Moto {
        Moto::start_with(&[])
    }

    /// Starts a fresh server with `env` in its environment (the emulator's own settings, such
    /// as `ALB_CANARY_INGESTION_DELAY`).
    pub fn start_with(env: &[(&str, String)]) -> Moto {
        let moto = tool("alb-canary-moto");
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = free_port();
            let args = ["-H", "127.0.0.1", "-p", &port.to_string()].map(str::to_owned);
            let child = Guarded::spawn(
                "alb-canary-moto",
                &moto,
                &args,
                env,
                MAX_LIFETIME_SECS,
                None,
            )
            .unwrap_or_else(|err| panic!("{err}"));
            let mut server = Moto { child, port };
            match server.wait_ready() {
                Ok(()) => return server,
                Err(err) => last_error = err,
            }
        }
        panic!("moto server did not start: {last_error}");
    }

    /// One AWS Query-protocol call (`Action=…&Version=…`) to `service` (its signing name, e.g.
    /// `ec2`, `sts`), for the services whose SDK crate is not a dependency: moto routes by the
    /// credential scope and does not check this signature. Returns the whole HTTP response.
    pub fn query(&self, service: &str, body: &str) -> String {
        let host = self.endpoint().trim_start_matches("http://").to_string();
        let mut stream = TcpStream::connect(&host).expect("moto accepts connections");
        write!(
            stream,
            "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=00\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("the query is sent");
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .expect("moto answers the query");
        response
    }

    /// `http://127.0.0.1:<port>`, for `endpoint_url`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SDK configuration for this server: us-east-1, test credentials, endpoint override.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_credential_types::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .load()
            .await
    }

    /// Environment a child process (a function binary, `cargo xtask status`) needs to reach this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while Instant::now() < deadline {
            self.child.check_running()?;
            if self.get("/moto-api/").is_ok_and(|status| status == 200) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("no answer within {STARTUP_TIMEOUT:?}"))
    }

    /// Minimal HTTP/1.0 GET returning the status code; enough for a readiness probe.
    fn get(&self, path: &str) -> std::io::Result<u16> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head)?;
        std::str::from_utf8(&head[9..12])
            .ok()
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| std::io::Error::other("not an HTTP answer"))
    }
}

/// A port free on 127.0.0.1 right now, for a server started next.
///
/// Taken below the kernel's ephemeral range: a port the kernel hands out (binding port 0) is also
/// what it gives the next outgoing connection, and one of those (a load generator, a proxy's
/// upstream) took such a port between its choice and the server's bind in a `bench-lab` run
/// ("Address already in use"). Below the range only another explicit choice can collide; the
/// start is random, so concurrent processes rarely try the same ports.
pub fn free_port() -> u16 {
    let (first_ephemeral, _) = ephemeral_range();
    let low = 10_000u16
        .min(first_ephemeral.saturating_sub(1_000))
        .max(1_024);
    let span = u32::from(first_ephemeral.saturating_sub(low)).max(1);
    let seed = std::process::id()
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |t| t.subsec_nanos());
    let start = seed.wrapping_mul(2_654_435_761) % span;
    for step in 0..span {
        let port = low + u16::try_from((start + step * 7_919) % span).unwrap_or(0);
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("the loopback interface has a free port")
}

/// The kernel's ephemeral port range (Linux's default when it cannot be read).
fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| {
            let mut bounds = text.split_whitespace().map(|n| n.parse::<u16>().ok());
            Some((bounds.next()??, bounds.next()??))
        })
        .unwrap_or((32_768, 60_999))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_bindable_and_never_ephemeral() {
        let (first, last) = ephemeral_range();
        for _ in 0..20 {
            let port = free_port();
            assert!(
                !(first..=last).contains(&port),
                "{port} is in the ephemeral range {first}-{last}"
            );
            TcpListener::bind(("127.0.0.1", port)).expect("the port is free");
        }
    }
}
