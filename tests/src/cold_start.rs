//! Both functions' cold-start cases (each function's `cold_start` test passes its own binary): a
//! missing or malformed setting stops the cold start with a message that names it, before the
//! function asks the Lambda runtime API for any event.

use contract::{Plan, env};
use std::process::Command;

fn cold_start(binary: &str, vars: &[(&str, String)]) -> (bool, String) {
    let out = Command::new(binary)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("the function binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn good() -> Vec<(&'static str, String)> {
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
        (env::SCHEDULE_NAME, "promote".into()),
        (env::TOPIC_ARN, "arn:aws:sns:us-east-1:1:canary".into()),
        (env::PLAN, Plan::default().to_json()),
        (env::ROLLBACK_ALARMS, "v2-5xx".into()),
        (env::ARTIFACT_BUCKET, "artifacts".into()),
        (env::ARTIFACT_PREFIX, "artifacts".into()),
        (env::STABLE_FLEET, "v1-fleet".into()),
        (env::CANARY_FLEET, "v2-fleet".into()),
    ]
}

/// Without the state table's name the binary stops, naming the setting.
pub fn a_missing_setting_is_named(binary: &str) {
    let vars: Vec<_> = good()
        .into_iter()
        .filter(|(k, _)| *k != env::STATE_TABLE)
        .collect();
    let (ok, stderr) = cold_start(binary, &vars);
    assert!(!ok);
    assert!(stderr.contains("CANARY_STATE_TABLE is not set"), "{stderr}");
}

/// A plan that does not end at 100 % stops the binary, naming the setting and the problem.
pub fn a_malformed_plan_is_named(binary: &str) {
    let mut vars = good();
    vars.retain(|(k, _)| *k != env::PLAN);
    vars.push((env::PLAN, r#"{"steps":[10,50]}"#.into()));
    let (ok, stderr) = cold_start(binary, &vars);
    assert!(!ok);
    assert!(
        stderr.contains("CANARY_PLAN is not a valid plan") && stderr.contains("end at 100"),
        "{stderr}"
    );
}
