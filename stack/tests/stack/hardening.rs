//! What a real deploy would hit and what a security review expects, one check per fix. Each
//! check reads the synthesized template and returns its findings; each test proves the check
//! passes on the stack and catches its own deliberate break (the mutation).

use policy::intrinsics::{Evaluator, Physical, Pseudo};
use serde_json::{Value, json};

type Check = fn(&Value) -> Vec<String>;

fn template() -> Value {
    stack::synthesize(&stack::Options::default()).to_json()
}

/// The check holds on the stack, and the mutation makes it report something.
fn holds_and_catches(check: Check, mutate: impl FnOnce(&mut Value)) {
    let original = template();
    let findings = check(&original);
    assert!(
        findings.is_empty(),
        "the stack fails its own check: {findings:#?}"
    );
    let mut broken = original;
    mutate(&mut broken);
    assert!(!check(&broken).is_empty(), "the mutation went unnoticed");
}

fn resources(t: &Value) -> impl Iterator<Item = (&String, &Value)> {
    t["Resources"].as_object().unwrap().iter()
}

fn of_type<'t>(t: &'t Value, kind: &'t str) -> impl Iterator<Item = (&'t String, &'t Value)> {
    resources(t).filter(move |(_, r)| r["Type"] == kind)
}

fn depends_on(resource: &Value) -> Vec<&str> {
    resource["DependsOn"]
        .as_array()
        .map(|d| d.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn props<'t>(t: &'t mut Value, id: &str) -> &'t mut Value {
    t.pointer_mut(&format!("/Resources/{id}/Properties"))
        .unwrap()
}

// ------------------------------------------------------------------ deploy order

/// Every internet-facing ALB waits for an internet gateway attachment.
fn alb_waits_for_the_gateway(t: &Value) -> Vec<String> {
    let attachments: Vec<&String> = of_type(t, "AWS::EC2::VPCGatewayAttachment")
        .map(|(id, _)| id)
        .collect();
    of_type(t, "AWS::ElasticLoadBalancingV2::LoadBalancer")
        .filter(|(_, r)| {
            !depends_on(r)
                .iter()
                .any(|d| attachments.iter().any(|a| a == d))
        })
        .map(|(id, _)| format!("{id} does not depend on the internet gateway attachment"))
        .collect()
}

#[test]
fn the_alb_waits_for_the_internet_gateway_attachment() {
    holds_and_catches(alb_waits_for_the_gateway, |t| {
        t["Resources"]["LoadBalancer"]["DependsOn"] = json!(["LogBucketPolicy"]);
    });
}

/// Every Auto Scaling group waits for the route-table and NACL associations of its subnets.
fn groups_wait_for_their_subnets(t: &Value) -> Vec<String> {
    let mut findings = Vec::new();
    for (id, group) in of_type(t, "AWS::AutoScaling::AutoScalingGroup") {
        let waits = depends_on(group);
        for subnet in group["Properties"]["VPCZoneIdentifier"].as_array().unwrap() {
            let subnet = subnet["Ref"].as_str().unwrap();
            for kind in [
                "AWS::EC2::SubnetRouteTableAssociation",
                "AWS::EC2::SubnetNetworkAclAssociation",
            ] {
                let associations: Vec<&String> = of_type(t, kind)
                    .filter(|(_, a)| a["Properties"]["SubnetId"]["Ref"] == subnet)
                    .map(|(a, _)| a)
                    .collect();
                if associations.is_empty()
                    || !associations.iter().all(|a| waits.contains(&a.as_str()))
                {
                    findings.push(format!("{id} does not wait for the {kind} of {subnet}"));
                }
            }
        }
    }
    findings
}

#[test]
fn every_group_waits_for_its_subnets_route_tables_and_nacls() {
    holds_and_catches(groups_wait_for_their_subnets, |t| {
        let waits = t["Resources"]["AutoScalingGroupV1"]["DependsOn"]
            .as_array_mut()
            .unwrap();
        waits.retain(|d| d != "PrivateSubnet2NetworkAclAssociation");
    });
}

/// Stable and canary boot without any internet path: no package installs, the artifact through the
/// S3 endpoint by `fetch_artifact`, and their groups do not wait for NAT.
fn vms_need_no_internet(t: &Value) -> Vec<String> {
    let mut findings = Vec::new();
    for id in ["V1", "V2"] {
        let data =
            &t["Resources"][format!("LaunchTemplate{id}")]["Properties"]["LaunchTemplateData"];
        let script = data["UserData"]["Fn::Base64"]["Fn::Sub"]
            .as_str()
            .unwrap_or_default();
        for needs_internet in [
            "snap ",
            "apt-get",
            "apt ",
            "pip ",
            "/snap/bin/aws",
            "aws s3",
        ] {
            if script.contains(needs_internet) {
                findings.push(format!(
                    "LaunchTemplate{id} runs `{needs_internet}` at boot"
                ));
            }
        }
        let function = stack::cfn::sub_literal(stack::compute::FETCH_FUNCTION);
        if !script.contains(&function) || !script.contains("until fetch_artifact ") {
            findings.push(format!(
                "LaunchTemplate{id} does not fetch with fetch_artifact"
            ));
        }
        let group = &t["Resources"][format!("AutoScalingGroup{id}")];
        if depends_on(group)
            .iter()
            .any(|d| d.starts_with("PrivateDefaultRoute"))
        {
            findings.push(format!(
                "AutoScalingGroup{id} waits for NAT it does not need"
            ));
        }
    }
    findings
}

#[test]
fn stable_and_canary_fetch_through_the_endpoint_with_nothing_installed() {
    holds_and_catches(vms_need_no_internet, |t| {
        let data = &mut props(t, "LaunchTemplateV2")["LaunchTemplateData"]["UserData"]["Fn::Base64"]
            ["Fn::Sub"];
        *data = json!(format!(
            "{}\nsnap install aws-cli --classic\n",
            data.as_str().unwrap()
        ));
    });
    let function = stack::compute::FETCH_FUNCTION;
    assert!(function.starts_with("fetch_artifact() {"));
    for part in [
        "X-aws-ec2-metadata-token-ttl-seconds",
        "iam/security-credentials/",
        "--aws-sigv4 \"aws:amz:$ARTIFACT_REGION:s3\"",
        "x-amz-security-token",
        "\"$S3_ENDPOINT/$key\"",
    ] {
        assert!(function.contains(part), "{part}");
    }
}

// ------------------------------------------------------------------ names and ARNs

/// Name limits per resource type, for the longest stack name CloudFormation allows (128).
const NAME_LIMITS: &[(&str, &str, usize)] = &[
    ("AWS::Scheduler::Schedule", "Name", 64),
    ("AWS::CloudWatch::Alarm", "AlarmName", 255),
    ("AWS::CloudWatch::Dashboard", "DashboardName", 255),
];

/// Every derived name, evaluated (by the shared evaluator) for a 128-character stack name.
fn names_fit(t: &Value) -> Vec<String> {
    let pseudo = Pseudo {
        stack_name: "s".repeat(128),
        ..Pseudo::default()
    };
    let evaluator = Evaluator::with_pseudo(t, &[], pseudo).unwrap();
    let mut findings = Vec::new();
    for (kind, property, limit) in NAME_LIMITS {
        for (id, r) in of_type(t, kind) {
            // No name: CloudFormation generates one within the limit.
            if r["Properties"][property].is_null() {
                continue;
            }
            let name = evaluator.value_at(
                &format!("Resources.{id}"),
                &format!("Properties.{property}"),
                &r["Properties"][property],
                &Physical::LogicalIds,
            );
            match name {
                Ok(Value::String(name)) if name.len() <= *limit => {}
                Ok(name) => findings.push(format!("{id}.{property}: {name} is over {limit}")),
                Err(err) => findings.push(err.to_string()),
            }
        }
    }
    findings
}

#[test]
fn derived_names_stay_within_their_limits_for_any_stack_name() {
    holds_and_catches(names_fit, |t| {
        props(t, "PromotionSchedule")["Name"] = json!({ "Fn::Sub": "${AWS::StackName}-promotion" });
    });
}

/// The schedule's role may invoke only the function the schedule targets, by its own ARN.
fn schedule_invokes_its_target_only(t: &Value) -> Vec<String> {
    let schedule = &t["Resources"]["PromotionSchedule"]["Properties"]["Target"];
    let role = schedule["RoleArn"]["Fn::GetAtt"][0]
        .as_str()
        .unwrap_or_default();
    let mut findings = Vec::new();
    let mut granted = Vec::new();
    let statements = resources(t)
        .filter(|(id, r)| {
            (id.as_str() == role)
                || (r["Type"] == "AWS::IAM::Policy"
                    && r["Properties"]["Roles"]
                        .as_array()
                        .is_some_and(|roles| roles.contains(&json!({ "Ref": role }))))
        })
        .flat_map(|(_, r)| {
            let inline = r["Properties"]["Policies"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let docs: Vec<Value> = inline
                .iter()
                .map(|p| p["PolicyDocument"].clone())
                .chain(r["Properties"].get("PolicyDocument").cloned())
                .collect();
            docs.into_iter()
                .flat_map(|d| d["Statement"].as_array().cloned().unwrap_or_default())
        });
    for statement in statements {
        let invokes = statement["Action"].as_array().is_some_and(|a| {
            a.iter()
                .any(|a| a.as_str().is_some_and(|a| a.starts_with("lambda:")))
        });
        if invokes {
            granted.extend(
                statement["Resource"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
            );
        }
    }
    if granted != vec![schedule["Arn"].clone()] {
        findings.push(format!(
            "{role} may invoke {granted:?}, not exactly the target {}",
            schedule["Arn"]
        ));
    }
    findings
}

#[test]
fn the_schedule_role_invokes_exactly_the_promotion_functions_arn() {
    holds_and_catches(schedule_invokes_its_target_only, |t| {
        props(t, "PromotionScheduleInvokePolicy")["PolicyDocument"]["Statement"][0]["Resource"] = json!([{
            "Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-*"
        }]);
    });
}

// ------------------------------------------------------------------ secure defaults

fn queues_encrypted(t: &Value) -> Vec<String> {
    of_type(t, "AWS::SQS::Queue")
        .filter(|(_, q)| {
            q["Properties"]["SqsManagedSseEnabled"] != true
                && q["Properties"].get("KmsMasterKeyId").is_none()
        })
        .map(|(id, _)| format!("{id} is not encrypted at rest"))
        .collect()
}

#[test]
fn the_dead_letter_queue_is_encrypted() {
    holds_and_catches(queues_encrypted, |t| {
        props(t, "ControllerDeadLetterQueue")["SqsManagedSseEnabled"] = json!(false);
    });
}

fn concurrency_reserved(t: &Value) -> Vec<String> {
    let want = [
        (
            "PromotionFunction",
            stack::controller::PROMOTION_CONCURRENCY,
        ),
        ("RollbackFunction", stack::controller::ROLLBACK_CONCURRENCY),
    ];
    let mut findings = Vec::new();
    for (id, _) in of_type(t, "AWS::Lambda::Function") {
        let reserved = &t["Resources"][id]["Properties"]["ReservedConcurrentExecutions"];
        match want.iter().find(|(w, _)| w == id) {
            Some((_, n)) if reserved == &json!(n) => {}
            _ => findings.push(format!("{id} reserves {reserved}")),
        }
    }
    findings
}

#[test]
fn promotions_run_one_at_a_time_and_rollbacks_are_never_throttled() {
    assert_eq!(stack::controller::PROMOTION_CONCURRENCY, 1);
    assert_eq!(stack::controller::ROLLBACK_CONCURRENCY, 5);
    holds_and_catches(concurrency_reserved, |t| {
        props(t, "PromotionFunction")["ReservedConcurrentExecutions"] = json!(2);
    });
}

/// ALB access logs on by default, into the log bucket, whose policy lets ELB's log delivery
/// write under the ALB prefix of this account; and the ALB waits for that policy.
fn alb_logs_on(t: &Value) -> Vec<String> {
    let mut findings = Vec::new();
    let alb = &t["Resources"]["LoadBalancer"];
    let attrs = alb["Properties"]["LoadBalancerAttributes"].to_string();
    for needed in [
        r#"{"Key":"access_logs.s3.enabled","Value":{"Fn::If":["HasAccessLogs","true","false"]}}"#,
        r#"{"Key":"access_logs.s3.bucket","Value":{"Ref":"LogBucket"}}"#,
    ] {
        if !attrs.contains(needed) {
            findings.push(format!("LoadBalancer lacks {needed}"));
        }
    }
    if t["Parameters"]["AlbAccessLogs"]["Default"] != "enabled" {
        findings.push("ALB access logs are not on by default".into());
    }
    if !depends_on(alb).contains(&"LogBucketPolicy") {
        findings.push("LoadBalancer does not wait for LogBucketPolicy".into());
    }
    let statements =
        &t["Resources"]["LogBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"];
    let delivery = statements
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["Sid"] == "AlbAccessLogs");
    match delivery {
        Some(s) => {
            let principal = s["Principal"].to_string();
            if !principal.contains("logdelivery.elasticloadbalancing.amazonaws.com")
                || !principal.contains("ElbLogDeliveryAccount")
                || s["Action"] != json!(["s3:PutObject"])
                || s["Resource"]
                    != json!([{ "Fn::Sub": "${LogBucket.Arn}/alb/AWSLogs/${AWS::AccountId}/*" }])
            {
                findings.push(format!(
                    "the ALB log-delivery statement is not the documented one: {s}"
                ));
            }
        }
        None => findings.push("LogBucketPolicy lets no ALB log delivery write".into()),
    }
    findings
}

#[test]
fn alb_access_logs_are_on_by_default_with_the_documented_delivery_policy() {
    holds_and_catches(alb_logs_on, |t| {
        t["Parameters"]["AlbAccessLogs"]["Default"] = json!("disabled");
    });
    holds_and_catches(alb_logs_on, |t| {
        let statements = props(t, "LogBucketPolicy")["PolicyDocument"]["Statement"]
            .as_array_mut()
            .unwrap();
        statements.retain(|s| s["Sid"] != "AlbAccessLogs");
    });
    // Every region of the mapping is in the condition that selects it, and no other.
    let t = template();
    let mapped: Vec<&String> = t["Mappings"]["ElbLogDeliveryAccount"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    let condition = t["Conditions"]["ElbLogDeliveryByAccount"].to_string();
    for region in &mapped {
        assert!(condition.contains(&format!("\"{region}\"")), "{region}");
    }
    assert_eq!(condition.matches("Fn::Equals").count(), mapped.len());
}

/// Every versioned bucket expires old versions; every bucket either logs its accesses into the
/// log bucket, whose policy admits exactly that bucket's logs, or says why not.
fn buckets_logged_and_expiring(t: &Value) -> Vec<String> {
    let mut findings = Vec::new();
    for (id, bucket) in of_type(t, "AWS::S3::Bucket") {
        let p = &bucket["Properties"];
        let rules = p["LifecycleConfiguration"]["Rules"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if p["VersioningConfiguration"]["Status"] == "Enabled"
            && !rules
                .iter()
                .any(|r| r.get("NoncurrentVersionExpiration").is_some())
        {
            findings.push(format!("{id} keeps every old version forever"));
        }
        if rules.is_empty() {
            findings.push(format!("{id} has no lifecycle"));
        }
        let waived = bucket["Metadata"]["checkov"]["skip"]
            .to_string()
            .contains("CKV_AWS_18");
        match &p["LoggingConfiguration"] {
            Value::Null if waived => {}
            Value::Null => findings.push(format!("{id} has no access logging")),
            logging => {
                let target = logging["DestinationBucketName"]["Ref"]
                    .as_str()
                    .unwrap_or_default();
                let policy = resources(t).find(|(_, r)| {
                    r["Type"] == "AWS::S3::BucketPolicy"
                        && r["Properties"]["Bucket"]["Ref"] == target
                });
                let admits = policy.is_some_and(|(_, r)| {
                    r["Properties"]["PolicyDocument"]["Statement"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|s| {
                            s["Principal"]["Service"] == json!(["logging.s3.amazonaws.com"])
                                && s["Condition"]["ArnLike"]["aws:SourceArn"]
                                    == json!({ "Fn::GetAtt": [id, "Arn"] })
                        })
                });
                if !admits {
                    findings.push(format!(
                        "{target}'s policy does not admit {id}'s access logs"
                    ));
                }
            }
        }
    }
    findings
}

#[test]
fn buckets_log_their_accesses_and_expire_old_versions() {
    holds_and_catches(buckets_logged_and_expiring, |t| {
        props(t, "ArtifactBucket")
            .as_object_mut()
            .unwrap()
            .remove("LoggingConfiguration");
    });
    holds_and_catches(buckets_logged_and_expiring, |t| {
        props(t, "ArtifactBucket")["LifecycleConfiguration"]["Rules"][0]
            .as_object_mut()
            .unwrap()
            .remove("NoncurrentVersionExpiration");
    });
}
