//! `lab`: see [`alb_canary_lab`] and `cargo xtask lab --help`.

use std::fs::File;
use std::os::fd::FromRawFd;
use std::process::ExitCode;
use std::sync::Mutex;

use alb_canary_lab::{haproxy, options, output, scenario, timeline};

fn main() -> ExitCode {
    // --help and usage errors: clap prints them (stdout or stderr) and picks the exit code.
    let cli = options::Cli::parse_from(std::env::args_os()).unwrap_or_else(|err| err.exit());
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            timeline::live(&format!("error: {e}"));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: options::Cli) -> Result<(), String> {
    std::fs::create_dir_all(&cli.out).map_err(|e| format!("{}: {e}", cli.out.display()))?;
    let log = File::create(cli.out.join("lab.log.jsonl")).map_err(|e| e.to_string())?;
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_writer(Mutex::new(log))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    redirect_stdout(&cli.out.join("controller-stdout.jsonl"))?;
    let haproxy = haproxy::ensure_installed()?;
    let opts = scenario::Options {
        rps: cli.rps,
        duration: cli.duration,
        plan: cli.plan,
        out: cli.out.clone(),
        recommender: cli.recommender,
        haproxy,
        fault: cli.fault,
        faults: cli.faults,
        tick: cli.tick,
        timing: cli.timing,
        signal: cli.signal,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let mut summaries = Vec::new();
        for s in &cli.scenarios {
            // Ctrl-C drops the scenario's future: its processes and tasks stop with it.
            let summary = tokio::select! {
                r = scenario::run(*s, &opts) => r?,
                _ = tokio::signal::ctrl_c() => return Err("interrupted: everything stopped".to_owned()),
            };
            let dir = cli.out.join(s.name());
            let text = std::fs::read_to_string(dir.join("timeline.txt")).unwrap_or_default();
            timeline::live(&format!("\n{} timeline:\n{text}", s.name()));
            summaries.push(summary);
        }
        for s in &summaries {
            timeline::live(&line(s, &cli.out));
        }
        // A scenario that did not end as it set out to is a failed run, whatever the loops did.
        let missed: Vec<String> = cli
            .scenarios
            .iter()
            .zip(&summaries)
            .filter_map(|(scenario, s)| scenario.missed(&s.end).or_else(|| s.missed_evidence()))
            .collect();
        if missed.is_empty() {
            Ok(())
        } else {
            Err(missed.join("; "))
        }
    })
}

fn line(s: &output::Summary, out: &std::path::Path) -> String {
    let onset = s.onset_to_zero_seconds.map_or(String::new(), |v| {
        format!("; fault onset → canary weight 0 in HAProxy {v:.1} s")
    });
    let fail_open = s.fail_open.as_ref().map_or(String::new(), |f| {
        format!(
            "; the dead canary got {} requests after the kill, {} failed",
            f.canary_requests_after_kill, f.canary_failed_after_kill
        )
    });
    let table = &s.state_final;
    format!(
        "{}: {} in {:.0} s{onset}{fail_open}; listener {}; state {} on {}, release {} {}; {} requests ({} 5xx); {}/",
        s.scenario,
        s.end,
        s.seconds,
        s.listener_final,
        table.status,
        table.stable_version.as_deref().unwrap_or("-"),
        alb_canary_lab::release::RELEASE,
        table.record_outcome.as_deref().unwrap_or("not recorded"),
        s.traffic.sent,
        s.traffic.server_errors,
        out.join(&s.scenario).display()
    )
}

/// The controller prints one metric line per decision on stdout, as Lambda expects; here they go
/// to a file, and the live lines keep the terminal.
fn redirect_stdout(path: &std::path::Path) -> Result<(), String> {
    let file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // SAFETY: dup/dup2 on the process's own descriptors; the duplicate is owned by the File.
    unsafe {
        let terminal = libc::dup(1);
        if terminal < 0 || libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&file), 1) < 0 {
            return Err("could not redirect stdout".into());
        }
        timeline::set_live_output(File::from_raw_fd(terminal));
    }
    Ok(())
}
