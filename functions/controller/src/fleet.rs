//! The fleets adapter: a fleet runs the version its pointer object names (the instances read it
//! when they boot), and a version change replaces the fleet's instances through an Auto Scaling
//! instance refresh that keeps every healthy instance until its replacement is healthy in the
//! target group (the groups use ELB health checks). No SSH, no stack update.

use crate::clients::Clients;
use crate::config::Config;
use crate::error::Error;
use aws_sdk_autoscaling::types::{RefreshPreferences, RefreshStrategy};
use aws_sdk_elasticloadbalancingv2::types::TargetHealthStateEnum;
use aws_sdk_s3::primitives::ByteStream;
use contract::release::{Fleet, fleet_key};

/// How long a fleet may take to serve a new version healthily before the move counts as failed.
pub const MOVE_TIMEOUT_SECS: i64 = 3600;

/// Where a fleet's move to a version stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// Every target of the fleet's target group is healthy, and the refresh (if any) succeeded.
    Ready {
        healthy: u32,
    },
    Waiting(String),
    Failed(String),
}

fn group(config: &Config, fleet: Fleet) -> &str {
    match fleet {
        Fleet::Stable => &config.stable_fleet,
        Fleet::Canary => &config.canary_fleet,
    }
}

fn target_group(config: &Config, fleet: Fleet) -> &str {
    match fleet {
        Fleet::Stable => &config.stable_tg_arn,
        Fleet::Canary => &config.canary_tg_arn,
    }
}

/// Points `fleet` at `version`, then replaces its instances; returns the instance refresh's id.
/// A refresh already running on the group is taken as this move's (Auto Scaling refuses a second
/// one): the controller and its commands are the only ones who start them, and one running is
/// the move of a run that died (or whose answer was lost) after starting it — found by the fault
/// exploration. Instances it replaces from now on boot the version the pointer now names.
pub async fn move_to(
    clients: &Clients,
    config: &Config,
    fleet: Fleet,
    version: &str,
) -> Result<String, Error> {
    contract::release::validate_version(version).map_err(Error::BadEvent)?;
    clients
        .s3
        .put_object()
        .bucket(&config.artifact_bucket)
        .key(fleet_key(&config.artifact_prefix, fleet))
        .content_type("text/plain")
        .body(ByteStream::from(format!("{version}\n").into_bytes()))
        .send()
        .await
        .map_err(Error::aws)?;
    let out = clients
        .autoscaling
        .start_instance_refresh()
        .auto_scaling_group_name(group(config, fleet))
        .strategy(RefreshStrategy::Rolling)
        .preferences(
            RefreshPreferences::builder()
                // Launch before terminate: the fleet never has fewer healthy instances.
                .min_healthy_percentage(100)
                .max_healthy_percentage(200)
                .instance_warmup(60)
                .skip_matching(false)
                .build(),
        )
        .send()
        .await;
    let out = match out {
        Ok(out) => out,
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_instance_refresh_in_progress_fault()) =>
        {
            return running_refresh(clients, config, fleet).await;
        }
        Err(err) => return Err(Error::aws(err)),
    };
    out.instance_refresh_id()
        .map(str::to_string)
        .ok_or_else(|| {
            Error::aws_reply(
                "AutoScaling StartInstanceRefresh",
                format_args!("no refresh id for {}", group(config, fleet)),
            )
        })
}

/// The id of the refresh running on `fleet`'s group.
async fn running_refresh(
    clients: &Clients,
    config: &Config,
    fleet: Fleet,
) -> Result<String, Error> {
    let out = clients
        .autoscaling
        .describe_instance_refreshes()
        .auto_scaling_group_name(group(config, fleet))
        .send()
        .await
        .map_err(Error::aws)?;
    out.instance_refreshes()
        .iter()
        .find(|r| {
            r.status().is_some_and(|s| {
                matches!(
                    s.as_str(),
                    "Pending" | "InProgress" | "Baking" | "Cancelling" | "RollbackInProgress"
                )
            })
        })
        .and_then(|r| r.instance_refresh_id())
        .map(str::to_string)
        .ok_or_else(|| {
            Error::aws_reply(
                "AutoScaling StartInstanceRefresh",
                format_args!(
                    "{} has a refresh in progress, and none is listed",
                    group(config, fleet)
                ),
            )
        })
}

/// The version a fleet's pointer names, or `None` before its first release.
pub async fn pointer(
    clients: &Clients,
    config: &Config,
    fleet: Fleet,
) -> Result<Option<String>, Error> {
    let out = clients
        .s3
        .get_object()
        .bucket(&config.artifact_bucket)
        .key(fleet_key(&config.artifact_prefix, fleet))
        .send()
        .await;
    match out {
        Ok(object) => {
            let bytes = object.body.collect().await.map_err(|err| {
                Error::aws_reply("S3 GetObject", format_args!("reading the body: {err}"))
            })?;
            Ok(Some(
                String::from_utf8_lossy(&bytes.into_bytes())
                    .trim()
                    .to_string(),
            ))
        }
        Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
        Err(err) => Err(Error::aws(err)),
    }
}

/// Reads the refresh and the target group's health and judges the move.
pub async fn progress(
    clients: &Clients,
    config: &Config,
    fleet: Fleet,
    refresh_id: Option<&str>,
    waited_secs: i64,
) -> Result<Progress, Error> {
    let refresh = match refresh_id {
        None => None,
        Some(id) => {
            let out = clients
                .autoscaling
                .describe_instance_refreshes()
                .auto_scaling_group_name(group(config, fleet))
                .instance_refresh_ids(id)
                .send()
                .await
                .map_err(Error::aws)?;
            Some(
                out.instance_refreshes()
                    .first()
                    .and_then(|r| r.status())
                    .map_or("NotFound".to_string(), |s| s.as_str().to_string()),
            )
        }
    };
    let out = clients
        .elbv2
        .describe_target_health()
        .target_group_arn(target_group(config, fleet))
        .send()
        .await
        .map_err(Error::aws)?;
    let states: Vec<_> = out
        .target_health_descriptions()
        .iter()
        .map(|d| d.target_health().and_then(|h| h.state()).cloned())
        .collect();
    let healthy = states
        .iter()
        .filter(|s| s.as_ref() == Some(&TargetHealthStateEnum::Healthy))
        .count();
    // Draining targets are the replaced instances leaving: they do not hold the move up.
    let others = states
        .iter()
        .filter(|s| {
            !matches!(
                s,
                Some(TargetHealthStateEnum::Healthy | TargetHealthStateEnum::Draining)
            )
        })
        .count();
    Ok(judge(
        fleet,
        refresh.as_deref(),
        u32::try_from(healthy).unwrap_or(u32::MAX),
        u32::try_from(others).unwrap_or(u32::MAX),
        waited_secs,
    ))
}

/// The move's progress from the refresh status, the target group's health and the time waited.
pub fn judge(
    fleet: Fleet,
    refresh_status: Option<&str>,
    healthy: u32,
    not_healthy: u32,
    waited_secs: i64,
) -> Progress {
    let name = fleet.as_str();
    if let Some(status) = refresh_status {
        match status {
            "Successful" => {}
            "Pending" | "InProgress" | "Baking" => {
                return timed(
                    name,
                    waited_secs,
                    format!("{name} fleet: instance refresh {status}"),
                );
            }
            failed => {
                return Progress::Failed(format!("{name} fleet: instance refresh {failed}"));
            }
        }
    }
    if healthy > 0 && not_healthy == 0 {
        return Progress::Ready { healthy };
    }
    timed(
        name,
        waited_secs,
        format!("{name} fleet: {healthy} healthy and {not_healthy} other targets"),
    )
}

fn timed(name: &str, waited_secs: i64, waiting: String) -> Progress {
    if waited_secs > MOVE_TIMEOUT_SECS {
        Progress::Failed(format!(
            "{name} fleet not healthy on the release after {waited_secs} s ({waiting})"
        ))
    } else {
        Progress::Waiting(waiting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_move_is_ready_only_when_the_refresh_succeeded_and_every_target_is_healthy() {
        let c = Fleet::Canary;
        assert_eq!(
            judge(c, Some("Successful"), 2, 0, 10),
            Progress::Ready { healthy: 2 }
        );
        assert_eq!(judge(c, None, 1, 0, 10), Progress::Ready { healthy: 1 });
        assert!(matches!(
            judge(c, Some("InProgress"), 2, 0, 10),
            Progress::Waiting(_)
        ));
        assert!(matches!(
            judge(c, Some("Successful"), 1, 1, 10),
            Progress::Waiting(_)
        ));
        assert!(matches!(
            judge(c, Some("Successful"), 0, 0, 10),
            Progress::Waiting(_)
        ));
        for failed in ["Failed", "Cancelled", "RollbackSuccessful", "NotFound"] {
            let Progress::Failed(reason) = judge(c, Some(failed), 2, 0, 10) else {
                panic!("{failed} is a failed move");
            };
            assert!(reason.contains(failed), "{reason}");
        }
    }

    #[test]
    fn a_move_that_takes_too_long_fails() {
        let late = MOVE_TIMEOUT_SECS + 1;
        let Progress::Failed(reason) = judge(Fleet::Stable, Some("InProgress"), 0, 3, late) else {
            panic!("too late");
        };
        assert!(reason.contains("stable fleet not healthy"), "{reason}");
        assert!(matches!(
            judge(Fleet::Stable, None, 0, 1, late),
            Progress::Failed(_)
        ));
    }
}
