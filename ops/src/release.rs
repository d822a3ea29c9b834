//! `release VERSION [--force]`: moves the canary fleet to a published version and records a
//! deploying release; the promotion function starts the canary once that fleet is healthy on it.
//! The first release (no stable version yet) has nothing to compare with: both fleets move to it.
//! Every refusal happens before anything is written.

use crate::aws_error::describe;
use contract::release::{Artifact, Fleet, validate_version};
use controller::decision::Status;
use controller::history::{Entry, OPERATOR, Record, ReleaseStarted, RolledBack};
use controller::machine::{self, Event};
use controller::state::{self, Recorded};
use controller::{fleet, lifecycle, rollback, schedule};

use crate::settings::Target;

/// `release`'s options.
pub use canaryctl_args::ReleaseArgs as Args;

pub async fn run(args: &Args) -> crate::Result {
    let Args {
        version,
        force,
        file,
        signal_file,
        target: options,
    } = args;
    let (version, force) = (version.clone(), *force);
    let target = crate::settings::resolve(options).await?;
    // `--file`: publish that binary as VERSION first (unchanged if it already is, refused if
    // VERSION holds another binary).
    if let Some(file) = file {
        let bytes =
            std::fs::read(file).map_err(|err| format!("--file {}: {err}", file.display()))?;
        let config = &target.config;
        // The signal first: the recommender's checksum marks the version published.
        if let Some(signal_file) = signal_file {
            let signal = std::fs::read(signal_file)
                .map_err(|err| format!("--signal-file {}: {err}", signal_file.display()))?;
            let done = crate::publish::upload_artifact(
                &target.clients.s3,
                &config.artifact_bucket,
                &config.artifact_prefix,
                &version,
                Artifact::Signal,
                &signal,
            )
            .await?;
            println!("{done}");
        }
        let done = crate::publish::upload(
            &target.clients.s3,
            &config.artifact_bucket,
            &config.artifact_prefix,
            &version,
            &bytes,
        )
        .await?;
        println!("{done}");
    }
    println!(
        "{}",
        release(&target, &version, force, controller::now_secs()).await?
    );
    Ok(())
}

/// The first object `version` lacks to be released: the recommender and its checksum, and with
/// the target signal on (every instance then fetches it) the proxy and its checksum; `None` when
/// it has them all.
async fn missing_artifact(target: &Target, version: &str) -> crate::Result<Option<String>> {
    let config = &target.config;
    let mut artifacts = vec![Artifact::Recommender];
    if config.target_signal {
        artifacts.push(Artifact::Signal);
    }
    for artifact in artifacts {
        for key in [
            artifact.key(&config.artifact_prefix, version),
            artifact.checksum_key(&config.artifact_prefix, version),
        ] {
            let head = target
                .clients
                .s3
                .head_object()
                .bucket(&config.artifact_bucket)
                .key(&key)
                .send()
                .await;
            match head {
                Ok(_) => {}
                Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => {
                    return Ok(Some(key));
                }
                Err(err) => {
                    let context = format!("could not read s3://{}/{key}", config.artifact_bucket);
                    return Err(describe(err).context(context).into());
                }
            }
        }
    }
    Ok(None)
}

/// Starts the release of `version` at `now`; returns what was done, or why nothing was.
pub async fn release(
    target: &Target,
    version: &str,
    force: bool,
    now: i64,
) -> crate::Result<String> {
    let Target { clients, config } = target;
    validate_version(version).map_err(|err| format!("release refused: {err}; nothing changed"))?;
    if let Some(key) = missing_artifact(target, version).await? {
        let files = if config.target_signal {
            "its binaries with `--file PATH --signal-file PATH` (the stack runs the target signal)"
        } else {
            "its binary with `--file PATH`"
        };
        return Err(format!(
            "release refused: version {version} is not published (s3://{bucket}/{key} is missing): \
             publish it from the checkout that builds it (`cargo xtask publish --bucket {bucket} \
             --prefix {prefix} --version {version}`), or give {files}; nothing changed",
            bucket = config.artifact_bucket,
            prefix = config.artifact_prefix,
        )
        .into());
    }
    let mut current = state::read(&clients.dynamodb, config).await?;
    if current
        .as_ref()
        .is_some_and(|r| r.release.stable_version.as_deref() == Some(version))
    {
        return Err(format!(
            "release refused: the stable fleet already serves {version}; nothing changed"
        )
        .into());
    }
    // Rolled back with the schedule still on: the run or command that rolled back (this one's
    // `--force`, say) died before it finished; that is finished first (notified, schedule off).
    if current
        .as_ref()
        .is_some_and(|r| r.canary.status == Status::RolledBack)
        && schedule::is_enabled(&clients.scheduler, config).await?
    {
        rollback::settle(clients, config, now, OPERATOR).await?;
    }
    let mut superseded = None;
    if let Some(running) = current.as_ref().filter(|r| r.in_progress()) {
        let running_version = running.release.version.clone().unwrap_or_default();
        // The same command run again after it died between its record and the schedule
        // (a dead terminal): what it had left to do is done, nothing is started twice.
        // (`--force` too: aborting the release it started itself would only start it again.)
        if running_version == version && running.canary.status == Status::Deploying {
            schedule::enable(&clients.scheduler, config).await?;
            return Ok(format!(
                "release {version} is already deploying (started before); its schedule is on"
            ));
        }
        if !force {
            return Err(format!(
                "release refused: release {running_version} is {} (step {}); wait for it to \
                 finish, or pass --force to abort it and start {version}; nothing changed",
                running.canary.status.as_str(),
                running.canary.step + 1
            )
            .into());
        }
        let reason = format!("aborted by release {version} --force");
        let before = rollback::write_stable(clients, config).await?;
        let aborted = RolledBack {
            reason: reason.clone(),
            release: Some(running_version.clone()),
            weights_before: Some(before),
            ..RolledBack::default()
        };
        let history = Record::new(OPERATOR, now, Entry::RolledBack(aborted));
        rollback::after_write(clients, config, &reason, now, &history).await?;
        superseded = Some(running_version);
        current = state::read(&clients.dynamodb, config).await?;
    }
    let base = current.clone().unwrap_or_else(Recorded::idle);
    let first = base.release.stable_version.is_none();
    // The fleet moves first: a deploying state always names the refresh it waits for. Run again
    // after dying past this point, the release finds that move and takes it as its own.
    let refresh = fleet::move_to(clients, config, Fleet::Canary, version).await?;
    let (batch, record) = state::Batch::new().open(config, version, now)?;
    let event = Event::Release {
        version: version.to_string(),
        refresh: refresh.clone(),
        record: record.clone(),
    };
    let next = machine::transition(&config.plan, &base, &event, now)
        .map_err(|refused| format!("release refused: {refused}; nothing changed"))?;
    let started = ReleaseStarted {
        reason: next.canary.reason.clone().unwrap_or_default(),
        release: version.to_string(),
        superseded: superseded.clone(),
        stable_version: base.release.stable_version.clone(),
        canary_refresh: refresh.clone(),
    };
    let history = Record::new(OPERATOR, now, Entry::ReleaseStarted(started));
    // The record, the state and the decision: all or nothing.
    batch
        .replace(config, current.as_ref(), &next, now)?
        .history(config, now * 1000, &history)?
        .commit(&clients.dynamodb, config)
        .await?;
    schedule::enable(&clients.scheduler, config).await?;
    if first {
        // Starts the stable fleet's move now rather than at the next scheduled run.
        lifecycle::finish(clients, config, now).await?;
        return Ok(format!(
            "release {version}: first release, both fleets move to it (canary refresh {refresh}); \
             the stack is idle on {version} once the stable fleet is healthy"
        ));
    }
    let aborted = superseded.map_or(String::new(), |v| format!(" (release {v} aborted)"));
    Ok(format!(
        "release {version}{aborted}: the canary fleet moves to it (instance refresh {refresh}); \
         the canary starts at {}% once that fleet is healthy",
        config.plan.steps[0]
    ))
}
