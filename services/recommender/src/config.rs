//! Start-up configuration from the flags ([`crate::cli`] parses them) and the environment.
//!
//! Everything is validated before the port is bound: a wrong value stops the process with a message
//! that names the flag or variable, instead of serving a drill that silently does nothing.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::model::Model;

/// Port when neither `--port` nor `PORT` is given: the target groups and security groups expect it.
pub const DEFAULT_PORT: u16 = 8000;
pub const PORT_VAR: &str = "PORT";
pub const EXTRA_LATENCY_VAR: &str = "RECOMMENDER_EXTRA_LATENCY_MS";
pub const ERROR_RATE_VAR: &str = "RECOMMENDER_ERROR_RATE";
pub const REQUEST_TIMEOUT_VAR: &str = "RECOMMENDER_REQUEST_TIMEOUT_MS";

/// Upper bound of the latency knob: the ALB's default idle timeout; more would only produce 504s at the ALB.
pub const MAX_EXTRA_LATENCY_MS: u64 = 60_000;
pub const MAX_REQUEST_TIMEOUT_MS: u64 = 300_000;
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A recommendation request is `{"user_id": "..."}`; 16 KiB leaves room for any real id and stops abuse.
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024;

/// A setting of the environment that cannot be used (the flags' own errors are clap's).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("{PORT_VAR} `{0}` is not a port number (0-65535)")]
    InvalidPort(String),
    #[error("{name}=`{value}` is invalid: {expected}")]
    InvalidVariable {
        name: &'static str,
        value: String,
        expected: String,
    },
}

/// Faults injected on purpose for canary drills; both are off by default.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Faults {
    /// Added to every recommendation request before it is answered.
    pub extra_latency: Duration,
    /// Share of recommendation requests answered with 500, in 0..=1.
    pub error_rate: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub model: Model,
    pub host: IpAddr,
    pub port: u16,
    pub faults: Faults,
    /// Whole-request bound, body read included: a slow client or a stuck handler gets a 503.
    pub request_timeout: Duration,
    pub body_limit: usize,
    /// A connection without any read or write progress for this long is closed (slow or silent clients).
    pub idle_timeout: Duration,
}

impl Config {
    /// A configuration with defaults, for tests and embedders.
    pub fn new(model: Model) -> Config {
        Config {
            model,
            // Every interface: the ALB reaches the instance on its private address.
            host: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: DEFAULT_PORT,
            faults: Faults::default(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            body_limit: DEFAULT_BODY_LIMIT,
            idle_timeout: crate::connection::DEFAULT_IDLE_TIMEOUT,
        }
    }

    /// The configuration for the parsed flags, the rest read through `env` (which answers `None`
    /// for an unset or empty variable).
    pub fn from_flags<F>(
        model: Model,
        port: Option<u16>,
        host: Option<IpAddr>,
        env: F,
    ) -> Result<Config, ConfigError>
    where
        F: Fn(&str) -> Option<String>,
    {
        let mut config = Config::new(model);
        if let Some(host) = host {
            config.host = host;
        }
        config.port = port_or_variable(port, &env)?;
        if let Some(value) = env(EXTRA_LATENCY_VAR) {
            let ms = parse_bounded_ms(EXTRA_LATENCY_VAR, &value, 0, MAX_EXTRA_LATENCY_MS)?;
            config.faults.extra_latency = Duration::from_millis(ms);
        }
        if let Some(value) = env(ERROR_RATE_VAR) {
            config.faults.error_rate = parse_rate(&value)?;
        }
        if let Some(value) = env(REQUEST_TIMEOUT_VAR) {
            let ms = parse_bounded_ms(REQUEST_TIMEOUT_VAR, &value, 1, MAX_REQUEST_TIMEOUT_MS)?;
            config.request_timeout = Duration::from_millis(ms);
        }
        Ok(config)
    }
}

/// `--port`, else `PORT`, else 8000: the server and its health check agree on it.
pub fn port_or_variable<F>(flag: Option<u16>, env: &F) -> Result<u16, ConfigError>
where
    F: Fn(&str) -> Option<String>,
{
    match (flag, env(PORT_VAR)) {
        (Some(port), _) => Ok(port),
        (None, Some(value)) => value.parse().map_err(|_| ConfigError::InvalidPort(value)),
        (None, None) => Ok(DEFAULT_PORT),
    }
}

fn parse_bounded_ms(
    name: &'static str,
    value: &str,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|ms| (min..=max).contains(ms))
        .ok_or_else(|| ConfigError::InvalidVariable {
            name,
            value: value.to_string(),
            expected: format!("expected whole milliseconds from {min} to {max}"),
        })
}

fn parse_rate(value: &str) -> Result<f64, ConfigError> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        // `contains` is false for NaN, so "NaN" is rejected too.
        .filter(|rate| (0.0..=1.0).contains(rate))
        .ok_or_else(|| ConfigError::InvalidVariable {
            name: ERROR_RATE_VAR,
            value: value.to_string(),
            expected: "expected a share of requests from 0 to 1, such as 0.25".to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Flags as parsed, variables as the lookup gives them (empty ones already dropped).
    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_flags(Model::V2, None, None, move |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn fault_knobs_are_read_from_the_environment() {
        let config = load(&[
            (EXTRA_LATENCY_VAR, "250"),
            (ERROR_RATE_VAR, "0.3"),
            (REQUEST_TIMEOUT_VAR, "1500"),
        ])
        .unwrap();
        assert_eq!(config.faults.extra_latency, Duration::from_millis(250));
        assert_eq!(config.faults.error_rate, 0.3);
        assert_eq!(config.request_timeout, Duration::from_millis(1500));
        assert_eq!(load(&[]).unwrap(), Config::new(Model::V2));
    }

    #[test]
    fn invalid_values_name_the_variable() {
        for (vars, expected) in [
            (&[(PORT_VAR, "http")][..], "PORT `http`"),
            (&[(ERROR_RATE_VAR, "1.5")], "RECOMMENDER_ERROR_RATE=`1.5`"),
            (&[(ERROR_RATE_VAR, "-0.1")], "RECOMMENDER_ERROR_RATE=`-0.1`"),
            (&[(ERROR_RATE_VAR, "NaN")], "RECOMMENDER_ERROR_RATE=`NaN`"),
            (
                &[(EXTRA_LATENCY_VAR, "50ms")],
                "RECOMMENDER_EXTRA_LATENCY_MS=`50ms`",
            ),
            (
                &[(EXTRA_LATENCY_VAR, "60001")],
                "RECOMMENDER_EXTRA_LATENCY_MS=`60001`",
            ),
            (
                &[(REQUEST_TIMEOUT_VAR, "0")],
                "RECOMMENDER_REQUEST_TIMEOUT_MS=`0`",
            ),
        ] {
            let err = load(vars).expect_err(expected).to_string();
            assert!(
                err.contains(expected),
                "`{err}` should contain `{expected}`"
            );
        }
    }
}
