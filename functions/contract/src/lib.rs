//! What the synthesized stack and the controller functions agree on: the environment variables
//! the functions read at cold start, the canary plan's JSON form, metric and table names.
//! Both sides use these values, so a name is never typed twice.

use serde::{Deserialize, Serialize};

/// Environment variables the promotion and rollback functions read once at cold start.
/// Every one is required unless its doc says otherwise; a missing or malformed one stops the cold start.
pub mod env {
    /// ARN of the ALB listener whose weighted forward action the controller owns.
    pub const LISTENER_ARN: &str = "CANARY_LISTENER_ARN";
    /// ARN of the stable (V1) target group.
    pub const STABLE_TARGET_GROUP_ARN: &str = "CANARY_STABLE_TARGET_GROUP_ARN";
    /// ARN of the canary (V2) target group (TG-V2, or TG-V2-Docker on the docker platform).
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
    /// Comma-separated names of the CloudWatch alarms on V2 whose ALARM state triggers a rollback.
    pub const ROLLBACK_ALARMS: &str = "CANARY_ROLLBACK_ALARMS";
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
}

/// The canary weight the functions publish (CloudWatch embedded metric format) at each decision.
pub mod metric {
    pub const NAMESPACE: &str = "AlbCanary";
    /// V2's share of the listener's traffic, in percent (0–100).
    pub const CANARY_WEIGHT: &str = "CanaryWeightPercent";
    /// The only dimension; its value is the `LoadBalancer` dimension of the ALB.
    pub const DIMENSION: &str = "LoadBalancer";
}

/// ALB metrics the controller reads (namespace `AWS/ApplicationELB`, dimensions `LoadBalancer` + `TargetGroup`).
pub mod alb_metric {
    pub const NAMESPACE: &str = "AWS/ApplicationELB";
    pub const REQUEST_COUNT: &str = "RequestCount";
    pub const TARGET_5XX: &str = "HTTPCode_Target_5XX_Count";
    pub const RESPONSE_TIME: &str = "TargetResponseTime";
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

/// What to do when V2 is slower than V1 beyond the allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LatencyBreach {
    RollBack,
    Hold,
}

/// Health rules applied to the window since the current step began.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthRules {
    /// Highest tolerated V2 5XX rate (target 5XX / requests), 0.0–1.0.
    pub max_error_rate: f64,
    /// V2's latency may be at most V1's times this ratio...
    pub max_latency_ratio: Option<f64>,
    /// ...or V1's plus this margin in milliseconds: V2 breaches only when it exceeds every
    /// allowance that is set, because V2 is legitimately slower (about 50 ms) than V1.
    pub max_latency_margin_ms: Option<f64>,
    /// Absolute ceiling on V2's latency in milliseconds; above it is always a rollback.
    pub max_latency_ms: f64,
    /// Fewer V2 requests than this in the window is too little data: hold.
    pub min_requests: u64,
    /// CloudWatch statistic for `TargetResponseTime`: "p99" in production; "Average" where
    /// percentiles are not computed (the moto emulator).
    pub latency_statistic: String,
    /// Action when V2 is slower than V1 beyond the allowance.
    pub on_latency_breach: LatencyBreach,
}

impl Default for HealthRules {
    fn default() -> Self {
        HealthRules {
            max_error_rate: 0.05,
            max_latency_ratio: Some(1.5),
            max_latency_margin_ms: Some(100.0),
            max_latency_ms: 2000.0,
            min_requests: 50,
            latency_statistic: "p99".to_string(),
            on_latency_breach: LatencyBreach::RollBack,
        }
    }
}

/// A canary plan: V2's share at each step (percent), the bake time per step and the health rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Plan {
    /// V2's percentage at each step, strictly increasing, each in 1..=100, the last 100.
    pub steps: Vec<u8>,
    /// Seconds each step must run (and stay healthy) before the next.
    pub bake_seconds: u64,
    pub health: HealthRules,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            steps: vec![10, 25, 50, 100],
            bake_seconds: 600,
            health: HealthRules::default(),
        }
    }
}

impl Plan {
    /// Parses and validates a plan from its JSON form.
    pub fn from_json(json: &str) -> Result<Plan, String> {
        let plan: Plan = serde_json::from_str(json).map_err(|err| format!("not a plan: {err}"))?;
        plan.validate()?;
        Ok(plan)
    }

    /// The plan's JSON form (what [`env::PLAN`] holds).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a plan always serializes")
    }

    /// Checks what the controller relies on; the message names the bad value.
    pub fn validate(&self) -> Result<(), String> {
        if self.steps.is_empty() {
            return Err("steps is empty".into());
        }
        if let Some(bad) = self.steps.iter().find(|s| **s == 0 || **s > 100) {
            return Err(format!("step {bad} is outside 1..=100"));
        }
        if self.steps.windows(2).any(|w| w[0] >= w[1]) {
            return Err(format!(
                "steps {:?} are not strictly increasing",
                self.steps
            ));
        }
        if self.steps.last() != Some(&100) {
            return Err(format!("steps {:?} do not end at 100", self.steps));
        }
        let h = &self.health;
        if !(0.0..=1.0).contains(&h.max_error_rate) {
            return Err(format!(
                "max_error_rate {} is outside 0..=1",
                h.max_error_rate
            ));
        }
        if let Some(r) = h.max_latency_ratio
            && !(r.is_finite() && r >= 1.0)
        {
            return Err(format!("max_latency_ratio {r} is below 1 or not finite"));
        }
        if let Some(m) = h.max_latency_margin_ms
            && !(m.is_finite() && m >= 0.0)
        {
            return Err(format!(
                "max_latency_margin_ms {m} is negative or not finite"
            ));
        }
        if !(h.max_latency_ms.is_finite() && h.max_latency_ms > 0.0) {
            return Err(format!(
                "max_latency_ms {} is not positive",
                h.max_latency_ms
            ));
        }
        if h.min_requests == 0 {
            return Err("min_requests is 0: zero requests would be enough to promote".into());
        }
        if h.latency_statistic.trim().is_empty() {
            return Err("latency_statistic is empty".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_input_carries_source_and_detail_type() {
        let input: serde_json::Value = serde_json::from_str(schedule_event::INPUT).unwrap();
        assert_eq!(input["source"], schedule_event::SOURCE);
        assert_eq!(input["detail-type"], schedule_event::DETAIL_TYPE);
    }

    #[test]
    fn default_plan_is_valid_and_round_trips() {
        let plan = Plan::default();
        plan.validate().unwrap();
        assert_eq!(Plan::from_json(&plan.to_json()).unwrap(), plan);
        assert_eq!(plan.steps, vec![10, 25, 50, 100]);
    }

    #[test]
    fn partial_json_takes_defaults() {
        let plan =
            Plan::from_json(r#"{"steps":[20,100],"health":{"latency_statistic":"Average"}}"#)
                .unwrap();
        assert_eq!(plan.steps, vec![20, 100]);
        assert_eq!(plan.health.latency_statistic, "Average");
        assert_eq!(
            plan.health.min_requests,
            HealthRules::default().min_requests
        );
    }

    #[test]
    fn bad_plans_are_refused_naming_the_value() {
        for (json, needle) in [
            (r#"{"steps":[]}"#, "empty"),
            (r#"{"steps":[10,10,100]}"#, "strictly increasing"),
            (r#"{"steps":[10,50]}"#, "end at 100"),
            (r#"{"steps":[0,100]}"#, "step 0"),
            (r#"{"health":{"max_error_rate":2}}"#, "max_error_rate 2"),
            (
                r#"{"health":{"max_latency_ratio":0.5}}"#,
                "max_latency_ratio 0.5",
            ),
            (r#"{"health":{"min_requests":0}}"#, "min_requests"),
            (r#"{"stepz":[10]}"#, "stepz"),
            ("nope", "not a plan"),
        ] {
            let err = Plan::from_json(json).unwrap_err();
            assert!(err.contains(needle), "{json}: {err}");
        }
    }
}
