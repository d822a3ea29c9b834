//! The recommendation API behind the canary, one binary for both models:
//! `recommender --model v1|v2 [--port N] [--host IP]`.
//!
//! # Contract
//! - `POST /api/v1/recommendation` with `{"user_id": "..."}` → 200
//!   `{"event_log", "recommendation", "model_id", "latency_ms"}`. A missing or null `user_id` reads as
//!   "N/A". V1 answers `"V1 - Stable"` with two items; V2 answers `"V2 - DeepLearning - Canary"` with
//!   three items, about 50 ms later, and logs one JSON line per request (`user_id`, `model`,
//!   `latency_ms`, `status`).
//! - `GET /health` → 200 `{"status": "ok", "model_id": ...}`; never affected by the fault knobs, so the
//!   target stays in service during a drill and the canary alarms see the faults.
//! - Errors are JSON `{"error": code, "message": text}`: 400 `invalid_json` (body not JSON, any
//!   content type is accepted), 422 `invalid_request` (not an object, `user_id` not a string),
//!   413 `body_too_large` (over 16 KiB), 404, 405, 500 `injected_fault`, 503 `timeout`.
//!
//! # Configuration
//! | source | meaning | default |
//! |---|---|---|
//! | `--model v1\|v2` | model to serve (required) | — |
//! | `--port N`, else `PORT` | port; 0 picks a free one (tests), the bound address is logged | 8000 |
//! | `--host IP` | address to listen on | 0.0.0.0 |
//! | `RECOMMENDER_EXTRA_LATENCY_MS` | fault: added to every recommendation, 0–60000 | 0 |
//! | `RECOMMENDER_ERROR_RATE` | fault: share of recommendations answered 500, 0–1 | 0 |
//! | `RECOMMENDER_REQUEST_TIMEOUT_MS` | whole-request bound (body read included) → 503, 1–300000 | 10000 |
//! | `RUST_LOG` | log filter (JSON lines on stdout) | info |
//!
//! `recommender --help` lists the flags with examples. An empty variable counts as unset; any other
//! invalid value stops start-up (exit 2) with a message naming the flag or variable. A connection without read or write progress for 75 s is closed (longer than
//! the ALB's 60 s idle timeout, so the ALB closes idle keep-alives first). On SIGTERM or SIGINT the server stops accepting, finishes the requests in
//! flight and exits 0.
//!
//! # Health check
//! `recommender --health-check [--port N] [--host IP]` sends one `GET /health` to the local server
//! (127.0.0.1, the server's port: `--port`, else `PORT`, else 8000) and exits 0 on a 200 within 2 s,
//! else 1 with the reason on stderr: the container's health command, in an image with no shell.

pub mod api;
pub mod cli;
pub mod config;
pub mod connection;
pub mod health_check;
pub mod model;
pub mod server;

pub use api::{AppState, app};
pub use config::{Config, ConfigError, Faults};
pub use model::Model;
pub use server::{ServeError, serve};
