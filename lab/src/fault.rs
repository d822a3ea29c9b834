//! The rollback scenario's fault, keyed to the canary's first step as HAProxy applies it: `errors`
//! points the canary's server at a second canary started with the fault knobs; `kill` sends the canary's process
//! SIGKILL halfway through the step's bake, and nothing restarts it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::watch;

use crate::context::Ctx;
use crate::haproxy;
use crate::service::Faults;
use crate::weights::HaproxyWeights;

/// Which fault the rollback scenario injects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// The canary's answers fail and slow down (--fault-error-rate, --fault-latency-ms).
    Errors,
    /// The canary's process dies (SIGKILL) mid-step, halfway through the bake; nothing restarts it, and
    /// its target group keeps its weight as an ALB's does (fail open).
    Kill,
}

/// The event every fault records when it takes effect; the summary measures from it.
pub const ON: &str = "fault_on";

/// Waits until HAProxy first gives canary `at_percent` or more.
async fn first_step(
    applied: &mut watch::Receiver<HaproxyWeights>,
    at_percent: f64,
) -> Result<HaproxyWeights, String> {
    loop {
        applied
            .changed()
            .await
            .map_err(|_| "the syncer stopped".to_owned())?;
        let w = *applied.borrow();
        if w.canary > 0 && w.canary_percent() >= at_percent {
            return Ok(w);
        }
    }
}

/// At the canary's first step, the canary's server is pointed at the canary process started with the fault knobs.
pub async fn errors_on(
    ctx: Arc<Ctx>,
    mut applied: watch::Receiver<HaproxyWeights>,
    at_percent: f64,
    faulty_port: u16,
    faults: Faults,
) -> Result<(), String> {
    first_step(&mut applied, at_percent).await?;
    haproxy::repoint(&ctx.socket, haproxy::CANARY_SERVER, faulty_port).await?;
    ctx.recorder.event_with(
        "fault",
        ON,
        format!(
            "canary now answers {:.0} % of requests with 500 (+{} ms)",
            faults.error_rate * 100.0,
            faults.extra_latency_ms
        ),
        json!({"kind": "errors", "error_rate": faults.error_rate, "extra_latency_ms": faults.extra_latency_ms}),
    );
    Ok(())
}

/// `after` into the canary's first step, SIGKILL to the canary's process (`pid`). HAProxy's canary counters are read
/// right after the kill: every request the canary's server counts from then on went to a dead process.
pub async fn kill_at_step(
    ctx: Arc<Ctx>,
    mut applied: watch::Receiver<HaproxyWeights>,
    at_percent: f64,
    after: Duration,
    pid: u32,
) -> Result<(), String> {
    first_step(&mut applied, at_percent).await?;
    tokio::time::sleep(after).await;
    // SAFETY: kill(2) of the lab's own canary process, whose pid its guard read from /proc.
    if unsafe { libc::kill(pid as i32, libc::SIGKILL) } != 0 {
        return Err(format!(
            "SIGKILL to the canary's process {pid}: {}",
            std::io::Error::last_os_error()
        ));
    }
    let at_kill = haproxy::stats(&ctx.socket).await?.canary;
    ctx.recorder.event_with(
        "fault",
        ON,
        format!(
            "the canary's process {pid} killed (SIGKILL) at HAProxy weight {}; nothing restarts it",
            at_kill.weight
        ),
        json!({"kind": "kill", "pid": pid, "canary_at_kill": at_kill}),
    );
    Ok(())
}
