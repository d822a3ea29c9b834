//! What one period saw, and the shared recorder the request path writes into.
//!
//! The counting rules are ALB's, so that our numbers mean what the controller's queries expect:
//! `RequestCount` leaves out the load balancer's health checks; `HTTPCode_Target_5XX_Count` is a
//! 5XX the target itself answered; `TargetConnectionErrorCount` is a connection to the target that
//! failed (our 502 is the load balancer's, not the target's, so it is no 5XX).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::histogram::Histogram;
use crate::period::Period;

/// The User-Agent of ALB's health checks (`ELB-HealthChecker/2.0`).
const HEALTH_CHECKER: &[u8] = b"ELB-HealthChecker";

/// Whether a request counts at all: ALB's `RequestCount` excludes its health checks.
pub fn is_counted(user_agent: Option<&[u8]>) -> bool {
    !user_agent.is_some_and(|agent| agent.starts_with(HEALTH_CHECKER))
}

/// How a forwarded request ended, as far as the target is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The target answered: its status and the time to its response head.
    Answered { status: u16, elapsed: Duration },
    /// No answer: the connection was refused, reset or closed before a response head.
    ConnectionFailed,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub requests: u64,
    pub target_5xx: u64,
    pub connection_errors: u64,
}

/// One period: its start (epoch seconds), its counts and its latency distribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub start: u64,
    pub counts: Counts,
    pub latency: Histogram,
}

impl Window {
    pub fn empty(start: u64) -> Window {
        Window {
            start,
            counts: Counts::default(),
            latency: Histogram::default(),
        }
    }

    pub fn add(&mut self, outcome: Outcome) {
        self.counts.requests += 1;
        match outcome {
            Outcome::Answered { status, elapsed } => {
                if (500..600).contains(&status) {
                    self.counts.target_5xx += 1;
                }
                self.latency.record(elapsed);
            }
            Outcome::ConnectionFailed => self.counts.connection_errors += 1,
        }
    }
}

/// The open periods, shared by the request path (one short lock per request: a map lookup and
/// three increments) and the publisher (one lock per period, to take the closed ones).
pub struct Recorder {
    period: Period,
    windows: Mutex<BTreeMap<u64, Window>>,
}

impl Recorder {
    pub fn new(period: Period) -> Recorder {
        Recorder {
            period,
            windows: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn period(&self) -> Period {
        self.period
    }

    /// Counts `outcome` in the period holding `epoch_secs` (when it was measured).
    pub fn record(&self, epoch_secs: u64, outcome: Outcome) {
        let start = self.period.start_of(epoch_secs);
        // A poisoned lock only means another request panicked mid-increment: keep counting.
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        windows
            .entry(start)
            .or_insert_with(|| Window::empty(start))
            .add(outcome);
    }

    /// Takes every period that started before `before` (epoch seconds), oldest first.
    pub fn take_before(&self, before: u64) -> Vec<Window> {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let open = windows.split_off(&before);
        std::mem::replace(&mut *windows, open)
            .into_values()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(status: u16, millis: u64) -> Outcome {
        Outcome::Answered {
            status,
            elapsed: Duration::from_millis(millis),
        }
    }

    #[test]
    fn health_checks_are_not_counted() {
        assert!(!is_counted(Some(b"ELB-HealthChecker/2.0")));
        assert!(is_counted(Some(b"curl/8.5.0")));
        assert!(is_counted(Some(b"Mozilla/5.0 ELB-HealthChecker")));
        assert!(is_counted(None));
    }

    #[test]
    fn a_target_5xx_is_not_a_connection_error_and_the_reverse() {
        let mut window = Window::empty(0);
        for outcome in [
            answered(200, 3),
            answered(404, 3),
            answered(500, 7),
            answered(503, 9),
            Outcome::ConnectionFailed,
        ] {
            window.add(outcome);
        }
        let expected = Counts {
            requests: 5,
            target_5xx: 2,
            connection_errors: 1,
        };
        assert_eq!(window.counts, expected);
        // No response time without a response.
        assert_eq!(window.latency.count(), 4);
    }

    #[test]
    fn outcomes_land_in_their_period_and_closed_periods_are_taken_once() {
        let recorder = Recorder::new(Period::from_secs(10).unwrap());
        recorder.record(1_000, answered(200, 1));
        recorder.record(1_009, answered(500, 1));
        recorder.record(1_010, Outcome::ConnectionFailed);
        let closed = recorder.take_before(1_010);
        assert_eq!(closed.len(), 1);
        assert_eq!((closed[0].start, closed[0].counts.requests), (1_000, 2));
        assert!(recorder.take_before(1_010).is_empty());
        let rest = recorder.take_before(u64::MAX);
        assert_eq!(
            (rest[0].start, rest[0].counts.connection_errors),
            (1_010, 1)
        );
    }
}
