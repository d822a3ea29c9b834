//! A closed period becomes one PutMetricData call: the three counts (always, zeros included, so
//! that a 10 s alarm never lacks data) and the latency distribution (when there were requests), at
//! 1-second storage resolution, stamped with the period's start.

use std::collections::VecDeque;

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::error::{DisplayErrorContext, SdkError};
use aws_sdk_cloudwatch::operation::put_metric_data::PutMetricDataError;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_smithy_types::DateTime;
use contract::alb_metric;

use crate::window::{Recorder, Window};

/// CloudWatch's limit of distinct values in one datum's `Values`.
pub const MAX_VALUES_PER_DATUM: usize = 150;

/// How many periods a failed publish is retried for before its data is dropped: a longer outage
/// would only delay today's data behind stale data no alarm looks at any more.
pub const MAX_PENDING_PERIODS: u64 = 10;

/// Where the metrics go: the namespace and the ALB metrics' own dimensions.
#[derive(Debug, Clone)]
pub struct Destination {
    pub namespace: String,
    pub load_balancer: String,
    pub target_group: String,
}

impl Destination {
    fn dimensions(&self) -> Vec<Dimension> {
        [
            ("LoadBalancer", &self.load_balancer),
            ("TargetGroup", &self.target_group),
        ]
        .map(|(name, value)| Dimension::builder().name(name).value(value).build())
        .to_vec()
    }
}

/// The datums of one period (pure: what is sent is tested without a network).
pub fn datums(destination: &Destination, window: &Window) -> Vec<MetricDatum> {
    let base = |name: &str, unit: StandardUnit| {
        MetricDatum::builder()
            .metric_name(name)
            .set_dimensions(Some(destination.dimensions()))
            .timestamp(DateTime::from_secs(window.start as i64))
            .storage_resolution(1)
            .unit(unit)
    };
    let counts = window.counts;
    let mut datums: Vec<MetricDatum> = [
        (alb_metric::REQUEST_COUNT, counts.requests),
        (alb_metric::TARGET_5XX, counts.target_5xx),
        (
            alb_metric::TARGET_CONNECTION_ERRORS,
            counts.connection_errors,
        ),
    ]
    .into_iter()
    .map(|(name, count)| base(name, StandardUnit::Count).value(count as f64).build())
    .collect();
    let entries: Vec<(f64, u64)> = window.latency.entries().collect();
    for chunk in entries.chunks(MAX_VALUES_PER_DATUM) {
        let datum = base(alb_metric::RESPONSE_TIME, StandardUnit::Seconds)
            .set_values(Some(chunk.iter().map(|(value, _)| *value).collect()))
            .set_counts(Some(chunk.iter().map(|(_, count)| *count as f64).collect()))
            .build();
        datums.push(datum);
    }
    datums
}

/// The periods not yet published, oldest first, and the next period start to take.
pub struct Publisher {
    client: Client,
    destination: Destination,
    pending: VecDeque<Window>,
    next_start: u64,
}

impl Publisher {
    /// Starts with the period holding `now_secs` (a partial one: the process began in it).
    pub fn new(client: Client, destination: Destination, first_start: u64) -> Publisher {
        Publisher {
            client,
            destination,
            pending: VecDeque::new(),
            next_start: first_start,
        }
    }

    /// Takes every period that started before `before`, a zero period for each without requests,
    /// and publishes all that is pending, oldest first; stops at the first failure, keeping it.
    pub async fn publish_before(&mut self, recorder: &Recorder, before: u64) {
        self.take(recorder, before);
        self.drop_stale(recorder, before);
        while let Some(window) = self.pending.front() {
            if let Err(error) = self.put(window).await {
                tracing::warn!(
                    event = "publish_failed",
                    period_start = window.start,
                    pending_periods = self.pending.len(),
                    error = %DisplayErrorContext(&error),
                    "PutMetricData failed: kept for the next period"
                );
                return;
            }
            self.pending.pop_front();
        }
    }

    fn take(&mut self, recorder: &Recorder, before: u64) {
        let step = recorder.period().secs();
        let mut taken = recorder.take_before(before).into_iter().peekable();
        while self.next_start < before {
            let start = self.next_start;
            let window = match taken.next_if(|w| w.start == start) {
                Some(window) => window,
                None => Window::empty(start),
            };
            self.pending.push_back(window);
            self.next_start += step;
        }
        // Periods before our first (a clock stepped back): published as they are, in order.
        for late in taken {
            let at = self.pending.partition_point(|w| w.start < late.start);
            self.pending.insert(at, late);
        }
    }

    fn drop_stale(&mut self, recorder: &Recorder, before: u64) {
        let horizon = before.saturating_sub(MAX_PENDING_PERIODS * recorder.period().secs());
        while self.pending.front().is_some_and(|w| w.start < horizon) {
            if let Some(stale) = self.pending.pop_front() {
                tracing::error!(
                    event = "period_dropped",
                    period_start = stale.start,
                    requests = stale.counts.requests,
                    target_5xx = stale.counts.target_5xx,
                    connection_errors = stale.counts.connection_errors,
                    "unpublished for {MAX_PENDING_PERIODS} periods: dropped"
                );
            }
        }
    }

    async fn put(&self, window: &Window) -> Result<(), SdkError<PutMetricDataError>> {
        let datums = datums(&self.destination, window);
        let datum_count = datums.len();
        self.client
            .put_metric_data()
            .namespace(&self.destination.namespace)
            .set_metric_data(Some(datums))
            .send()
            .await?;
        tracing::info!(
            event = "published",
            period_start = window.start,
            requests = window.counts.requests,
            target_5xx = window.counts.target_5xx,
            connection_errors = window.counts.connection_errors,
            latency_samples = window.latency.count(),
            datums = datum_count,
            "PutMetricData"
        );
        Ok(())
    }

    /// How many periods wait for a successful publish.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::window::Outcome;

    fn destination() -> Destination {
        Destination {
            namespace: "AlbCanary/Targets".into(),
            load_balancer: "app/lb/1".into(),
            target_group: "targetgroup/v2/2".into(),
        }
    }

    #[test]
    fn counts_are_published_even_when_zero_and_latency_only_with_requests() {
        let datums = datums(&destination(), &Window::empty(1_000));
        let names: Vec<_> = datums.iter().filter_map(|d| d.metric_name()).collect();
        assert_eq!(
            names,
            [
                alb_metric::REQUEST_COUNT,
                alb_metric::TARGET_5XX,
                alb_metric::TARGET_CONNECTION_ERRORS
            ]
        );
        assert!(datums.iter().all(|d| d.value() == Some(0.0)
            && d.storage_resolution() == Some(1)
            && d.timestamp() == Some(&DateTime::from_secs(1_000))
            && d.dimensions().len() == 2));
    }

    fn offline_publisher(first_start: u64) -> Publisher {
        let config = aws_sdk_cloudwatch::Config::builder()
            .behavior_version_latest()
            .build();
        Publisher::new(Client::from_conf(config), destination(), first_start)
    }

    #[test]
    fn every_period_is_taken_once_in_order_with_zeros_between() {
        let recorder = Recorder::new(crate::Period::from_secs(10).unwrap());
        recorder.record(1_003, Outcome::ConnectionFailed);
        recorder.record(1_025, Outcome::ConnectionFailed);
        recorder.record(1_031, Outcome::ConnectionFailed);
        let mut publisher = offline_publisher(990);
        publisher.take(&recorder, 1_030);
        let taken: Vec<(u64, u64)> = publisher
            .pending
            .iter()
            .map(|w| (w.start, w.counts.requests))
            .collect();
        assert_eq!(taken, [(990, 0), (1_000, 1), (1_010, 0), (1_020, 1)]);
        publisher.take(&recorder, 1_030);
        assert_eq!(publisher.pending(), 4, "nothing taken twice");
        // The open period stays with the recorder.
        assert_eq!(recorder.take_before(u64::MAX)[0].start, 1_030);
    }

    #[test]
    fn periods_older_than_ten_are_dropped() {
        let recorder = Recorder::new(crate::Period::from_secs(10).unwrap());
        let mut publisher = offline_publisher(1_000);
        publisher.take(&recorder, 1_120);
        publisher.drop_stale(&recorder, 1_120);
        let starts: Vec<u64> = publisher.pending.iter().map(|w| w.start).collect();
        assert_eq!(starts, (1_020..1_120).step_by(10).collect::<Vec<_>>());
    }

    #[test]
    fn a_wide_distribution_is_split_into_datums_of_at_most_150_values() {
        let mut window = Window::empty(0);
        // 1 ms to ~8 s in 2 % steps: several hundred distinct buckets.
        let mut micros = 1_000.0_f64;
        while micros < 8e6 {
            window.add(Outcome::Answered {
                status: 200,
                elapsed: Duration::from_micros(micros as u64),
            });
            micros *= 1.02;
        }
        let latency: Vec<_> = datums(&destination(), &window)
            .into_iter()
            .filter(|d| d.metric_name() == Some(alb_metric::RESPONSE_TIME))
            .collect();
        assert!(latency.len() >= 3, "{}", latency.len());
        assert!(
            latency
                .iter()
                .all(|d| d.values().len() <= MAX_VALUES_PER_DATUM
                    && d.values().len() == d.counts().len()
                    && d.unit() == Some(&StandardUnit::Seconds))
        );
        let total: f64 = latency.iter().flat_map(|d| d.counts()).sum();
        assert_eq!(total, window.counts.requests as f64);
    }
}
