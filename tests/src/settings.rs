//! One complete, valid set of the controller's settings (the environment its functions read at
//! cold start) with made-up names and no AWS behind them: the configuration tests and the
//! cold-start tests each change one setting of it.

use contract::{Plan, env};
use controller::Config;

/// Every setting the controller reads, valid, as (variable, value).
pub fn valid() -> Vec<(&'static str, String)> {
    vec![
        (
            env::LISTENER_ARN,
            "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/a/1/2".into(),
        ),
        (
            env::STABLE_TARGET_GROUP_ARN,
            "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/v1/1".into(),
        ),
        (
            env::CANARY_TARGET_GROUP_ARN,
            "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/v2/2".into(),
        ),
        (env::LOAD_BALANCER_DIMENSION, "app/a/1".into()),
        (env::STATE_TABLE, "state".into()),
        (env::SCHEDULE_NAME, "promotion".into()),
        (env::TOPIC_ARN, "arn:aws:sns:us-east-1:1:canary".into()),
        (env::PLAN, Plan::default().to_json()),
        (
            env::ROLLBACK_ALARMS,
            "canary-error-rate, canary-latency".into(),
        ),
        (env::HISTORY_DAYS, "30".into()),
        (env::ARTIFACT_BUCKET, "artifacts-bucket".into()),
        (env::ARTIFACT_PREFIX, "artifacts".into()),
        (env::STABLE_FLEET, "stack-v1".into()),
        (env::CANARY_FLEET, "stack-v2".into()),
        (env::TARGET_SIGNAL, env::TARGET_SIGNAL_DISABLED.into()),
    ]
}

/// The configuration [`valid`] reads as.
pub fn config() -> Config {
    let vars = valid();
    Config::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .expect("the valid settings are valid")
}
