//! The release lifecycle, rehearsed: the stack starts idle on [`STABLE`] (as a finished release
//! leaves it), [`RELEASE`] is published and released with the operators' own `release` (which
//! moves the canary fleet, opens the release's record and enables the schedule), and the fleets
//! are the lab's processes: an instance refresh the controller starts is finished once HAProxy's
//! server for that fleet points at the process of the version the fleet's pointer names. So the
//! promotion code starts the canary from `deploying` as it would on AWS, completion moves the
//! stable fleet and returns the stack to idle on the release, and a rollback closes the record.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use alb_canary_tests::refresh::InstanceRefreshes;
use canaryctl::settings::Target;
use contract::release::Fleet;
use controller::state::{self, Recorded};
use controller::{Clients, Config};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::context::Ctx;
use crate::haproxy;

/// The version the stable version's process stands for: what the stable fleet serves before the release.
pub const STABLE: &str = "1.0.0";
/// The version the canary's process stands for: the release the lab rehearses.
pub const RELEASE: &str = "2.0.0";

/// The lab's processes by version: the port of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Processes {
    pub stable: u16,
    pub release: u16,
}

impl Processes {
    fn port_of(&self, version: &str) -> Option<u16> {
        match version {
            STABLE => Some(self.stable),
            RELEASE => Some(self.release),
            _ => None,
        }
    }
}

/// The stack idle on [`STABLE`], then [`RELEASE`] published (the service binary) and released.
/// Returns what `release` said.
pub async fn start(
    clients: &Clients,
    config: &Config,
    binary: &Path,
    signal: Option<&Path>,
    now: i64,
) -> Result<String, String> {
    let idle = Recorded::idle().next(|r| {
        r.release.version = Some(STABLE.into());
        r.release.stable_version = Some(STABLE.into());
        r.release.canary_version = Some(STABLE.into());
    });
    state::replace(&clients.dynamodb, config, None, &idle, now)
        .await
        .map_err(|e| format!("recording the stack idle on {STABLE}: {e}"))?;
    // As `cargo xtask publish` does: the target signal's proxy first, then the recommender.
    if let Some(signal) = signal {
        let bytes = std::fs::read(signal).map_err(|e| format!("{}: {e}", signal.display()))?;
        canaryctl::publish::upload_artifact(
            &clients.s3,
            &config.artifact_bucket,
            &config.artifact_prefix,
            RELEASE,
            contract::release::Artifact::Signal,
            &bytes,
        )
        .await
        .map_err(|e| format!("publishing {RELEASE}'s target signal: {e}"))?;
    }
    let bytes = std::fs::read(binary).map_err(|e| format!("{}: {e}", binary.display()))?;
    canaryctl::publish::upload(
        &clients.s3,
        &config.artifact_bucket,
        &config.artifact_prefix,
        RELEASE,
        &bytes,
    )
    .await
    .map_err(|e| format!("publishing {RELEASE}: {e}"))?;
    let target = Target {
        clients: clients.clone(),
        config: config.clone(),
    };
    canaryctl::release::release(&target, RELEASE, false, now)
        .await
        .map_err(|e| format!("release {RELEASE}: {e}"))
}

/// Finishes every instance refresh once the fleet's HAProxy server points at the process of the
/// version its pointer names (the canary's server already does; the stable one is repointed).
pub async fn fleets(
    ctx: Arc<Ctx>,
    refreshes: Arc<InstanceRefreshes>,
    processes: Processes,
) -> Result<(), String> {
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        for refresh in refreshes.started() {
            if refresh.status != "InProgress" {
                continue;
            }
            let (fleet, server) = if refresh.group == ctx.config.stable_fleet {
                (Fleet::Stable, haproxy::STABLE_SERVER)
            } else if refresh.group == ctx.config.canary_fleet {
                (Fleet::Canary, haproxy::CANARY_SERVER)
            } else {
                return Err(format!("a refresh of an unknown group {}", refresh.group));
            };
            let version = controller::fleet::pointer(&ctx.clients, &ctx.config, fleet)
                .await
                .map_err(|e| format!("reading the {} pointer: {e}", fleet.as_str()))?
                .ok_or_else(|| format!("a {} refresh without a pointer", fleet.as_str()))?;
            let port = processes
                .port_of(&version)
                .ok_or_else(|| format!("the lab runs no process of version {version}"))?;
            // The canary's server already points at the release (or at its faulty twin).
            if fleet == Fleet::Stable {
                haproxy::repoint(&ctx.socket, server, port).await?;
            }
            refreshes.finish(&refresh.group, "Successful");
            ctx.recorder.event_with(
                "fleet",
                "refreshed",
                format!("{} fleet serves {version}", fleet.as_str()),
                json!({"fleet": fleet.as_str(), "version": version, "port": port}),
            );
        }
    }
}

/// What the state table holds at the end: the lifecycle's state and the release's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateTable {
    pub status: String,
    pub version: Option<String>,
    pub stable_version: Option<String>,
    /// The release record's outcome: `in_progress`, `released`, `rolled_back`.
    pub record_outcome: Option<String>,
}

/// Reads the state item and the release's record.
pub async fn recorded(clients: &Clients, config: &Config) -> Result<StateTable, String> {
    let rec = state::read(&clients.dynamodb, config)
        .await
        .map_err(|e| format!("reading the state: {e}"))?
        .ok_or("the state table holds no state")?;
    let records = state::releases(&clients.dynamodb, config)
        .await
        .map_err(|e| format!("reading the release records: {e}"))?;
    Ok(StateTable {
        status: rec.canary.status.as_str().into(),
        version: rec.release.version,
        stable_version: rec.release.stable_version,
        record_outcome: records
            .iter()
            .rev()
            .find(|r| r.version == RELEASE)
            .map(|r| r.outcome.clone()),
    })
}
