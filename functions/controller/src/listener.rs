//! The ALB listener adapter: read the weighted forward action, write it back whole, verify.

use crate::config::Config;
use crate::decision::Weights;
use crate::error::Error;
use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, TargetGroupStickinessConfig, TargetGroupTuple,
};

/// The listener's forward action as the controller sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveListener {
    pub weights: Weights,
    /// Target-group stickiness in force (kept on promotion, switched off on rollback).
    pub stickiness: Option<TargetGroupStickinessConfig>,
}

/// Reads the listener and checks its default action forwards to exactly the two configured groups.
pub async fn read(elbv2: &Client, config: &Config) -> Result<LiveListener, Error> {
    let out = elbv2
        .describe_listeners()
        .listener_arns(&config.listener_arn)
        .send()
        .await
        .map_err(Error::aws)?;
    let listener = out.listeners().first().ok_or_else(|| {
        Error::aws_reply(
            "ElasticLoadBalancingV2 DescribeListeners",
            format_args!("listener {} not found", config.listener_arn),
        )
    })?;
    parse(config, listener.default_actions())
}

/// Validates a listener's default actions; pure, so the refusal rules are tested without AWS
/// (`tests/config_and_listener/`).
pub fn parse(config: &Config, actions: &[Action]) -> Result<LiveListener, Error> {
    let refuse = |found: String| Error::ListenerShape {
        listener: config.listener_arn.clone(),
        expected: format!("{} and {}", config.stable_tg_arn, config.canary_tg_arn),
        found,
    };
    let forwards: Vec<&Action> = actions
        .iter()
        .filter(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
        .collect();
    let [action] = forwards.as_slice() else {
        return Err(refuse(format!("{} forward actions", forwards.len())));
    };
    let mut groups: Vec<(String, Option<i32>)> = match action.forward_config() {
        Some(fc) if !fc.target_groups().is_empty() => fc
            .target_groups()
            .iter()
            .map(|t| {
                (
                    t.target_group_arn().unwrap_or_default().to_string(),
                    t.weight(),
                )
            })
            .collect(),
        // A plain forward (no ForwardConfig) sends everything to one group.
        _ => action
            .target_group_arn()
            .map(|arn| vec![(arn.to_string(), Some(1))])
            .unwrap_or_default(),
    };
    let names: Vec<&str> = groups.iter().map(|(arn, _)| arn.as_str()).collect();
    let found = format!("{} target group(s): {}", names.len(), names.join(", "));
    if groups.len() != 2 {
        return Err(refuse(found));
    }
    groups.sort_by_key(|(arn, _)| arn != &config.stable_tg_arn);
    if groups[0].0 != config.stable_tg_arn || groups[1].0 != config.canary_tg_arn {
        return Err(refuse(found));
    }
    let weight = |w: Option<i32>| -> Result<u16, Error> {
        // ALB treats a tuple without a weight as weight 1.
        let w = w.unwrap_or(1);
        u16::try_from(w).map_err(|_| Error::InvalidWeights(format!("listener holds weight {w}")))
    };
    let weights =
        Weights::new(weight(groups[0].1)?, weight(groups[1].1)?).map_err(Error::InvalidWeights)?;
    let stickiness = action
        .forward_config()
        .and_then(|fc| fc.target_group_stickiness_config())
        .cloned();
    Ok(LiveListener {
        weights,
        stickiness,
    })
}

/// The complete default action for `weights`. Stickiness is kept unless `unstick`, which turns it off
/// so that clients pinned to the canary leave it too.
pub fn action(
    config: &Config,
    weights: Weights,
    stickiness: Option<&TargetGroupStickinessConfig>,
    unstick: bool,
) -> Result<Action, Error> {
    let weights = Weights::new(weights.stable, weights.canary).map_err(Error::InvalidWeights)?;
    let stickiness = match (unstick, stickiness) {
        (true, _) | (false, None) => TargetGroupStickinessConfig::builder()
            .enabled(false)
            .build(),
        (false, Some(s)) => s.clone(),
    };
    let tuple = |arn: &str, w: u16| {
        TargetGroupTuple::builder()
            .target_group_arn(arn)
            .weight(i32::from(w))
            .build()
    };
    Ok(Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .forward_config(
            ForwardActionConfig::builder()
                .target_groups(tuple(&config.stable_tg_arn, weights.stable))
                .target_groups(tuple(&config.canary_tg_arn, weights.canary))
                .target_group_stickiness_config(stickiness)
                .build(),
        )
        .build())
}

/// One `ModifyListener` with the complete default action.
pub async fn write(
    elbv2: &Client,
    config: &Config,
    weights: Weights,
    stickiness: Option<&TargetGroupStickinessConfig>,
    unstick: bool,
) -> Result<(), Error> {
    let action = action(config, weights, stickiness, unstick)?;
    elbv2
        .modify_listener()
        .listener_arn(&config.listener_arn)
        .default_actions(action)
        .send()
        .await
        .map_err(Error::aws)?;
    Ok(())
}

/// Reads the listener back and fails unless it holds `expected`.
pub async fn verify(
    elbv2: &Client,
    config: &Config,
    expected: Weights,
) -> Result<LiveListener, Error> {
    let live = read(elbv2, config).await?;
    if live.weights != expected {
        return Err(Error::NotLanded {
            listener: config.listener_arn.clone(),
            expected,
            found: live.weights,
        });
    }
    Ok(live)
}

/// Healthy targets in the canary's target group.
pub async fn healthy_canary_targets(elbv2: &Client, config: &Config) -> Result<u32, Error> {
    let out = elbv2
        .describe_target_health()
        .target_group_arn(&config.canary_tg_arn)
        .send()
        .await
        .map_err(Error::aws)?;
    let healthy = out
        .target_health_descriptions()
        .iter()
        .filter(|d| {
            d.target_health().and_then(|h| h.state())
                == Some(&aws_sdk_elasticloadbalancingv2::types::TargetHealthStateEnum::Healthy)
        })
        .count();
    Ok(u32::try_from(healthy).unwrap_or(u32::MAX))
}

/// The `TargetGroup` metric dimension: the `targetgroup/<name>/<id>` suffix of the ARN.
pub fn target_group_dimension(arn: &str) -> Option<&str> {
    arn.find(":targetgroup/").map(|i| &arn[i + 1..])
}
