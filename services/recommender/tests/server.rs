//! A real server on 127.0.0.1: graceful shutdown, request timeouts, bodies over a socket, and the
//! binary itself (SIGTERM, start-up validation, V2's log line).

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use recommender::{AppState, Config, Model, serve};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Upper bound on any wait, so a broken server fails the test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(20);

/// Sends raw HTTP/1.1 bytes (the request must say `Connection: close`) and parses the answer.
async fn exchange(addr: std::net::SocketAddr, request: &[u8]) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    read_answer(stream).await
}

async fn read_answer(mut stream: TcpStream) -> (u16, Value) {
    let mut raw = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut raw))
        .await
        .expect("the server answers and closes the connection")
        .unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not HTTP: {text:?}"));
    let status = head[9..12].parse().unwrap();
    let body =
        serde_json::from_str(body).unwrap_or_else(|err| panic!("body not JSON ({err}): {text}"));
    (status, body)
}

fn post(body: &str) -> Vec<u8> {
    format!(
        "POST /api/v1/recommendation HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

struct Running {
    addr: std::net::SocketAddr,
    state: AppState,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(config: Config) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = AppState::new(&config);
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    Running {
        addr,
        state,
        stop,
        server,
    }
}

async fn wait_until(mut condition: impl FnMut() -> bool) {
    tokio::time::timeout(PATIENCE, async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("condition reached in time");
}

#[tokio::test]
async fn shutdown_lets_the_request_in_flight_finish_and_stops_accepting() {
    let mut config = Config::new(Model::V2);
    config.faults.extra_latency = Duration::from_millis(300);
    let running = start(config).await;

    let mut stream = TcpStream::connect(running.addr).await.unwrap();
    stream
        .write_all(&post(r#"{"user_id": "in-flight"}"#))
        .await
        .unwrap();
    let state = running.state.clone();
    wait_until(|| state.in_flight() == 1).await;

    running.stop.send(()).unwrap();
    let (status, body) = read_answer(stream).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["event_log"],
        "User in-flight purchase processed. Metrics available."
    );

    tokio::time::timeout(PATIENCE, running.server)
        .await
        .expect("the server returns once the request in flight is answered")
        .unwrap()
        .unwrap();
    assert_eq!(running.state.in_flight(), 0);
    assert!(
        TcpStream::connect(running.addr).await.is_err(),
        "no new connections after shutdown"
    );
}

#[tokio::test]
async fn a_request_over_the_timeout_gets_503_json_and_is_dropped() {
    let mut config = Config::new(Model::V1);
    config.request_timeout = Duration::from_millis(200);
    config.faults.extra_latency = Duration::from_secs(30);
    let running = start(config).await;

    let (status, body) = exchange(running.addr, &post(r#"{"user_id": "slow"}"#)).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "timeout");
    assert_eq!(
        body["message"],
        "the request did not complete within 200 ms"
    );
    // The handler was cancelled, not left running in the background.
    assert_eq!(running.state.in_flight(), 0);
    let _ = running.stop.send(());
}

#[tokio::test]
async fn a_client_that_never_sends_its_body_is_cut_by_the_timeout() {
    let mut config = Config::new(Model::V1);
    config.request_timeout = Duration::from_millis(200);
    let running = start(config).await;

    let head = "POST /api/v1/recommendation HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 40\r\n\
                Connection: close\r\n\r\n{\"user";
    let (status, body) = exchange(running.addr, head.as_bytes()).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "timeout");
    let _ = running.stop.send(());
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_gets_413_json() {
    let config = Config::new(Model::V1);
    let limit = config.body_limit;
    let running = start(config).await;

    // No Content-Length: the limit must hold while the body streams in.
    let chunk = "x".repeat(limit + 1);
    let request = format!(
        "POST /api/v1/recommendation HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    let (status, body) = exchange(running.addr, request.as_bytes()).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"], "body_too_large");

    // The server is still up and serving.
    let (status, _) = exchange(running.addr, &post(r#"{"user_id": "after"}"#)).await;
    assert_eq!(status, 200);
    let _ = running.stop.send(());
}

/// Reads until the server closes the connection; fails the test if it never does.
async fn wait_closed_by_server(mut stream: TcpStream) -> Vec<u8> {
    let mut raw = Vec::new();
    let read = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut raw)).await;
    assert!(read.is_ok(), "the server kept a silent connection open");
    raw
}

#[tokio::test]
async fn a_client_that_stops_mid_headers_is_disconnected_when_idle() {
    let mut config = Config::new(Model::V1);
    config.idle_timeout = Duration::from_millis(300);
    let running = start(config).await;

    let mut stream = TcpStream::connect(running.addr).await.unwrap();
    stream
        .write_all(b"POST /api/v1/recommendation HTTP/1.1\r\nHost: 127.")
        .await
        .unwrap();
    let answer = wait_closed_by_server(stream).await;
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 4"),
        "{answer:?}"
    );

    // A keep-alive connection that goes quiet after a request is closed the same way.
    let mut stream = TcpStream::connect(running.addr).await.unwrap();
    let keep_alive = post(r#"{"user_id": "k"}"#);
    let keep_alive = String::from_utf8(keep_alive)
        .unwrap()
        .replace("Connection: close", "Connection: keep-alive");
    stream.write_all(keep_alive.as_bytes()).await.unwrap();
    let answer = wait_closed_by_server(stream).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let _ = running.stop.send(());
}

#[tokio::test]
async fn a_stalled_client_does_not_hold_up_shutdown() {
    let mut config = Config::new(Model::V1);
    config.idle_timeout = Duration::from_millis(300);
    let running = start(config).await;

    let mut stalled = TcpStream::connect(running.addr).await.unwrap();
    stalled
        .write_all(b"POST /api/v1/recommendation HTTP/1.1\r\n")
        .await
        .unwrap();
    running.stop.send(()).unwrap();
    tokio::time::timeout(PATIENCE, running.server)
        .await
        .expect("shutdown completes although a client never finished its request")
        .unwrap()
        .unwrap();
    drop(stalled);
}

/// The built binary, killed if the test fails before it exits.
struct Binary {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Binary {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Binary {
        let mut command = Command::new(env!("CARGO_BIN_EXE_recommender"));
        command
            .args(args)
            .env_remove("PORT")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: prctl is async-signal-safe; it makes the kernel stop the server if the test dies.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        Binary {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The next JSON log line satisfying `wanted`; earlier lines are kept in `seen`.
    fn wait_for_log(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        loop {
            let line = self
                .lines
                .recv_timeout(PATIENCE)
                .unwrap_or_else(|_| panic!("log line not seen; got {:#?}", self.seen));
            self.seen.push(line.clone());
            let value: Value = serde_json::from_str(&line)
                .unwrap_or_else(|err| panic!("log line not JSON ({err}): {line}"));
            if wanted(&value) {
                return value;
            }
        }
    }

    fn terminate(&self) {
        // SAFETY: plain kill(2) on our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + PATIENCE;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the binary did not exit");
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn message(value: &Value) -> &str {
    value["fields"]["message"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn the_binary_finishes_the_request_in_flight_on_sigterm_and_logs_v2_requests() {
    let mut binary = Binary::start(
        &["--model", "v2", "--host", "127.0.0.1", "--port", "0"],
        &[
            ("RUST_LOG", "debug"),
            // Long enough that the request is still in flight when SIGTERM is handled.
            ("RECOMMENDER_EXTRA_LATENCY_MS", "1000"),
        ],
    );
    let listening = binary.wait_for_log(|line| message(line) == "listening");
    assert_eq!(listening["fields"]["model"], "V2 - DeepLearning - Canary");
    assert_eq!(listening["fields"]["extra_latency_ms"], 1000);
    let addr: std::net::SocketAddr = listening["fields"]["addr"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(&post(r#"{"user_id": "u-sigterm"}"#))
        .await
        .unwrap();
    binary.wait_for_log(|line| message(line) == "request started");
    binary.terminate();
    let shutting_down = binary.wait_for_log(|line| message(line).starts_with("shutting down"));
    assert_eq!(
        shutting_down["fields"]["in_flight"], 1,
        "the shutdown waits for the one request in flight: {shutting_down}"
    );

    let (status, body) = read_answer(stream).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model_id"], "V2 - DeepLearning - Canary");

    let request_line = binary.wait_for_log(|line| message(line) == "recommendation");
    let fields = &request_line["fields"];
    assert_eq!(fields["user_id"], "u-sigterm");
    assert_eq!(fields["model"], "V2 - DeepLearning - Canary");
    assert_eq!(fields["status"], 200);
    assert!(
        fields["latency_ms"].as_u64().unwrap() >= 1000,
        "{request_line}"
    );
    assert_eq!(request_line["level"], "INFO");

    binary.wait_for_log(|line| message(line).starts_with("stopped"));
    let status = binary.wait_exit();
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

/// Arguments, environment, and the text the error must contain.
type Case = (
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
    &'static str,
);

#[test]
fn the_binary_refuses_to_start_with_an_invalid_knob() {
    let cases: &[Case] = &[
        (
            &["--model", "v2"],
            &[("RECOMMENDER_ERROR_RATE", "2")],
            "RECOMMENDER_ERROR_RATE=`2`",
        ),
        (
            &["--model", "v2"],
            &[("RECOMMENDER_EXTRA_LATENCY_MS", "fast")],
            "RECOMMENDER_EXTRA_LATENCY_MS=`fast`",
        ),
        (&["--model", "v9"], &[], "'v9' for '--model <v1|v2>'"),
        (
            &["--model", "v1", "--prot", "80"],
            &[],
            "similar argument exists: '--port'",
        ),
        (&["--model", "v1"], &[("PORT", "eighty")], "PORT `eighty`"),
    ];
    for (args, env, expected) in cases {
        let output = Command::new(env!("CARGO_BIN_EXE_recommender"))
            .args(*args)
            .env_remove("PORT")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{expected}: {stderr}");
        assert!(
            stderr.contains(expected),
            "`{stderr}` should name {expected}"
        );
        assert!(output.stdout.is_empty(), "nothing served, nothing logged");
    }
}
