//! Names built once for the resources and the functions' environment: the architecture, the
//! functions, the alarms and the schedule, and the functions' concurrency.

use crate::cfn::{Expr, Sub};

/// The Lambda instruction set, a synth option (`cargo xtask synth --arch`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Architecture {
    #[default]
    X86_64,
    Arm64,
}

impl Architecture {
    pub fn parse(value: &str) -> Result<Architecture, String> {
        match value {
            "x86_64" | "amd64" => Ok(Architecture::X86_64),
            "arm64" | "aarch64" => Ok(Architecture::Arm64),
            other => Err(format!(
                "unknown architecture `{other}`: use x86_64 or arm64"
            )),
        }
    }

    pub fn lambda_name(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
}

/// A controller function: its bundle and its role in the canary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunctionKind {
    Promotion,
    Rollback,
}

impl FunctionKind {
    pub const ALL: [FunctionKind; 2] = [FunctionKind::Promotion, FunctionKind::Rollback];

    /// The binary's name under `functions/`, and its bundle folder under `build/lambda/`.
    pub const fn binary(self) -> &'static str {
        match self {
            FunctionKind::Promotion => "promotion",
            FunctionKind::Rollback => "rollback",
        }
    }

    /// Where `cargo xtask synth` writes the bundle, relative to the template in `templates/`.
    pub fn code_path(self) -> String {
        format!("../build/lambda/{}/bootstrap.zip", self.binary())
    }

    pub(super) fn logical_prefix(self) -> &'static str {
        match self {
            FunctionKind::Promotion => "PromotionFunction",
            FunctionKind::Rollback => "RollbackFunction",
        }
    }
}

/// The alarms on the canary whose ALARM state rolls the canary back: three on the ALB's metrics, always,
/// and two on the target signal's 10 s metrics when `TargetSignal` is enabled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlarmKind {
    ErrorRate,
    Latency,
    UnhealthyHosts,
    TargetErrorRate,
    TargetLatency,
}

impl AlarmKind {
    pub const ALL: [AlarmKind; 5] = [
        AlarmKind::ErrorRate,
        AlarmKind::Latency,
        AlarmKind::UnhealthyHosts,
        AlarmKind::TargetErrorRate,
        AlarmKind::TargetLatency,
    ];

    /// The alarm name's suffix after `<stack name>-`.
    pub fn suffix(self) -> &'static str {
        match self {
            AlarmKind::ErrorRate => "canary-error-rate",
            AlarmKind::Latency => "canary-p99-latency",
            AlarmKind::UnhealthyHosts => "canary-unhealthy-hosts",
            AlarmKind::TargetErrorRate => "canary-target-error-rate",
            AlarmKind::TargetLatency => "canary-target-p90-latency",
        }
    }

    pub(super) fn logical_id(self) -> &'static str {
        match self {
            AlarmKind::ErrorRate => "CanaryErrorRateAlarm",
            AlarmKind::Latency => "CanaryLatencyAlarm",
            AlarmKind::UnhealthyHosts => "CanaryUnhealthyHostsAlarm",
            AlarmKind::TargetErrorRate => "CanaryTargetErrorRateAlarm",
            AlarmKind::TargetLatency => "CanaryTargetLatencyAlarm",
        }
    }

    /// Exists only with `TargetSignal=enabled` (it reads `AlbCanary/Targets`).
    pub fn needs_target_signal(self) -> bool {
        matches!(self, AlarmKind::TargetErrorRate | AlarmKind::TargetLatency)
    }
}

/// An alarm's name: `<stack name>-<suffix>`. Named rather than generated because the rollback
/// function's environment lists the alarms and the alarms' actions name the function: generated
/// names would make that a circular dependency.
pub fn alarm_name(stack_name: &str, kind: AlarmKind) -> String {
    format!("{stack_name}-{}", kind.suffix())
}

/// The promotion schedule's name before the stack's unique ID. Named for the same reason as
/// [`alarm_name`], but not after the stack: a schedule name has at most 64 characters and a stack
/// name up to 128. The stack ID's UUID (36 characters) keeps it unique per stack.
pub const SCHEDULE_NAME_PREFIX: &str = "alb-canary-promotion-";

/// Reserved concurrency: one promotion at a time (two concurrent runs could both move a step),
/// and one rollback per alarm, so that alarms firing together are never throttled.
pub const PROMOTION_CONCURRENCY: u32 = 1;
pub const ROLLBACK_CONCURRENCY: u32 = AlarmKind::ALL.len() as u32;

pub(super) fn schedule_name_expr() -> Expr {
    Expr::join(
        "",
        [
            Expr::from(SCHEDULE_NAME_PREFIX),
            Expr::split_part("/", Expr::pseudo("AWS::StackId"), 2),
        ],
    )
}

pub(super) fn stack_scoped(suffix: &str) -> Expr {
    Sub::new(format!("${{AWS::StackName}}-{suffix}")).build()
}
