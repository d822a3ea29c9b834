//! One timeline sample per second from HAProxy's own counters and the request log.

use std::sync::Arc;
use std::time::Duration;

use crate::context::Ctx;
use crate::haproxy::{self, Stats};
use crate::timeline::Sample;

pub async fn run(ctx: Arc<Ctx>) -> Result<(), String> {
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    let mut before: Option<(f64, Stats)> = None;
    loop {
        interval.tick().await;
        let stats = haproxy::stats(&ctx.socket).await?;
        let t = ctx.recorder.t();
        let log = ctx.book.take_second();
        let listener = ctx
            .listener
            .lock()
            .expect("listener lock")
            .map(|w| w.v2_percent());
        let (v1_rps, v2_rps, v2_5xx) = match before {
            Some((t0, b)) if t > t0 => {
                let dt = t - t0;
                let g = crate::bridge::growth;
                (
                    g(b.v1.stot, stats.v1.stot) as f64 / dt,
                    g(b.v2.stot, stats.v2.stot) as f64 / dt,
                    (
                        g(b.v2.stot, stats.v2.stot),
                        g(b.v2.hrsp_5xx, stats.v2.hrsp_5xx),
                    ),
                )
            }
            _ => (0.0, 0.0, (0, 0)),
        };
        ctx.recorder.sample(Sample {
            t,
            haproxy: stats,
            listener_v2_percent: listener,
            v1_rps,
            v2_rps,
            v2_error_percent: (v2_5xx.0 > 0).then(|| 100.0 * v2_5xx.1 as f64 / v2_5xx.0 as f64),
            v1_latency_ms: log.v1.mean_ms(),
            v2_latency_ms: log.v2.mean_ms(),
        });
        before = Some((t, stats));
    }
}
