//! The controller's permissions: the functions' roles, the schedule's, and the operators' managed
//! policy. Each grants what its principal calls and nothing else (the IAM proof in `policy::iam`
//! evaluates the recorded calls against exactly these statements).

use serde_json::json;

use crate::cfn::resources::{PolicyDocument, Principal, Role, Statement};
use crate::cfn::serverless::{Function, LogGroup, Queue, Table, Topic};
use crate::cfn::{Expr, Handle, Sub};
use crate::load_balancer::LoadBalancing;

use super::fleets::{Fleets, artifacts, refresh_statement};

pub(super) fn assume_role(service: &'static str) -> PolicyDocument {
    PolicyDocument::new(vec![Statement {
        sid: None,
        effect: "Allow",
        principal: Some(Principal::Service(vec![service])),
        action: vec!["sts:AssumeRole"],
        resource: Vec::new(),
        condition: None,
    }])
}

pub(super) fn allow(action: Vec<&'static str>, resource: Vec<Expr>) -> Statement {
    Statement {
        sid: None,
        effect: "Allow",
        principal: None,
        action,
        resource,
        condition: None,
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn controller_statements(
    lb: &LoadBalancing,
    table: &Handle<Table>,
    topic: &Handle<Topic>,
    log_group: &Handle<LogGroup>,
    dead_letters: &Handle<Queue>,
    schedule_arn: &Expr,
    scheduler_role: &Handle<Role>,
) -> Vec<Statement> {
    let mut statements = vec![
        allow(
            vec!["elasticloadbalancing:ModifyListener"],
            vec![lb.live_listener.clone()],
        ),
        // Describe* calls and GetMetricData have no resource types in IAM: `*` is the only form.
        allow(
            vec![
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DescribeTargetHealth",
                "cloudwatch:GetMetricData",
            ],
            vec![Expr::lit("*")],
        ),
    ];
    statements.extend(state_and_notifications(table, topic));
    statements.extend([
        allow(
            vec!["logs:CreateLogStream", "logs:PutLogEvents"],
            vec![log_group.get_att("Arn")],
        ),
        allow(vec!["sqs:SendMessage"], vec![dead_letters.get_att("Arn")]),
    ]);
    statements.extend(schedule_control(schedule_arn, scheduler_role));
    statements
}

/// The state table (state and release records) and the notifications.
fn state_and_notifications(table: &Handle<Table>, topic: &Handle<Topic>) -> [Statement; 2] {
    [
        allow(
            vec![
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:Query",
            ],
            vec![table.get_att("Arn")],
        ),
        allow(vec!["sns:Publish"], vec![topic.r#ref()]),
    ]
}

/// Stopping and starting the promotion schedule.
fn schedule_control(schedule_arn: &Expr, scheduler_role: &Handle<Role>) -> [Statement; 2] {
    [
        allow(
            vec!["scheduler:GetSchedule", "scheduler:UpdateSchedule"],
            vec![schedule_arn.clone()],
        ),
        // UpdateSchedule re-submits the schedule's target, whose role must be passed again.
        pass_scheduler_role(scheduler_role),
    ]
}

fn pass_scheduler_role(scheduler_role: &Handle<Role>) -> Statement {
    Statement {
        sid: None,
        effect: "Allow",
        principal: None,
        action: vec!["iam:PassRole"],
        resource: vec![scheduler_role.get_att("Arn")],
        condition: Some(
            json!({ "StringEquals": { "iam:PassedToService": "scheduler.amazonaws.com" } }),
        ),
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn operator_statements(
    lb: &LoadBalancing,
    fleets: &Fleets,
    table: &Handle<Table>,
    topic: &Handle<Topic>,
    functions: [&Handle<Function>; 2],
    alarm_arns: Vec<Expr>,
    schedule_arn: &Expr,
    scheduler_role: &Handle<Role>,
) -> Vec<Statement> {
    let mut statements = vec![
        allow(
            vec!["lambda:GetFunctionConfiguration"],
            functions.iter().map(|f| f.get_att("Arn")).collect(),
        ),
        allow(
            vec!["cloudformation:DescribeStacks"],
            vec![Sub::new(
                "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/${AWS::StackName}/*",
            )
            .build()],
        ),
        allow(
            vec!["elasticloadbalancing:ModifyListener"],
            vec![lb.live_listener.clone()],
        ),
        // Describe* calls have no resource types in IAM: `*` is the only form.
        allow(
            vec![
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DescribeTargetHealth",
            ],
            vec![Expr::lit("*")],
        ),
        allow(vec!["cloudwatch:DescribeAlarms"], alarm_arns),
    ];
    statements.extend(state_and_notifications(table, topic));
    statements.extend([]);
    statements.extend(schedule_control(schedule_arn, scheduler_role));
    statements.extend([
        // `cargo xtask publish` and `release`: reads and uploads the artifacts and the fleets'
        // pointers under the stack's prefix, then refreshes the canary fleet (the stable one on
        // a first release).
        allow(
            vec!["s3:GetObject", "s3:PutObject"],
            vec![artifacts(fleets)],
        ),
        refresh_statement(fleets),
    ]);
    statements
}
