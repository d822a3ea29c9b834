//! `status`: the listener's weights, the stable and canary versions, the release in progress with
//! its step and status, the last decisions with the numbers that drove them (newest first, read
//! from the end of the history however many pages it spans), and the rollback alarms. Reads only.

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use controller::decision::{Status, expected_weights};
use controller::{listener, state};

use crate::settings::{Options, Target};

/// How many decisions `status` shows, newest first.
const LAST_DECISIONS: usize = 10;
/// How far back `status` looks for the judge's latest statistics.
const STATISTICS_LOOKBACK: usize = 50;

pub async fn run(options: &Options) -> crate::Result {
    let target = crate::settings::resolve(options).await?;
    print!("{}", report(&target, controller::now_secs()).await?);
    Ok(())
}

/// The whole report as text (a function of what it reads, so tests compare it).
pub async fn report(target: &Target, now: i64) -> crate::Result<String> {
    let Target { clients, config } = target;
    let mut out = String::new();
    let live = listener::read(&clients.elbv2, config).await?;
    let recorded = state::read(&clients.dynamodb, config).await?;
    let plan = &config.plan;
    out += &format!("listener   {}\n", config.listener_arn);
    out += &format!("weights    {}\n", live.weights);
    let canary = recorded.as_ref().map(|r| &r.canary);
    // While complete the listener is in flux: the canary keeps its traffic until the stable fleet is ready.
    if let Some(expected) = expected_weights(plan, canary)
        && canary.is_none_or(|c| c.status != Status::Complete)
        && !expected.same_split(&live.weights)
    {
        out += &format!("drift      the recorded state expects {expected}\n");
    }
    let release = recorded.as_ref().map(|r| &r.release);
    let version = |v: Option<&Option<String>>| {
        v.and_then(|v| v.clone())
            .unwrap_or_else(|| "none (no release yet)".into())
    };
    out += &format!(
        "stable     {} (target group {})\n",
        version(release.map(|r| &r.stable_version)),
        config.stable_tg_arn
    );
    out += &format!(
        "canary     {} (target group {})\n",
        version(release.map(|r| &r.canary_version)),
        config.canary_tg_arn
    );
    match recorded.as_ref().map(|r| (&r.canary, &r.release)) {
        None => out += "release    idle: no release yet (`cargo xtask release VERSION`)\n",
        Some((s, r)) => {
            let percent = plan.steps.get(s.step).copied().unwrap_or(0);
            let name = r.version.clone().unwrap_or_default();
            out += &match s.status {
                Status::Idle => format!(
                    "release    idle, stable = {}\n",
                    version(Some(&r.stable_version))
                ),
                Status::Deploying => format!(
                    "release    {name} deploying: the canary fleet moves to it, since {}\n",
                    timestamp(r.moved_at.unwrap_or(s.step_started_at))
                ),
                Status::Complete => format!(
                    "release    {name} complete: the stable fleet moves to it, since {}\n",
                    timestamp(r.moved_at.unwrap_or(s.step_started_at))
                ),
                status => format!(
                    "release    {name} {} at step {} of {} ({percent}% to canary), since {}\n",
                    status.as_str(),
                    s.step + 1,
                    plan.steps.len(),
                    timestamp(s.step_started_at),
                ),
            };
            if s.status == Status::Running {
                let left = controller::machine::bake_left(plan, s, now);
                out += &if s.bake_skipped {
                    "bake       skipped by an operator: the next run may promote\n".to_string()
                } else {
                    format!(
                        "bake       {left} s of {} s left (+{} s for CloudWatch to settle)\n",
                        plan.bake_seconds, plan.health.settle_seconds
                    )
                };
            }
            if let Some(reason) = &s.reason {
                out += &format!("reason     {reason}\n");
            }
        }
    }
    let schedule = if controller::schedule::is_enabled(&clients.scheduler, config).await? {
        "enabled"
    } else {
        "disabled"
    };
    out += &format!("schedule   {} {schedule}\n", config.schedule_name);
    let alarms = clients
        .cloudwatch
        .describe_alarms()
        .set_alarm_names(Some(config.rollback_alarms.clone()))
        .send()
        .await
        .map_err(crate::aws_error::describe)?;
    for name in &config.rollback_alarms {
        let state = alarms
            .metric_alarms()
            .iter()
            .find(|a| a.alarm_name() == Some(name.as_str()))
            .and_then(|a| a.state_value())
            .map_or("MISSING".to_owned(), |s| s.as_str().to_owned());
        out += &format!("alarm      {name}: {state}\n");
    }
    // Read from the end of the history, however many pages it spans: the latest decisions, and
    // among a few more the judge's latest statistics.
    let latest = state::latest_history(&clients.dynamodb, config, STATISTICS_LOOKBACK).await?;
    // The judge's latest statistics, each next to its threshold.
    let judged = latest.iter().find_map(|item| {
        let record = item.record.as_ref().ok()?;
        Some((record, record.statistics()?))
    });
    if let Some((record, statistics)) = judged {
        out += &format!(
            "judge      latest statistics (decision {} at {}):\n",
            record.kind(),
            timestamp(record.at)
        );
        for line in controller::report::statistics_lines(statistics) {
            out += &format!("  {line}\n");
        }
    }
    let latest = &latest[..latest.len().min(LAST_DECISIONS)];
    out += &format!("decisions  the last {}, latest first:\n", latest.len());
    for item in latest {
        let at = item.at().map_or("-".into(), timestamp);
        out += &format!("  {:<10} {at} {}\n", item.kind, item.line());
    }
    Ok(out)
}

fn timestamp(epoch_seconds: i64) -> String {
    DateTime::from_secs(epoch_seconds)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| epoch_seconds.to_string())
}
