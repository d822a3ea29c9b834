//! When the lab's ALB metrics become visible, and on which periods the alarms are evaluated.
//!
//! `compressed` is the lab's fast rehearsal: 10 s periods whose datapoints are put as the period
//! closes, zero counts included, every alarm evaluated on 10 s periods. `aws` is CloudWatch's
//! delivery of ALB metrics: 60 s periods; a period's datapoints appear only after a delay drawn
//! per period from a seeded range (AWS publishes no delay; observed alarms fire minutes after
//! the bad minute); counts that are zero are not published at all; each alarm is evaluated on its
//! own period, on what is visible then.

use std::time::Duration;

/// Which timing a scenario runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    Compressed,
    Aws,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Compressed => "compressed",
            Profile::Aws => "aws",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Timing {
    pub profile: Profile,
    /// The ALB metrics' period: one bridged window.
    pub period_secs: i64,
    /// The range (inclusive, seconds after the period ends) a period's datapoints appear in.
    pub delay_secs: (u64, u64),
    /// Seeds the per-period delays: the same seed gives the same delays.
    pub seed: u64,
}

/// The compressed profile's period (and the lab plan's).
pub const COMPRESSED_PERIOD_SECS: i64 = 10;
/// ALB's period on AWS.
pub const ALB_PERIOD_SECS: i64 = 60;
/// The delivery delay range the `aws` profile defaults to.
pub const DEFAULT_AWS_DELAY_SECS: (u64, u64) = (60, 180);

impl Timing {
    pub fn compressed() -> Timing {
        Timing {
            profile: Profile::Compressed,
            period_secs: COMPRESSED_PERIOD_SECS,
            delay_secs: (0, 0),
            seed: 0,
        }
    }

    pub fn aws(delay_secs: (u64, u64), seed: u64) -> Timing {
        Timing {
            profile: Profile::Aws,
            period_secs: ALB_PERIOD_SECS,
            delay_secs,
            seed,
        }
    }

    /// ALB publishes no datapoint for a count that is zero; the compressed profile puts them so
    /// that its short alarm periods always see a value.
    pub fn puts_zero_counts(&self) -> bool {
        self.profile == Profile::Compressed
    }

    /// The period an alarm declared with `declared` seconds is evaluated on: the compressed
    /// profile scales every alarm down to its own period; AWS uses the alarm's.
    pub fn alarm_period(&self, declared: i64) -> i64 {
        match self.profile {
            Profile::Compressed => declared.min(self.period_secs),
            Profile::Aws => declared,
        }
    }

    /// How much faster than AWS's the profile's clock runs for the ALB's own timing (the target
    /// health checks): compressed, as the ALB period is (60 s → 10 s); aws, not at all.
    pub fn alb_clock_factor(&self) -> f64 {
        match self.profile {
            Profile::Compressed => self.period_secs as f64 / ALB_PERIOD_SECS as f64,
            Profile::Aws => 1.0,
        }
    }

    /// How long after the period starting at `start` ends its datapoints become visible: drawn
    /// uniformly from the range, from the seed and the period alone (reproducible per run).
    pub fn delay_of(&self, start: i64) -> Duration {
        let (low, high) = self.delay_secs;
        if high <= low {
            return Duration::from_secs(low);
        }
        let mut rng = fastrand::Rng::with_seed(
            self.seed ^ (start as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        Duration::from_millis(rng.u64(low * 1000..=high * 1000))
    }
}

/// `MIN-MAX` seconds, MIN ≤ MAX ≤ 900.
pub fn parse_delay(text: &str) -> Result<(u64, u64), String> {
    let (low, high) = text
        .split_once('-')
        .ok_or_else(|| format!("{text}: expected MIN-MAX seconds, e.g. 60-180"))?;
    let number = |s: &str| {
        s.trim()
            .parse::<u64>()
            .map_err(|_| format!("{text}: {s} is not a whole number of seconds"))
    };
    let (low, high) = (number(low)?, number(high)?);
    if low > high || high > 900 {
        return Err(format!("{text}: needs MIN ≤ MAX ≤ 900"));
    }
    Ok((low, high))
}

/// CloudWatch's evaluation of an alarm over its evaluation range (`values`, oldest first, more
/// periods than the alarm evaluates): the most recent `n` periods that have a datapoint, so that
/// late data delays an alarm rather than hiding it; missing periods stand in (and are treated as
/// the alarm says) only when fewer than `n` have data.
pub fn evaluated(values: &[Option<f64>], n: usize) -> Vec<Option<f64>> {
    let present: Vec<Option<f64>> = values.iter().copied().filter(Option::is_some).collect();
    let taken = &present[present.len().saturating_sub(n)..];
    let mut out = vec![None; n.saturating_sub(taken.len())];
    out.extend_from_slice(taken);
    out
}

/// Periods beyond the evaluated ones that an evaluation looks back over for late data (AWS does
/// not publish its number; three keeps a late period in view without judging stale ones).
pub const EXTRA_RANGE_PERIODS: usize = 3;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_seeded_per_period_and_stay_in_range() {
        let t = Timing::aws((60, 180), 7);
        let delays: Vec<Duration> = (0..200).map(|i| t.delay_of(i * 60)).collect();
        assert!(delays.iter().all(|d| (60..=180).contains(&d.as_secs())));
        assert_eq!(
            delays,
            (0..200).map(|i| t.delay_of(i * 60)).collect::<Vec<_>>()
        );
        let other = Timing::aws((60, 180), 8);
        assert_ne!(
            delays,
            (0..200).map(|i| other.delay_of(i * 60)).collect::<Vec<_>>()
        );
        // Spread over the range, not stuck at one end.
        assert!(
            delays.iter().any(|d| d.as_secs() < 90) && delays.iter().any(|d| d.as_secs() > 150)
        );
        assert_eq!(Timing::compressed().delay_of(10), Duration::ZERO);
        assert_eq!(
            Timing::aws((30, 30), 1).delay_of(60),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn alarm_periods_are_compressed_only_in_the_compressed_profile() {
        assert_eq!(Timing::compressed().alarm_period(60), 10);
        assert_eq!(Timing::compressed().alarm_period(10), 10);
        assert_eq!(Timing::aws((60, 180), 1).alarm_period(60), 60);
        assert_eq!(Timing::aws((60, 180), 1).alarm_period(10), 10);
        assert!(Timing::compressed().puts_zero_counts());
        assert_eq!(Timing::compressed().alb_clock_factor(), 10.0 / 60.0);
        assert_eq!(Timing::aws((60, 180), 1).alb_clock_factor(), 1.0);
        assert!(!Timing::aws((1, 2), 1).puts_zero_counts());
    }

    #[test]
    fn delay_ranges_parse_or_are_refused() {
        assert_eq!(parse_delay("60-180"), Ok((60, 180)));
        assert_eq!(parse_delay("0-0"), Ok((0, 0)));
        for bad in ["60", "180-60", "a-b", "0-901"] {
            assert!(parse_delay(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_evaluation_takes_the_latest_periods_with_data() {
        let v = [Some(1.0), Some(2.0), None, Some(3.0), None];
        assert_eq!(evaluated(&v, 2), [Some(2.0), Some(3.0)]);
        assert_eq!(evaluated(&v, 3), [Some(1.0), Some(2.0), Some(3.0)]);
        assert_eq!(evaluated(&v, 4), [None, Some(1.0), Some(2.0), Some(3.0)]);
        assert_eq!(evaluated(&[None, None], 2), [None, None]);
    }
}
