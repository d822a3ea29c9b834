//! `alb-canary-signal`: see the library's documentation (`target_signal`).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use target_signal::{Config, Destination, Period};

/// A reverse proxy in front of a target's HTTP service that publishes the ALB's target metrics
/// (requests, target 5XX, connection errors, response time), measured here, every period at
/// 1-second resolution.
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "Example:\n  alb-canary-signal --upstream 127.0.0.1:8001 \
    --load-balancer app/alb-canary/0123456789abcdef --target-group targetgroup/v2/0123456789abcdef"
)]
struct Cli {
    /// Where clients (the ALB) connect
    #[arg(long, default_value = "0.0.0.0:8000")]
    listen: SocketAddr,
    /// The service behind, host:port
    #[arg(long, default_value = "127.0.0.1:8001")]
    upstream: String,
    /// Aggregation period in seconds: 1, 5, 10, 20, 30 or a multiple of 60
    #[arg(long, default_value = "10")]
    period: Period,
    /// CloudWatch namespace
    #[arg(long, default_value = contract::target_metric::NAMESPACE)]
    namespace: String,
    /// The `LoadBalancer` dimension, as in the ALB's metrics (app/NAME/ID)
    #[arg(long)]
    load_balancer: String,
    /// The `TargetGroup` dimension, as in the ALB's metrics (targetgroup/NAME/ID)
    #[arg(long)]
    target_group: String,
    /// Seconds open requests may take to finish after SIGTERM/SIGINT
    #[arg(long, default_value_t = 20)]
    drain_timeout: u64,
}

/// One thread for accepting and the stop (each connection has its blocking threads, the publisher
/// its own runtime).
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let config = Config {
        listen: cli.listen,
        upstream: cli.upstream,
        period: cli.period,
        destination: Destination {
            namespace: cli.namespace,
            load_balancer: cli.load_balancer,
            target_group: cli.target_group,
        },
        drain_timeout: Duration::from_secs(cli.drain_timeout),
    };
    // The default chain: instance-role credentials and region from IMDS on EC2, AWS_ENDPOINT_URL
    // for the emulator.
    // Bounded calls: a CloudWatch that hangs must not hold the last period's publish at a stop
    // for longer than systemd waits, nor stack up periods behind one call.
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .operation_attempt_timeout(Duration::from_secs(3))
        .operation_timeout(Duration::from_secs(8))
        .build();
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts)
        .load()
        .await;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&sdk);
    match target_signal::run(config, cloudwatch, stop_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(event = "failed", error = %err);
            ExitCode::FAILURE
        }
    }
}

/// SIGTERM (systemd, the container runtime) or SIGINT (a terminal).
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!(event = "no_signal_handler", "stopping now");
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!(event = "stopping", "signal received: draining");
}
