//! The requests both emulator set-ups send alike ([`crate::controller_env`]'s canaries made by
//! hand, [`crate::stack_in_moto`]'s as the stack declares them): a weighted forward action, an IP
//! target registered on port 8000, and the promotion schedule.

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, TargetDescription, TargetGroupTuple,
};
use aws_sdk_scheduler::types::{FlexibleTimeWindow, FlexibleTimeWindowMode, Target};

/// A forward action to `groups`, each (target group ARN, weight).
pub fn forward(groups: &[(&str, i32)]) -> Action {
    let mut fc = ForwardActionConfig::builder();
    for (arn, w) in groups {
        fc = fc.target_groups(
            TargetGroupTuple::builder()
                .target_group_arn(*arn)
                .weight(*w)
                .build(),
        );
    }
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .forward_config(fc.build())
        .build()
}

/// Registers the IP target `ip`:8000, which stands in for a fleet's instance (the emulator's ELBv2
/// would not see an Auto Scaling group's instances).
pub async fn register_ip_target(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    target_group_arn: &str,
    ip: &str,
) {
    elbv2
        .register_targets()
        .target_group_arn(target_group_arn)
        .targets(TargetDescription::builder().id(ip).port(8000).build())
        .send()
        .await
        .expect("RegisterTargets");
}

/// What the promotion schedule is: its name and expression, and the target it invokes.
pub struct Schedule {
    pub name: String,
    pub expression: String,
    pub target_arn: String,
    pub role_arn: String,
    /// The event the target receives.
    pub input: String,
}

/// Creates `schedule` with no flexible time window, as the stack declares it.
pub async fn create_schedule(scheduler: &aws_sdk_scheduler::Client, schedule: &Schedule) {
    scheduler
        .create_schedule()
        .name(&schedule.name)
        .schedule_expression(&schedule.expression)
        .flexible_time_window(
            FlexibleTimeWindow::builder()
                .mode(FlexibleTimeWindowMode::Off)
                .build()
                .expect("a time window with its mode"),
        )
        .target(
            Target::builder()
                .arn(&schedule.target_arn)
                .role_arn(&schedule.role_arn)
                .input(&schedule.input)
                .build()
                .expect("a target with its ARN and role"),
        )
        .send()
        .await
        .expect("CreateSchedule");
}
