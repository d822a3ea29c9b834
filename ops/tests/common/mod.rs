//! The steps the end-to-end tests share: the stack's controller deployed into the emulator by
//! the one harness deployer (`alb_canary_tests::stack_in_moto`), each principal's clients recorded
//! for the IAM proof, and publishing, releasing, scheduled runs and status.

use alb_canary_tests::calls::{CallLog, Recorder};
use alb_canary_tests::controller_env::{Env, fixture};
use alb_canary_tests::stack_in_moto::{self, CANARY_FLEET, LoadBalancer, STABLE_FLEET};
use alb_canary_tests::template::Deployment;
pub use alb_canary_tests::template::STACK;
use canaryctl::settings::{Target, target_of};
use contract::Plan;
use contract::release::Fleet;
use controller::decision::Weights;
use controller::promotion::handle_promotion_at;
use controller::{Clients, Config, Outcome};
use serde_json::{Value, json};

/// The principals whose calls the IAM proof evaluates: the functions' roles and the operators'
/// managed policy, by logical ID.
pub const PROMOTION: &str = "PromotionFunctionRole";
pub const ROLLBACK: &str = "RollbackFunctionRole";
pub const OPERATOR: &str = "CanaryOperatorPolicy";
/// The stable, canary and Docker host instances' role.
pub const INSTANCE: &str = "InstanceRole";

/// The stack's default plan (passed as the `CanaryPlan` parameter, as a deployer would) with
/// 300 s bakes: latency on `p99` and ranks `PR(:T)`, which the harness's emulator computes over
/// the raw values put.
pub fn emulator_plan() -> Plan {
    Plan {
        bake_seconds: 300,
        ..Plan::default()
    }
}

/// A step's bake is judged on settled minutes: bake plus `settle_seconds` plus one.
pub fn step_length() -> i64 {
    let plan = emulator_plan();
    (plan.bake_seconds + plan.health.settle_seconds) as i64 + 1
}

pub struct Deployed {
    pub deployment: Deployment,
    /// The promotion function's clients, recorded as its role's calls.
    pub promotion: Clients,
    /// The rollback function's clients, recorded as its role's calls.
    pub rollback: Clients,
    /// The operator's clients and configuration, read from the deployed function as canaryctl does.
    pub target: Target,
    /// The test's own reads and writes, not recorded.
    pub reader: Clients,
    pub log: CallLog,
    pub schedule_event: Value,
}

/// Clients whose every call `recorder` records (all but `autoscaling` on the emulator; instance
/// refreshes go to the harness's refresh server, which moto lacks).
fn recording_clients(env: &Env, sdk: &aws_config::SdkConfig, recorder: &Recorder) -> Clients {
    Clients {
        elbv2: aws_sdk_elasticloadbalancingv2::Client::from_conf(
            aws_sdk_elasticloadbalancingv2::config::Builder::from(sdk)
                .interceptor(recorder.clone())
                .build(),
        ),
        cloudwatch: aws_sdk_cloudwatch::Client::from_conf(
            aws_sdk_cloudwatch::config::Builder::from(sdk)
                .interceptor(recorder.clone())
                .build(),
        ),
        dynamodb: aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(sdk)
                .interceptor(recorder.clone())
                .build(),
        ),
        sns: aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::config::Builder::from(sdk)
                .interceptor(recorder.clone())
                .build(),
        ),
        scheduler: aws_sdk_scheduler::Client::from_conf(
            aws_sdk_scheduler::config::Builder::from(sdk)
                .interceptor(recorder.clone())
                .build(),
        ),
        s3: aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(sdk)
                .force_path_style(true)
                .interceptor(recorder.clone())
                .build(),
        ),
        autoscaling: aws_sdk_autoscaling::Client::from_conf(
            aws_sdk_autoscaling::config::Builder::from(sdk)
                .endpoint_url(env.refreshes.endpoint())
                .interceptor(recorder.clone())
                .build(),
        ),
    }
}

/// The stack's controller deployed into `env`'s emulator with the emulator's plan, and each
/// principal's clients. The functions' cold start runs on the template's environment.
pub async fn deploy(env: &Env) -> Deployed {
    let plan = emulator_plan().to_json();
    let lb = LoadBalancer {
        vpc_id: env.vpc_id.clone(),
        arn: env.lb_arn.clone(),
        dimension: env.lb_dimension.clone(),
    };
    let deployed = stack_in_moto::deploy(&env.moto, &lb, &[("CanaryPlan", plan.as_str())]).await;
    let mut config = None;
    for (id, vars) in &deployed.function_env {
        let parsed = Config::from_lookup(|name| vars.get(name).cloned())
            .unwrap_or_else(|err| panic!("{id}'s environment in the template: {err}"));
        env.clients
            .elbv2
            .describe_listeners()
            .listener_arns(&parsed.listener_arn)
            .send()
            .await
            .expect("the listener exists");
        config = Some(parsed);
    }
    let config = config.expect("the template has functions");
    assert_eq!(
        (config.stable_fleet.as_str(), config.canary_fleet.as_str()),
        (STABLE_FLEET, CANARY_FLEET),
        "the functions move the fleets the stack declares"
    );

    // Each principal's calls are recorded for the IAM proof. The operator's configuration is read
    // from the deployed function, as canaryctl does.
    let sdk = env.moto.sdk_config().await;
    let log = CallLog::new();
    let operator = log.recorder(OPERATOR);
    let lambda = aws_sdk_lambda::Client::from_conf(
        aws_sdk_lambda::config::Builder::from(&sdk)
            .interceptor(operator.clone())
            .build(),
    );
    let target = target_of(
        &lambda,
        &format!("{STACK}-PromotionFunction"),
        recording_clients(env, &sdk, &operator),
    )
    .await
    .expect("canaryctl reads the deployed function");
    assert_eq!(target.config.listener_arn, config.listener_arn);
    Deployed {
        deployment: deployed.deployment,
        promotion: recording_clients(env, &sdk, &log.recorder(PROMOTION)),
        rollback: recording_clients(env, &sdk, &log.recorder(ROLLBACK)),
        target,
        reader: env.clients.clone(),
        log,
        schedule_event: deployed.schedule_event,
    }
}

/// Every call the functions and the operator made is one the committed IAM proof covers
/// (`policy/iam/calls.json`, which `cargo xtask check` evaluates against the template's
/// policies); with `ALB_CANARY_RECORD_CALLS=1` new calls are added to it instead.
pub fn check_recorded_calls(deployed: &Deployed) {
    let path = policy::iam::folder().join(policy::iam::RECORDED_CALLS);
    let recorded: Vec<Value> = deployed
        .log
        .calls()
        .iter()
        .map(|call| {
            let mut entry = call.to_json();
            entry["resource"] = deployed.deployment.expression_of(&call.resource);
            entry
        })
        .collect();
    assert!(!recorded.is_empty(), "no call was recorded");
    let read = || -> Vec<Value> {
        std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    };
    let known = read();
    let missing: Vec<&Value> = recorded.iter().filter(|c| !known.contains(c)).collect();
    if missing.is_empty() {
        return;
    }
    assert!(
        std::env::var_os("ALB_CANARY_RECORD_CALLS").is_some(),
        "calls the IAM proof does not cover yet (not in {}): {missing:#?}\n\
         rerun `ALB_CANARY_RECORD_CALLS=1 cargo test -p canaryctl --test end_to_end`, then \
         `cargo xtask check` proves them against the template's policies",
        path.display()
    );
    let lock = std::fs::File::create(std::env::temp_dir().join("alb-canary-calls.lock")).unwrap();
    lock.lock().unwrap();
    let mut all = read();
    all.extend(recorded);
    all.sort_by_key(Value::to_string);
    all.dedup();
    let text = serde_json::to_string_pretty(&all).unwrap() + "\n";
    std::fs::write(&path, text).unwrap();
}

/// An hour ago: metric timestamps and step starts in the past, as in production.
pub fn t0() -> i64 {
    controller::now_secs() - 3600
}

pub async fn scheduled_run(deployed: &Deployed, now: i64) -> Outcome {
    handle_promotion_at(
        &deployed.promotion,
        &deployed.target.config,
        deployed.schedule_event.clone(),
        now,
    )
    .await
    .unwrap_or_else(|err| panic!("promotion at {now}: {err}"))
}

pub async fn weights(deployed: &Deployed) -> Weights {
    controller::listener::read(&deployed.reader.elbv2, &deployed.target.config)
        .await
        .unwrap()
        .weights
}

pub async fn status(deployed: &Deployed, now: i64) -> String {
    canaryctl::status::report(&deployed.target, now)
        .await
        .unwrap()
}

/// One healthy minute at `at`: traffic split as the listener splits it, canary about 50 ms slower.
pub async fn healthy_minute(env: &Env, deployed: &Deployed, at: i64) {
    let config = &deployed.target.config;
    env.put_minute(&config.stable_tg_arn, at, 900.0, 1.0, 0.020)
        .await;
    env.put_minute(&config.canary_tg_arn, at, 100.0, 0.0, 0.070)
        .await;
}

/// The bytes published as `version`: distinct per version, as binaries are.
pub fn binary(version: &str) -> Vec<u8> {
    format!("\x7fELF recommender {version}").into_bytes()
}

/// `cargo xtask publish --version VERSION`, to the stack's bucket and prefix.
pub async fn publish(deployed: &Deployed, version: &str) -> String {
    let config = &deployed.target.config;
    canaryctl::publish::upload(
        &deployed.target.clients.s3,
        &config.artifact_bucket,
        &config.artifact_prefix,
        version,
        &binary(version),
    )
    .await
    .unwrap_or_else(|err| panic!("publish {version}: {err}"))
}

/// `cargo xtask release VERSION [--force]` at `now`.
pub async fn release(
    deployed: &Deployed,
    version: &str,
    force: bool,
    now: i64,
) -> Result<String, String> {
    canaryctl::release::release(&deployed.target, version, force, now)
        .await
        .map_err(|err| err.to_string())
}

/// What a fleet's pointer object names (what its instances fetch when they boot).
pub async fn pointer(deployed: &Deployed, fleet: Fleet) -> Option<String> {
    controller::fleet::pointer(&deployed.reader, &deployed.target.config, fleet)
        .await
        .unwrap()
}

/// The recorded state, as the functions read it.
pub async fn recorded(deployed: &Deployed) -> Option<controller::state::Recorded> {
    controller::state::read(&deployed.reader.dynamodb, &deployed.target.config)
        .await
        .unwrap()
}

/// AWS ends a fleet's instance refresh: its new instances booted, read their fleet's pointer,
/// fetched that version's binary and checksum with the instance role (recorded for the IAM proof:
/// the boot script's `curl` is no SDK client), and are healthy in the target group.
pub async fn refresh_done(env: &Env, deployed: &Deployed, fleet: Fleet) {
    let config = &deployed.target.config;
    let version = pointer(deployed, fleet)
        .await
        .expect("a refreshed fleet has a pointer");
    let prefix = config.artifact_prefix.as_str();
    for key in [
        contract::release::fleet_key(prefix, fleet),
        contract::release::binary_key(prefix, &version),
        contract::release::checksum_key(prefix, &version),
    ] {
        deployed.log.record(
            INSTANCE,
            "s3:GetObject",
            &format!("arn:aws:s3:::{}/{key}", config.artifact_bucket),
        );
    }
    let group = match fleet {
        Fleet::Stable => STABLE_FLEET,
        Fleet::Canary => CANARY_FLEET,
    };
    env.refreshes.finish(group, "Successful");
}

/// The first release after the first deploy: both fleets on `version`, the stack idle on it.
pub async fn first_release(env: &Env, deployed: &Deployed, version: &str, now: i64) {
    publish(deployed, version).await;
    let said = release(deployed, version, false, now).await.unwrap();
    assert!(said.contains("first release"), "{said}");
    refresh_done(env, deployed, Fleet::Canary).await;
    refresh_done(env, deployed, Fleet::Stable).await;
    assert_eq!(
        scheduled_run(deployed, now + 60).await,
        Outcome::Released {
            version: version.into()
        }
    );
}

/// `release VERSION` on an idle stack, up to its canary's first step.
pub async fn start_canary(env: &Env, deployed: &Deployed, version: &str, now: i64) {
    // Stable served in the hour before: its p99 (20 ms) is the latency baseline, T = 120 ms.
    env.put_baseline(&deployed.target.config.stable_tg_arn, now)
        .await;
    publish(deployed, version).await;
    release(deployed, version, false, now).await.unwrap();
    assert!(matches!(
        scheduled_run(deployed, now + 30).await,
        Outcome::Held { reason } if reason.contains("instance refresh InProgress")
    ));
    refresh_done(env, deployed, Fleet::Canary).await;
    assert_eq!(
        scheduled_run(deployed, now + 60).await,
        Outcome::Promoted {
            step: 0,
            weights: Weights::for_percent(emulator_plan().steps[0])
        }
    );
}

/// An alarm event of one of the stack's rollback alarms, entering ALARM.
pub fn alarm_event(deployed: &Deployed, logical_id: &str) -> Value {
    let mut event = fixture("alarm-canary-error-rate-alarm.json");
    event["alarmData"]["alarmName"] = json!(deployed.deployment.lookup(logical_id));
    event["alarmArn"] = json!(deployed.deployment.get_att(logical_id, "Arn"));
    event
}

/// The stack deployed, idle on 1.0.0 released at `now`, and 1.1.0's canary at its first step.
pub async fn canary_at_first_step(env: &Env, now: i64) -> Deployed {
    let deployed = deploy(env).await;
    first_release(env, &deployed, "1.0.0", now).await;
    start_canary(env, &deployed, "1.1.0", now + 120).await;
    deployed
}

/// Healthy minutes and scheduled runs from the canary's step `first` (the one before it baking
/// since `now`) to its completion; returns the time of the completing run.
pub async fn bake_steps_to_completion(
    env: &Env,
    deployed: &Deployed,
    first: usize,
    mut now: i64,
) -> i64 {
    let steps = emulator_plan().steps;
    for (step, percent) in steps.iter().enumerate().skip(first) {
        healthy_minute(env, deployed, now + 30).await;
        now += step_length();
        assert_eq!(
            scheduled_run(deployed, now).await,
            Outcome::Promoted {
                step,
                weights: Weights::for_percent(*percent)
            }
        );
        assert_eq!(
            weights(deployed).await.canary_percent(),
            f64::from(*percent)
        );
    }
    // At 100 % stable serves nothing; the canary's own numbers decide.
    env.put_minute(
        &deployed.target.config.canary_tg_arn,
        now + 30,
        1000.0,
        1.0,
        0.070,
    )
    .await;
    now += step_length();
    assert_eq!(scheduled_run(deployed, now).await, Outcome::Completed);
    now
}

/// The decision kinds the status report lists, latest first.
pub fn decisions(report: &str) -> Vec<&str> {
    report
        .lines()
        .skip_while(|l| !l.starts_with("decisions"))
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect()
}
