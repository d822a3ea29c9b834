//! The lab's command line; every value is checked before anything starts.

use std::path::PathBuf;
use std::time::Duration;

use contract::Plan;

use crate::scenario::Scenario;
use crate::service::Faults;

pub const USAGE: &str = "\
usage: lab [--scenario promote|rollback|both] [--rps N] [--duration S] [--plan FILE] [--out DIR]
           [--recommender PATH] [--fault-error-rate F] [--fault-latency-ms MS] [--tick S]
  --scenario          promote: a healthy V2 goes to 100 %; rollback: V2's errors switch on at its
                      first step and the canary must be rolled back; both (default): one, then the other
  --rps               requests per second through HAProxy (default 40, 1-500)
  --duration          upper bound on each scenario in seconds (default 420, 30-1800)
  --plan              the canary plan as JSON (default: steps 10/25/50/100, 20 s bakes, 10 s periods)
  --out               where timelines, decisions, summaries and pictures go (default target/lab)
  --recommender       the service binary (default: `recommender` beside this binary)
  --fault-error-rate  share of V2's answers that are 500 once its faults are on (default 0.2)
  --fault-latency-ms  latency V2 adds once its faults are on (default 0)
  --tick              seconds between promotion runs: the schedule's minute, compressed (default 5)";

pub struct Cli {
    pub scenarios: Vec<Scenario>,
    pub rps: u32,
    pub duration: Duration,
    pub plan: Plan,
    pub out: PathBuf,
    pub recommender: PathBuf,
    pub faults: Faults,
    pub tick: Duration,
}

/// The compressed plan: the stack's steps with 20 s bakes, judged on the bridge's 10 s periods
/// (high-resolution metrics: the judge's period is a plan setting, 60 s in production), settled
/// 2 s (the bridge puts a window's datapoints 0.2 s after it ends). The emulator computes no
/// percentiles, so latency is judged on the Average; 20 V2 requests make a judgeable step.
pub fn lab_plan() -> Plan {
    let mut plan = Plan {
        bake_seconds: 20,
        max_step_seconds: 600,
        ..Plan::default()
    };
    plan.health.latency.statistic = "Average".into();
    plan.health.min_requests = 20;
    plan.health.settle_seconds = 2;
    plan.health.period_seconds = crate::context::PERIOD_SECS as u64;
    plan
}

fn number<T>(flag: &str, v: &str, range: std::ops::RangeInclusive<T>) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    let n: T = v
        .parse()
        .map_err(|_| format!("{flag} `{v}` is not a number"))?;
    if range.contains(&n) {
        Ok(n)
    } else {
        Err(format!(
            "{flag} {v} is outside {}..={}",
            range.start(),
            range.end()
        ))
    }
}

pub fn parse(args: &[String]) -> Result<Cli, String> {
    let beside_me = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("recommender")))
        .unwrap_or_else(|| "recommender".into());
    let mut cli = Cli {
        scenarios: vec![Scenario::Promote, Scenario::Rollback],
        rps: 40,
        duration: Duration::from_secs(420),
        plan: lab_plan(),
        out: std::path::absolute("target/lab").map_err(|e| e.to_string())?,
        recommender: beside_me,
        faults: Faults {
            error_rate: 0.2,
            extra_latency_ms: 0,
        },
        tick: Duration::from_secs(5),
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?
            .as_str();
        match flag.as_str() {
            "--scenario" => {
                cli.scenarios = match value {
                    "promote" => vec![Scenario::Promote],
                    "rollback" => vec![Scenario::Rollback],
                    "both" => vec![Scenario::Promote, Scenario::Rollback],
                    other => {
                        return Err(format!("--scenario `{other}`: promote, rollback or both"));
                    }
                }
            }
            "--rps" => cli.rps = number(flag, value, 1..=500)?,
            "--duration" => cli.duration = Duration::from_secs(number(flag, value, 30..=1800)?),
            "--plan" => {
                let text =
                    std::fs::read_to_string(value).map_err(|e| format!("--plan {value}: {e}"))?;
                cli.plan = Plan::from_json(&text).map_err(|e| format!("--plan {value}: {e}"))?;
            }
            // Absolute: HAProxy reads a relative socket path as host:port.
            "--out" => {
                cli.out = std::path::absolute(value).map_err(|e| format!("--out {value}: {e}"))?
            }
            "--recommender" => cli.recommender = PathBuf::from(value),
            "--fault-error-rate" => cli.faults.error_rate = number(flag, value, 0.0..=1.0)?,
            "--fault-latency-ms" => cli.faults.extra_latency_ms = number(flag, value, 0..=60_000)?,
            "--tick" => cli.tick = Duration::from_secs(number(flag, value, 1..=60)?),
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    let statistic = &cli.plan.health.latency.statistic;
    if statistic.starts_with(['p', 'P']) {
        return Err(format!(
            "the plan's latency statistic is {statistic}: the emulator computes no percentiles, use Average"
        ));
    }
    if !cli.recommender.is_file() {
        return Err(format!(
            "{} is not a file: build it with `cargo build -p recommender` or pass --recommender",
            cli.recommender.display()
        ));
    }
    Ok(cli)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        // Any existing file stands in for the service binary.
        let mut v: Vec<String> = vec!["--recommender".into(), "Cargo.toml".into()];
        v.extend(list.iter().map(|s| s.to_string()));
        v
    }

    #[test]
    fn defaults_and_overrides() {
        let cli = parse(&args(&[])).unwrap();
        assert_eq!(cli.scenarios.len(), 2);
        assert_eq!(cli.plan.bake_seconds, 20);
        assert_eq!(cli.plan.health.period_seconds, 10);
        cli.plan.validate().unwrap();
        let cli = parse(&args(&["--scenario", "rollback", "--rps", "25"])).unwrap();
        assert_eq!(cli.scenarios, [Scenario::Rollback]);
        assert_eq!(cli.rps, 25);
    }

    #[test]
    fn bad_values_are_refused_by_name() {
        for (list, needle) in [
            (&["--rps", "0"][..], "--rps 0"),
            (&["--rps", "many"], "not a number"),
            (&["--scenario", "canary"], "--scenario `canary`"),
            (&["--duration"], "needs a value"),
            (&["--plan", "/no/such/plan.json"], "--plan /no/such"),
            (&["--fault-error-rate", "2"], "--fault-error-rate 2"),
            (&["--bogus", "1"], "unknown option"),
        ] {
            let err = parse(&args(list)).err().unwrap();
            assert!(err.contains(needle), "{list:?}: {err}");
        }
        let err = parse(&["--recommender".into(), "/no/such".into()])
            .err()
            .unwrap();
        assert!(err.contains("cargo build -p recommender"), "{err}");
    }
}
