//! The committed template passes; one deliberate break of it makes exactly the intended rule (or flow) fail,
//! and the failure names the resource and says how to fix it.

use serde_json::{Value, json};
use std::path::Path;

fn committed() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates/alb-canary.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} — run `cargo xtask synth`", path.display()));
    serde_json::from_str(&text).expect("the template is JSON")
}

fn resource<'a>(t: &'a mut Value, id: &str) -> &'a mut Value {
    t.pointer_mut(&format!("/Resources/{id}/Properties"))
        .unwrap_or_else(|| panic!("the template has no resource {id}"))
}

/// Applies `mutate` and returns the report; the unmutated template must pass (checked once per call).
fn broken(mutate: impl FnOnce(&mut Value)) -> policy::Report {
    let mut t = committed();
    mutate(&mut t);
    policy::check(&t).expect("the check runs")
}

fn assert_only_rules(report: &policy::Report, expected: &[&str], resource: &str) {
    assert_failed_rules(report, expected);
    let failures = report.failures();
    for rule in expected {
        let f = failures
            .iter()
            .find(|f| f.rule.ends_with(&format!("/{rule}")))
            .expect("a failure for the rule");
        assert_eq!(f.resource, resource, "{rule} should name {resource}: {f}");
        assert!(
            f.message.contains("Violation:") && f.message.contains("Fix:"),
            "{f}"
        );
    }
}

fn assert_failed_rules(report: &policy::Report, expected: &[&str]) {
    let mut failed = report.failed_rules();
    failed.sort();
    let mut want = expected.to_vec();
    want.sort();
    assert_eq!(failed, want, "failing rules differ; report:\n{report}");
}

fn flow<'r>(
    report: &'r policy::Report,
    scenario: &str,
    name: &str,
) -> &'r policy::reachability::FlowVerdict {
    report
        .flows
        .iter()
        .find(|f| f.scenario == scenario && f.name == name)
        .unwrap_or_else(|| panic!("no flow [{scenario}] {name}; report:\n{report}"))
}

#[test]
fn the_committed_template_passes_every_rule_and_flow() {
    let report = policy::check(&committed()).expect("the check runs");
    assert!(report.passed(), "{report}");
    assert!(
        report
            .rules
            .iter()
            .any(|r| r.status == policy::guard::Status::Pass)
    );
    for scenario in [
        "defaults",
        "CanaryPlatform=docker",
        "CertificateArn set (TLS)",
    ] {
        assert!(
            report.flows.iter().any(|f| f.scenario == scenario),
            "scenario {scenario} not evaluated"
        );
    }
}

#[test]
fn ssh_open_to_the_world_on_the_alb_group_fails_the_admin_port_rule_and_the_nacl_still_blocks_it() {
    let report = broken(|t| {
        let ingress = resource(t, "AlbSecurityGroup")["SecurityGroupIngress"]
            .as_array_mut()
            .expect("inline ingress");
        ingress.push(json!({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0", "Description": "SSH, as the handout does"}));
    });
    // Port 22 from the internet is both an admin port and not a listener port: two rules, both right.
    assert_only_rules(
        &report,
        &[
            "security_group_no_admin_ports_from_world",
            "security_group_ingress_only_from_alb",
        ],
        "AlbSecurityGroup",
    );
    let ssh = flow(
        &report,
        "defaults",
        "internet → ALB LoadBalancer :22 (not a listener)",
    );
    assert!(
        !ssh.allowed,
        "defence in depth: the public NACL still drops 22"
    );
    assert_eq!(
        ssh.deciding_hop().map(|h| h.layer),
        Some("network ACL inbound")
    );
}

#[test]
fn dropping_imdsv2_fails_only_the_imdsv2_rule() {
    let report = broken(|t| {
        resource(t, "LaunchTemplateV1")["LaunchTemplateData"]["MetadataOptions"]["HttpTokens"] =
            json!("optional");
    });
    assert_only_rules(
        &report,
        &["launch_template_imdsv2_required"],
        "LaunchTemplateV1",
    );
}

#[test]
fn hop_limit_two_fails_only_the_imdsv2_rule() {
    let report = broken(|t| {
        resource(t, "LaunchTemplateV1")["LaunchTemplateData"]["MetadataOptions"]["HttpPutResponseHopLimit"] =
            json!(2);
    });
    assert_only_rules(
        &report,
        &["launch_template_imdsv2_required"],
        "LaunchTemplateV1",
    );
}

#[test]
fn canary_weight_10_in_the_template_fails_only_the_weight_rule() {
    let report = broken(|t| {
        let actions = &mut resource(t, "HttpListener")["DefaultActions"];
        // Stable-only forward, wherever the generator put it (plain list or the Fn::If's else branch).
        let forward = match actions.get_mut("Fn::If") {
            Some(branches) => &mut branches[2][0],
            None => &mut actions[0],
        };
        forward["ForwardConfig"]["TargetGroups"][1]["Weight"] = json!(10);
    });
    assert_only_rules(&report, &["listener_canary_weight_zero"], "HttpListener");
}

#[test]
fn removing_the_waf_association_fails_only_the_waf_rule() {
    let report = broken(|t| {
        t["Resources"]
            .as_object_mut()
            .expect("resources")
            .remove("WebAclAssociation");
    });
    assert_eq!(
        report.failed_rules(),
        ["alb_internet_facing_has_waf"],
        "{report}"
    );
}

#[test]
fn keeping_invalid_headers_fails_only_the_header_rule() {
    let report = broken(|t| {
        let attrs = resource(t, "LoadBalancer")["LoadBalancerAttributes"]
            .as_array_mut()
            .expect("attributes");
        attrs.retain(|a| a["Key"] != "routing.http.drop_invalid_header_fields.enabled");
    });
    assert_only_rules(&report, &["alb_drops_invalid_headers"], "LoadBalancer");
}

#[test]
fn routing_a_private_subnet_to_the_igw_fails_the_nat_rule_and_the_nat_flows() {
    let report = broken(|t| {
        let route = resource(t, "PrivateDefaultRoute1")
            .as_object_mut()
            .expect("route");
        route.remove("NatGatewayId");
        route.insert("GatewayId".into(), json!({"Ref": "InternetGateway"}));
    });
    assert_only_rules(
        &report,
        &["private_route_default_via_nat"],
        "PrivateDefaultRoute1",
    );
    let nat = flow(
        &report,
        "defaults",
        "AutoScalingGroupV1 → internet :443 through the NAT and replies",
    );
    assert!(!nat.allowed);
    let hop = nat.deciding_hop().expect("a hop");
    assert_eq!(
        (hop.layer, hop.resource.as_str()),
        ("route table", "PrivateRouteTable1"),
        "{report}"
    );
    // Without a public IP the instances still cannot talk to the internet directly: the IGW drops them.
    assert!(
        !flow(
            &report,
            "defaults",
            "AutoScalingGroupV1 → internet :443 without NAT"
        )
        .allowed
    );
}

#[test]
fn a_private_subnet_that_assigns_public_ips_and_routes_to_the_igw_fails_both_subnet_rules() {
    let report = broken(|t| {
        resource(t, "PrivateSubnet1")["MapPublicIpOnLaunch"] = json!(true);
        let route = resource(t, "PrivateDefaultRoute1")
            .as_object_mut()
            .expect("route");
        route.remove("NatGatewayId");
        route.insert("GatewayId".into(), json!({"Ref": "InternetGateway"}));
    });
    assert_failed_rules(
        &report,
        &[
            "private_subnet_no_public_ip",
            "private_route_default_via_nat",
        ],
    );
    let subnet = report
        .failures()
        .into_iter()
        .find(|f| f.rule.ends_with("/private_subnet_no_public_ip"))
        .expect("subnet failure");
    assert_eq!(subnet.resource, "PrivateSubnet1");
    // The launch template's explicit `AssociatePublicIpAddress: false` overrides the subnet: the instances
    // stay without a public address, so with the NAT route gone they reach the internet by no path.
    let direct = flow(
        &report,
        "defaults",
        "AutoScalingGroupV1 → internet :443 without NAT",
    );
    assert!(!direct.allowed && direct.holds(), "{report}");
    let via_nat = flow(
        &report,
        "defaults",
        "AutoScalingGroupV1 → internet :443 through the NAT and replies",
    );
    assert!(!via_nat.allowed, "{report}");
}

#[test]
fn an_access_key_in_user_data_fails_only_the_credentials_rule() {
    let report = broken(|t| {
        let sub = &mut resource(t, "LaunchTemplateV1")["LaunchTemplateData"]["UserData"]["Fn::Base64"]
            ["Fn::Sub"];
        let script = sub
            .as_str()
            .expect("user data is an Fn::Sub string")
            .to_owned();
        *sub = json!(format!(
            "{script}\nsudo aws configure set aws_access_key_id AKIAIOSFODNN7EXAMPLE\n"
        ));
    });
    assert_only_rules(
        &report,
        &["launch_template_no_credentials_in_user_data"],
        "LaunchTemplateV1",
    );
}

#[test]
fn an_unencrypted_volume_fails_only_the_encryption_rule() {
    let report = broken(|t| {
        resource(t, "LaunchTemplateV1")["LaunchTemplateData"]["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] =
            json!(false);
    });
    assert_only_rules(
        &report,
        &["launch_template_volumes_encrypted"],
        "LaunchTemplateV1",
    );
}

#[test]
fn an_open_s3_endpoint_policy_fails_only_the_endpoint_rule() {
    let report = broken(|t| {
        resource(t, "S3GatewayEndpoint")["PolicyDocument"] = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}]});
    });
    assert_only_rules(
        &report,
        &["s3_endpoint_policy_limited"],
        "S3GatewayEndpoint",
    );
}

#[test]
fn an_undescribed_security_group_rule_fails_only_the_description_rule() {
    let report = broken(|t| {
        resource(t, "BackendIngressAppFromAlb")
            .as_object_mut()
            .expect("ingress")
            .remove("Description");
    });
    assert_only_rules(
        &report,
        &["security_group_rules_described"],
        "BackendIngressAppFromAlb",
    );
}

#[test]
fn removing_the_private_nacl_reply_path_to_the_alb_breaks_only_reachability() {
    // Guard rules cannot see this one: the NACL stays "safe", it just drops V1's replies to the ALB in AZ 1.
    // (Removing the public NACL's 8000 entry instead would change nothing: its ephemeral range covers 8000.)
    let report = broken(|t| {
        t["Resources"]
            .as_object_mut()
            .expect("resources")
            .remove("PrivateNaclOutEphemeralToPublic1");
    });
    assert!(report.failed_rules().is_empty(), "{report}");
    let v1 = flow(
        &report,
        "defaults",
        "ALB LoadBalancer → TargetGroupV1 (AutoScalingGroupV1) :8000 and replies",
    );
    assert!(!v1.allowed);
    let hop = v1.deciding_hop().expect("a hop");
    assert_eq!(
        (hop.leg, hop.layer, hop.resource.as_str()),
        ("reply", "network ACL outbound", "PrivateNacl"),
        "{hop}"
    );
    assert!(hop.rule.contains("default deny"), "{hop}");
    let failure = report
        .failures()
        .into_iter()
        .find(|f| f.rule.contains("TargetGroupV1"))
        .expect("a failure");
    assert_eq!(failure.resource, "PrivateNacl");
    assert!(failure.message.contains("Fix:"), "{failure}");
    // The request itself still passes every layer: only the stateless reply is broken.
    assert!(
        v1.hops
            .iter()
            .filter(|h| h.leg == "request")
            .all(|h| h.allowed)
    );
}

#[test]
fn controller_resources_without_least_privilege_fail_the_iam_rules() {
    let report = broken(|t| {
        let resources = t["Resources"].as_object_mut().expect("resources");
        resources.insert("RollbackRole".into(), json!({"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": "weights", "PolicyDocument": {"Statement": [
                {"Effect": "Allow", "Action": ["elasticloadbalancing:ModifyListener"], "Resource": "*"}]}}]}}));
        resources.insert(
            "RollbackPermission".into(),
            json!({"Type": "AWS::Lambda::Permission", "Properties": {
            "FunctionName": {"Ref": "RollbackFunction"}, "Action": "lambda:InvokeFunction",
            "Principal": "lambda.alarms.cloudwatch.amazonaws.com"}}),
        );
        resources.insert(
            "RollbackLogGroup".into(),
            json!({"Type": "AWS::Logs::LogGroup", "Properties": {}}),
        );
    });
    let mut failed = report.failed_rules();
    failed.sort();
    assert_eq!(
        failed,
        [
            "iam_no_wildcard_resource_on_mutations",
            "lambda_alarm_permission_scoped",
            "log_group_retention"
        ],
        "{report}"
    );
    let names: Vec<String> = report
        .failures()
        .iter()
        .map(|f| f.resource.clone())
        .collect();
    for id in ["RollbackRole", "RollbackPermission", "RollbackLogGroup"] {
        assert!(names.iter().any(|n| n == id), "{id} not named in {names:?}");
    }
}

fn statement_with<'a>(t: &'a mut Value, role: &str, action: &str) -> &'a mut Value {
    let statements = resource(t, role)["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array_mut()
        .expect("statements");
    statements
        .iter_mut()
        .find(|s| s["Action"].to_string().contains(action))
        .unwrap_or_else(|| panic!("{role} has no statement with {action}"))
}

#[test]
fn the_controller_role_with_modify_listener_on_every_resource_fails_only_the_resource_rule() {
    for star in [json!("*"), json!(["*"])] {
        let report = broken(|t| {
            statement_with(
                t,
                "RollbackFunctionRole",
                "elasticloadbalancing:ModifyListener",
            )["Resource"] = star.clone();
        });
        assert_only_rules(
            &report,
            &["iam_no_wildcard_resource_on_mutations"],
            "RollbackFunctionRole",
        );
    }
}

#[test]
fn the_controller_role_with_a_wildcard_action_fails_the_action_rule() {
    let report = broken(|t| {
        statement_with(
            t,
            "PromotionFunctionRole",
            "elasticloadbalancing:ModifyListener",
        )["Action"] = json!(["*"]);
    });
    assert!(
        report.failed_rules().contains(&"iam_no_wildcard_action"),
        "{report}"
    );
    let failure = report
        .failures()
        .into_iter()
        .find(|f| f.rule.ends_with("/iam_no_wildcard_action"))
        .expect("failure");
    assert_eq!(failure.resource, "PromotionFunctionRole");
}

#[test]
fn the_real_alarm_permission_without_source_account_fails_only_the_permission_rule() {
    let report = broken(|t| {
        resource(t, "CanaryErrorRateAlarmInvokesRollback")
            .as_object_mut()
            .expect("permission")
            .remove("SourceAccount");
    });
    assert_only_rules(
        &report,
        &["lambda_alarm_permission_scoped"],
        "CanaryErrorRateAlarmInvokesRollback",
    );
}

#[test]
fn the_real_log_group_without_retention_fails_only_the_retention_rule() {
    let report = broken(|t| {
        resource(t, "PromotionFunctionLogGroup")
            .as_object_mut()
            .expect("log group")
            .remove("RetentionInDays");
    });
    assert_only_rules(
        &report,
        &["log_group_retention"],
        "PromotionFunctionLogGroup",
    );
}

#[test]
fn an_expression_the_checks_do_not_understand_fails_the_check_naming_resource_and_path() {
    // An intrinsic the evaluator does not know: an error, not a null the flows would skip.
    let mut t = committed();
    resource(&mut t, "PrivateSubnet1")["CidrBlock"] =
        json!({"Fn::Cidr": [{"Ref": "VpcCidr"}, 4, 8]});
    let err = policy::check(&t)
        .expect_err("an unknown intrinsic")
        .to_string();
    for part in [
        "Resources.PrivateSubnet1",
        "Properties.CidrBlock.Fn::Cidr",
        "unknown intrinsic",
    ] {
        assert!(err.contains(part), "{part} missing from: {err}");
    }
    // A condition the template does not declare: an error, not `false`.
    let mut t = committed();
    resource(&mut t, "PrivateNaclInEphemeral")["CidrBlock"] =
        json!({"Fn::If": ["NoSuchCondition", "10.0.0.0/8", "0.0.0.0/0"]});
    let err = policy::check(&t)
        .expect_err("an undeclared condition")
        .to_string();
    assert!(
        err.contains("Resources.PrivateNaclInEphemeral")
            && err.contains("Properties.CidrBlock.Fn::If")
            && err.contains("`NoSuchCondition` is not declared"),
        "{err}"
    );
}
