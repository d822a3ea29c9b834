//! Start-up configuration from the command line and the environment.
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

pub const USAGE: &str = "usage: recommender --model v1|v2 [--port N] [--host IP]";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("--model is required\n{USAGE}")]
    MissingModel,
    #[error("--model `{0}` is not a model: expected v1 or v2")]
    UnknownModel(String),
    #[error("{0} needs a value\n{USAGE}")]
    MissingValue(String),
    #[error("unknown argument `{0}`\n{USAGE}")]
    UnknownArgument(String),
    #[error("--host `{0}` is not an IP address")]
    InvalidHost(String),
    #[error("{source_name} `{value}` is not a port number (0-65535)")]
    InvalidPort { source_name: String, value: String },
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

    /// Parses the arguments (without the program name) and reads variables through `env`,
    /// so tests need not touch the process environment. An empty variable counts as unset.
    pub fn parse<I, F>(args: I, env: F) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = String>,
        F: Fn(&str) -> Option<String>,
    {
        let env = |name: &str| env(name).filter(|value| !value.is_empty());
        let mut model = None;
        let mut port = None;
        let mut host = None;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => {
                    (flag.to_string(), Some(value.to_string()))
                }
                _ => (arg.clone(), None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| ConfigError::MissingValue(flag.clone()))
            };
            match flag.as_str() {
                "--model" => model = Some(value()?),
                "--port" => port = Some(("--port".to_string(), value()?)),
                "--host" => host = Some(value()?),
                _ => return Err(ConfigError::UnknownArgument(arg)),
            }
        }

        let model = model.ok_or(ConfigError::MissingModel)?;
        let model = model
            .parse()
            .map_err(|()| ConfigError::UnknownModel(model))?;
        let mut config = Config::new(model);
        if let Some(host) = host {
            config.host = host.parse().map_err(|_| ConfigError::InvalidHost(host))?;
        }
        if let Some((source_name, value)) =
            port.or_else(|| env(PORT_VAR).map(|v| (PORT_VAR.to_string(), v)))
        {
            config.port = value
                .parse()
                .map_err(|_| ConfigError::InvalidPort { source_name, value })?;
        }
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

    fn parse(args: &[&str], vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::parse(args.iter().map(|a| a.to_string()), move |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_are_port_8000_on_every_interface_without_faults() {
        let config = parse(&["--model", "v1"], &[]).unwrap();
        assert_eq!(config, Config::new(Model::V1));
        assert_eq!(config.port, 8000);
        assert_eq!(config.host.to_string(), "0.0.0.0");
    }

    #[test]
    fn port_flag_wins_over_the_port_variable() {
        assert_eq!(
            parse(&["--model=v2", "--port", "9001"], &[("PORT", "9002")])
                .unwrap()
                .port,
            9001
        );
        assert_eq!(
            parse(&["--model", "v2"], &[("PORT", "9002")]).unwrap().port,
            9002
        );
    }

    #[test]
    fn fault_knobs_are_read_from_the_environment() {
        let config = parse(
            &["--model", "v2"],
            &[
                (EXTRA_LATENCY_VAR, "250"),
                (ERROR_RATE_VAR, "0.3"),
                (REQUEST_TIMEOUT_VAR, "1500"),
            ],
        )
        .unwrap();
        assert_eq!(config.faults.extra_latency, Duration::from_millis(250));
        assert_eq!(config.faults.error_rate, 0.3);
        assert_eq!(config.request_timeout, Duration::from_millis(1500));
    }

    #[test]
    fn an_empty_variable_counts_as_unset() {
        let config = parse(&["--model", "v1"], &[(ERROR_RATE_VAR, ""), ("PORT", "")]).unwrap();
        assert_eq!(config, Config::new(Model::V1));
    }

    /// Arguments, environment, and the text the error must contain.
    type Case = (
        &'static [&'static str],
        &'static [(&'static str, &'static str)],
        &'static str,
    );

    #[test]
    fn invalid_values_name_the_flag_or_variable() {
        let cases: &[Case] = &[
            (&[], &[], "--model is required"),
            (&["--model", "v3"], &[], "--model `v3`"),
            (&["--model"], &[], "--model needs a value"),
            (
                &["--model", "v1", "--verbose"],
                &[],
                "unknown argument `--verbose`",
            ),
            (&["--model", "v1", "--port", "80000"], &[], "--port `80000`"),
            (&["--model", "v1"], &[("PORT", "http")], "PORT `http`"),
            (
                &["--model", "v1", "--host", "localhost"],
                &[],
                "--host `localhost`",
            ),
            (
                &["--model", "v1"],
                &[(ERROR_RATE_VAR, "1.5")],
                "RECOMMENDER_ERROR_RATE=`1.5`",
            ),
            (
                &["--model", "v1"],
                &[(ERROR_RATE_VAR, "-0.1")],
                "RECOMMENDER_ERROR_RATE=`-0.1`",
            ),
            (
                &["--model", "v1"],
                &[(ERROR_RATE_VAR, "NaN")],
                "RECOMMENDER_ERROR_RATE=`NaN`",
            ),
            (
                &["--model", "v1"],
                &[(EXTRA_LATENCY_VAR, "50ms")],
                "RECOMMENDER_EXTRA_LATENCY_MS=`50ms`",
            ),
            (
                &["--model", "v1"],
                &[(EXTRA_LATENCY_VAR, "60001")],
                "RECOMMENDER_EXTRA_LATENCY_MS=`60001`",
            ),
            (
                &["--model", "v1"],
                &[(REQUEST_TIMEOUT_VAR, "0")],
                "RECOMMENDER_REQUEST_TIMEOUT_MS=`0`",
            ),
        ];
        for (args, vars, expected) in cases {
            let err = parse(args, vars).expect_err(expected).to_string();
            assert!(
                err.contains(expected),
                "`{err}` should contain `{expected}`"
            );
        }
    }
}
