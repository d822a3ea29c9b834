//! The lab's command line (clap): every value is checked before anything starts.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{CommandFactory, FromArgMatches, Parser, ValueEnum};
use contract::Plan;

use crate::fault;
use crate::scenario::Scenario;
use crate::service::Faults;
use crate::timing::{self, Profile, Timing};

/// What `lab` runs with, checked.
#[derive(Debug)]
pub struct Cli {
    pub scenarios: Vec<Scenario>,
    pub rps: u32,
    pub duration: Duration,
    pub plan: Plan,
    pub out: PathBuf,
    pub recommender: PathBuf,
    pub fault: fault::Kind,
    pub faults: Faults,
    pub tick: Duration,
    pub timing: Timing,
    /// `--signal`: the target signal's proxy in front of every service process.
    pub signal: Option<SignalOptions>,
}

/// The target signal in the lab (the stack's `TargetSignal=enabled`).
#[derive(Debug, Clone)]
pub struct SignalOptions {
    /// The `alb-canary-signal` binary.
    pub binary: PathBuf,
    /// Seconds the emulator keeps each of the proxies' puts invisible (CloudWatch's ingestion).
    pub delay_secs: (u64, u64),
}

/// The options as typed.
#[derive(Debug, Parser)]
#[command(
    name = "lab",
    about = "Rehearse a canary on 127.0.0.1: HAProxy as the ALB, the real controller and service, the moto emulator as AWS",
    // The last value of an option counts: `cargo xtask bench-lab` appends its own.
    args_override_self = true,
    after_help = "Examples:\n  cargo xtask lab                      # both scenarios at 40 requests/s\n  cargo xtask lab --scenario rollback --rps 60 --fault-error-rate 0.5\n  cargo xtask lab --scenario rollback --fault kill            # the canary's process dies mid-step\n  cargo xtask lab --scenario rollback --timing aws --duration 1200   # ALB metrics as AWS delivers them"
)]
struct Args {
    /// promote: a healthy canary goes to 100 %; rollback: canary goes bad at its first step (--fault) and
    /// the canary must be rolled back; both: one, then the other
    #[arg(long, value_enum, default_value_t = Scenarios::Both)]
    scenario: Scenarios,
    /// Requests per second through HAProxy
    #[arg(long, value_name = "N", default_value_t = 40, value_parser = clap::value_parser!(u32).range(1..=500))]
    rps: u32,
    /// Upper bound on each scenario, in seconds (past it the lab fails)
    #[arg(long, value_name = "S", default_value_t = 420, value_parser = clap::value_parser!(u64).range(30..=1800))]
    duration: u64,
    /// The canary plan as JSON (default, compressed: steps 10/25/50/100, 20 s bakes, judged on
    /// 10 s periods; aws: the stack's default plan with 180 s bakes)
    #[arg(long, value_name = "FILE", value_parser = plan_file)]
    plan: Option<Plan>,
    /// Where timelines, decisions, summaries and pictures go
    #[arg(long, value_name = "DIR", default_value = "target/lab", value_parser = absolute)]
    out: PathBuf,
    /// The service binary (default: `recommender` beside this binary)
    #[arg(long, value_name = "PATH")]
    recommender: Option<PathBuf>,
    /// The rollback scenario's fault, at the canary's first step
    #[arg(long, value_enum, default_value_t = fault::Kind::Errors)]
    fault: fault::Kind,
    /// Share of the canary's answers that are 500 once its faults are on (0 to 1)
    #[arg(long, value_name = "F", default_value_t = 0.2, value_parser = share)]
    fault_error_rate: f64,
    /// Latency canary adds once its faults are on, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    fault_latency_ms: u64,
    /// Seconds between promotion runs (default: compressed 5, the schedule's minute compressed;
    /// aws 60, the schedule's rate)
    #[arg(long, value_name = "S", value_parser = clap::value_parser!(u64).range(1..=60))]
    tick: Option<u64>,
    /// compressed: 10 s ALB periods, visible at once; aws: 60 s periods, each visible after a
    /// seeded delay (--aws-delay), zero counts not published, alarms on their own periods
    #[arg(long, value_enum, default_value_t = Profile::Compressed)]
    timing: Profile,
    /// With --timing aws: the range a period's datapoints appear in, seconds after it ends
    #[arg(long, value_name = "MIN-MAX", default_value = "60-180", value_parser = timing::parse_delay)]
    aws_delay: (u64, u64),
    /// With --timing aws: seeds the per-period delays (the same seed, the same delays)
    #[arg(long, value_name = "N", default_value_t = 1)]
    seed: u64,
    /// Run the target signal (alb-canary-signal) in front of every service process, as the stack
    /// does with TargetSignal=enabled: its 10 s metrics go to the emulator, the stack's 10 s target
    /// alarms judge them, and so does the judge (health.signal = targets, unless --plan says)
    #[arg(long)]
    signal: bool,
    /// With --signal: the range of seconds the emulator keeps each put of the signal's metrics
    /// invisible (CloudWatch's ingestion delay; seeded with --seed)
    #[arg(long, value_name = "MIN-MAX", default_value = "2-8", value_parser = timing::parse_delay)]
    signal_delay: (u64, u64),
    /// With --signal: the proxy's binary (default: `alb-canary-signal` beside this binary)
    #[arg(long, value_name = "PATH")]
    signal_binary: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Scenarios {
    Promote,
    Rollback,
    Both,
}

impl Cli {
    /// Parses `args` (program name first; it names the program in usage lines, so that
    /// `cargo xtask lab` can run this binary under its own name). On `--help` or a mistake,
    /// clap's error, which prints itself with the right exit code.
    pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let mut command = Args::command();
        let matches = command.try_get_matches_from_mut(args)?;
        let args = Args::from_arg_matches(&matches).map_err(|err| err.format(&mut command))?;
        args.check()
            .map_err(|problem| command.error(ErrorKind::ValueValidation, problem))
    }
}

impl Args {
    fn check(self) -> Result<Cli, String> {
        let recommender = match &self.recommender {
            Some(path) => path.clone(),
            None => beside_this_binary("recommender"),
        };
        if !recommender.is_file() {
            return Err(format!(
                "{} is not a file: build it with `cargo build -p recommender` or pass --recommender",
                recommender.display()
            ));
        }
        let signal = match self.signal {
            false => None,
            true => {
                let binary = self
                    .signal_binary
                    .unwrap_or_else(|| beside_this_binary(SIGNAL));
                if !binary.is_file() {
                    return Err(format!(
                        "{} is not a file: build it with `cargo build -p target-signal` or pass --signal-binary",
                        binary.display()
                    ));
                }
                Some(SignalOptions {
                    binary,
                    delay_secs: self.signal_delay,
                })
            }
        };
        let mut plan = self.plan.clone().unwrap_or_else(|| match self.timing {
            Profile::Compressed => lab_plan(),
            Profile::Aws => aws_plan(),
        });
        if signal.is_some() && self.plan.is_none() {
            plan.health.signal = contract::Signal::Targets;
        }
        Ok(Cli {
            scenarios: match self.scenario {
                Scenarios::Promote => vec![Scenario::Promote],
                Scenarios::Rollback => vec![Scenario::Rollback],
                Scenarios::Both => vec![Scenario::Promote, Scenario::Rollback],
            },
            rps: self.rps,
            duration: Duration::from_secs(self.duration),
            plan,
            out: self.out,
            recommender,
            fault: self.fault,
            faults: Faults {
                error_rate: self.fault_error_rate,
                extra_latency_ms: self.fault_latency_ms,
            },
            tick: Duration::from_secs(self.tick.unwrap_or(match self.timing {
                Profile::Compressed => 5,
                Profile::Aws => 60,
            })),
            timing: match self.timing {
                Profile::Compressed => Timing::compressed(),
                Profile::Aws => Timing::aws(self.aws_delay, self.seed),
            },
            signal,
        })
    }
}

const SIGNAL: &str = "alb-canary-signal";

/// `name` in this binary's directory (cargo builds every binary of the workspace there).
fn beside_this_binary(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join(name)))
        .unwrap_or_else(|| name.into())
}

/// The compressed plan: the stack's steps with 20 s bakes, judged on the bridge's 10 s periods
/// (high-resolution metrics: the judge's period is a plan setting, 60 s in production), settled
/// 2 s (the bridge puts a window's datapoints 0.2 s after it ends). Latency on the production
/// statistic: the bridge puts every request's latency and the harness's emulator computes `p99`
/// and `PR(:T)` over them; T comes from the stable version's first 30 s (three periods) of the canary, as on a
/// stack whose stable served nothing in the hour before. 20 canary requests make a judgeable step.
pub fn lab_plan() -> Plan {
    let mut plan = Plan {
        bake_seconds: 20,
        max_step_seconds: 600,
        ..Plan::default()
    };
    plan.health.min_step_requests = 20;
    plan.health.settle_seconds = 2;
    plan.health.period_seconds = timing::COMPRESSED_PERIOD_SECS as u64;
    plan
}

/// The plan under AWS timing: the stack's default (60 s periods settled 120 s, the production
/// judge), with 180 s bakes instead of 600 s so that a promote scenario ends within half an hour.
pub fn aws_plan() -> Plan {
    Plan {
        bake_seconds: 180,
        ..Plan::default()
    }
}

/// A plan file, read and checked as the stack's parameter is.
fn plan_file(path: &str) -> Result<Plan, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    Plan::from_json(&text).map_err(|e| e.to_string())
}

/// Absolute: HAProxy reads a relative socket path as host:port.
fn absolute(path: &str) -> Result<PathBuf, String> {
    std::path::absolute(path).map_err(|e| e.to_string())
}

fn share(value: &str) -> Result<f64, String> {
    let share: f64 = value.parse().map_err(|_| "not a number".to_owned())?;
    if (0.0..=1.0).contains(&share) {
        Ok(share)
    } else {
        Err(format!("{value} is not in 0..=1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Any existing file stands in for the service binary.
    fn parse(list: &[&str]) -> Result<Cli, clap::Error> {
        let head = ["lab", "--recommender", "Cargo.toml"];
        Cli::parse_from(head.iter().chain(list))
    }

    fn refusal(list: &[&str]) -> String {
        parse(list).expect_err("refused").to_string()
    }

    #[test]
    fn the_definition_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn help_lists_the_options_with_their_defaults_and_examples_under_the_callers_name() {
        let err = Cli::parse_from(["cargo xtask lab", "--help"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DisplayHelp);
        let help = err.to_string();
        for expected in [
            "Usage: cargo xtask lab [OPTIONS]",
            "--scenario <SCENARIO>",
            "[default: both]",
            "[possible values: promote, rollback, both]",
            "--rps <N>",
            "[default: 40]",
            "--duration <S>",
            "[default: 420]",
            "--plan <FILE>",
            "--out <DIR>",
            "[default: target/lab]",
            "--recommender <PATH>",
            "--fault <FAULT>",
            "[default: errors]",
            "- errors: The canary's answers fail",
            "- kill:   The canary's process dies (SIGKILL) mid-step",
            "--fault-error-rate <F>",
            "[default: 0.2]",
            "--fault-latency-ms <MS>",
            "--tick <S>",
            "--timing <TIMING>",
            "[possible values: compressed, aws]",
            "--aws-delay <MIN-MAX>",
            "[default: 60-180]",
            "--seed <N>",
            "Examples:\n  cargo xtask lab",
        ] {
            assert!(help.contains(expected), "{expected}: {help}");
        }
    }

    #[test]
    fn an_unknown_option_fails_with_a_suggestion() {
        let err = Cli::parse_from(["cargo xtask lab", "--fault-eror-rate", "0.5"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnknownArgument);
        let text = err.to_string();
        assert!(
            text.contains("a similar argument exists: '--fault-error-rate'"),
            "{text}"
        );
        assert!(text.contains("Usage: cargo xtask lab"), "{text}");
        let text = refusal(&["--scenario", "rolback"]);
        assert!(
            text.contains("[possible values: promote, rollback, both]"),
            "{text}"
        );
        assert!(
            text.contains("a similar value exists: 'rollback'"),
            "{text}"
        );
    }

    #[test]
    fn the_defaults_are_both_scenarios_on_the_compressed_plan() {
        let cli = parse(&[]).unwrap();
        assert_eq!(cli.scenarios, [Scenario::Promote, Scenario::Rollback]);
        assert_eq!(cli.rps, 40);
        assert_eq!(cli.duration, Duration::from_secs(420));
        assert_eq!(cli.tick, Duration::from_secs(5));
        assert_eq!(cli.fault, fault::Kind::Errors);
        assert_eq!(cli.faults.error_rate, 0.2);
        assert_eq!(cli.faults.extra_latency_ms, 0);
        assert!(cli.out.is_absolute(), "{}", cli.out.display());
        assert!(cli.out.ends_with("target/lab"), "{}", cli.out.display());
        assert_eq!(cli.plan, lab_plan());
        assert_eq!(cli.plan.bake_seconds, 20);
        assert_eq!(cli.plan.health.period_seconds, 10);
        cli.plan.validate().unwrap();
        assert_eq!(cli.timing, Timing::compressed());
    }

    #[test]
    fn aws_timing_brings_the_production_plan_period_schedule_and_seeded_delays() {
        let cli = parse(&["--timing", "aws", "--aws-delay", "30-90", "--seed", "4"]).unwrap();
        assert_eq!(cli.timing, Timing::aws((30, 90), 4));
        assert_eq!(cli.tick, Duration::from_secs(60));
        assert_eq!(cli.plan, aws_plan());
        assert_eq!(cli.plan.health.period_seconds, 60);
        assert_eq!(cli.plan.health.settle_seconds, 120);
        aws_plan().validate().unwrap();
        let cli = parse(&["--timing", "aws", "--tick", "30"]).unwrap();
        assert_eq!(cli.timing.delay_secs, timing::DEFAULT_AWS_DELAY_SECS);
        assert_eq!(cli.tick, Duration::from_secs(30));
    }

    #[test]
    fn every_option_reaches_the_run_and_the_last_value_counts() {
        let plan = std::env::temp_dir().join(format!("lab-plan-{}.json", std::process::id()));
        let mut custom = lab_plan();
        custom.bake_seconds = 30;
        std::fs::write(&plan, custom.to_json()).unwrap();
        let cli = parse(&[
            "--scenario",
            "both",
            "--rps",
            "25",
            "--duration",
            "60",
            "--plan",
            plan.to_str().unwrap(),
            "--out",
            "elsewhere",
            "--fault-error-rate",
            "0.5",
            "--fault-latency-ms",
            "250",
            "--tick",
            "2",
            "--fault",
            "kill",
            "--scenario",
            "rollback",
        ])
        .unwrap();
        std::fs::remove_file(&plan).unwrap();
        assert_eq!(cli.scenarios, [Scenario::Rollback]);
        assert_eq!(cli.rps, 25);
        assert_eq!(cli.duration, Duration::from_secs(60));
        assert_eq!(cli.plan.bake_seconds, 30);
        assert_eq!(cli.out, std::path::absolute("elsewhere").unwrap());
        assert_eq!(cli.recommender, PathBuf::from("Cargo.toml"));
        assert_eq!(
            cli.faults,
            Faults {
                error_rate: 0.5,
                extra_latency_ms: 250
            }
        );
        assert_eq!(cli.tick, Duration::from_secs(2));
        assert_eq!(cli.fault, fault::Kind::Kill);
    }

    #[test]
    fn bad_values_are_refused_by_name() {
        let bad_plan =
            std::env::temp_dir().join(format!("lab-bad-plan-{}.json", std::process::id()));
        std::fs::write(&bad_plan, r#"{"steps": [10, 50]}"#).unwrap();
        let bad_plan = bad_plan.to_str().unwrap();
        for (list, needle) in [
            (&["--rps", "0"][..], "invalid value '0' for '--rps <N>'"),
            (&["--rps", "many"], "invalid digit"),
            (&["--duration", "10"], "10 is not in 30..=1800"),
            (&["--duration"], "a value is required for '--duration <S>'"),
            (
                &["--scenario", "canary"],
                "invalid value 'canary' for '--scenario",
            ),
            (&["--plan", "/no/such/plan.json"], "for '--plan <FILE>'"),
            (&["--plan", bad_plan], "do not end at 100"),
            (&["--fault-error-rate", "2"], "2 is not in 0..=1"),
            (&["--tick", "0"], "0 is not in 1..=60"),
            (&["--aws-delay", "90-30"], "MIN ≤ MAX"),
            (&["--timing", "slow"], "invalid value 'slow' for '--timing"),
            (&["--fault", "crash"], "invalid value 'crash' for '--fault"),
            (&["--bogus", "1"], "unexpected argument '--bogus'"),
        ] {
            let err = refusal(list);
            assert!(err.contains(needle), "{list:?}: {err}");
        }
        std::fs::remove_file(bad_plan).unwrap();
        let err = Cli::parse_from(["lab", "--recommender", "/no/such"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("cargo build -p recommender"), "{err}");
    }
}
