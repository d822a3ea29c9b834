//! The request path: forward, time the upstream's response head, count, stream the body back.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, USER_AGENT};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::period::epoch_secs;
use crate::window::{Outcome, Recorder, is_counted};

/// The upstream's body as it streams, or the proxy's own short answer.
pub type ProxyBody = Either<Incoming, Full<Bytes>>;

pub struct Proxy {
    client: Client<HttpConnector, Incoming>,
    /// `host:port` of the service behind.
    upstream: String,
    recorder: Arc<Recorder>,
}

impl Proxy {
    /// `idle_timeout`: how long a pooled upstream connection may rest; below the upstream's own
    /// keep-alive timeout, so that the proxy never sends on a connection the upstream is closing
    /// (that race would count as a connection error the service did not cause).
    pub fn new(upstream: String, idle_timeout: Duration, recorder: Arc<Recorder>) -> Proxy {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(10)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(idle_timeout)
            .build(connector);
        Proxy {
            client,
            upstream,
            recorder,
        }
    }

    /// Forwards `request` unchanged (method, path, headers, streamed body) and counts its outcome.
    pub async fn handle(
        self: Arc<Self>,
        mut request: Request<Incoming>,
    ) -> Result<Response<ProxyBody>, Infallible> {
        let received = Instant::now();
        let counted = is_counted(request.headers().get(USER_AGENT).map(HeaderValue::as_bytes));
        *request.uri_mut() = match self.upstream_uri(request.uri()) {
            Ok(uri) => uri,
            Err(_) => return Ok(answer(StatusCode::BAD_REQUEST, "bad request target\n")),
        };
        let (outcome, response) = match self.client.request(request).await {
            Ok(response) => {
                let outcome = Outcome::Answered {
                    status: response.status().as_u16(),
                    elapsed: received.elapsed(),
                };
                (outcome, response.map(Either::Left))
            }
            Err(error) => {
                tracing::warn!(event = "upstream_failed", error = %error_chain(&error));
                let response = answer(StatusCode::BAD_GATEWAY, "upstream connection failed\n");
                (Outcome::ConnectionFailed, response)
            }
        };
        if counted {
            self.recorder.record(epoch_secs(SystemTime::now()), outcome);
        }
        Ok(response)
    }

    fn upstream_uri(&self, uri: &Uri) -> Result<Uri, hyper::http::Error> {
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        Uri::builder()
            .scheme("http")
            .authority(self.upstream.as_str())
            .path_and_query(path)
            .build()
    }
}

fn answer(status: StatusCode, text: &'static str) -> Response<ProxyBody> {
    let mut response = Response::new(Either::Right(Full::new(Bytes::from_static(
        text.as_bytes(),
    ))));
    *response.status_mut() = status;
    response
}

/// The error and its causes on one line ("client error (Connect): tcp connect error: Connection
/// refused"): the legacy client's top-level message alone says nothing of the cause.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
