//! The driver of `cargo xtask bench-signal` (xtask builds the binaries and runs this): the moto
//! emulator, the recommender on 127.0.0.1:A and the signal proxy on 127.0.0.1:B → A publishing to
//! it, an open-loop constant-rate load alternating direct and proxied slices in the same run, then
//! the latency percentiles of both and the emulator's RequestCount against what was sent.
//! Exits 1, saying why, when the proxy costs more than the budget at p99 or anything failed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alb_canary_tests::child::Guarded;
use alb_canary_tests::{Moto, free_port};
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use aws_smithy_types::DateTime;
use bytes::Bytes;
use clap::Parser;
use http_body_util::Full;
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BODY: &str = r#"{"user_id":"bench-user"}"#;
/// Each slice goes to one side; short enough that both see the same machine (the other builds, the
/// emulator's bursts), long enough to keep the keep-alive pools warm.
const SLICE: Duration = Duration::from_millis(100);
const WARM_UP: Duration = Duration::from_secs(1);
/// The budget: what the proxy may add to the p99 of the direct path.
const P99_BUDGET_MS: f64 = 0.2;
const LOAD_BALANCER: &str = "app/bench/0000000000000000";
const TARGET_GROUP: &str = "targetgroup/bench/0000000000000000";

#[derive(Debug, Parser)]
struct Args {
    #[arg(long)]
    recommender: PathBuf,
    #[arg(long)]
    signal: PathBuf,
    #[arg(long, default_value_t = 1000)]
    rps: u32,
    #[arg(long, default_value_t = 20)]
    seconds: u32,
    /// Where the two servers' logs go
    #[arg(long)]
    log_dir: PathBuf,
}

#[derive(Default)]
struct Side {
    sent: u64,
    latencies_us: Vec<f64>,
    failures: Vec<String>,
}

#[derive(Default)]
struct Results {
    direct: Side,
    proxied: Side,
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn main() -> ExitCode {
    let args = Args::parse();
    // One worker: the generator shares 2 cores with the recommender, the proxy and the emulator.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(bench(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("bench-signal FAILED: {problem}");
            ExitCode::FAILURE
        }
    }
}

async fn bench(args: Args) -> Result<(), String> {
    std::fs::create_dir_all(&args.log_dir).map_err(|e| e.to_string())?;
    let moto = Moto::start();
    let (direct_port, proxy_port) = (free_port(), free_port());
    let bound = u64::from(args.seconds) + 120;
    let recommender = Guarded::spawn(
        "recommender",
        &args.recommender,
        &[
            "--model",
            "v1",
            "--host",
            "127.0.0.1",
            "--port",
            &direct_port.to_string(),
        ]
        .map(str::to_owned),
        &[("RUST_LOG", "warn".into())],
        bound,
        Some(&args.log_dir.join("recommender.log")),
    )?;
    let signal_args = [
        "--listen",
        &format!("127.0.0.1:{proxy_port}"),
        "--upstream",
        &format!("127.0.0.1:{direct_port}"),
        "--load-balancer",
        LOAD_BALANCER,
        "--target-group",
        TARGET_GROUP,
    ]
    .map(str::to_owned);
    let signal = Guarded::spawn(
        "alb-canary-signal",
        &args.signal,
        &signal_args,
        &moto.env(),
        bound,
        Some(&args.log_dir.join("signal.log")),
    )?;
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build_http();
    wait_ready(&client, direct_port).await?;
    wait_ready(&client, proxy_port).await?;

    let started = SystemTime::now();
    let pools = (Pool::new(direct_port), Pool::new(proxy_port));
    let warm_up = drive(&pools, args.rps, WARM_UP).await;
    let run = Duration::from_secs(u64::from(args.seconds));
    let mut results = drive(&pools, args.rps, run).await;
    drop(signal); // SIGTERM: the proxy publishes its last, partial period and exits.
    drop(recommender);
    let published = published_requests(&moto, started).await?;
    report(&mut results, args.rps, args.seconds);
    // The warm-up's proxied requests are counted too: the proxy cannot tell them apart.
    results.direct.failures.extend(warm_up.direct.failures);
    results.proxied.failures.extend(warm_up.proxied.failures);
    let proxied_sent = results.proxied.sent + warm_up.proxied.sent;
    check(&results, published, proxied_sent)
}

/// Waits until `GET /health` answers 200 (as the ALB's health checker: the proxy does not count it).
async fn wait_ready(client: &HttpClient, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let request = Request::get(format!("http://127.0.0.1:{port}/health"))
            .header("user-agent", "ELB-HealthChecker/2.0")
            .body(Full::default())
            .map_err(|e| e.to_string())?;
        if let Ok(response) = client.request(request).await
            && response.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("nothing healthy on 127.0.0.1:{port} within 20 s"))
}

/// Open loop: request i leaves at start + i/rps whatever the answers, to the side of its slice;
/// its latency runs from the moment it is handed to the connection until its whole answer.
async fn drive((direct, proxied): &(Arc<Pool>, Arc<Pool>), rps: u32, length: Duration) -> Results {
    let results = Arc::new(Mutex::new(Results::default()));
    let start = tokio::time::Instant::now();
    let total = u64::from(rps) * length.as_millis() as u64 / 1000;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let at = Duration::from_secs_f64(i as f64 / f64::from(rps));
        tokio::time::sleep_until(start + at).await;
        let through_proxy = (at.as_millis() / SLICE.as_millis()) % 2 == 1;
        let pool = if through_proxy { proxied } else { direct }.clone();
        let results = results.clone();
        tasks.spawn(async move {
            let outcome = one_request(&pool).await;
            let mut results = results.lock().unwrap_or_else(|p| p.into_inner());
            let side = if through_proxy {
                &mut results.proxied
            } else {
                &mut results.direct
            };
            side.sent += 1;
            match outcome {
                Ok(micros) => side.latencies_us.push(micros),
                Err(failure) => side.failures.push(failure),
            }
        });
    }
    // Every request has its answer before the results are read.
    while tasks.join_next().await.is_some() {}
    let mut results = results.lock().unwrap_or_else(|p| p.into_inner());
    std::mem::take(&mut *results)
}

/// Keep-alive connections to one port, reused one request at a time: hand-written HTTP/1.1, so
/// that the driver (a debug build) spends little CPU of the 2 cores it shares with what it measures.
struct Pool {
    port: u16,
    request: Vec<u8>,
    idle: Mutex<Vec<TcpStream>>,
}

impl Pool {
    fn new(port: u16) -> Arc<Pool> {
        let request = format!(
            "POST /api/v1/recommendation HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             User-Agent: bench-signal\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{BODY}",
            BODY.len()
        );
        Arc::new(Pool {
            port,
            request: request.into_bytes(),
            idle: Mutex::new(Vec::new()),
        })
    }

    async fn checkout(&self) -> Result<TcpStream, String> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match idle {
            Some(stream) => Ok(stream),
            None => {
                let stream = TcpStream::connect(("127.0.0.1", self.port))
                    .await
                    .map_err(|e| format!("connect to port {}: {e}", self.port))?;
                stream.set_nodelay(true).map_err(|e| e.to_string())?;
                Ok(stream)
            }
        }
    }
}

/// One request on a pooled connection: its latency in µs, from the moment it is handed to a
/// connection until the whole answer is read.
async fn one_request(pool: &Pool) -> Result<f64, String> {
    let sent = Instant::now();
    let mut stream = pool.checkout().await?;
    stream
        .write_all(&pool.request)
        .await
        .map_err(|e| format!("port {}: {e}", pool.port))?;
    let (status, keep_alive) = read_response(&mut stream)
        .await
        .map_err(|e| format!("port {}: {e}", pool.port))?;
    let micros = sent.elapsed().as_secs_f64() * 1e6;
    if keep_alive {
        pool.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(stream);
    }
    if !(200..300).contains(&status) {
        return Err(format!("status {status} from port {}", pool.port));
    }
    Ok(micros)
}

/// Reads one response (status line, headers, a `Content-Length` body): (status, keep-alive).
async fn read_response(stream: &mut TcpStream) -> std::io::Result<(u16, bool)> {
    let mut buffer = Vec::with_capacity(1024);
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if stream.read_buf(&mut buffer).await? == 0 {
            return Err(std::io::Error::other("closed before a response head"));
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status line"))?;
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .ok_or_else(|| std::io::Error::other("no content-length"))?;
    while buffer.len() < head_end + length {
        if stream.read_buf(&mut buffer).await? == 0 {
            return Err(std::io::Error::other("closed inside the body"));
        }
    }
    Ok((status, !head.contains("connection: close")))
}

/// The emulator's RequestCount summed over every period of the run (minutes around it).
async fn published_requests(moto: &Moto, started: SystemTime) -> Result<f64, String> {
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&moto.sdk_config().await);
    let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
    let (from, to) = (
        secs(started) / 60 * 60 - 60,
        secs(SystemTime::now()) / 60 * 60 + 120,
    );
    let dimensions = [
        ("LoadBalancer", LOAD_BALANCER),
        ("TargetGroup", TARGET_GROUP),
    ]
    .map(|(name, value)| Dimension::builder().name(name).value(value).build());
    let metric = Metric::builder()
        .namespace(contract::target_metric::NAMESPACE)
        .metric_name(contract::alb_metric::REQUEST_COUNT)
        .set_dimensions(Some(dimensions.to_vec()))
        .build();
    let stat = MetricStat::builder()
        .metric(metric)
        .period(60)
        .stat("Sum")
        .build();
    let output = cloudwatch
        .get_metric_data()
        .metric_data_queries(MetricDataQuery::builder().id("n").metric_stat(stat).build())
        .start_time(DateTime::from_secs(from))
        .end_time(DateTime::from_secs(to))
        .send()
        .await
        .map_err(|e| {
            format!(
                "GetMetricData: {}",
                aws_sdk_cloudwatch::error::DisplayErrorContext(&e)
            )
        })?;
    Ok(output
        .metric_data_results()
        .iter()
        .flat_map(|r| r.values())
        .sum())
}

/// Nearest rank: the smallest latency with at least `p` % of them at or below it.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

fn report(results: &mut Results, rps: u32, seconds: u32) {
    for side in [&mut results.direct, &mut results.proxied] {
        side.latencies_us.sort_by(f64::total_cmp);
    }
    let row = |side: &Side| [50.0, 99.0, 99.9].map(|p| percentile(&side.latencies_us, p) / 1000.0);
    let (direct, proxied) = (row(&results.direct), row(&results.proxied));
    println!(
        "\nbench-signal: {rps} requests/s for {seconds} s, open loop, {} ms slices alternating direct and proxied, keep-alive, POST /api/v1/recommendation (V1) on 127.0.0.1",
        SLICE.as_millis()
    );
    println!("| path | requests | p50 ms | p99 ms | p99.9 ms |");
    println!("|---|---:|---:|---:|---:|");
    for (name, side, values) in [
        ("direct", &results.direct, direct),
        ("proxied", &results.proxied, proxied),
    ] {
        println!(
            "| {name} | {} | {:.3} | {:.3} | {:.3} |",
            side.sent, values[0], values[1], values[2]
        );
    }
    let diff = [0, 1, 2].map(|i| proxied[i] - direct[i]);
    println!(
        "| proxied − direct | | {:+.3} | {:+.3} | {:+.3} |",
        diff[0], diff[1], diff[2]
    );
}

fn check(results: &Results, published: f64, proxied_sent: u64) -> Result<(), String> {
    let failures: Vec<&String> = results
        .direct
        .failures
        .iter()
        .chain(&results.proxied.failures)
        .collect();
    if let Some(first) = failures.first() {
        return Err(format!(
            "{} requests failed; the first: {first}",
            failures.len()
        ));
    }
    println!(
        "emulator RequestCount over the run: {published} (proxied requests sent: {proxied_sent})"
    );
    if published != proxied_sent as f64 {
        return Err(format!(
            "the proxy published {published} requests, the load sent {proxied_sent} through it"
        ));
    }
    let p99 = |side: &Side| percentile(&side.latencies_us, 99.0) / 1000.0;
    let cost = p99(&results.proxied) - p99(&results.direct);
    if cost > P99_BUDGET_MS {
        return Err(format!(
            "the proxy adds {cost:.3} ms at p99, over the {P99_BUDGET_MS} ms budget"
        ));
    }
    Ok(())
}
