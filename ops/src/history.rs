//! `history [--release VERSION]`: every release record (version, start, steps with their times,
//! outcome, reason), oldest first; with `--release`, that release's records and the decisions
//! taken while it ran. Pages through the whole table; reads only.

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use controller::state::{self, ReleaseRecord};

use crate::settings::Target;

/// `history`'s options.
pub use canaryctl_args::HistoryArgs as Args;

pub async fn run(args: &Args) -> crate::Result {
    let Args {
        release,
        target: options,
    } = args;
    let target = crate::settings::resolve(options).await?;
    print!(
        "{}",
        report(&target, release.as_deref(), controller::now_secs()).await?
    );
    Ok(())
}

fn timestamp(epoch_seconds: i64) -> String {
    DateTime::from_secs(epoch_seconds)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| epoch_seconds.to_string())
}

fn describe(record: &ReleaseRecord) -> String {
    let mut out = format!(
        "release {} started {} outcome {}",
        record.version,
        timestamp(record.started_at),
        record.outcome
    );
    if let Some(ended) = record.ended_at {
        out += &format!(" at {}", timestamp(ended));
    }
    out += "\n";
    for (step, percent, at) in &record.steps {
        out += &format!("  step {} ({percent}%) at {}\n", step + 1, timestamp(*at));
    }
    if let Some(reason) = &record.reason {
        out += &format!("  reason {reason}\n");
    }
    out
}

/// The report as text; `release` narrows it to one version.
pub async fn report(target: &Target, release: Option<&str>, now: i64) -> crate::Result<String> {
    let Target { clients, config } = target;
    let records = state::releases(&clients.dynamodb, config).await?;
    let Some(version) = release else {
        let mut out = format!("{} releases recorded, oldest first:\n", records.len());
        for record in &records {
            out += &describe(record);
        }
        return Ok(out);
    };
    let chosen: Vec<&ReleaseRecord> = records.iter().filter(|r| r.version == version).collect();
    if chosen.is_empty() {
        return Err(format!(
            "no release {version} is recorded (history expires after {} days)",
            config.history_days
        )
        .into());
    }
    let mut out = String::new();
    for record in chosen {
        out += &describe(record);
        let decisions = state::history_between(
            &clients.dynamodb,
            config,
            record.started_at * 1000,
            record.ended_at.unwrap_or(now) * 1000 + 999,
        )
        .await?;
        out += &format!("  {} decisions:\n", decisions.len());
        for item in decisions {
            let at = item.at().map_or("-".into(), timestamp);
            out += &format!("    {:<10} {at} {}\n", item.kind, item.line());
        }
    }
    Ok(out)
}
