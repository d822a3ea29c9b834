//! Binding, serving and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::api::{AppState, app};
use crate::config::Config;
use crate::connection::IdleTimeoutListener;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("could not install the {signal} handler: {source}")]
    Signal {
        signal: &'static str,
        source: std::io::Error,
    },
    #[error("the server stopped with an error: {0}")]
    Serve(std::io::Error),
}

/// Serves on `listener` until `shutdown` completes; then stops accepting, lets the requests in
/// flight finish (each is bounded by the request timeout) and returns. Idle connections are
/// closed after the configured idle timeout.
pub async fn serve<F>(listener: TcpListener, state: AppState, shutdown: F) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let listener = IdleTimeoutListener::new(listener, state.idle_timeout());
    let draining = state.clone();
    // axum waits for every open connection once `shutdown` completes; the count says how many
    // requests that wait is for, so a slow stop can be told apart from a stuck one in the log.
    let shutdown = async move {
        shutdown.await;
        tracing::info!(
            in_flight = draining.in_flight(),
            "shutting down: no new connections, finishing requests in flight"
        );
    };
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The binary's life: bind, log the address actually bound (port 0 picks one), serve until SIGTERM or SIGINT.
pub async fn run(config: Config) -> Result<(), ServeError> {
    let addr = SocketAddr::new(config.host, config.port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local_addr = listener.local_addr().map_err(ServeError::Serve)?;
    let shutdown = shutdown_signal()?;
    tracing::info!(
        model = config.model.model_id(),
        addr = %local_addr,
        extra_latency_ms = config.faults.extra_latency.as_millis() as u64,
        error_rate = config.faults.error_rate,
        request_timeout_ms = config.request_timeout.as_millis() as u64,
        body_limit = config.body_limit,
        "listening"
    );
    serve(listener, AppState::new(&config), shutdown)
        .await
        .map_err(ServeError::Serve)?;
    tracing::info!("stopped: requests in flight finished");
    Ok(())
}

/// Resolves on SIGTERM (systemd stop, `docker stop`) or SIGINT. Installed before serving, so a
/// signal that arrives right after start-up is not lost.
fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static, ServeError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(|source| ServeError::Signal {
        signal: "SIGTERM",
        source,
    })?;
    let mut int = signal(SignalKind::interrupt()).map_err(|source| ServeError::Signal {
        signal: "SIGINT",
        source,
    })?;
    Ok(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(signal = name, "signal received");
    })
}
