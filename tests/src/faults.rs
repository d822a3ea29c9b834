//! Fault injection at the SDK boundary: the real `aws-sdk-rust` clients, their real retry
//! strategy, serializers and error parsers, over an HTTP client that wraps the SDK's own and, as a
//! test tells it, answers a chosen call in place of the emulator:
//!
//! - with an AWS error as that service's protocol spells it (throttling, 500, 503), or a
//!   connection-level failure (a timeout, a dropped connection), for a number of attempts (a burst
//!   the SDK's retries absorb) or for good (an outage that outlasts them);
//! - with the emulator's answer lost on the way back (the call took effect, the caller saw an
//!   I/O error and retries it: what a write's idempotency is for);
//! - or it stops the run after the k-th call ([`Faults::crash_after`]): every later request is
//!   refused unsent, as if the Lambda timed out or the operator's terminal died there.
//!
//! Deterministic: what fails is the n-th request or every request of one operation, never a
//! random draw, and the SDK's backoff sleeps no wall-clock time ([`NoSleep`]).
//!
//! A request is named as AWS names it from the request itself: the SigV4 scope's service, then
//! the JSON protocol's `X-Amz-Target`, the Query protocol's `Action`, or the REST method.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_async::rt::sleep::{AsyncSleep, SharedAsyncSleep, Sleep};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

/// How an injected call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// The service's throttling error (`Throttling`, `ThrottlingException`, S3's `SlowDown`).
    Throttle,
    /// 500 `InternalFailure`.
    Http500,
    /// 503 `ServiceUnavailable`.
    Http503,
    /// The attempt timed out before an answer (a read timeout).
    Timeout,
    /// The connection was dropped before the request reached the service.
    Dropped,
    /// The service did the work; its answer was lost (connection reset on the way back).
    AnswerLost,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Throttle,
        Kind::Http500,
        Kind::Http503,
        Kind::Timeout,
        Kind::Dropped,
        Kind::AnswerLost,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Throttle => "throttling",
            Kind::Http500 => "500",
            Kind::Http503 => "503",
            Kind::Timeout => "timeout",
            Kind::Dropped => "dropped connection",
            Kind::AnswerLost => "answer lost",
        }
    }
}

/// Which requests a fault applies to: a service (`elbv2`, `cloudwatch`, `dynamodb`, `sns`,
/// `scheduler`, `s3`, `autoscaling`) and optionally one of its operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub service: &'static str,
    pub operation: Option<&'static str>,
}

impl Target {
    pub fn service(service: &'static str) -> Target {
        Target {
            service,
            operation: None,
        }
    }

    pub fn operation(service: &'static str, operation: &'static str) -> Target {
        Target {
            service,
            operation: Some(operation),
        }
    }

    fn matches(&self, call: &Call) -> bool {
        self.service == call.service && self.operation.is_none_or(|op| op == call.operation)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.operation {
            Some(op) => write!(f, "{}:{op}", self.service),
            None => write!(f, "{}:*", self.service),
        }
    }
}

/// One request as the wrapped client saw it, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub service: String,
    pub operation: String,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Sent to the emulator, its answer returned.
    Sent,
    /// Answered by the injector (the emulator never saw it, except for [`Kind::AnswerLost`]).
    Failed(Kind),
    /// Refused unsent: the run had crashed.
    Crashed,
}

#[derive(Debug, Clone)]
struct Rule {
    target: Target,
    kind: Kind,
    /// Matching requests still to fail (`u32::MAX`: every one, an outage).
    remaining: u32,
}

#[derive(Debug, Default)]
struct Plan {
    /// Requests sent so far that count towards the crash point.
    sent: usize,
    crash_after: Option<usize>,
    /// The run dies right after `crash_countdown` more of these requests are served.
    crash_once_served: Vec<Target>,
    crash_countdown: usize,
    /// The request that fails (by its place among the requests sent) and how.
    nth: Option<(usize, Kind)>,
    rules: Vec<Rule>,
    log: Vec<Call>,
}

/// The fault plan shared by a test and the HTTP client it gave the SDK.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    plan: Arc<Mutex<Plan>>,
}

impl Faults {
    pub fn new() -> Faults {
        Faults::default()
    }

    /// `sdk` with this plan's HTTP client (the SDK's own, wrapped), the functions' retry settings
    /// ([`controller::clients::retry_config`]) and a backoff that sleeps no time. No timeouts: a
    /// timeout is injected as the error it ends in, not waited for.
    pub fn sdk_config(&self, sdk: &aws_config::SdkConfig) -> aws_config::SdkConfig {
        let inner = aws_smithy_http_client::Builder::new().build_http();
        sdk.to_builder()
            .http_client(FaultyClient {
                inner,
                faults: self.clone(),
            })
            .retry_config(controller::clients::retry_config())
            .timeout_config(aws_config::timeout::TimeoutConfig::disabled())
            .sleep_impl(SharedAsyncSleep::new(NoSleep))
            .build()
    }

    /// The run dies after `k` more requests went out: every later one is refused unsent.
    pub fn crash_after(&self, k: usize) {
        let mut plan = self.lock();
        plan.crash_after = Some(plan.sent + k);
    }

    /// The run dies right after the first request one of `targets` names was served (a crash
    /// point named by what was done last: "after the first DynamoDB write").
    pub fn crash_after_first(&self, targets: &[Target]) {
        self.crash_after_nth(targets, 1);
    }

    /// The run dies right after the `n`-th request one of `targets` names was served.
    pub fn crash_after_nth(&self, targets: &[Target], n: usize) {
        let mut plan = self.lock();
        plan.crash_once_served = targets.to_vec();
        plan.crash_countdown = n;
    }

    /// The request that would be the `k`-th from now (0: the next) fails once with `kind`.
    pub fn fail_nth(&self, k: usize, kind: Kind) {
        let mut plan = self.lock();
        plan.nth = Some((plan.sent + k, kind));
    }

    /// The next `attempts` requests `target` names fail with `kind` (`u32::MAX`: all of them).
    pub fn fail(&self, target: Target, kind: Kind, attempts: u32) {
        self.lock().rules.push(Rule {
            target,
            kind,
            remaining: attempts,
        });
    }

    /// Ends every fault: the service is back, the process alive again.
    pub fn heal(&self) {
        let mut plan = self.lock();
        plan.crash_after = None;
        plan.crash_once_served.clear();
        plan.nth = None;
        plan.rules.clear();
    }

    /// Requests sent to the emulator so far (each attempt counts).
    pub fn sent(&self) -> usize {
        self.lock().sent
    }

    /// Every request seen so far, in order.
    pub fn log(&self) -> Vec<Call> {
        self.lock().log.clone()
    }

    /// The requests of `service:operation` that reached the service and whose answer the caller got.
    pub fn delivered(&self, service: &str, operation: &str) -> usize {
        self.lock()
            .log
            .iter()
            .filter(|c| {
                c.service == service && c.operation == operation && c.outcome == Outcome::Sent
            })
            .count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Plan> {
        self.plan.lock().expect("the fault plan is not poisoned")
    }

    /// What happens to this request: `None` sends it as it is.
    fn decide(&self, call: &mut Call) -> Option<Outcome> {
        let mut plan = self.lock();
        let outcome = if plan.crash_after.is_some_and(|k| plan.sent >= k) {
            Some(Outcome::Crashed)
        } else if let Some((_, kind)) = plan.nth.filter(|(n, _)| *n == plan.sent) {
            plan.nth = None;
            Some(Outcome::Failed(kind))
        } else if let Some(rule) = plan
            .rules
            .iter_mut()
            .find(|r| r.remaining > 0 && r.target.matches(call))
        {
            if rule.remaining != u32::MAX {
                rule.remaining -= 1;
            }
            Some(Outcome::Failed(rule.kind))
        } else {
            None
        };
        if !matches!(outcome, Some(Outcome::Crashed)) {
            plan.sent += usize::from(!matches!(
                outcome,
                Some(Outcome::Failed(k)) if k != Kind::AnswerLost
            ));
        }
        if outcome.is_none() && plan.crash_once_served.iter().any(|t| t.matches(call)) {
            plan.crash_countdown = plan.crash_countdown.saturating_sub(1);
            if plan.crash_countdown == 0 {
                plan.crash_once_served.clear();
                plan.crash_after = Some(plan.sent);
            }
        }
        call.outcome = outcome.unwrap_or(Outcome::Sent);
        plan.log.push(call.clone());
        outcome
    }
}

/// The SDK's backoff between retries, at no cost in time: the exploration stays fast and
/// deterministic, and what is tested is how many attempts are made, not how long they wait.
#[derive(Debug, Clone, Copy)]
pub struct NoSleep;

impl AsyncSleep for NoSleep {
    fn sleep(&self, _duration: Duration) -> Sleep {
        Sleep::new(std::future::ready(()))
    }
}

#[derive(Debug, Clone)]
struct FaultyClient {
    inner: SharedHttpClient,
    faults: Faults,
}

impl HttpClient for FaultyClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(FaultyConnector {
            inner: self.inner.http_connector(settings, components),
            faults: self.faults.clone(),
        })
    }
}

#[derive(Debug)]
struct FaultyConnector {
    inner: SharedHttpConnector,
    faults: Faults,
}

impl HttpConnector for FaultyConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let mut call = name(&request);
        let protocol = protocol(&call.service);
        match self.faults.decide(&mut call) {
            None => self.inner.call(request),
            Some(Outcome::Crashed) => HttpConnectorFuture::ready(Err(ConnectorError::other(
                "injected crash: the run died before this call".into(),
                None,
            ))),
            Some(Outcome::Sent) => unreachable!("`decide` never says Sent"),
            Some(Outcome::Failed(Kind::AnswerLost)) => {
                let sent = self.inner.call(request);
                HttpConnectorFuture::new(async move {
                    // The service did the work; the caller sees the connection reset.
                    let _answer = sent.await;
                    Err(ConnectorError::io(
                        "injected: connection reset after the request was served".into(),
                    ))
                })
            }
            Some(Outcome::Failed(Kind::Timeout)) => HttpConnectorFuture::ready(Err(
                ConnectorError::timeout("injected: read timeout".into()),
            )),
            Some(Outcome::Failed(Kind::Dropped)) => HttpConnectorFuture::ready(Err(
                ConnectorError::io("injected: connection reset before the request was sent".into()),
            )),
            Some(Outcome::Failed(kind)) => {
                HttpConnectorFuture::ready(Ok(error_response(protocol, kind)))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Query,
    Json,
    RestJson,
    RestXml,
}

fn protocol(service: &str) -> Protocol {
    match service {
        "dynamodb" => Protocol::Json,
        "scheduler" => Protocol::RestJson,
        "s3" => Protocol::RestXml,
        _ => Protocol::Query,
    }
}

/// The request's service and operation, from the request alone.
fn name(request: &HttpRequest) -> Call {
    let headers = request.headers();
    let scope = headers
        .get("authorization")
        .and_then(|auth| auth.split("Credential=").nth(1))
        .and_then(|cred| cred.split('/').nth(3))
        .unwrap_or("unknown");
    let service = match scope {
        "elasticloadbalancing" => "elbv2",
        "monitoring" => "cloudwatch",
        other => other,
    }
    .to_string();
    let operation = if let Some(target) = headers.get("x-amz-target") {
        target.rsplit('.').next().unwrap_or(target).to_string()
    } else if let Some(action) = request.body().bytes().and_then(|body| {
        std::str::from_utf8(body).ok().and_then(|form| {
            form.split('&')
                .find_map(|pair| pair.strip_prefix("Action="))
                .map(str::to_string)
        })
    }) {
        action
    } else {
        match (service.as_str(), request.method()) {
            ("scheduler", "GET") => "GetSchedule".into(),
            ("scheduler", "PUT") => "UpdateSchedule".into(),
            ("s3", "GET") => "GetObject".into(),
            ("s3", "PUT") => "PutObject".into(),
            ("s3", "HEAD") => "HeadObject".into(),
            (_, method) => method.to_string(),
        }
    };
    Call {
        service,
        operation,
        outcome: Outcome::Sent,
    }
}

/// The error answer `kind` gets from a service speaking `protocol`, as AWS words it.
fn error_response(protocol: Protocol, kind: Kind) -> HttpResponse {
    let (status, code) = match (kind, protocol) {
        (Kind::Throttle, Protocol::RestXml) => (503, "SlowDown"),
        (Kind::Throttle, Protocol::Query) => (400, "Throttling"),
        (Kind::Throttle, Protocol::RestJson) => (429, "ThrottlingException"),
        (Kind::Throttle, Protocol::Json) => (400, "ThrottlingException"),
        (Kind::Http500, _) => (500, "InternalFailure"),
        _ => (503, "ServiceUnavailable"),
    };
    let message = format!("injected fault: {}", kind.name());
    let (content_type, body) = match protocol {
        Protocol::Query => (
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>injected</RequestId></ErrorResponse>"
            ),
        ),
        Protocol::RestXml => (
            "application/xml",
            format!(
                "<Error><Code>{code}</Code><Message>{message}</Message><RequestId>injected</RequestId></Error>"
            ),
        ),
        Protocol::Json | Protocol::RestJson => (
            "application/x-amz-json-1.0",
            format!("{{\"__type\":\"{code}\",\"message\":\"{message}\"}}"),
        ),
    };
    let mut response = HttpResponse::new(
        status.try_into().expect("a valid status code"),
        SdkBody::from(body),
    );
    response
        .headers_mut()
        .insert("content-type", content_type.to_string());
    response
        .headers_mut()
        .insert("x-amzn-errortype", code.to_string());
    response
        .headers_mut()
        .insert("x-amzn-requestid", "injected".to_string());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crash_refuses_every_request_after_the_kth_and_a_burst_ends() {
        let faults = Faults::new();
        let call = |service: &str, operation: &str| {
            let mut c = Call {
                service: service.into(),
                operation: operation.into(),
                outcome: Outcome::Sent,
            };
            faults.decide(&mut c)
        };
        assert_eq!(call("elbv2", "DescribeListeners"), None);
        faults.fail(
            Target::operation("elbv2", "ModifyListener"),
            Kind::Http503,
            2,
        );
        assert_eq!(call("elbv2", "DescribeListeners"), None);
        assert_eq!(
            call("elbv2", "ModifyListener"),
            Some(Outcome::Failed(Kind::Http503))
        );
        assert_eq!(
            call("elbv2", "ModifyListener"),
            Some(Outcome::Failed(Kind::Http503))
        );
        assert_eq!(call("elbv2", "ModifyListener"), None);
        faults.crash_after(1);
        assert_eq!(call("dynamodb", "PutItem"), None);
        assert_eq!(call("dynamodb", "PutItem"), Some(Outcome::Crashed));
        assert_eq!(call("sns", "Publish"), Some(Outcome::Crashed));
        faults.heal();
        assert_eq!(call("sns", "Publish"), None);
        faults.crash_after_first(&[Target::operation("dynamodb", "PutItem")]);
        assert_eq!(call("dynamodb", "GetItem"), None);
        assert_eq!(call("dynamodb", "PutItem"), None);
        assert_eq!(call("dynamodb", "PutItem"), Some(Outcome::Crashed));
        faults.heal();
        faults.fail_nth(1, Kind::AnswerLost);
        assert_eq!(call("sns", "Publish"), None);
        assert_eq!(
            call("sns", "Publish"),
            Some(Outcome::Failed(Kind::AnswerLost))
        );
        assert_eq!(call("sns", "Publish"), None);
        assert_eq!(faults.sent(), 10);
    }
}
