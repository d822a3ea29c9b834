//! The proxy end to end: a test upstream that answers 200, 500 or closes the connection as told,
//! the proxy in-process on 127.0.0.1, the moto emulator as CloudWatch; what the client sent is
//! read back with GetMetricData (the real SDK) per 5 s period and at period 10.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alb_canary_tests::{Moto, free_port};
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use aws_smithy_types::DateTime;
use bytes::Bytes;
use contract::alb_metric;
use http_body_util::{BodyExt, Empty, Full};
use hyper::{Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use target_signal::{Config, Destination, Period};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const LOAD_BALANCER: &str = "app/alb-canary/0123456789abcdef";
const TARGET_GROUP: &str = "targetgroup/v2/0123456789abcdef";

/// The upstream: `/ok` 200, `/slow` 200 after 50 ms, `/fail` 500, `/close` closes the connection
/// without an answer; keep-alive otherwise (GET only, no bodies).
async fn upstream(listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(serve_upstream_connection(stream));
    }
}

async fn serve_upstream_connection(mut stream: TcpStream) {
    let mut buffer = Vec::new();
    loop {
        let head_end = loop {
            if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
        buffer.drain(..head_end);
        let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
        let answer = match path.as_str() {
            "/close" => return,
            "/fail" => plain("500 Internal Server Error", "", "ok"),
            "/slow" => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                plain("200 OK", "", "ok")
            }
            "/echo" => match echo(&head, &mut buffer, &mut stream).await {
                Some(answer) => answer,
                None => return,
            },
            "/stream" => {
                let first = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n";
                if stream.write_all(first.as_bytes()).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
                "4\r\nlast\r\n0\r\n\r\n".to_owned()
            }
            _ => plain("200 OK", "", "ok"),
        };
        if stream.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn plain(status: &str, extra_headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\n{extra_headers}content-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// The request's body back, and its `x-test` header as `x-echo`.
async fn echo(head: &str, buffer: &mut Vec<u8>, stream: &mut TcpStream) -> Option<String> {
    let header = |name: &str| {
        head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    };
    let length: usize = header("content-length")?.parse().ok()?;
    while buffer.len() < length {
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
    let body: Vec<u8> = buffer.drain(..length).collect();
    let extra = format!("x-echo: {}\r\n", header("x-test").unwrap_or_default());
    Some(plain("200 OK", &extra, &String::from_utf8_lossy(&body)))
}

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// Sends `count` GETs of `path` through the proxy and checks each status.
async fn send(client: &HttpClient, proxy: u16, path: &str, agent: &str, count: usize) {
    let expected = match path {
        "/fail" => StatusCode::INTERNAL_SERVER_ERROR,
        "/close" => StatusCode::BAD_GATEWAY,
        _ => StatusCode::OK,
    };
    for _ in 0..count {
        let request = Request::get(format!("http://127.0.0.1:{proxy}{path}"))
            .header("user-agent", agent)
            .body(Empty::new())
            .unwrap();
        let response = client.request(request).await.unwrap();
        assert_eq!(response.status(), expected, "{path}");
    }
}

fn now_secs_f64() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Sleeps until `offset` seconds after epoch second `at`.
async fn sleep_until(at: u64, offset: f64) {
    let wait = at as f64 + offset - now_secs_f64();
    if wait > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    }
}

/// `stat` of `metric` per `period` over [start, end), as (period start, value).
async fn series(
    client: &aws_sdk_cloudwatch::Client,
    metric: &str,
    stat: &str,
    period: i32,
    (start, end): (u64, u64),
) -> BTreeMap<i64, f64> {
    let dimensions = [
        ("LoadBalancer", LOAD_BALANCER),
        ("TargetGroup", TARGET_GROUP),
    ]
    .map(|(name, value)| Dimension::builder().name(name).value(value).build());
    let query = MetricDataQuery::builder()
        .id("q")
        .metric_stat(
            MetricStat::builder()
                .metric(
                    Metric::builder()
                        .namespace(contract::target_metric::NAMESPACE)
                        .metric_name(metric)
                        .set_dimensions(Some(dimensions.to_vec()))
                        .build(),
                )
                .period(period)
                .stat(stat)
                .build(),
        )
        .build();
    let output = client
        .get_metric_data()
        .metric_data_queries(query)
        .start_time(DateTime::from_secs(start as i64))
        .end_time(DateTime::from_secs(end as i64))
        .send()
        .await
        .unwrap();
    let result = &output.metric_data_results()[0];
    result
        .timestamps()
        .iter()
        .map(|t| t.secs())
        .zip(result.values().iter().copied())
        .collect()
}

async fn start_upstream() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(upstream(listener));
    port
}

type Running = (
    u16,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), target_signal::Error>>,
);

/// The proxy in-process on a free port, once it listens: (its port, its stop signal, its end).
async fn start_proxy(
    cloudwatch: aws_sdk_cloudwatch::Client,
    period: u64,
    upstream: u16,
) -> Running {
    let port = free_port();
    let config = Config {
        listen: ([127, 0, 0, 1], port).into(),
        upstream: format!("127.0.0.1:{upstream}"),
        period: Period::from_secs(period).unwrap(),
        destination: Destination {
            namespace: contract::target_metric::NAMESPACE.into(),
            load_balancer: LOAD_BALANCER.into(),
            target_group: TARGET_GROUP.into(),
        },
        drain_timeout: Duration::from_secs(5),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let proxy = tokio::spawn(target_signal::run(config, cloudwatch, async {
        let _ = stopped.await;
    }));
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return (port, stop, proxy);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the proxy does not listen on 127.0.0.1:{port}");
}

async fn stop_proxy(
    stop: tokio::sync::oneshot::Sender<()>,
    proxy: tokio::task::JoinHandle<Result<(), target_signal::Error>>,
) {
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), proxy)
        .await
        .expect("the proxy stops after a drain")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sums_per_period_are_what_the_client_sent() {
    let moto = Moto::start();
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&moto.sdk_config().await);
    let upstream_port = start_upstream().await;

    let (proxy_port, stop, proxy) = start_proxy(cloudwatch.clone(), 5, upstream_port).await;
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let agent = "test-client/1.0";
    let health = "ELB-HealthChecker/2.0";

    // Two 5 s periods of one 10 s period, each batch well inside its period.
    let window = (now_secs_f64() as u64 / 10 + 1) * 10;
    sleep_until(window, 0.3).await;
    send(&client, proxy_port, "/ok", agent, 20).await;
    send(&client, proxy_port, "/fail", agent, 5).await;
    send(&client, proxy_port, "/close", agent, 3).await;
    send(&client, proxy_port, "/ok", health, 4).await;
    sleep_until(window + 5, 0.3).await;
    send(&client, proxy_port, "/ok", agent, 8).await;
    send(&client, proxy_port, "/slow", agent, 2).await;
    send(&client, proxy_port, "/fail", agent, 2).await;
    send(&client, proxy_port, "/ok", health, 2).await;
    // A third period, left partial: published on the way out.
    sleep_until(window + 10, 0.3).await;
    send(&client, proxy_port, "/ok", agent, 3).await;
    stop_proxy(stop, proxy).await;

    let span = (window - 5, window + 15);
    let requests = series(&cloudwatch, alb_metric::REQUEST_COUNT, "Sum", 5, span).await;
    let expected = [
        (window - 5, 0.0),
        (window, 28.0),
        (window + 5, 12.0),
        (window + 10, 3.0),
    ]
    .map(|(t, v)| (t as i64, v));
    assert_eq!(requests, BTreeMap::from(expected), "RequestCount per 5 s");
    let errors = series(&cloudwatch, alb_metric::TARGET_5XX, "Sum", 5, span).await;
    assert_eq!(errors.get(&(window as i64)), Some(&5.0));
    assert_eq!(errors.get(&(window as i64 + 5)), Some(&2.0));
    let refused = series(
        &cloudwatch,
        alb_metric::TARGET_CONNECTION_ERRORS,
        "Sum",
        5,
        span,
    )
    .await;
    assert_eq!(refused.get(&(window as i64)), Some(&3.0));
    assert_eq!(refused.get(&(window as i64 + 5)), Some(&0.0));
    let answered = series(
        &cloudwatch,
        alb_metric::RESPONSE_TIME,
        "SampleCount",
        5,
        span,
    )
    .await;
    assert_eq!(answered.get(&(window as i64)), Some(&25.0), "{answered:?}");
    assert_eq!(
        answered.get(&(window as i64 + 5)),
        Some(&12.0),
        "{answered:?}"
    );
    let slowest = series(&cloudwatch, alb_metric::RESPONSE_TIME, "Maximum", 5, span).await;
    let slowest = slowest[&(window as i64 + 5)];
    assert!((0.0495..0.080).contains(&slowest), "{slowest}");

    // The 1-second data at a 10 s alarm's period.
    let ten = (window, window + 10);
    let requests = series(&cloudwatch, alb_metric::REQUEST_COUNT, "Sum", 10, ten).await;
    assert_eq!(requests, BTreeMap::from([(window as i64, 40.0)]));
    let errors = series(&cloudwatch, alb_metric::TARGET_5XX, "Sum", 10, ten).await;
    assert_eq!(errors, BTreeMap::from([(window as i64, 7.0)]));
}

/// CloudWatch down for 12 periods of 1 s: the periods older than 10 periods are dropped, the rest
/// is published once it is back, each period once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_publish_is_retried_with_the_next_and_stale_periods_are_dropped() {
    let moto = Moto::start();
    let faults = alb_canary_tests::faults::Faults::new();
    let sdk = faults.sdk_config(&moto.sdk_config().await);
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&sdk);
    let upstream_port = start_upstream().await;
    let (proxy_port, stop, proxy) = start_proxy(cloudwatch.clone(), 1, upstream_port).await;
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let agent = "test-client/1.0";

    let outage = alb_canary_tests::faults::Target::operation("cloudwatch", "PutMetricData");
    let start = now_secs_f64() as u64 + 1;
    sleep_until(start, 0.3).await;
    faults.fail(outage, alb_canary_tests::faults::Kind::Http503, u32::MAX);
    send(&client, proxy_port, "/ok", agent, 5).await;
    sleep_until(start + 8, 0.3).await;
    send(&client, proxy_port, "/ok", agent, 7).await;
    // Back after the publish at start + 11 dropped `start`, before the one at start + 13.
    sleep_until(start + 12, 0.5).await;
    faults.heal();
    sleep_until(start + 14, 0.5).await;
    stop_proxy(stop, proxy).await;

    let requests = series(
        &cloudwatch,
        alb_metric::REQUEST_COUNT,
        "Sum",
        1,
        (start, start + 13),
    )
    .await;
    let at = |offset: u64| requests.get(&((start + offset) as i64)).copied();
    assert_eq!(at(0), None, "older than 10 periods: dropped ({requests:?})");
    assert_eq!(at(8), Some(7.0), "{requests:?}");
    assert_eq!(at(5), Some(0.0), "{requests:?}");
    assert_eq!(requests.values().sum::<f64>(), 7.0, "{requests:?}");
    // The publishes at start + 11, + 12 (failed) and + 13 (back) each dropped the one period then
    // older than 10: start, start + 1, start + 2; the other ten were published, each once.
    assert_eq!(requests.len(), 10, "{requests:?}");
    assert_eq!(
        requests.keys().next(),
        Some(&(start as i64 + 3)),
        "{requests:?}"
    );
}

/// Headers and bodies pass unchanged, a response body streams (its head arrives before its end),
/// and a stop lets the request in flight finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_pass_unchanged_and_responses_stream_through_a_stop() {
    let moto = Moto::start();
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&moto.sdk_config().await);
    let upstream_port = start_upstream().await;
    let (proxy_port, stop, proxy) = start_proxy(cloudwatch, 10, upstream_port).await;
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();

    let request = Request::post(format!("http://127.0.0.1:{proxy_port}/echo"))
        .header("x-test", "kept as sent")
        .body(Full::new(Bytes::from_static(b"{\"user_id\":\"u-1\"}")))
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.headers()["x-echo"], "kept as sent");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"{\"user_id\":\"u-1\"}");

    let asked = std::time::Instant::now();
    let request = Request::get(format!("http://127.0.0.1:{proxy_port}/stream"))
        .body(Full::default())
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert!(
        asked.elapsed() < Duration::from_millis(250),
        "the head waited for the body"
    );
    stop.send(()).unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"firstlast");
    assert!(asked.elapsed() >= Duration::from_millis(300));
    tokio::time::timeout(Duration::from_secs(30), proxy)
        .await
        .expect("the proxy stops once the stream ended")
        .unwrap()
        .unwrap();
}
