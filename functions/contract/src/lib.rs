//! What the synthesized stack and the controller functions agree on: the environment variables
//! the functions read at cold start, the canary plan's JSON form, metric and table names.
//! Both sides use these values, so a name is never typed twice.

// This code runs inside the Lambdas, where a panic aborts the invocation: errors are returned.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod release;

/// Environment variables the promotion and rollback functions read once at cold start.
/// Every one is required unless its doc says otherwise; a missing or malformed one stops the cold start.
pub mod env {
    /// ARN of the ALB listener whose weighted forward action the controller owns.
    pub const LISTENER_ARN: &str = "CANARY_LISTENER_ARN";
    /// ARN of the stable target group.
    pub const STABLE_TARGET_GROUP_ARN: &str = "CANARY_STABLE_TARGET_GROUP_ARN";
    /// ARN of the canary target group (TG-V2, or TG-V2-Docker on the docker platform).
    pub const CANARY_TARGET_GROUP_ARN: &str = "CANARY_CANARY_TARGET_GROUP_ARN";
    /// The `LoadBalancer` metric dimension: the `app/<name>/<id>` suffix of the ALB's ARN
    /// (CloudFormation: `GetAtt Alb.LoadBalancerFullName`).
    pub const LOAD_BALANCER_DIMENSION: &str = "CANARY_LOAD_BALANCER_DIMENSION";
    /// Name of the DynamoDB table holding state and history (keys: [`crate::table`]).
    pub const STATE_TABLE: &str = "CANARY_STATE_TABLE";
    /// Name of the EventBridge Scheduler schedule that invokes the promotion function.
    pub const SCHEDULE_NAME: &str = "CANARY_SCHEDULE_NAME";
    /// Optional: the schedule's group; `default` when unset.
    pub const SCHEDULE_GROUP: &str = "CANARY_SCHEDULE_GROUP";
    /// ARN of the SNS topic that receives rollback, drift and completion notifications.
    pub const TOPIC_ARN: &str = "CANARY_TOPIC_ARN";
    /// The canary [`crate::Plan`] as JSON.
    pub const PLAN: &str = "CANARY_PLAN";
    /// Comma-separated names of the CloudWatch alarms on the canary whose ALARM state triggers a rollback.
    pub const ROLLBACK_ALARMS: &str = "CANARY_ROLLBACK_ALARMS";
    /// Days a history item or release record is kept before DynamoDB's TTL deletes it.
    pub const HISTORY_DAYS: &str = "CANARY_HISTORY_DAYS";
    /// The artifact bucket: releases at [`crate::release::binary_key`], fleet pointers at
    /// [`crate::release::fleet_key`].
    pub const ARTIFACT_BUCKET: &str = "CANARY_ARTIFACT_BUCKET";
    /// The key prefix of the artifacts in [`ARTIFACT_BUCKET`] (the stack's `ArtifactPrefix`).
    pub const ARTIFACT_PREFIX: &str = "CANARY_ARTIFACT_PREFIX";
    /// Name of the stable fleet's Auto Scaling group.
    pub const STABLE_FLEET: &str = "CANARY_STABLE_FLEET";
    /// Name of the canary fleet's Auto Scaling group (canary instances, or the Docker host).
    pub const CANARY_FLEET: &str = "CANARY_CANARY_FLEET";
    /// The stack's `TargetSignal`: [`TARGET_SIGNAL_ENABLED`] when every instance runs the target
    /// signal's proxy (a release then needs the proxy published too), else `disabled`.
    pub const TARGET_SIGNAL: &str = "CANARY_TARGET_SIGNAL";
    pub const TARGET_SIGNAL_ENABLED: &str = "enabled";
    pub const TARGET_SIGNAL_DISABLED: &str = "disabled";
}

/// The DynamoDB table: a string partition key and a string sort key.
pub mod table {
    /// Partition key (type S). Its value is the listener ARN, so one table can hold several canaries.
    pub const PARTITION_KEY: &str = "pk";
    /// Sort key (type S): [`STATE_SORT_KEY`] for the current state, `HISTORY#...` for each decision.
    pub const SORT_KEY: &str = "sk";
    /// Sort key of the single item holding the current state.
    pub const STATE_SORT_KEY: &str = "STATE";
    /// Prefix of the sort key of each history item (one per decision).
    pub const HISTORY_PREFIX: &str = "HISTORY#";
    /// Prefix of the sort key of each release record (one per `cargo xtask release`).
    pub const RELEASE_PREFIX: &str = "RELEASE#";
    /// The table's TTL attribute (epoch seconds) on history items and release records.
    pub const TTL_ATTRIBUTE: &str = "expires_at";
}

/// The canary weight the functions publish (CloudWatch embedded metric format) at each decision.
pub mod metric {
    pub const NAMESPACE: &str = "AlbCanary";
    /// The canary's share of the listener's traffic, in percent (0–100).
    pub const CANARY_WEIGHT: &str = "CanaryWeightPercent";
    /// The only dimension; its value is the `LoadBalancer` dimension of the ALB.
    pub const DIMENSION: &str = "LoadBalancer";
}

/// ALB metrics the controller reads (namespace `AWS/ApplicationELB`, dimensions `LoadBalancer` + `TargetGroup`).
pub mod alb_metric {
    pub const NAMESPACE: &str = "AWS/ApplicationELB";
    pub const REQUEST_COUNT: &str = "RequestCount";
    pub const TARGET_5XX: &str = "HTTPCode_Target_5XX_Count";
    /// Connections the load balancer could not open to a target: a canary that refuses connections
    /// fails its users as surely as one answering 5XX, so the judge counts both as errors.
    pub const TARGET_CONNECTION_ERRORS: &str = "TargetConnectionErrorCount";
    pub const RESPONSE_TIME: &str = "TargetResponseTime";
}

/// The targets' own measurement of the ALB's target metrics (`services/signal`, a proxy on each
/// instance): the same metric names and dimensions as [`alb_metric`], published every 10 s at
/// 1-second storage resolution, so the controller reads either namespace with the same query.
pub mod target_metric {
    pub const NAMESPACE: &str = "AlbCanary/Targets";
}

/// The event the promotion schedule sends (EventBridge Scheduler target `Input`): EventBridge's
/// shape, so the promotion function accepts it like a scheduled EventBridge rule's event.
pub mod schedule_event {
    pub const DETAIL_TYPE: &str = "Scheduled Event";
    /// Our own source; the function also accepts `aws.events` and `aws.scheduler`.
    pub const SOURCE: &str = "alb-canary.schedule";
    /// The schedule target's `Input`.
    pub const INPUT: &str = r#"{"version":"0","source":"alb-canary.schedule","detail-type":"Scheduled Event","detail":{}}"#;
}

mod plan;

pub use plan::{ErrorRules, HealthRules, LatencyBreach, LatencyRules, Method, Plan, Signal};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_input_carries_source_and_detail_type() {
        let input: serde_json::Value = serde_json::from_str(schedule_event::INPUT).unwrap();
        assert_eq!(input["source"], schedule_event::SOURCE);
        assert_eq!(input["detail-type"], schedule_event::DETAIL_TYPE);
    }
}
