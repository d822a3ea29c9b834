//! One whole canary in the local emulator, as the synthesized stack deploys it.
//!
//! moto's CloudFormation cannot create our stack (see the shared emulator notes), so this test
//! plays CloudFormation's part for the controller: it creates the listener, target groups, state
//! table, topic, schedule, alarms, role and functions through the SDK with the names, keys,
//! weights, environment and event that `stack::synthesize` gives them, resolving the template's
//! own expressions. Nothing is typed twice: a setting the template does not give the functions is
//! a failing cold start here. Then the schedule's event drives the promotion handler through every
//! step, an alarm's event rolls a second canary back, and the operator commands act on both.

#[path = "../../functions/controller/tests/support/mod.rs"]
mod support;

use std::collections::HashMap;

use alb_canary_tests::calls::{CallLog, Recorder};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, ProtocolEnum, TargetDescription, TargetGroupTuple,
    TargetTypeEnum,
};
use aws_sdk_scheduler::types::{
    FlexibleTimeWindow, FlexibleTimeWindowMode, Target as ScheduleTarget,
};
use canaryctl::control::{Action as Operator, apply};
use canaryctl::settings::{Target, target_of};
use contract::Plan;
use controller::decision::{Status, Weights};
use controller::promotion::handle_promotion_at;
use controller::rollback::handle_alarm_at;
use controller::{Clients, Config, Outcome};
use policy::intrinsics::{Evaluator, Physical, Pseudo};
use serde_json::{Value, json};
use support::Env;

const STACK: &str = "alb-canary";
const ACCOUNT: &str = "123456789012";

/// The principals whose calls the IAM proof evaluates: the functions' roles and the operators'
/// managed policy, by logical ID.
const PROMOTE: &str = "PromoteFunctionRole";
const ROLLBACK: &str = "RollbackFunctionRole";
const OPERATOR: &str = "CanaryOperatorPolicy";

/// The template's expressions, resolved as CloudFormation would for one deployment, by the
/// evaluator the policy checks use (`policy::intrinsics`): a reference to something this test
/// did not create, an unknown intrinsic or condition is a failure naming the resource and path.
struct Deployment {
    template: Value,
    overrides: Vec<(String, String)>,
    /// Logical ID → what `Ref` returns.
    refs: HashMap<String, String>,
    /// (logical ID, attribute) → what `Fn::GetAtt` returns.
    attrs: HashMap<(String, String), String>,
}

impl Deployment {
    fn new(overrides: &[(&str, &str)]) -> Deployment {
        let template = stack::synthesize(&stack::Options::default()).to_json();
        Deployment {
            template,
            overrides: overrides
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            refs: HashMap::new(),
            attrs: HashMap::new(),
        }
    }

    /// A resource's property at `path`, resolved. Only what a step uses is resolved: the rest of
    /// a resource may name resources this test does not create (log groups, queues).
    fn property(&self, id: &str, path: &[&str]) -> Value {
        let mut value = &self.template["Resources"][id]["Properties"];
        for key in path {
            value = &value[*key];
        }
        assert!(!value.is_null(), "{id} has no property {}", path.join("."));
        let overrides: Vec<(&str, &str)> = self
            .overrides
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let evaluator = Evaluator::new(&self.template, &overrides).expect("the template evaluates");
        let lookup = |id: &str, attribute: Option<&str>| match attribute {
            None => self.refs.get(id).cloned(),
            Some(a) => self.attrs.get(&(id.to_owned(), a.to_owned())).cloned(),
        };
        let path = std::iter::once("Properties")
            .chain(path.iter().copied())
            .collect::<Vec<_>>()
            .join(".");
        evaluator
            .value_at(
                &format!("Resources.{id}"),
                &path,
                value,
                &Physical::Given(&lookup),
            )
            .unwrap_or_else(|err| panic!("{err}"))
    }

    fn created(&mut self, id: &str, reference: &str) {
        self.refs.insert(id.to_owned(), reference.to_owned());
    }

    fn attribute(&mut self, id: &str, attribute: &str, value: &str) {
        self.attrs
            .insert((id.to_owned(), attribute.to_owned()), value.to_owned());
    }

    fn lookup(&self, name: &str) -> String {
        self.refs
            .get(name)
            .unwrap_or_else(|| panic!("`{name}` is referenced but not deployed here"))
            .clone()
    }

    fn get_att(&self, id: &str, attribute: &str) -> String {
        self.attrs
            .get(&(id.to_owned(), attribute.to_owned()))
            .unwrap_or_else(|| panic!("`{id}.{attribute}` is referenced but not deployed here"))
            .clone()
    }

    /// A recorded resource as the template names it: the `Ref` or `Fn::GetAtt` whose deployed
    /// value it is, else the ARN itself (which then holds only the shared pseudo values).
    fn expression_of(&self, resource: &str) -> Value {
        let mut refs: Vec<(&String, &String)> = self.refs.iter().collect();
        refs.sort();
        if let Some((id, _)) = refs.iter().find(|(_, v)| v.as_str() == resource) {
            return json!({ "Ref": id });
        }
        let mut attrs: Vec<(&(String, String), &String)> = self.attrs.iter().collect();
        attrs.sort();
        if let Some(((id, attribute), _)) = attrs.iter().find(|(_, v)| v.as_str() == resource) {
            return json!({ "Fn::GetAtt": [id, attribute] });
        }
        json!(resource)
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => panic!("no value"),
        other => other.to_string(),
    }
}

/// A plan the emulator can judge: moto computes no percentiles, so latency is the Average; the
/// rest are the stack's defaults (passed as the `CanaryPlan` parameter, as a deployer would).
fn emulator_plan() -> Plan {
    let mut plan = Plan {
        bake_seconds: 300,
        ..Plan::default()
    };
    plan.health.latency.statistic = "Average".into();
    plan
}

/// A step's bake is judged on settled minutes: bake plus `settle_seconds` plus one.
fn step_length() -> i64 {
    let plan = emulator_plan();
    (plan.bake_seconds + plan.health.settle_seconds) as i64 + 1
}

struct Deployed {
    deployment: Deployment,
    /// The promotion function's clients, recorded as its role's calls.
    promote: Clients,
    /// The rollback function's clients, recorded as its role's calls.
    rollback: Clients,
    /// The operator's clients and configuration, read from the deployed function as canaryctl does.
    target: Target,
    /// The test's own reads, not recorded.
    reader: Clients,
    log: CallLog,
    schedule_event: Value,
}

/// Clients whose every call `recorder` records.
fn recorded(sdk: &aws_config::SdkConfig, recorder: &Recorder) -> Clients {
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
    }
}

/// Every call the functions and the operator made is one the committed IAM proof covers
/// (`policy/iam/calls.json`, which `cargo xtask check` evaluates against the template's
/// policies); with `ALB_CANARY_RECORD_CALLS=1` new calls are added to it instead.
fn check_recorded_calls(deployed: &Deployed) {
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
    let missing: Vec<&Value> = recorded.iter().filter(|c| !read().contains(c)).collect();
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

/// Creates the controller's resources as the stack declares them, in `env`'s emulator.
async fn deploy(env: &Env) -> Deployed {
    let plan = emulator_plan().to_json();
    let mut d = Deployment::new(&[("CanaryPlan", plan.as_str())]);
    let c = &env.clients;
    d.created("Vpc", &env.vpc_id);
    d.created("LoadBalancer", &env.lb_arn);
    d.attribute("LoadBalancer", "LoadBalancerFullName", &env.lb_dimension);

    // Target groups: the template's protocol, port and health check. IP targets stand in for the
    // Auto Scaling groups' instances, which the emulator's ELBv2 would not see.
    for id in ["TargetGroupV1", "TargetGroupV2"] {
        let props = |name: &str| d.property(id, &[name]);
        let out = c
            .elbv2
            .create_target_group()
            .name(format!(
                "{STACK}-{}",
                id.to_lowercase().trim_start_matches("targetgroup")
            ))
            .protocol(ProtocolEnum::from(props("Protocol").as_str().unwrap()))
            .port(props("Port").as_i64().unwrap() as i32)
            .vpc_id(&env.vpc_id)
            .target_type(TargetTypeEnum::Ip)
            .health_check_path(props("HealthCheckPath").as_str().unwrap())
            .send()
            .await
            .expect("CreateTargetGroup");
        let arn = out.target_groups()[0]
            .target_group_arn()
            .unwrap()
            .to_owned();
        let full_name = arn.split(':').next_back().unwrap().to_owned();
        d.created(id, &arn);
        d.attribute(id, "TargetGroupFullName", &full_name);
        d.attribute(id, "TargetGroupArn", &arn);
    }
    c.elbv2
        .register_targets()
        .target_group_arn(d.lookup("TargetGroupV2"))
        .targets(
            TargetDescription::builder()
                .id("10.0.20.5")
                .port(8000)
                .build(),
        )
        .send()
        .await
        .expect("RegisterTargets");

    // The listener with the template's default action: stable-only.
    let listener = d.property("HttpListener", &[]);
    let mut forward = ForwardActionConfig::builder();
    let actions = listener["DefaultActions"].as_array().unwrap();
    assert_eq!(actions.len(), 1);
    for group in actions[0]["ForwardConfig"]["TargetGroups"]
        .as_array()
        .unwrap()
    {
        forward = forward.target_groups(
            TargetGroupTuple::builder()
                .target_group_arn(group["TargetGroupArn"].as_str().unwrap())
                .weight(group["Weight"].as_i64().unwrap() as i32)
                .build(),
        );
    }
    let out = c
        .elbv2
        .create_listener()
        .load_balancer_arn(&env.lb_arn)
        .protocol(ProtocolEnum::Http)
        .port(listener["Port"].as_i64().unwrap() as i32)
        .default_actions(
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .forward_config(forward.build())
                .build(),
        )
        .send()
        .await
        .expect("CreateListener");
    d.created("HttpListener", out.listeners()[0].listener_arn().unwrap());

    // The state table with the template's keys and billing mode.
    let table = d.property("CanaryStateTable", &[]);
    let table_name = format!("{STACK}-CanaryStateTable");
    let mut create = c
        .dynamodb
        .create_table()
        .table_name(&table_name)
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::from(
            table["BillingMode"].as_str().unwrap(),
        ));
    for a in table["AttributeDefinitions"].as_array().unwrap() {
        create = create.attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name(a["AttributeName"].as_str().unwrap())
                .attribute_type(a["AttributeType"].as_str().unwrap().into())
                .build()
                .unwrap(),
        );
    }
    for k in table["KeySchema"].as_array().unwrap() {
        create = create.key_schema(
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name(k["AttributeName"].as_str().unwrap())
                .key_type(k["KeyType"].as_str().unwrap().into())
                .build()
                .unwrap(),
        );
    }
    create.send().await.expect("CreateTable");
    d.created("CanaryStateTable", &table_name);
    d.attribute(
        "CanaryStateTable",
        "Arn",
        &format!("arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{table_name}"),
    );

    let topic = c
        .sns
        .create_topic()
        .name(format!("{STACK}-CanaryTopic"))
        .send()
        .await
        .expect("CreateTopic");
    d.created("CanaryTopic", topic.topic_arn().unwrap());

    // The functions' and the schedule's roles, from the template's trust policies (the emulator
    // insists they exist).
    let iam = aws_sdk_iam::Client::new(&env.moto.sdk_config().await);
    let mut role_arns = HashMap::new();
    for id in [ROLLBACK, "PromotionScheduleRole"] {
        let trust = d.property(id, &["AssumeRolePolicyDocument"]);
        let arn = iam
            .create_role()
            .role_name(format!("{STACK}-{id}"))
            .assume_role_policy_document(trust.to_string())
            .send()
            .await
            .expect("CreateRole")
            .role()
            .unwrap()
            .arn()
            .to_owned();
        d.created(id, &format!("{STACK}-{id}"));
        d.attribute(id, "Arn", &arn);
        role_arns.insert(id, arn);
    }
    let role_arn = role_arns[ROLLBACK].clone();

    // The alarms, under the names the stack gives them (the rollback function lists them).
    for (id, alarm) in d.template["Resources"].as_object().unwrap().clone() {
        if alarm["Type"] != "AWS::CloudWatch::Alarm" {
            continue;
        }
        let name = scalar(&d.property(&id, &["AlarmName"]));
        c.cloudwatch
            .put_metric_alarm()
            .alarm_name(&name)
            .namespace("AWS/ApplicationELB")
            .metric_name("UnHealthyHostCount")
            .statistic(aws_sdk_cloudwatch::types::Statistic::Maximum)
            .period(60)
            .evaluation_periods(1)
            .threshold(0.0)
            .comparison_operator(
                aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold,
            )
            .send()
            .await
            .expect("PutMetricAlarm");
        d.created(&id, &name);
        d.attribute(
            &id,
            "Arn",
            &format!("arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{name}"),
        );
    }

    // The functions, with the environment the template gives them; the schedule targets one.
    let mut config = None;
    for id in ["PromoteFunction", "RollbackFunction"] {
        let name = format!("{STACK}-{id}");
        let arn = format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}");
        d.created(id, &name);
        d.attribute(id, "Arn", &arn);
        let schedule_name = scalar(&d.property("PromotionSchedule", &["Name"]));
        d.created("PromotionSchedule", &schedule_name);
        d.attribute(
            "PromotionSchedule",
            "Arn",
            &format!("arn:aws:scheduler:us-east-1:{ACCOUNT}:schedule/default/{schedule_name}"),
        );
        let vars: HashMap<String, String> = d
            .property(id, &["Environment", "Variables"])
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), scalar(v)))
            .collect();
        // The controller's own cold start on the template's environment.
        let parsed = Config::from_lookup(|name| vars.get(name).cloned())
            .unwrap_or_else(|err| panic!("{id}'s environment in the template: {err}"));
        c.elbv2
            .describe_listeners()
            .listener_arns(&parsed.listener_arn)
            .send()
            .await
            .expect("the listener exists");
        config = Some(parsed);
        let lambda = aws_sdk_lambda::Client::new(&env.moto.sdk_config().await);
        lambda
            .create_function()
            .function_name(&name)
            .runtime(aws_sdk_lambda::types::Runtime::from(
                d.property(id, &["Runtime"]).as_str().unwrap(),
            ))
            .handler(d.property(id, &["Handler"]).as_str().unwrap())
            .role(&role_arn)
            .code(
                aws_sdk_lambda::types::FunctionCode::builder()
                    .zip_file(empty_zip().into())
                    .build(),
            )
            .environment(
                aws_sdk_lambda::types::Environment::builder()
                    .set_variables(Some(vars))
                    .build(),
            )
            .send()
            .await
            .expect("CreateFunction");
    }
    let schedule = |path: &[&str]| scalar(&d.property("PromotionSchedule", path));
    c.scheduler
        .create_schedule()
        .name(schedule(&["Name"]))
        .schedule_expression(schedule(&["ScheduleExpression"]))
        .flexible_time_window(
            FlexibleTimeWindow::builder()
                .mode(FlexibleTimeWindowMode::Off)
                .build()
                .unwrap(),
        )
        .target(
            ScheduleTarget::builder()
                .arn(schedule(&["Target", "Arn"]))
                .role_arn(schedule(&["Target", "RoleArn"]))
                .input(schedule(&["Target", "Input"]))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("CreateSchedule");
    let schedule_event: Value = serde_json::from_str(&schedule(&["Target", "Input"])).unwrap();

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
        &format!("{STACK}-PromoteFunction"),
        recorded(&sdk, &operator),
    )
    .await
    .expect("canaryctl reads the deployed function");
    assert_eq!(target.config.listener_arn, config.unwrap().listener_arn);
    Deployed {
        deployment: d,
        promote: recorded(&sdk, &log.recorder(PROMOTE)),
        rollback: recorded(&sdk, &log.recorder(ROLLBACK)),
        target,
        reader: env.clients.clone(),
        log,
        schedule_event,
    }
}

/// A zip archive with no entries: the emulator stores the code, it does not run it.
fn empty_zip() -> Vec<u8> {
    let mut end_of_central_directory = vec![0x50, 0x4b, 0x05, 0x06];
    end_of_central_directory.extend([0u8; 18]);
    end_of_central_directory
}

/// An hour ago: metric timestamps and step starts in the past, as in production.
fn t0() -> i64 {
    controller::now_secs() - 3600
}

async fn scheduled_run(deployed: &Deployed, now: i64) -> Outcome {
    handle_promotion_at(
        &deployed.promote,
        &deployed.target.config,
        deployed.schedule_event.clone(),
        now,
    )
    .await
    .unwrap_or_else(|err| panic!("promotion at {now}: {err}"))
}

async fn weights(deployed: &Deployed) -> Weights {
    controller::listener::read(&deployed.reader.elbv2, &deployed.target.config)
        .await
        .unwrap()
        .weights
}

async fn status(deployed: &Deployed, now: i64) -> String {
    canaryctl::status::report(&deployed.target, now)
        .await
        .unwrap()
}

/// One healthy minute at `at`: traffic split as the listener splits it, V2 about 50 ms slower.
async fn healthy_minute(env: &Env, deployed: &Deployed, at: i64) {
    let config = &deployed.target.config;
    env.put_minute(&config.stable_tg_arn, at, 900.0, 1.0, 0.020)
        .await;
    env.put_minute(&config.canary_tg_arn, at, 100.0, 0.0, 0.070)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_schedule_promotes_a_healthy_canary_through_every_step_and_operators_steer_it() {
    let env = Env::start().await;
    let deployed = deploy(&env).await;
    let steps = emulator_plan().steps;
    let mut now = t0();

    assert_eq!(
        status(&deployed, now).await.lines().nth(2).unwrap(),
        "canary     not started: the first promotion run records it"
    );
    assert_eq!(
        scheduled_run(&deployed, now).await,
        Outcome::Promoted {
            step: 0,
            weights: Weights::for_percent(steps[0])
        }
    );

    // Paused: the schedule's runs still judge (they may roll back) but hold the weights;
    // resumed: the step's bake starts again.
    assert_eq!(
        apply(&deployed.target, Operator::Pause, now + 10)
            .await
            .unwrap(),
        "paused at step 1"
    );
    healthy_minute(&env, &deployed, now + 30).await;
    let paused = scheduled_run(&deployed, now + 400).await;
    assert!(
        matches!(&paused, Outcome::Held { reason } if reason.contains("paused")),
        "{paused:?}"
    );
    assert_eq!(weights(&deployed).await, Weights::for_percent(steps[0]));
    assert!(
        status(&deployed, now + 400)
            .await
            .contains("canary     paused at step 1 of 4 (10% to V2)")
    );
    let err = apply(&deployed.target, Operator::Pause, now + 410)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot pause a canary that is paused"),
        "{err}"
    );
    apply(&deployed.target, Operator::Resume, now + 420)
        .await
        .unwrap();
    now += 420;
    healthy_minute(&env, &deployed, now + 30).await;
    assert!(
        matches!(
            scheduled_run(&deployed, now + 120).await,
            Outcome::Held { .. }
        ),
        "a resumed step bakes again"
    );

    // `promote` skips the rest of the bake: the next run moves on once the minute above settled.
    apply(&deployed.target, Operator::Promote, now + 130)
        .await
        .unwrap();
    now += 240;
    assert_eq!(
        scheduled_run(&deployed, now).await,
        Outcome::Promoted {
            step: 1,
            weights: Weights::for_percent(steps[1])
        }
    );

    for (step, percent) in steps.iter().enumerate().skip(2) {
        healthy_minute(&env, &deployed, now + 30).await;
        now += step_length();
        assert_eq!(
            scheduled_run(&deployed, now).await,
            Outcome::Promoted {
                step,
                weights: Weights::for_percent(*percent)
            }
        );
        assert_eq!(weights(&deployed).await.v2_percent(), f64::from(*percent));
    }
    env.put_minute(
        &deployed.target.config.canary_tg_arn,
        now + 30,
        1000.0,
        1.0,
        0.070,
    )
    .await;
    assert_eq!(
        scheduled_run(&deployed, now + step_length()).await,
        Outcome::Completed
    );

    let report = status(&deployed, now + 400).await;
    assert!(report.contains("weights    V1 0 / V2 100"), "{report}");
    assert!(
        report.contains("canary     complete at step 4 of 4 (100% to V2)"),
        "{report}"
    );
    for kind in stack::controller::AlarmKind::ALL {
        let name = stack::controller::alarm_name(STACK, kind);
        assert!(
            report.contains(&format!("alarm      {name}: OK")),
            "{report}"
        );
    }
    let decisions: Vec<&str> = report
        .lines()
        .skip_while(|l| !l.starts_with("decisions"))
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(decisions.first(), Some(&"complete"), "{report}");
    for kind in ["pause", "resume", "promote", "hold"] {
        assert!(decisions.contains(&kind), "no {kind} decision in {report}");
    }
    // The judge's latest statistics, each with its threshold.
    assert!(
        report.contains("judge      latest statistics (decision complete")
            && report.contains("errors     sequential: V2 1 of 1400")
            && report.contains("(both ≥ 5.30 rolls back)")
            && report.contains("latency    sequential: 0 of 1400 V2 requests slower than T"),
        "{report}"
    );
    // Complete means done: operators can no longer pause or skip.
    let err = apply(&deployed.target, Operator::Promote, now + 500)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("that is complete"), "{err}");
    check_recorded_calls(&deployed);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_v2_error_spike_and_its_alarm_roll_the_canary_back_for_good() {
    let env = Env::start().await;
    let deployed = deploy(&env).await;
    let now = t0();
    scheduled_run(&deployed, now).await;
    assert_eq!(weights(&deployed).await.v2, 10);

    env.put_minute(
        &deployed.target.config.stable_tg_arn,
        now + 30,
        900.0,
        1.0,
        0.020,
    )
    .await;
    env.put_minute(
        &deployed.target.config.canary_tg_arn,
        now + 30,
        100.0,
        40.0,
        0.070,
    )
    .await;
    let alarm = deployed.deployment.lookup("CanaryErrorRateAlarm");
    // A real alarm event (the controller's fixture), renamed to the stack's alarm.
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../functions/controller/tests/fixtures/alarm-v2-5xx-alarm.json"
    );
    let mut event: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    event["alarmData"]["alarmName"] = json!(alarm);
    event["alarmArn"] = json!(deployed.deployment.get_att("CanaryErrorRateAlarm", "Arn"));
    let outcome = handle_alarm_at(&deployed.rollback, &deployed.target.config, event, now + 60)
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::RolledBack { .. }), "{outcome:?}");
    assert_eq!(weights(&deployed).await, Weights::STABLE_ONLY);
    assert!(
        !controller::schedule::is_enabled(&deployed.reader.scheduler, &deployed.target.config)
            .await
            .unwrap()
    );

    // A later scheduled run (one that was already on its way, say) never brings V2 back.
    assert_eq!(
        scheduled_run(&deployed, now + 400).await,
        Outcome::Idle {
            status: Status::RolledBack
        }
    );
    assert_eq!(weights(&deployed).await, Weights::STABLE_ONLY);
    let report = status(&deployed, now + 400).await;
    assert!(report.contains("canary     rolled_back"), "{report}");
    assert!(
        report.contains(&format!("reason     alarm {alarm} entered ALARM")),
        "{report}"
    );
    let err = apply(&deployed.target, Operator::Resume, now + 500)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot resume a canary that is rolled_back"),
        "{err}"
    );
    check_recorded_calls(&deployed);
}

#[tokio::test(flavor = "multi_thread")]
async fn abort_through_the_cli_rolls_a_running_canary_back_at_once() {
    let env = Env::start().await;
    let deployed = deploy(&env).await;
    scheduled_run(&deployed, t0()).await;
    assert_eq!(weights(&deployed).await.v2, 10);

    let cli = |command: &str| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_canaryctl"))
            .args([
                command,
                "--function",
                "alb-canary-PromoteFunction",
                "--endpoint-url",
                &env.moto.endpoint(),
            ])
            .envs(env.moto.env())
            .output()
            .expect("canaryctl runs");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr),
        )
    };
    let (ok, text) = cli("abort");
    assert!(ok, "{text}");
    assert!(
        text.contains("aborted: V2 weight 0 (was V1 90 / V2 10)"),
        "{text}"
    );
    assert_eq!(weights(&deployed).await, Weights::STABLE_ONLY);
    let (ok, text) = cli("status");
    assert!(ok, "{text}");
    assert!(text.contains("canary     rolled_back"), "{text}");
    assert!(text.contains("reason     aborted by an operator"), "{text}");
    let schedule = stack::controller::schedule_name(&Pseudo::default().stack_uuid);
    assert!(
        text.contains(&format!("schedule   {schedule} disabled")),
        "{text}"
    );
    // Pausing what is rolled back is refused, with a message that says why; nothing changes.
    let (ok, text) = cli("pause");
    assert!(!ok);
    assert!(
        text.contains("cannot pause a canary that is rolled_back"),
        "{text}"
    );
    // A function that is not a canary controller is refused by name.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_canaryctl"))
        .args([
            "status",
            "--function",
            "no-such-function",
            "--endpoint-url",
            &env.moto.endpoint(),
        ])
        .envs(env.moto.env())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("could not read function no-such-function")
    );
    check_recorded_calls(&deployed);
}
