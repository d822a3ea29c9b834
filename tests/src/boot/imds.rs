//! The instance metadata service as an instance with `HttpTokens=required` sees it (IMDSv2), on
//! 127.0.0.1: `PUT /latest/api/token` with a TTL header gives a token; every `GET` needs that
//! token and is refused with 401 without it, as AWS refuses IMDSv1 there. It serves the role's
//! name and its temporary credentials (key, secret, session token), which a test may swap at any
//! time (wrong, then right) to rehearse a bad or rotated credential. Every request is recorded.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What `security-credentials/<role>` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// ISO 8601, as IMDS gives it.
    pub expiration: String,
}

/// One request as the service saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// The status it was answered with.
    pub status: u16,
}

struct State {
    role: String,
    credentials: Credentials,
    tokens: Vec<String>,
    seen: Vec<Seen>,
}

pub struct Imds {
    port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl Imds {
    pub fn start(role: &str, credentials: Credentials) -> Imds {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            role: role.to_owned(),
            credentials,
            tokens: Vec::new(),
            seen: Vec::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (shared, stopped) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(stream) = stream {
                    let shared = shared.clone();
                    std::thread::spawn(move || serve(stream, &shared));
                }
            }
        });
        tracing::info!(port, role, "instance metadata service started");
        Imds { port, state, stop }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// From now on, `security-credentials/<role>` returns these.
    pub fn set_credentials(&self, credentials: Credentials) {
        self.state.lock().unwrap().credentials = credentials;
    }

    /// Every request so far, oldest first.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// How many times the role's credentials were handed out.
    pub fn credentials_served(&self) -> usize {
        let state = self.state.lock().unwrap();
        let path = format!("{CREDENTIALS}{}", state.role);
        state
            .seen
            .iter()
            .filter(|s| s.path == path && s.status == 200)
            .count()
    }
}

impl Drop for Imds {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

const TOKEN_PATH: &str = "/latest/api/token";
const CREDENTIALS: &str = "/latest/meta-data/iam/security-credentials/";
/// Where the SDKs read the instance's region (the target signal's proxy does, at start).
const REGION: &str = "/latest/meta-data/placement/region";
/// The harness's instances run in the emulator's default region.
pub const INSTANCE_REGION: &str = "us-east-1";

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = request_line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_owned(),
        parts.next().unwrap_or("").to_owned(),
    );
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let (status, body) = answer(&method, &path, header, state);
    // IMDS echoes a token's TTL in its answer; the SDKs refuse a token without it (the boot
    // script's curl does not look).
    let ttl = match (status, path.as_str()) {
        (200, TOKEN_PATH) => header("x-aws-ec2-metadata-token-ttl-seconds")
            .map(|ttl| format!("X-aws-ec2-metadata-token-ttl-seconds: {ttl}\r\n"))
            .unwrap_or_default(),
        _ => String::new(),
    };
    state.lock().unwrap().seen.push(Seen {
        method,
        path,
        status,
    });
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };
    let mut stream = reader.into_inner();
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
         {ttl}Connection: close\r\n\r\n{body}",
        body.len()
    );
}

fn answer<'a>(
    method: &str,
    path: &str,
    header: impl Fn(&str) -> Option<&'a str>,
    state: &Mutex<State>,
) -> (u16, String) {
    let mut state = state.lock().unwrap();
    if path == TOKEN_PATH {
        if method != "PUT" {
            return (405, String::new());
        }
        // AWS refuses a token request without a TTL between 1 s and 6 h.
        let ttl: Option<u32> = header("x-aws-ec2-metadata-token-ttl-seconds")
            .and_then(|v| v.parse().ok())
            .filter(|ttl| (1..=21600).contains(ttl));
        if ttl.is_none() {
            return (400, String::new());
        }
        let token = format!("token-{}-{}", std::process::id(), state.tokens.len() + 1);
        state.tokens.push(token.clone());
        return (200, token);
    }
    if method != "GET" {
        return (405, String::new());
    }
    let authorized =
        header("x-aws-ec2-metadata-token").is_some_and(|t| state.tokens.iter().any(|k| k == t));
    if !authorized {
        return (401, String::new());
    }
    if path == REGION {
        return (200, INSTANCE_REGION.to_owned());
    }
    match path.strip_prefix(CREDENTIALS) {
        Some("") => (200, state.role.clone()),
        Some(role) if role == state.role => {
            let c = &state.credentials;
            // IMDS's own layout: pretty-printed, a space on both sides of each colon.
            let body = format!(
                "{{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"2026-01-01T00:00:00Z\",\n  \
                 \"Type\" : \"AWS-HMAC\",\n  \"AccessKeyId\" : \"{}\",\n  \
                 \"SecretAccessKey\" : \"{}\",\n  \"Token\" : \"{}\",\n  \
                 \"Expiration\" : \"{}\"\n}}",
                c.access_key_id, c.secret_access_key, c.session_token, c.expiration
            );
            (200, body)
        }
        _ => (404, String::new()),
    }
}
