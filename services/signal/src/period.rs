//! The aggregation period: one of CloudWatch's high-resolution periods, aligned on the epoch as
//! CloudWatch aligns its own, so that a period of ours is exactly one datapoint of a query.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period(u64);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "period {0} s: CloudWatch's high-resolution periods are 1, 5, 10, 20, 30 s or a multiple of 60"
)]
pub struct InvalidPeriod(pub u64);

impl Period {
    pub fn from_secs(secs: u64) -> Result<Period, InvalidPeriod> {
        match secs {
            1 | 5 | 10 | 20 | 30 => Ok(Period(secs)),
            s if s > 0 && s % 60 == 0 => Ok(Period(s)),
            s => Err(InvalidPeriod(s)),
        }
    }

    pub fn secs(self) -> u64 {
        self.0
    }

    /// The start (epoch seconds) of the period holding `epoch_secs`.
    pub fn start_of(self, epoch_secs: u64) -> u64 {
        epoch_secs - epoch_secs % self.0
    }

    /// The start of the period holding `at`.
    pub fn start_at(self, at: SystemTime) -> u64 {
        self.start_of(epoch_secs(at))
    }

    /// How long from `now` until the current period ends.
    pub fn until_end(self, now: SystemTime) -> Duration {
        let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        let end = Duration::from_secs(self.start_of(since_epoch.as_secs()) + self.0);
        end.saturating_sub(since_epoch)
    }
}

impl std::str::FromStr for Period {
    type Err = String;

    fn from_str(text: &str) -> Result<Period, String> {
        let secs: u64 = text
            .parse()
            .map_err(|_| format!("not a number of seconds: {text}"))?;
        Period::from_secs(secs).map_err(|err| err.to_string())
    }
}

/// Whole seconds since the epoch (0 for a clock before it, which no host has).
pub fn epoch_secs(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_cloudwatchs_high_resolution_periods_are_accepted() {
        for secs in [1, 5, 10, 20, 30, 60, 120, 300, 3600] {
            assert_eq!(Period::from_secs(secs).map(Period::secs), Ok(secs));
        }
        for secs in [0, 2, 3, 15, 45, 59, 61, 90] {
            assert_eq!(Period::from_secs(secs), Err(InvalidPeriod(secs)));
        }
        assert!("7".parse::<Period>().unwrap_err().contains("1, 5, 10"));
    }

    #[test]
    fn periods_start_on_epoch_multiples() {
        let ten = Period::from_secs(10).unwrap();
        assert_eq!(ten.start_of(1_767_225_609), 1_767_225_600);
        assert_eq!(ten.start_of(1_767_225_610), 1_767_225_610);
        let minute = Period::from_secs(60).unwrap();
        assert_eq!(minute.start_of(1_767_225_659), 1_767_225_600);
        let at = UNIX_EPOCH + Duration::from_millis(1_767_225_607_250);
        assert_eq!(ten.start_at(at), 1_767_225_600);
        assert_eq!(ten.until_end(at), Duration::from_millis(2_750));
    }
}
