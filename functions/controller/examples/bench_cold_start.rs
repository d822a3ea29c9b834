//! Cold starts for `cargo xtask bench-lambda`: a function binary started as Lambda starts it, against
//! a Lambda runtime API served here on 127.0.0.1 and the moto server. Each run is a fresh process
//! and a fresh canary at its first step; its first event is that canary's 5XX alarm. Measured:
//! spawn → the first `next` (init: settings, logging, clients), `next` → the first `response`
//! (the cold invocation: a whole rollback), and their sum. The listener is read back after each
//! run: canary must be at 0 (evidence the runtime under test did not write).
//!
//! `bench_cold_start NAME RUNS PROGRAM [ARGS...]` prints one JSON line for NAME.

use alb_canary_tests::controller_env::{Env, fixture, test_plan};
use controller::Outcome;
use controller::promotion::handle_promotion_at;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

const PREFIX: &str = "/2018-06-01/runtime";
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// What the runtime asked and answered, with when.
#[derive(Default)]
struct Log {
    events: VecDeque<String>,
    nexts: Vec<Instant>,
    /// (when, a response rather than an error, the body)
    answers: Vec<(Instant, bool, String)>,
}

#[derive(Default)]
struct Shared {
    log: Mutex<Log>,
    changed: Condvar,
}

/// The runtime API: `next` hands out the queued events (and holds the request while there is
/// none), `response` and `error` are logged.
fn serve(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming().flatten() {
        let shared = shared.clone();
        std::thread::spawn(move || {
            let _ = connection(stream, &shared);
        });
    }
}

fn connection(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or_default().to_string(),
            parts.next().unwrap_or_default().to_string(),
        );
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header)?;
            if header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let body = String::from_utf8_lossy(&body).into_owned();
        if method == "GET" && path == format!("{PREFIX}/invocation/next") {
            let event = {
                let mut log = shared.log.lock().unwrap();
                log.nexts.push(Instant::now());
                loop {
                    if let Some(event) = log.events.pop_front() {
                        break event;
                    }
                    log = shared.changed.wait(log).unwrap();
                }
            };
            let id = format!("req-{}", event.len());
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
                + 60_000;
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                 Lambda-Runtime-Aws-Request-Id: {id}\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:rollback\r\n\
                 Content-Length: {}\r\n\r\n{event}",
                event.len()
            )?;
        } else {
            let answered = path.ends_with("/response");
            {
                let mut log = shared.log.lock().unwrap();
                log.answers.push((Instant::now(), answered, body));
            }
            shared.changed.notify_all();
            write!(
                out,
                "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{{\"status\":\"OK\"}}"
            )?;
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [name, runs, program, rest @ ..] = args.as_slice() else {
        panic!("usage: bench_cold_start NAME RUNS PROGRAM [ARGS...]");
    };
    let runs: usize = runs.parse().expect("RUNS is a number");
    let env = Env::start().await;
    let alarm = fixture("alarm-canary-error-rate-alarm.json").to_string();
    let schedule = fixture("schedule-event.json");
    let t0 = controller::now_secs() - 7200;
    let (mut init, mut first, mut total) = (vec![], vec![], vec![]);
    for _ in 0..runs {
        // A canary at its first step (canary 10 %), promoted in this process.
        let canary = env.canary(test_plan()).await;
        env.put_baseline(&canary.config.stable_tg_arn, t0).await;
        let outcome = handle_promotion_at(&env.clients, &canary.config, schedule.clone(), t0)
            .await
            .unwrap();
        assert!(
            matches!(outcome, Outcome::Promoted { step: 0, .. }),
            "{outcome:?}"
        );
        let shared = Arc::new(Shared::default());
        shared.log.lock().unwrap().events.push_back(alarm.clone());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let api = listener.local_addr().unwrap().to_string();
        let server = shared.clone();
        std::thread::spawn(move || serve(listener, server));
        let started = Instant::now();
        let mut child = Command::new(program)
            .args(rest)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env.moto.env())
            .envs(canary.vars.iter().map(|(k, v)| (*k, v.as_str())))
            .envs([
                ("AWS_LAMBDA_RUNTIME_API", api.as_str()),
                ("AWS_LAMBDA_FUNCTION_NAME", "rollback"),
                ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
                ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
                ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/rollback"),
                ("AWS_LAMBDA_LOG_STREAM_NAME", "bench"),
                // Lambda sets both; boto3 reads the second.
                ("AWS_DEFAULT_REGION", "us-east-1"),
                ("RUST_LOG", "warn"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("{program} does not start: {err}"));
        let (next, answer) = {
            let mut log = shared.log.lock().unwrap();
            let deadline = Instant::now() + ANSWER_TIMEOUT;
            while log.answers.is_empty()
                && Instant::now() < deadline
                && child.try_wait().is_ok_and(|exited| exited.is_none())
            {
                log = shared
                    .changed
                    .wait_timeout(log, Duration::from_millis(100))
                    .unwrap()
                    .0;
            }
            (log.nexts.first().copied(), log.answers.first().cloned())
        };
        let _ = child.kill();
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let (Some(next), Some((answered_at, ok, body))) = (next, answer) else {
            panic!("{name}: no answer within {ANSWER_TIMEOUT:?}; stderr: {stderr}");
        };
        assert!(
            ok,
            "{name}: the invocation failed: {body}; stderr: {stderr}"
        );
        let weights = env.weights(&canary).await;
        assert_eq!(
            weights.canary, 0,
            "{name}: canary still has traffic after the rollback"
        );
        init.push(ms(next - started));
        first.push(ms(answered_at - next));
        total.push(ms(answered_at - started));
    }
    println!(
        "{}",
        serde_json::json!({
            "bench": "cold_start",
            "runtime": name,
            "runs": runs,
            "init_ms_median": median(init.clone()),
            "first_invocation_ms_median": median(first.clone()),
            "cold_total_ms_median": median(total.clone()),
            "cold_total_ms_max": total.iter().copied().fold(0.0, f64::max),
        })
    );
}
