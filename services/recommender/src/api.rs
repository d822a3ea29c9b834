//! The HTTP contract (the crate's documentation): routes, JSON answers and errors, fault injection, request bounds.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Value, json};

use crate::config::{Config, Faults};
use crate::model::Model;

pub const RECOMMENDATION_PATH: &str = "/api/v1/recommendation";
pub const HEALTH_PATH: &str = "/health";

/// What the handlers share; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    model: Model,
    faults: Faults,
    request_timeout: Duration,
    body_limit: usize,
    idle_timeout: Duration,
    in_flight: AtomicUsize,
}

impl AppState {
    pub fn new(config: &Config) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                model: config.model,
                faults: config.faults,
                request_timeout: config.request_timeout,
                body_limit: config.body_limit,
                idle_timeout: config.idle_timeout,
                in_flight: AtomicUsize::new(0),
            }),
        }
    }

    pub fn idle_timeout(&self) -> Duration {
        self.inner.idle_timeout
    }

    /// Requests accepted and not yet answered: logged when a graceful shutdown starts (the
    /// requests it lets finish; axum's graceful shutdown waits on their connections).
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::SeqCst)
    }
}

/// The whole service as a router, so tests drive it in-process without a socket.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route(RECOMMENDATION_PATH, post(recommend))
        .route(HEALTH_PATH, get(health))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.inner.body_limit))
        .layer(middleware::from_fn_with_state(state.clone(), bound_request))
        .with_state(state)
}

#[derive(Debug, Serialize)]
struct Recommendation {
    event_log: String,
    recommendation: &'static [&'static str],
    model_id: &'static str,
    latency_ms: u64,
}

/// Every error the API answers, each as `{"error": code, "message": text}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the body is not JSON: {0}")]
    InvalidJson(String),
    #[error("the body must be a JSON object such as {{\"user_id\": \"u-1\"}}, not {0}")]
    NotAnObject(&'static str),
    #[error("`user_id` must be a string, not {0}")]
    UserIdNotAString(&'static str),
    #[error("{message}")]
    Body { status: StatusCode, message: String },
    #[error("injected fault ({variable} = {rate})")]
    InjectedFault { variable: &'static str, rate: f64 },
    #[error("the request did not complete within {0} ms")]
    Timeout(u128),
    #[error("no route for {0}")]
    NotFound(String),
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(String),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::InvalidJson(_) => (StatusCode::BAD_REQUEST, "invalid_json"),
            ApiError::NotAnObject(_) | ApiError::UserIdNotAString(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request")
            }
            ApiError::Body { status, .. } if *status == StatusCode::PAYLOAD_TOO_LARGE => {
                (*status, "body_too_large")
            }
            ApiError::Body { status, .. } => (*status, "invalid_body"),
            ApiError::InjectedFault { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "injected_fault"),
            // 503, not 408: the server failed to answer in time, and the canary's 5XX alarms must count it.
            ApiError::Timeout(_) => (StatusCode::SERVICE_UNAVAILABLE, "timeout"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        (
            status,
            Json(json!({ "error": code, "message": self.to_string() })),
        )
            .into_response()
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> ApiError {
        ApiError::Body {
            status: rejection.status(),
            message: rejection.body_text(),
        }
    }
}

async fn health(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "status": "ok", "model_id": state.inner.model.model_id() }))
}

async fn recommend(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    let started = Instant::now();
    let model = state.inner.model;
    let (user_id, result) = match body.map_err(ApiError::from).and_then(|body| user_id(&body)) {
        Ok(user_id) => {
            let result = answer(&state, &user_id, started).await;
            (user_id, result)
        }
        Err(err) => ("N/A".to_string(), Err(err)),
    };
    let response = result.into_response();
    if model.logs_each_request() {
        tracing::info!(
            user_id,
            model = model.model_id(),
            latency_ms = elapsed_ms(started),
            status = response.status().as_u16(),
            "recommendation"
        );
    }
    response
}

async fn answer(
    state: &AppState,
    user_id: &str,
    started: Instant,
) -> Result<Json<Recommendation>, ApiError> {
    let Inner { model, faults, .. } = *state.inner;
    if !faults.extra_latency.is_zero() {
        tokio::time::sleep(faults.extra_latency).await;
    }
    // fastrand::f64() is in [0, 1): a rate of 0 never fires, a rate of 1 always does.
    if faults.error_rate > 0.0 && fastrand::f64() < faults.error_rate {
        return Err(ApiError::InjectedFault {
            variable: crate::config::ERROR_RATE_VAR,
            rate: faults.error_rate,
        });
    }
    tokio::time::sleep(model.inference_time()).await;
    Ok(Json(Recommendation {
        event_log: model.event_log(user_id),
        recommendation: model.items(),
        model_id: model.model_id(),
        latency_ms: elapsed_ms(started),
    }))
}

/// `user_id` from the body: missing or null reads as "N/A", as in the original models.
fn user_id(body: &[u8]) -> Result<String, ApiError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|err| ApiError::InvalidJson(err.to_string()))?;
    let Value::Object(object) = value else {
        return Err(ApiError::NotAnObject(json_type(&value)));
    };
    match object.get("user_id") {
        None | Some(Value::Null) => Ok("N/A".to_string()),
        Some(Value::String(user_id)) => Ok(user_id.clone()),
        Some(other) => Err(ApiError::UserIdNotAString(json_type(other))),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    started.elapsed().as_millis().try_into().unwrap_or(u64::MAX)
}

async fn not_found(request: Request) -> ApiError {
    ApiError::NotFound(request.uri().path().to_string())
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::MethodNotAllowed(request.method().to_string())
}

/// Counts the request as in flight and bounds it in time, body read included, so a slow client
/// cannot hold a connection and a graceful shutdown cannot wait forever.
async fn bound_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let _in_flight = InFlight::enter(&state);
    tracing::debug!(method = %request.method(), path = request.uri().path(), "request started");
    let timeout = state.inner.request_timeout;
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(timeout_ms = timeout.as_millis() as u64, "request timed out");
            ApiError::Timeout(timeout.as_millis()).into_response()
        }
    }
}

/// Decrements on drop, so a request cancelled by the timeout or a closed connection is not counted forever.
struct InFlight(AppState);

impl InFlight {
    fn enter(state: &AppState) -> InFlight {
        state.inner.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(state.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.inner.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}
