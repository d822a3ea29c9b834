//! `alb-canary-signal`: the ALB's target metrics measured at the target, every 10 s.
//!
//! ALB publishes `RequestCount`, `HTTPCode_Target_5XX_Count`, `TargetConnectionErrorCount` and
//! `TargetResponseTime` once a minute, minutes late, and only while requests flow. This proxy runs
//! on each instance in front of the service (which needs no change), counts the same things by the
//! same rules, and publishes them every period (10 s by default) at 1-second storage resolution
//! under the ALB metrics' own names and dimensions, so the controller and its alarms can read them
//! with the same queries, six times sooner and never starved of a zero.
//!
//! - [`relay`]: the request path (each client connection relayed byte for byte to one of its own
//!   to the service, by two blocking threads);
//! - [`framing`]: where HTTP/1.1 messages start and end on a connection;
//! - [`window`]: the counting rules and the periods the request path writes into;
//! - [`histogram`]: the latency distribution, within 1 % of every value;
//! - [`period`]: CloudWatch's high-resolution periods, aligned on the epoch;
//! - [`publish`]: one PutMetricData per period, retried with the next one when it fails.

pub mod framing;
pub mod histogram;
pub mod period;
pub mod publish;
pub mod relay;
pub mod window;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::net::TcpListener;
use tokio::sync::watch;

pub use period::Period;
pub use publish::Destination;

use publish::Publisher;
use relay::Relay;
use window::Recorder;

/// How long after a period's end it is published: the last requests of the period are counted by
/// then (a request counts when its response head arrives, so no request is ever still open).
const PUBLISH_DELAY: Duration = Duration::from_millis(200);

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// `host:port` of the service behind.
    pub upstream: String,
    pub period: Period,
    pub destination: Destination,
    /// How long open requests may finish after a stop signal before their connections are closed.
    pub drain_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    #[error("cannot start the publisher's thread: {0}")]
    Publisher(std::io::Error),
}

/// Proxies on `config.listen` until `shutdown` completes, then stops accepting, lets open requests
/// finish (up to the drain timeout), publishes the last, partial period and returns.
pub async fn run(
    config: Config,
    cloudwatch: aws_sdk_cloudwatch::Client,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|err| Error::Listen(config.listen, err))?;
    let recorder = Arc::new(Recorder::new(config.period));
    let first_start = config.period.start_at(SystemTime::now());
    let publisher = Publisher::new(cloudwatch, config.destination.clone(), first_start);
    let (stop, stopped) = watch::channel(false);
    let published = spawn_publisher(publisher, recorder.clone(), stopped)?;
    tracing::info!(event = "started", listen = %config.listen, upstream = %config.upstream,
        period_seconds = config.period.secs(), namespace = %config.destination.namespace);

    let relay = Relay::new(config.upstream.clone(), recorder);
    serve(listener, &relay, shutdown).await;
    relay.stop();
    if !drained(&relay, config.drain_timeout).await {
        tracing::warn!(
            event = "drain_timeout",
            "connections still open are closed at exit"
        );
    }
    let _ = stop.send(true);
    // An error only means the publisher's thread ended without a word (it logged why).
    let _ = published.await;
    tracing::info!(event = "stopped");
    Ok(())
}

/// The accept loop; returns (dropping the listener) when `shutdown` completes. Accepting is
/// async, so that a stop needs no wake-up trick; each connection then lives on blocking threads.
async fn serve(listener: TcpListener, relay: &Arc<Relay>, shutdown: impl Future<Output = ()>) {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = accepted.and_then(|(stream, _)| {
            let stream = stream.into_std()?;
            stream.set_nonblocking(false)?;
            Ok(stream)
        });
        match stream {
            Ok(stream) => relay.accept(stream),
            Err(err) => {
                // Out of file descriptors, mostly: wait rather than spin.
                tracing::warn!(event = "accept_failed", error = %err);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Whether every connection ended within `timeout` (each closes after the exchange in flight).
async fn drained(relay: &Relay, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while relay.active() > 0 {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

/// The publisher on a thread and runtime of its own: signing, serializing and the SDK's retries
/// never hold up the request path, whatever runtime that runs on (measured: on the proxy's thread,
/// each publish was a stall of the requests behind it). The receiver completes when it is done.
fn spawn_publisher(
    publisher: Publisher,
    recorder: Arc<Recorder>,
    stop: watch::Receiver<bool>,
) -> Result<tokio::sync::oneshot::Receiver<()>, Error> {
    let (done, finished) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("publisher".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(publish_loop(publisher, recorder, stop)),
                Err(err) => tracing::error!(event = "publisher_failed", error = %err),
            }
            let _ = done.send(());
        })
        .map_err(Error::Publisher)?;
    Ok(finished)
}

/// Publishes each period shortly after it ends; once told to stop, the periods left, the current
/// partial one included.
async fn publish_loop(
    mut publisher: Publisher,
    recorder: Arc<Recorder>,
    mut stop: watch::Receiver<bool>,
) {
    let period = recorder.period();
    loop {
        let wait = period.until_end(SystemTime::now()) + PUBLISH_DELAY;
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|stop| *stop) => break,
        }
        let current = period.start_at(SystemTime::now());
        publisher.publish_before(&recorder, current).await;
    }
    let after_current = period.start_at(SystemTime::now()) + period.secs();
    publisher.publish_before(&recorder, after_current).await;
    if publisher.pending() > 0 {
        tracing::error!(
            event = "unpublished_at_exit",
            periods = publisher.pending(),
            "the last publish failed: these periods are lost"
        );
    }
}
