//! The canary lab (`cargo xtask lab`): a canary rehearsed end to end on one machine.
//!
//! Traffic → HAProxy (the ALB stand-in) → the real stable/canary `recommender` processes; HAProxy's
//! counters and per-request log → the metrics bridge → `AWS/ApplicationELB` metrics in the moto
//! emulator → the real promotion and rollback code (on a compressed schedule, and when the stack's
//! alarms, evaluated here as CloudWatch would, fire) → `ModifyListener` → the syncer → HAProxy's
//! weights → traffic. The ALB's target health checks ([`target_health`]) only publish host
//! counts: HAProxy, like an ALB whose target group has no healthy target, keeps the weights. A scenario is a release's lifecycle ([`release`]): from the stack idle on
//! the stable version, through the canary, to idle on the release or to its rollback.
//! Everything listens on 127.0.0.1 and stops at the end.

pub mod alarm_spec;
pub mod alarms;
pub mod bridge;
pub mod context;
pub mod fail_open;
pub mod fault;
pub mod haproxy;
pub mod logbook;
pub mod metric_math;
pub mod options;
pub mod output;
pub mod plot;
pub mod promoter;
pub mod release;
pub mod sampler;
pub mod scenario;
pub mod service;
pub mod syncer;
pub mod target_health;
pub mod timeline;
pub mod timing;
pub mod traffic;
pub mod weights;
