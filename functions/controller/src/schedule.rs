//! The EventBridge Scheduler adapter: stop the promotion schedule after a rollback, start it again
//! when a release begins.

use crate::config::Config;
use crate::error::Error;
use aws_sdk_scheduler::Client;
use aws_sdk_scheduler::operation::get_schedule::GetScheduleOutput;
use aws_sdk_scheduler::types::ScheduleState;

async fn read(scheduler: &Client, config: &Config) -> Result<GetScheduleOutput, Error> {
    scheduler
        .get_schedule()
        .name(&config.schedule_name)
        .group_name(&config.schedule_group)
        .send()
        .await
        .map_err(Error::aws)
}

/// Sets the promotion schedule to DISABLED; `false` when it already was.
pub async fn disable(scheduler: &Client, config: &Config) -> Result<bool, Error> {
    set(scheduler, config, ScheduleState::Disabled).await
}

/// Sets the promotion schedule to ENABLED; `false` when it already was.
pub async fn enable(scheduler: &Client, config: &Config) -> Result<bool, Error> {
    set(scheduler, config, ScheduleState::Enabled).await
}

/// `UpdateSchedule` replaces the whole definition, so the current one is read first and written
/// back with only the state changed. Already in that state: no write.
async fn set(scheduler: &Client, config: &Config, state: ScheduleState) -> Result<bool, Error> {
    let current = read(scheduler, config).await?;
    if current.state() == Some(&state) {
        return Ok(false);
    }
    scheduler
        .update_schedule()
        .name(&config.schedule_name)
        .group_name(&config.schedule_group)
        .set_schedule_expression(current.schedule_expression().map(str::to_string))
        .set_schedule_expression_timezone(
            current.schedule_expression_timezone().map(str::to_string),
        )
        .set_start_date(current.start_date().cloned())
        .set_end_date(current.end_date().cloned())
        .set_description(current.description().map(str::to_string))
        .set_kms_key_arn(current.kms_key_arn().map(str::to_string))
        .set_target(current.target().cloned())
        .set_flexible_time_window(current.flexible_time_window().cloned())
        .set_action_after_completion(current.action_after_completion().cloned())
        .state(state)
        .send()
        .await
        .map_err(Error::aws)?;
    Ok(true)
}

/// Whether the promotion schedule is enabled (tests, status).
pub async fn is_enabled(scheduler: &Client, config: &Config) -> Result<bool, Error> {
    let current = read(scheduler, config).await?;
    Ok(current.state() != Some(&ScheduleState::Disabled))
}
