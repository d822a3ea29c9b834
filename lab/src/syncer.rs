//! The syncer: the emulator's listener is the source of truth for the split, HAProxy follows it.
//! Every 200 ms it reads the listener and HAProxy's weights and writes HAProxy's when they differ
//! (also after a HAProxy reload reset them), so a `ModifyListener` is live within well under 1 s.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::context::Ctx;
use crate::haproxy;
use crate::weights::HaproxyWeights;

pub const POLL: Duration = Duration::from_millis(200);

/// Runs until dropped; publishes each split it applied on `applied`.
pub async fn run(ctx: Arc<Ctx>, applied: watch::Sender<HaproxyWeights>) -> Result<(), String> {
    let mut interval = tokio::time::interval(POLL);
    loop {
        interval.tick().await;
        let live = controller::listener::read(&ctx.clients.elbv2, &ctx.config)
            .await
            .map_err(|e| format!("DescribeListeners: {e}"))?
            .weights;
        *ctx.listener.lock().expect("listener lock") = Some(live);
        let want = HaproxyWeights::from_listener(live);
        let stats = haproxy::stats(&ctx.socket).await?;
        let have = HaproxyWeights {
            stable: stats.stable.weight,
            canary: stats.canary.weight,
        };
        if have == want {
            continue;
        }
        let started = Instant::now();
        haproxy::set_weights(&ctx.socket, want).await?;
        let took = started.elapsed();
        ctx.recorder.event_with(
            "syncer",
            "weights",
            format!(
                "HAProxy stable {} / canary {} (listener {live}; applied in {} ms)",
                want.stable,
                want.canary,
                took.as_millis()
            ),
            serde_json::json!({"stable": want.stable, "canary": want.canary}),
        );
        applied.send_replace(want);
    }
}
