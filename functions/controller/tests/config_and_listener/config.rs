//! Settings read at cold start: every one is read, a missing or malformed one is named.

use std::collections::HashMap;

use alb_canary_tests::settings;
use contract::{Plan, env};
use controller::config::DEFAULT_HISTORY_DAYS;
use controller::{Config, Error};

fn good() -> HashMap<&'static str, String> {
    settings::valid().into_iter().collect()
}

fn load(vars: &HashMap<&'static str, String>) -> Result<Config, Error> {
    Config::from_lookup(|n| vars.get(n).cloned())
}

#[test]
fn reads_every_setting() {
    let vars = good();
    let config = load(&vars).unwrap();
    for (name, read) in [
        (env::LISTENER_ARN, &config.listener_arn),
        (env::STABLE_TARGET_GROUP_ARN, &config.stable_tg_arn),
        (env::CANARY_TARGET_GROUP_ARN, &config.canary_tg_arn),
        (env::LOAD_BALANCER_DIMENSION, &config.load_balancer),
        (env::STATE_TABLE, &config.table),
        (env::SCHEDULE_NAME, &config.schedule_name),
        (env::TOPIC_ARN, &config.topic_arn),
        (env::ARTIFACT_BUCKET, &config.artifact_bucket),
        (env::ARTIFACT_PREFIX, &config.artifact_prefix),
        (env::STABLE_FLEET, &config.stable_fleet),
        (env::CANARY_FLEET, &config.canary_fleet),
    ] {
        assert_eq!(read, &vars[name], "{name}");
    }
    assert_eq!(config.plan, Plan::default());
    assert_eq!(
        config.rollback_alarms,
        vec!["canary-error-rate", "canary-latency"]
    );
    assert_eq!(config.schedule_group, "default");
    assert_eq!(config.history_days, 30);
    assert!(!config.target_signal);
    let mut vars = good();
    vars.insert(env::TARGET_SIGNAL, env::TARGET_SIGNAL_ENABLED.into());
    assert!(load(&vars).unwrap().target_signal);
    let mut vars = good();
    vars.remove(env::HISTORY_DAYS);
    assert_eq!(load(&vars).unwrap().history_days, DEFAULT_HISTORY_DAYS);
}

#[test]
fn each_missing_variable_is_named() {
    for name in good().keys().filter(|n| **n != env::HISTORY_DAYS) {
        let mut vars = good();
        vars.remove(name);
        let err = load(&vars).unwrap_err().to_string();
        assert!(err.contains(name) && err.contains("not set"), "{err}");
    }
}

#[test]
fn malformed_values_are_named() {
    for (name, value, needle) in [
        (env::PLAN, "{\"steps\":[5]}", "end at 100"),
        (env::PLAN, "not json", "not a plan"),
        (
            env::LISTENER_ARN,
            "listener-1",
            "not an elasticloadbalancing ARN",
        ),
        (
            env::TOPIC_ARN,
            "arn:aws:sqs:us-east-1:1:q",
            "not an sns ARN",
        ),
        (env::LOAD_BALANCER_DIMENSION, "my-alb", "app/<name>/<id>"),
        (env::ROLLBACK_ALARMS, " , ", "names no alarm"),
        (env::STATE_TABLE, "  ", "is empty"),
        (env::HISTORY_DAYS, "0", "not a number of days"),
        (env::HISTORY_DAYS, "ninety", "not a number of days"),
        (env::CANARY_FLEET, "stack-v1", "same Auto Scaling group"),
        (env::TARGET_SIGNAL, "Enabled", "not `enabled` or `disabled`"),
    ] {
        let mut vars = good();
        vars.insert(name, value.into());
        let err = load(&vars).unwrap_err().to_string();
        assert!(err.contains(name) && err.contains(needle), "{err}");
    }
}

#[test]
fn a_plan_judging_the_targets_signal_needs_the_stack_to_run_it() {
    let mut plan = Plan::default();
    plan.health.signal = contract::Signal::Targets;
    let mut vars = good();
    vars.insert(env::PLAN, plan.to_json());
    let err = load(&vars).unwrap_err().to_string();
    assert!(
        err.contains(env::PLAN) && err.contains("TargetSignal=enabled"),
        "{err}"
    );
    vars.insert(env::TARGET_SIGNAL, env::TARGET_SIGNAL_ENABLED.into());
    assert_eq!(
        load(&vars).unwrap().plan.health.signal,
        contract::Signal::Targets
    );
}
