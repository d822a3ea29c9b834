//! The promotion and rollback functions: for each, its log group, its role (least privilege),
//! the function and where its failed asynchronous invocations go.

use indexmap::IndexMap;

use super::fleets::{Fleets, canary_fleet, fleet_statements};
use super::names::{AlarmKind, Architecture, FunctionKind, schedule_name_expr, stack_scoped};
use super::permissions::{assume_role, controller_statements};
use super::{DESCRIBE_WILDCARDS, PROMOTION_CONCURRENCY, ROLLBACK_CONCURRENCY, Shared};
use crate::cfn::resources::{InlinePolicy, PolicyDocument, Role};
use crate::cfn::serverless::{
    Destination, DestinationConfig, EventInvokeConfig, Function, FunctionEnvironment, LogGroup,
    LoggingConfig,
};
use crate::cfn::{Attributes, Expr, Fsbp, Handle, Template, Waiver};
use crate::load_balancer::LoadBalancing;

/// Both functions, promotion first.
pub(super) fn build(
    template: &mut Template,
    lb: &LoadBalancing,
    fleets: &Fleets,
    architecture: Architecture,
    shared: &Shared,
) -> [Handle<Function>; 2] {
    FunctionKind::ALL.map(|kind| {
        let prefix = kind.logical_prefix();
        let log_group = log_group(template, prefix, shared);
        let role = role(template, prefix, lb, fleets, shared, &log_group);
        let environment = environment(lb, fleets, shared);
        let function = function(template, kind, architecture, &role, &log_group, environment);
        template.add(
            &format!("{prefix}AsyncFailures"),
            EventInvokeConfig {
                function_name: function.r#ref(),
                qualifier: "$LATEST",
                maximum_retry_attempts: 2,
                maximum_event_age_in_seconds: 3600,
                destination_config: DestinationConfig {
                    on_failure: Destination {
                        destination: shared.dead_letters.get_att("Arn"),
                    },
                },
            },
        );
        function
    })
}

fn log_group(template: &mut Template, prefix: &str, shared: &Shared) -> Handle<LogGroup> {
    template.add_with(
        &format!("{prefix}LogGroup"),
        LogGroup {
            retention_in_days: shared.params.log_retention_days.r#ref(),
        },
        Attributes::new().waive(&[Waiver {
            control: Fsbp::NoControl,
            checkov: &["CKV_AWS_158"],
            cfn_nag: &["W84"],
            guard: &["CLOUDWATCH_LOG_GROUP_ENCRYPTED"],
            reason: "CloudWatch Logs encrypts every log group at rest, and a customer key would need a key policy for the logs service to protect decision lines that hold no secrets",
        }, Waiver {
            control: Fsbp::NoControl,
            checkov: &[],
            cfn_nag: &[],
            guard: &["CW_LOGGROUP_RETENTION_PERIOD_CHECK"],
            reason: "the retention is the LogRetentionDays parameter (30 days by default, 365 in the governed-account profile), which the rule cannot read through the Ref",
        }]),
    )
}

fn role(
    template: &mut Template,
    prefix: &str,
    lb: &LoadBalancing,
    fleets: &Fleets,
    shared: &Shared,
    log_group: &Handle<LogGroup>,
) -> Handle<Role> {
    template.add_with(
        &format!("{prefix}Role"),
        Role {
            assume_role_policy_document: assume_role("lambda.amazonaws.com"),
            managed_policy_arns: Vec::new(),
            policies: vec![InlinePolicy {
                policy_name: "canary-controller",
                policy_document: PolicyDocument::new(
                    controller_statements(
                        lb,
                        &shared.table,
                        &shared.topic,
                        log_group,
                        &shared.dead_letters,
                        &shared.schedule_arn,
                        &shared.scheduler_role,
                    )
                    .into_iter()
                    // Promotion moves fleets; rollback moves the stable fleet back when a
                    // release is rolled back while the stable fleet was moving to it.
                    .chain(fleet_statements(fleets))
                    .collect(),
                ),
            }],
        },
        Attributes::new().waive(&[
            crate::security::INLINE_POLICY_WAIVER,
            Waiver {
                cfn_nag: &["W11"],
                ..DESCRIBE_WILDCARDS
            },
        ]),
    )
}

fn function(
    template: &mut Template,
    kind: FunctionKind,
    architecture: Architecture,
    role: &Handle<Role>,
    log_group: &Handle<LogGroup>,
    environment: FunctionEnvironment,
) -> Handle<Function> {
    template.add_with(
        kind.logical_prefix(),
        Function {
            description: match kind {
                FunctionKind::Promotion => {
                    "alb-canary: evaluates the canary against the stable fleet and moves the listener weights".into()
                }
                FunctionKind::Rollback => "alb-canary: a canary alarm sets the canary's weight to 0".into(),
            },
            runtime: "provided.al2023",
            handler: "bootstrap",
            architectures: vec![architecture.lambda_name()],
            code: kind.code_path(),
            role: role.get_att("Arn"),
            memory_size: 128,
            timeout: 60,
            reserved_concurrent_executions: match kind {
                FunctionKind::Promotion => PROMOTION_CONCURRENCY,
                FunctionKind::Rollback => ROLLBACK_CONCURRENCY,
            },
            environment,
            logging_config: LoggingConfig {
                log_group: log_group.r#ref(),
                log_format: "JSON",
            },
            tags: Vec::new(),
        },
        // W3002: `Code` is a local path on purpose: `sam deploy` (our only deploy path) packages
        // and uploads it, and `cargo xtask synth` builds the zip it names.
        Attributes::new().ignore_lint(&["W3002"]).waive(&[
            Waiver {
                control: Fsbp::Waived("Lambda.3"),
                checkov: &["CKV_AWS_117"],
                cfn_nag: &["W89"],
                guard: &["LAMBDA_INSIDE_VPC"],
                reason: "the functions call only AWS APIs, which a VPC would reach only through NAT or interface endpoints added for nothing",
            },
            Waiver {
                control: Fsbp::NoControl,
                checkov: &["CKV_AWS_116"],
                cfn_nag: &[],
                guard: &["LAMBDA_DLQ_CHECK"],
                reason: "failed asynchronous invocations go to the dead-letter queue through the function's EventInvokeConfig OnFailure destination, whose invocation record carries the function's response along with the event, where a DeadLetterConfig would keep only the event",
            },
            Waiver {
                control: Fsbp::NoControl,
                checkov: &["CKV_AWS_173"],
                cfn_nag: &[],
                guard: &[],
                reason: "the environment holds only resource names and the plan, no secrets, and Lambda encrypts it at rest with its AWS-managed key",
            },
        ]),
    )
}

/// Both functions get the same settings: the controller's configuration is one type, and the
/// operator commands read it from either function.
fn environment(lb: &LoadBalancing, fleets: &Fleets, shared: &Shared) -> FunctionEnvironment {
    let mut variables: IndexMap<&'static str, Expr> = IndexMap::new();
    variables.insert(contract::env::LISTENER_ARN, lb.live_listener.clone());
    variables.insert(
        contract::env::STABLE_TARGET_GROUP_ARN,
        lb.target_group_stable.r#ref(),
    );
    variables.insert(
        contract::env::CANARY_TARGET_GROUP_ARN,
        lb.canary_target_group.clone(),
    );
    variables.insert(
        contract::env::LOAD_BALANCER_DIMENSION,
        lb.alb.get_att("LoadBalancerFullName"),
    );
    variables.insert(contract::env::STATE_TABLE, shared.table.r#ref());
    variables.insert(contract::env::SCHEDULE_NAME, schedule_name_expr());
    variables.insert(contract::env::SCHEDULE_GROUP, Expr::lit("default"));
    variables.insert(contract::env::TOPIC_ARN, shared.topic.r#ref());
    variables.insert(contract::env::PLAN, shared.params.plan.r#ref());
    variables.insert(contract::env::ROLLBACK_ALARMS, alarm_names(fleets));
    variables.insert(
        contract::env::HISTORY_DAYS,
        shared.params.history_retention_days.r#ref(),
    );
    variables.insert(
        contract::env::ARTIFACT_BUCKET,
        fleets.storage.artifact_bucket.r#ref(),
    );
    variables.insert(
        contract::env::ARTIFACT_PREFIX,
        fleets.parameters.artifact_prefix.r#ref(),
    );
    variables.insert(
        contract::env::STABLE_FLEET,
        fleets.compute.stable_group.r#ref(),
    );
    variables.insert(contract::env::CANARY_FLEET, canary_fleet(fleets));
    variables.insert(
        contract::env::TARGET_SIGNAL,
        fleets.parameters.target_signal.r#ref(),
    );
    FunctionEnvironment { variables }
}

/// The alarms that exist: the rollback function acts on these only, `status` reads these.
fn alarm_names(fleets: &Fleets) -> Expr {
    let names = |with_target_signal: bool| {
        Expr::join(
            ",",
            AlarmKind::ALL
                .iter()
                .filter(|kind| with_target_signal || !kind.needs_target_signal())
                .map(|kind| stack_scoped(kind.suffix())),
        )
    };
    Expr::if_(
        &fleets.conditions.target_signal_on,
        names(true),
        names(false),
    )
}
