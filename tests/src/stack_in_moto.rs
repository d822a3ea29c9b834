//! The controller's resources created in the emulator as the synthesized stack declares them.
//!
//! moto's CloudFormation cannot create our stack (see the shared emulator notes), so this plays
//! CloudFormation's part for the controller: it creates the listener, target groups, state table,
//! topic, schedule, alarms, role and functions through the SDK with the names, keys, weights,
//! environment and event that `stack::synthesize` gives them, resolving the template's own
//! expressions ([`Deployment`]). Nothing is typed twice: the end-to-end tests and `cargo xtask lab`
//! both deploy through here.

use std::collections::HashMap;

use aws_sdk_elasticloadbalancingv2::types::{ProtocolEnum, TargetTypeEnum};
use controller::Clients;
use serde_json::Value;

use crate::Moto;
use crate::requests::{self, Schedule};
use crate::template::{ACCOUNT, Deployment, STACK, scalar};

/// An application load balancer in the emulator's default VPC.
#[derive(Debug, Clone)]
pub struct LoadBalancer {
    pub vpc_id: String,
    pub arn: String,
    /// The `LoadBalancer` metric dimension: `app/<name>/<id>`.
    pub dimension: String,
}

impl LoadBalancer {
    /// Creates one named `name` on two of the default subnets in different zones.
    pub async fn create(moto: &Moto, name: &str) -> LoadBalancer {
        let (vpc_id, subnets) = default_subnets(moto);
        let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&moto.sdk_config().await);
        let lb = elbv2
            .create_load_balancer()
            .name(name)
            .set_subnets(Some(subnets))
            .send()
            .await
            .expect("CreateLoadBalancer");
        let arn = lb.load_balancers()[0]
            .load_balancer_arn()
            .unwrap()
            .to_string();
        let dimension = arn.split(":loadbalancer/").nth(1).unwrap().to_string();
        LoadBalancer {
            vpc_id,
            arn,
            dimension,
        }
    }
}

/// The default VPC's id and two of its subnets in different zones. moto creates them on start;
/// the EC2 SDK crate is not a dependency, so this is one plain Query call to the emulator
/// (moto routes by the credential scope and does not check the signature).
fn default_subnets(moto: &Moto) -> (String, Vec<String>) {
    let response = moto.query("ec2", "Action=DescribeSubnets&Version=2016-11-15");
    let values = |tag: &str| -> Vec<String> {
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        response
            .split(&open)
            .skip(1)
            .filter_map(|rest| rest.split(&close).next().map(str::to_string))
            .collect()
    };
    let (subnets, zones, vpcs) = (
        values("subnetId"),
        values("availabilityZone"),
        values("vpcId"),
    );
    assert!(
        subnets.len() >= 2,
        "moto has no default subnets: {response}"
    );
    let mut picked: Vec<(String, String)> = Vec::new();
    for (subnet, zone) in subnets.iter().zip(zones.iter()) {
        if picked.iter().all(|(_, z)| z != zone) {
            picked.push((subnet.clone(), zone.clone()));
        }
    }
    (
        vpcs[0].clone(),
        picked.into_iter().take(2).map(|(s, _)| s).collect(),
    )
}

/// The Auto Scaling groups' names (the fleets' refreshes go to [`crate::refresh`], which knows
/// groups by name; their instances are the IP targets registered below).
pub const STABLE_FLEET: &str = "alb-canary-v1-fleet";
pub const CANARY_FLEET: &str = "alb-canary-v2-fleet";

/// What [`deploy`] created.
pub struct Deployed {
    /// The template with everything created so far resolvable.
    pub deployment: Deployment,
    /// Each function's environment as the template gives it, by logical ID
    /// (`PromotionFunction`, `RollbackFunction`).
    pub function_env: HashMap<String, HashMap<String, String>>,
    /// The event the promotion schedule sends.
    pub schedule_event: Value,
}

/// Creates the controller's resources as the stack declares them, in `moto`, on `lb`, with
/// `overrides` for the stack's parameters.
pub async fn deploy(moto: &Moto, lb: &LoadBalancer, overrides: &[(&str, &str)]) -> Deployed {
    let mut d = Deployment::new(overrides);
    let sdk = moto.sdk_config().await;
    let c = Clients::new(&sdk);
    d.created("Vpc", &lb.vpc_id);
    d.created("LoadBalancer", &lb.arn);
    d.attribute("LoadBalancer", "LoadBalancerFullName", &lb.dimension);

    // The artifact bucket, and the fleets' Auto Scaling groups by name.
    let bucket = format!("{STACK}-artifacts");
    c.s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("CreateBucket");
    d.created("ArtifactBucket", &bucket);
    d.attribute("ArtifactBucket", "Arn", &format!("arn:aws:s3:::{bucket}"));
    for (id, name) in [
        ("AutoScalingGroupV1", STABLE_FLEET),
        ("AutoScalingGroupV2", CANARY_FLEET),
    ] {
        d.created(id, name);
    }

    // Target groups: the template's protocol, port and health check. IP targets stand in for the
    // Auto Scaling groups' instances, which the emulator's ELBv2 would not see.
    for (id, target) in [
        ("TargetGroupV1", "10.0.20.4"),
        ("TargetGroupV2", "10.0.20.5"),
        // The Docker host's group, whichever platform canary runs on: its user data names it.
        ("TargetGroupV2Docker", "10.0.20.6"),
    ] {
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
            .vpc_id(&lb.vpc_id)
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
        requests::register_ip_target(&c.elbv2, &arn, target).await;
    }

    // The listener with the template's default action: stable-only.
    let listener = d.property("HttpListener", &[]);
    let actions = listener["DefaultActions"].as_array().unwrap();
    assert_eq!(actions.len(), 1);
    let groups: Vec<(&str, i32)> = actions[0]["ForwardConfig"]["TargetGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|group| {
            (
                group["TargetGroupArn"].as_str().unwrap(),
                group["Weight"].as_i64().unwrap() as i32,
            )
        })
        .collect();
    let out = c
        .elbv2
        .create_listener()
        .load_balancer_arn(&lb.arn)
        .protocol(ProtocolEnum::Http)
        .port(listener["Port"].as_i64().unwrap() as i32)
        .default_actions(requests::forward(&groups))
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
    let iam = aws_sdk_iam::Client::new(&sdk);
    let mut role_arns = HashMap::new();
    for id in ["RollbackFunctionRole", "PromotionScheduleRole"] {
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
    let role_arn = role_arns["RollbackFunctionRole"].clone();

    // The alarms, under the names the stack gives them (the rollback function lists them), or
    // one generated as CloudFormation does for an alarm the stack leaves unnamed.
    for (id, alarm) in d.template["Resources"].as_object().unwrap().clone() {
        if alarm["Type"] != "AWS::CloudWatch::Alarm" {
            continue;
        }
        let name = if alarm["Properties"]["AlarmName"].is_null() {
            format!("{STACK}-{id}")
        } else {
            scalar(&d.property(&id, &["AlarmName"]))
        };
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
    let schedule_name = scalar(&d.property("PromotionSchedule", &["Name"]));
    d.created("PromotionSchedule", &schedule_name);
    d.attribute(
        "PromotionSchedule",
        "Arn",
        &format!("arn:aws:scheduler:us-east-1:{ACCOUNT}:schedule/default/{schedule_name}"),
    );
    let mut function_env = HashMap::new();
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    for id in ["PromotionFunction", "RollbackFunction"] {
        let name = format!("{STACK}-{id}");
        let arn = format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}");
        d.created(id, &name);
        d.attribute(id, "Arn", &arn);
    }
    for id in ["PromotionFunction", "RollbackFunction"] {
        let vars: HashMap<String, String> = d
            .property(id, &["Environment", "Variables"])
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), scalar(v)))
            .collect();
        function_env.insert(id.to_owned(), vars.clone());
        lambda
            .create_function()
            .function_name(d.lookup(id))
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
    requests::create_schedule(
        &c.scheduler,
        &Schedule {
            name: schedule(&["Name"]),
            expression: schedule(&["ScheduleExpression"]),
            target_arn: schedule(&["Target", "Arn"]),
            role_arn: schedule(&["Target", "RoleArn"]),
            input: schedule(&["Target", "Input"]),
        },
    )
    .await;
    let schedule_event: Value = serde_json::from_str(&schedule(&["Target", "Input"])).unwrap();
    Deployed {
        deployment: d,
        function_env,
        schedule_event,
    }
}

/// A zip archive with no entries: the emulator stores the code, it does not run it.
fn empty_zip() -> Vec<u8> {
    let mut end_of_central_directory = vec![0x50, 0x4b, 0x05, 0x06];
    end_of_central_directory.extend([0u8; 18]);
    end_of_central_directory
}
