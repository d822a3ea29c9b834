//! The controller's reach into the fleets: their Auto Scaling groups (the canary's follows the
//! platform) and the grants that move a fleet to a version — its pointer object, then an instance
//! refresh of its own group.

use crate::cfn::resources::{AutoScalingGroup, Statement};
use crate::cfn::{Expr, Handle, Named, Sub};
use crate::compute::Compute;
use crate::parameters::{Conditions, Parameters};
use crate::storage::Storage;

use super::allow;

/// What the controller reaches besides the load balancer: the fleets it moves between versions
/// and the bucket holding their version pointers.
pub struct Fleets<'a> {
    pub parameters: &'a Parameters,
    pub conditions: &'a Conditions,
    pub storage: &'a Storage,
    pub compute: &'a Compute,
}

/// The canary fleet's Auto Scaling group: the canary's instances, or the Docker host.
pub(super) fn canary_fleet(fleets: &Fleets) -> Expr {
    Expr::if_(
        &fleets.conditions.canary_on_docker,
        fleets.compute.docker_host_group.r#ref(),
        fleets.compute.canary_group.r#ref(),
    )
}

/// An Auto Scaling group's ARN by name (its ARN holds a generated id no attribute returns).
fn group_arn(group: &Handle<AutoScalingGroup>) -> Expr {
    Sub::new(format!(
        "arn:${{AWS::Partition}}:autoscaling:${{AWS::Region}}:${{AWS::AccountId}}:autoScalingGroup:*:autoScalingGroupName/${{{}}}",
        group.logical_id()
    ))
    .var(group)
    .build()
}

/// Moving a fleet to a version: its pointer object, then an instance refresh of its group.
pub(super) fn fleet_statements(fleets: &Fleets) -> Vec<Statement> {
    let pointers = Sub::new(format!(
        "${{ArtifactBucket.Arn}}/${{ArtifactPrefix}}/{}/*",
        contract::release::FLEETS
    ))
    .var(&fleets.storage.artifact_bucket)
    .var(&fleets.parameters.artifact_prefix)
    .build();
    vec![
        allow(vec!["s3:PutObject"], vec![pointers]),
        refresh_statement(fleets),
        // DescribeInstanceRefreshes has no resource type in IAM: `*` is the only form.
        allow(
            vec!["autoscaling:DescribeInstanceRefreshes"],
            vec![Expr::lit("*")],
        ),
    ]
}

/// An instance refresh of either fleet's group (the canary's follows the platform).
pub(super) fn refresh_statement(fleets: &Fleets) -> Statement {
    allow(
        vec!["autoscaling:StartInstanceRefresh"],
        vec![
            group_arn(&fleets.compute.stable_group),
            Expr::if_(
                &fleets.conditions.canary_on_docker,
                group_arn(&fleets.compute.docker_host_group),
                group_arn(&fleets.compute.canary_group),
            ),
        ],
    )
}

/// The released artifacts and the fleets' pointers, under the stack's prefix.
pub(super) fn artifacts(fleets: &Fleets) -> Expr {
    Sub::new("${ArtifactBucket.Arn}/${ArtifactPrefix}/*")
        .var(&fleets.storage.artifact_bucket)
        .var(&fleets.parameters.artifact_prefix)
        .build()
}
