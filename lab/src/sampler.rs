//! One timeline sample per second from HAProxy's own counters and the request log.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use crate::context::Ctx;
use crate::haproxy::{self, Stats};
use crate::timeline::Sample;

/// The span of the error rate in each sample.
pub const ERROR_RATE_SECONDS: usize = 5;

pub async fn run(ctx: Arc<Ctx>) -> Result<(), String> {
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    let mut before: Option<(f64, Stats)> = None;
    // The canary's error rate over the last seconds: at a few canary requests per second, one second's
    // rate jumps between 0 and 50 %.
    let mut recent: VecDeque<Stats> = VecDeque::new();
    loop {
        interval.tick().await;
        let stats = haproxy::stats(&ctx.socket).await?;
        let t = ctx.recorder.t();
        let log = ctx.book.take_second();
        let listener = ctx
            .listener
            .lock()
            .expect("listener lock")
            .map(|w| w.canary_percent());
        recent.push_back(stats);
        if recent.len() > ERROR_RATE_SECONDS + 1 {
            recent.pop_front();
        }
        let oldest = recent.front().copied().unwrap_or(stats);
        let g = crate::bridge::growth;
        // A refused connection is a failed request too (the client gets HAProxy's 503).
        let failed = |s: &Stats| s.canary.hrsp_5xx + s.canary.econ + s.canary.eresp;
        let canary_5xx = (
            g(oldest.canary.stot, stats.canary.stot),
            g(failed(&oldest), failed(&stats)),
        );
        let (stable_rps, canary_rps) = match before {
            Some((t0, b)) if t > t0 => {
                let dt = t - t0;
                (
                    g(b.stable.stot, stats.stable.stot) as f64 / dt,
                    g(b.canary.stot, stats.canary.stot) as f64 / dt,
                )
            }
            _ => (0.0, 0.0),
        };
        ctx.recorder.sample(Sample {
            t,
            haproxy: stats,
            listener_canary_percent: listener,
            stable_rps,
            canary_rps,
            canary_error_percent: (canary_5xx.0 > 0)
                .then(|| 100.0 * canary_5xx.1 as f64 / canary_5xx.0 as f64),
            stable_latency_ms: log.stable.mean_ms(),
            canary_latency_ms: log.canary.mean_ms(),
        });
        before = Some((t, stats));
    }
}
