//! The stack's intent (SPEC §1), asserted on the synthesized template under several parameter
//! sets: counts, CIDRs, AZ spread, every NACL and security-group rule, listener weights,
//! health checks, IMDSv2, and no SSH anywhere.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::eval::{Eval, get_att, r#ref};

const ANYWHERE: &str = "0.0.0.0/0";
const PUBLIC: [&str; 2] = ["10.0.10.0/24", "10.0.11.0/24"];
const PRIVATE: [&str; 2] = ["10.0.20.0/24", "10.0.21.0/24"];
const CERT: &str = "arn:aws:acm:us-east-1:123456789012:certificate/abcd-1234";

fn defaults() -> Eval {
    Eval::new(&[])
}

fn az_index(subnet: &Value) -> u64 {
    let select = &subnet["AvailabilityZone"]["Fn::Select"];
    assert_eq!(
        select[1],
        json!({ "Fn::GetAZs": "" }),
        "AZ from Fn::GetAZs, not hard-coded"
    );
    select[0].as_u64().unwrap()
}

#[test]
fn vpc_and_four_subnets_in_two_azs_with_spec_cidrs() {
    let eval = defaults();
    let vpcs = eval.resources("AWS::EC2::VPC");
    assert_eq!(vpcs.len(), 1);
    assert_eq!(vpcs[0].1["CidrBlock"], "10.0.0.0/16");
    assert_eq!(vpcs[0].1["EnableDnsSupport"], true);
    assert_eq!(vpcs[0].1["EnableDnsHostnames"], true);

    let subnets = eval.resources("AWS::EC2::Subnet");
    assert_eq!(subnets.len(), 4);
    let public = [
        eval.resource("PublicSubnet1"),
        eval.resource("PublicSubnet2"),
    ];
    let private = [
        eval.resource("PrivateSubnet1"),
        eval.resource("PrivateSubnet2"),
    ];
    for i in 0..2 {
        assert_eq!(public[i]["CidrBlock"], PUBLIC[i]);
        assert_eq!(private[i]["CidrBlock"], PRIVATE[i]);
        assert_eq!(public[i]["MapPublicIpOnLaunch"], false);
        assert_eq!(private[i]["MapPublicIpOnLaunch"], false);
        // Private subnet i sits in the same AZ as public subnet i.
        assert_eq!(az_index(&public[i]), az_index(&private[i]));
    }
    assert_ne!(
        az_index(&public[0]),
        az_index(&public[1]),
        "two distinct AZs"
    );
}

#[test]
fn cidr_parameters_flow_into_subnets() {
    let eval = Eval::new(&[("PrivateSubnet2Cidr", "10.0.99.0/24")]);
    assert_eq!(eval.resource("PrivateSubnet2")["CidrBlock"], "10.0.99.0/24");
    // ... and into the NACL rules that name that subnet.
    assert!(nacl_rules(&eval, "PublicNacl").contains(&(true, "10.0.99.0/24".into(), 8000, 8000)));
}

fn default_route(eval: &Eval, table: &str) -> Value {
    let routes: Vec<Value> = eval
        .resources("AWS::EC2::Route")
        .into_iter()
        .map(|(_, p)| p)
        .filter(|p| p["RouteTableId"] == r#ref(table) && p["DestinationCidrBlock"] == ANYWHERE)
        .collect();
    assert_eq!(routes.len(), 1, "one default route in {table}");
    routes[0].clone()
}

fn table_of(eval: &Eval, subnet: &str) -> String {
    let assoc: Vec<Value> = eval
        .resources("AWS::EC2::SubnetRouteTableAssociation")
        .into_iter()
        .map(|(_, p)| p)
        .filter(|p| p["SubnetId"] == r#ref(subnet))
        .collect();
    assert_eq!(assoc.len(), 1, "{subnet} has one route table");
    assoc[0]["RouteTableId"]["Ref"].as_str().unwrap().to_owned()
}

#[test]
fn public_subnets_route_to_the_internet_gateway_private_ones_to_nat() {
    for (mode, nat_count) in [("single", 1), ("per-az", 2)] {
        let eval = Eval::new(&[("NatGateways", mode)]);
        assert_eq!(eval.resources("AWS::EC2::InternetGateway").len(), 1);
        let nats = eval.resources("AWS::EC2::NatGateway");
        assert_eq!(nats.len(), nat_count, "NatGateways={mode}");
        assert_eq!(eval.resources("AWS::EC2::EIP").len(), nat_count);
        for (_, nat) in &nats {
            let subnet = nat["SubnetId"]["Ref"].as_str().unwrap();
            assert!(subnet.starts_with("PublicSubnet"), "NAT in a public subnet");
        }
        for subnet in ["PublicSubnet1", "PublicSubnet2"] {
            let route = default_route(&eval, &table_of(&eval, subnet));
            assert_eq!(route["GatewayId"], r#ref("InternetGateway"));
        }
        let mut used = BTreeSet::new();
        for subnet in ["PrivateSubnet1", "PrivateSubnet2"] {
            let route = default_route(&eval, &table_of(&eval, subnet));
            assert!(
                route.get("GatewayId").is_none(),
                "no IGW route in a private subnet"
            );
            used.insert(route["NatGatewayId"]["Ref"].as_str().unwrap().to_owned());
        }
        assert_eq!(
            used.len(),
            nat_count,
            "each AZ uses its own NAT only with per-az"
        );
    }
}

#[test]
fn s3_gateway_endpoint_serves_the_private_route_tables_and_only_the_artifact_bucket() {
    let eval = defaults();
    let endpoints = eval.resources("AWS::EC2::VPCEndpoint");
    assert_eq!(endpoints.len(), 1);
    let endpoint = &endpoints[0].1;
    assert_eq!(endpoint["VpcEndpointType"], "Gateway");
    assert_eq!(
        endpoint["ServiceName"],
        json!({ "Fn::Sub": "com.amazonaws.${AWS::Region}.s3" })
    );
    let tables: BTreeSet<String> = endpoint["RouteTableIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["Ref"].as_str().unwrap().to_owned())
        .collect();
    let private_tables: BTreeSet<String> = ["PrivateSubnet1", "PrivateSubnet2"]
        .iter()
        .map(|s| table_of(&eval, s))
        .collect();
    assert_eq!(tables, private_tables);
    // The artifact bucket, and the AWS-owned buckets Session Manager and patching read: nothing else.
    let ssm_objects: Vec<Value> = stack::storage::SSM_BUCKETS
        .iter()
        .map(|b| json!({ "Fn::Sub": format!("arn:${{AWS::Partition}}:s3:::{b}/*") }))
        .collect();
    let statements = endpoint["PolicyDocument"]["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 2);
    for statement in statements {
        assert_eq!(statement["Effect"], "Allow");
        assert!(statement.get("Condition").is_none());
    }
    assert_eq!(
        statements[0]["Resource"],
        json!([get_att("ArtifactBucket", "Arn"), { "Fn::Sub": "${ArtifactBucket.Arn}/*" }])
    );
    assert_eq!(
        statements[0]["Action"],
        json!(["s3:GetObject", "s3:ListBucket"])
    );
    assert_eq!(statements[1]["Resource"], Value::Array(ssm_objects));
    assert_eq!(statements[1]["Action"], json!(["s3:GetObject"]));
}

#[test]
fn artifact_bucket_is_encrypted_private_and_tls_only() {
    let eval = defaults();
    let bucket = eval.resource("ArtifactBucket");
    let sse = &bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
        ["SSEAlgorithm"];
    assert!(sse == "AES256" || sse == "aws:kms");
    for key in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(bucket["PublicAccessBlockConfiguration"][key], true, "{key}");
    }
    assert_eq!(
        bucket["OwnershipControls"]["Rules"][0]["ObjectOwnership"],
        "BucketOwnerEnforced"
    );
    let policies = eval.resources("AWS::S3::BucketPolicy");
    assert_eq!(policies.len(), 2);
    let policy = &eval.resource("ArtifactBucketPolicy");
    assert_eq!(policy["Bucket"], r#ref("ArtifactBucket"));
    let deny_plain_http = policy["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| {
            s["Effect"] == "Deny"
                && s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
                && s["Resource"].as_array().unwrap().len() == 2
        });
    assert!(deny_plain_http);
}

/// (egress, cidr, from port, to port) of every allow entry of a NACL; all entries must be TCP allows.
fn nacl_rules(eval: &Eval, acl: &str) -> BTreeSet<(bool, String, u64, u64)> {
    let mut numbers = BTreeSet::new();
    let mut rules = BTreeSet::new();
    for (id, entry) in eval.resources("AWS::EC2::NetworkAclEntry") {
        if entry["NetworkAclId"] != r#ref(acl) {
            continue;
        }
        assert_eq!(entry["Protocol"], 6, "{id}: TCP");
        assert_eq!(entry["RuleAction"], "allow", "{id}");
        let egress = entry["Egress"].as_bool().unwrap();
        assert!(
            numbers.insert((egress, entry["RuleNumber"].as_u64().unwrap())),
            "{id}: duplicate rule number"
        );
        rules.insert((
            egress,
            entry["CidrBlock"].as_str().unwrap().to_owned(),
            entry["PortRange"]["From"].as_u64().unwrap(),
            entry["PortRange"]["To"].as_u64().unwrap(),
        ));
    }
    rules
}

fn rule(egress: bool, cidr: &str, ports: (u64, u64)) -> (bool, String, u64, u64) {
    (egress, cidr.to_owned(), ports.0, ports.1)
}

const IN: bool = false;
const OUT: bool = true;
const EPHEMERAL: (u64, u64) = (1024, 65535);

fn expected_public_nacl(tls: bool) -> BTreeSet<(bool, String, u64, u64)> {
    let mut expected = BTreeSet::from([
        rule(IN, ANYWHERE, (80, 80)),
        // NAT: the private instances' HTTPS requests pass the public subnet.
        rule(IN, PRIVATE[0], (443, 443)),
        rule(IN, PRIVATE[1], (443, 443)),
        rule(IN, ANYWHERE, EPHEMERAL),
        rule(OUT, PRIVATE[0], (8000, 8000)),
        rule(OUT, PRIVATE[1], (8000, 8000)),
        rule(OUT, PRIVATE[0], (80, 80)),
        rule(OUT, PRIVATE[1], (80, 80)),
        rule(OUT, ANYWHERE, (80, 80)),
        rule(OUT, ANYWHERE, (443, 443)),
        rule(OUT, ANYWHERE, EPHEMERAL),
    ]);
    if tls {
        expected.insert(rule(IN, ANYWHERE, (443, 443)));
    }
    expected
}

fn expected_private_nacl() -> BTreeSet<(bool, String, u64, u64)> {
    BTreeSet::from([
        rule(IN, PUBLIC[0], (8000, 8000)),
        rule(IN, PUBLIC[1], (8000, 8000)),
        rule(IN, PUBLIC[0], (80, 80)),
        rule(IN, PUBLIC[1], (80, 80)),
        rule(IN, ANYWHERE, EPHEMERAL),
        rule(OUT, PUBLIC[0], EPHEMERAL),
        rule(OUT, PUBLIC[1], EPHEMERAL),
        rule(OUT, ANYWHERE, (443, 443)),
        rule(OUT, ANYWHERE, (80, 80)),
    ])
}

#[test]
fn nacls_hold_the_complete_stateless_rule_sets() {
    for tls in [false, true] {
        let eval = Eval::new(if tls {
            &[("CertificateArn", CERT)]
        } else {
            &[]
        });
        assert_eq!(eval.resources("AWS::EC2::NetworkAcl").len(), 2);
        assert_eq!(
            nacl_rules(&eval, "PublicNacl"),
            expected_public_nacl(tls),
            "tls={tls}"
        );
        assert_eq!(
            nacl_rules(&eval, "PrivateNacl"),
            expected_private_nacl(),
            "tls={tls}"
        );
    }
    let eval = defaults();
    let mut associated = BTreeSet::new();
    for (_, assoc) in eval.resources("AWS::EC2::SubnetNetworkAclAssociation") {
        let subnet = assoc["SubnetId"]["Ref"].as_str().unwrap().to_owned();
        let acl = assoc["NetworkAclId"]["Ref"].as_str().unwrap().to_owned();
        let want = if subnet.starts_with("Public") {
            "PublicNacl"
        } else {
            "PrivateNacl"
        };
        assert_eq!(acl, want, "{subnet}");
        assert!(associated.insert(subnet));
    }
    assert_eq!(associated.len(), 4, "every subnet has its NACL");
}

/// Every TCP flow the architecture needs passes both NACLs both ways (stateless).
#[test]
fn nacls_admit_every_needed_flow_both_ways() {
    let eval = defaults();
    let public = nacl_rules(&eval, "PublicNacl");
    let private = nacl_rules(&eval, "PrivateNacl");
    let allows =
        |rules: &BTreeSet<(bool, String, u64, u64)>, egress: bool, peer: &str, port: u64| {
            rules.iter().any(|(e, cidr, from, to)| {
                *e == egress && (cidr == peer || cidr == ANYWHERE) && (*from..=*to).contains(&port)
            })
        };
    let client_port = 40000;
    for app_port in [8000, 80] {
        for (p, q) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            // ALB node in public subnet p to a target in private subnet q, and the response.
            assert!(allows(&public, OUT, PRIVATE[q], app_port));
            assert!(allows(&private, IN, PUBLIC[p], app_port));
            assert!(allows(&private, OUT, PUBLIC[p], client_port));
            assert!(allows(&public, IN, PRIVATE[q], client_port));
        }
    }
    for port in [80, 443] {
        for private_cidr in PRIVATE {
            // Instance → NAT (public subnet) → internet, and back.
            assert!(allows(&private, OUT, ANYWHERE, port));
            assert!(allows(&public, IN, private_cidr, port));
            assert!(allows(&public, OUT, ANYWHERE, port));
            assert!(allows(&public, IN, ANYWHERE, client_port));
            assert!(allows(&public, OUT, private_cidr, client_port));
            assert!(allows(&private, IN, ANYWHERE, client_port));
        }
    }
    // A client on the internet reaches the ALB on 80 and gets its answer.
    assert!(allows(&public, IN, ANYWHERE, 80));
    assert!(allows(&public, OUT, ANYWHERE, client_port));
}

fn sg_rules(props: &Value, key: &str) -> Vec<Value> {
    props[key].as_array().cloned().unwrap_or_default()
}

fn describe(rule: &Value) -> (String, u64, u64) {
    let peer = if let Some(cidr) = rule["CidrIp"].as_str() {
        cidr.to_owned()
    } else if let Some(group) = rule["SourceSecurityGroupId"]["Fn::GetAtt"][0].as_str() {
        group.to_owned()
    } else {
        rule["DestinationSecurityGroupId"]["Fn::GetAtt"][0]
            .as_str()
            .expect("a CIDR or a group as peer")
            .to_owned()
    };
    assert_eq!(rule["IpProtocol"], "tcp");
    let description = rule["Description"].as_str().unwrap_or_default();
    assert!(
        description.len() > 5,
        "every rule has a description: {rule}"
    );
    (
        peer,
        rule["FromPort"].as_u64().unwrap(),
        rule["ToPort"].as_u64().unwrap(),
    )
}

/// (group, direction, peer, from, to) of every security-group rule, inline or separate.
fn all_sg_rules(eval: &Eval) -> BTreeSet<(String, &'static str, String, u64, u64)> {
    let mut rules = BTreeSet::new();
    for (id, group) in eval.resources("AWS::EC2::SecurityGroup") {
        for (key, direction) in [
            ("SecurityGroupIngress", "in"),
            ("SecurityGroupEgress", "out"),
        ] {
            for r in sg_rules(&group, key) {
                let (peer, from, to) = describe(&r);
                assert!(rules.insert((id.clone(), direction, peer, from, to)));
            }
        }
    }
    for (kind, direction) in [
        ("AWS::EC2::SecurityGroupIngress", "in"),
        ("AWS::EC2::SecurityGroupEgress", "out"),
    ] {
        for (_, r) in eval.resources(kind) {
            let group = r["GroupId"]["Fn::GetAtt"][0].as_str().unwrap().to_owned();
            let (peer, from, to) = describe(&r);
            assert!(rules.insert((group, direction, peer, from, to)));
        }
    }
    rules
}

#[test]
fn security_groups_hold_exactly_the_spec_rules() {
    for tls in [false, true] {
        let eval = Eval::new(if tls {
            &[("CertificateArn", CERT)]
        } else {
            &[]
        });
        assert_eq!(eval.resources("AWS::EC2::SecurityGroup").len(), 2);
        assert!(eval.resources("AWS::EC2::SecurityGroupEgress").is_empty());
        let alb = "AlbSecurityGroup".to_owned();
        let backend = "BackendSecurityGroup".to_owned();
        let mut expected = BTreeSet::from([
            (alb.clone(), "in", ANYWHERE.to_owned(), 80, 80),
            (alb.clone(), "out", backend.clone(), 8000, 8000),
            (alb.clone(), "out", backend.clone(), 80, 80),
            (backend.clone(), "in", alb.clone(), 8000, 8000),
            (backend.clone(), "in", alb.clone(), 80, 80),
            (backend.clone(), "out", ANYWHERE.to_owned(), 443, 443),
            (backend.clone(), "out", ANYWHERE.to_owned(), 80, 80),
        ]);
        if tls {
            expected.insert((alb.clone(), "in", ANYWHERE.to_owned(), 443, 443));
        }
        assert_eq!(all_sg_rules(&eval), expected, "tls={tls}");
        // Inline egress is declared on both groups, which removes AWS's default allow-all egress.
        for id in ["AlbSecurityGroup", "BackendSecurityGroup"] {
            assert!(
                !sg_rules(&eval.resource(id), "SecurityGroupEgress").is_empty(),
                "{id}"
            );
        }
    }
}

#[test]
fn nothing_opens_port_22_to_the_world() {
    for overrides in [
        vec![],
        vec![
            ("CertificateArn", CERT),
            ("CanaryPlatform", "docker"),
            ("NatGateways", "per-az"),
        ],
    ] {
        let eval = Eval::new(&overrides);
        for (group, direction, peer, from, to) in all_sg_rules(&eval) {
            assert!(
                !(direction == "in" && (from..=to).contains(&22)),
                "{group} admits port 22 from {peer}"
            );
        }
        for acl in ["PublicNacl", "PrivateNacl"] {
            for (egress, cidr, from, to) in nacl_rules(&eval, acl) {
                assert!(
                    egress || cidr != ANYWHERE || !(from..=to).contains(&22),
                    "{acl} admits port 22 from {cidr}"
                );
            }
        }
        let text = eval.template().to_string();
        assert!(!text.contains("KeyName"), "no SSH key pair on any instance");
    }
}

#[test]
fn alb_is_internet_facing_in_both_public_subnets_and_drops_invalid_headers() {
    let eval = defaults();
    let albs = eval.resources("AWS::ElasticLoadBalancingV2::LoadBalancer");
    assert_eq!(albs.len(), 1);
    let alb = &albs[0].1;
    assert_eq!(alb["Scheme"], "internet-facing");
    assert_eq!(
        alb["Subnets"],
        json!([r#ref("PublicSubnet1"), r#ref("PublicSubnet2")])
    );
    assert_eq!(
        alb["SecurityGroups"],
        json!([get_att("AlbSecurityGroup", "GroupId")])
    );
    let attrs = |alb: &Value| -> Vec<(String, String)> {
        alb["LoadBalancerAttributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["Key"].as_str().unwrap().into(),
                    a["Value"]
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| a["Value"].to_string()),
                )
            })
            .collect()
    };
    let defaults = attrs(alb);
    assert!(defaults.contains(&(
        "routing.http.drop_invalid_header_fields.enabled".into(),
        "true".into()
    )));
    assert!(defaults.contains(&("deletion_protection.enabled".into(), "false".into())));
    assert!(defaults.contains(&("access_logs.s3.enabled".into(), "true".into())));
    let unlogged = Eval::new(&[
        ("AlbAccessLogs", "disabled"),
        ("AlbDeletionProtection", "true"),
    ]);
    let unlogged = attrs(&unlogged.resource("LoadBalancer"));
    assert!(unlogged.contains(&("access_logs.s3.enabled".into(), "false".into())));
    assert!(!unlogged.iter().any(|(k, _)| k == "access_logs.s3.bucket"));
    assert!(unlogged.contains(&("deletion_protection.enabled".into(), "true".into())));
}

#[test]
fn three_target_groups_check_health_on_slash_health() {
    let eval = defaults();
    let groups = eval.resources("AWS::ElasticLoadBalancingV2::TargetGroup");
    assert_eq!(groups.len(), 3);
    for (id, port) in [
        ("TargetGroupV1", 8000),
        ("TargetGroupV2", 8000),
        ("TargetGroupV2Docker", 80),
    ] {
        let tg = eval.resource(id);
        assert_eq!(tg["Port"], port, "{id}");
        assert_eq!(tg["Protocol"], "HTTP");
        assert_eq!(tg["HealthCheckPath"], "/health", "{id}");
        assert_eq!(tg["Matcher"]["HttpCode"], "200");
        assert_eq!(tg["VpcId"], r#ref("Vpc"));
        let delay = tg["TargetGroupAttributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["Key"] == "deregistration_delay.timeout_seconds")
            .expect("a deregistration delay")["Value"]
            .as_str()
            .unwrap()
            .parse::<u32>()
            .unwrap();
        assert!(
            delay <= 30,
            "{id}: short deregistration delay for fast rollback, got {delay}"
        );
    }
}

/// (target group logical ID, weight) of a listener's forward action.
fn forward_weights(listener: &Value) -> Vec<(String, u64)> {
    let actions = listener["DefaultActions"].as_array().unwrap();
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0]["Type"], "forward");
    actions[0]["ForwardConfig"]["TargetGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tg| {
            (
                tg["TargetGroupArn"]["Ref"].as_str().unwrap().to_owned(),
                tg["Weight"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn listener_is_stable_only_and_forwards_to_the_canary_group_of_the_platform() {
    for (platform, canary) in [("vm", "TargetGroupV2"), ("docker", "TargetGroupV2Docker")] {
        let eval = Eval::new(&[("CanaryPlatform", platform)]);
        let listeners = eval.resources("AWS::ElasticLoadBalancingV2::Listener");
        assert_eq!(listeners.len(), 1, "HTTP only without a certificate");
        let http = eval.resource("HttpListener");
        assert_eq!(http["Port"], 80);
        assert_eq!(http["LoadBalancerArn"], r#ref("LoadBalancer"));
        assert_eq!(
            forward_weights(&http),
            vec![("TargetGroupV1".to_owned(), 100), (canary.to_owned(), 0)],
            "CanaryPlatform={platform}: V1 100, canary 0; the controller owns the weights"
        );
    }
}

#[test]
fn with_a_certificate_443_holds_the_forward_and_80_redirects() {
    let eval = Eval::new(&[("CertificateArn", CERT)]);
    let http = eval.resource("HttpListener");
    let action = &http["DefaultActions"][0];
    assert_eq!(action["Type"], "redirect");
    assert_eq!(action["RedirectConfig"]["Protocol"], "HTTPS");
    assert_eq!(action["RedirectConfig"]["Port"], "443");
    let https = eval.resource("HttpsListener");
    assert_eq!(https["Port"], 443);
    assert_eq!(https["Protocol"], "HTTPS");
    assert_eq!(https["Certificates"][0]["CertificateArn"], CERT);
    assert_eq!(
        forward_weights(&https),
        vec![
            ("TargetGroupV1".to_owned(), 100),
            ("TargetGroupV2".to_owned(), 0)
        ]
    );
    let outputs = &eval.template()["Outputs"];
    assert_eq!(
        eval.value(&outputs["ListenerArn"]["Value"]),
        r#ref("HttpsListener")
    );
    assert_eq!(
        defaults().value(&outputs["ListenerArn"]["Value"]),
        r#ref("HttpListener")
    );
}

#[test]
fn waf_guards_the_alb_with_managed_rules_and_a_rate_limit() {
    let eval = Eval::new(&[("WafRateLimit", "500")]);
    let acls = eval.resources("AWS::WAFv2::WebACL");
    assert_eq!(acls.len(), 1);
    let acl = &acls[0].1;
    assert_eq!(acl["Scope"], "REGIONAL");
    assert_eq!(acl["VisibilityConfig"]["CloudWatchMetricsEnabled"], true);
    let rules = acl["Rules"].as_array().unwrap();
    let managed: BTreeSet<&str> = rules
        .iter()
        .filter_map(|r| r["Statement"]["ManagedRuleGroupStatement"]["Name"].as_str())
        .collect();
    assert_eq!(
        managed,
        BTreeSet::from([
            "AWSManagedRulesCommonRuleSet",
            "AWSManagedRulesSQLiRuleSet",
            "AWSManagedRulesKnownBadInputsRuleSet"
        ])
    );
    let rate = rules
        .iter()
        .find(|r| !r["Statement"]["RateBasedStatement"].is_null())
        .expect("a rate-based rule");
    assert_eq!(rate["Statement"]["RateBasedStatement"]["Limit"], "500");
    assert_eq!(rate["Action"], json!({ "Block": {} }));
    let priorities: BTreeSet<u64> = rules
        .iter()
        .map(|r| r["Priority"].as_u64().unwrap())
        .collect();
    assert_eq!(priorities.len(), rules.len(), "distinct priorities");
    for r in rules {
        assert_eq!(r["VisibilityConfig"]["CloudWatchMetricsEnabled"], true);
    }
    let assoc = eval.resources("AWS::WAFv2::WebACLAssociation");
    assert_eq!(assoc.len(), 1);
    assert_eq!(assoc[0].1["ResourceArn"], r#ref("LoadBalancer"));
    assert_eq!(assoc[0].1["WebACLArn"], get_att("WebAcl", "Arn"));
}

fn user_data(eval: &Eval, launch_template: &str) -> String {
    let data = &eval.resource(launch_template)["LaunchTemplateData"]["UserData"];
    data["Fn::Base64"]["Fn::Sub"]
        .as_str()
        .expect("user data is Fn::Base64 of a Fn::Sub string")
        .to_owned()
}

#[test]
fn launch_templates_require_imdsv2_encrypt_the_root_volume_and_have_no_public_ip() {
    let eval = Eval::new(&[("CanaryPlatform", "vm")]);
    let docker = Eval::new(&[("CanaryPlatform", "docker")]);
    let all = [
        (&eval, "LaunchTemplateV1"),
        (&eval, "LaunchTemplateV2"),
        (&docker, "LaunchTemplateDockerHost"),
    ];
    for (eval, id) in all {
        let data = &eval.resource(id)["LaunchTemplateData"];
        assert_eq!(
            data["MetadataOptions"]["HttpTokens"], "required",
            "{id}: IMDSv2"
        );
        assert_eq!(
            data["MetadataOptions"]["HttpPutResponseHopLimit"], 1,
            "{id}"
        );
        let ebs = &data["BlockDeviceMappings"][0]["Ebs"];
        assert_eq!(ebs["Encrypted"], true, "{id}");
        assert_eq!(ebs["VolumeType"], "gp3");
        let nic = &data["NetworkInterfaces"][0];
        assert_eq!(nic["AssociatePublicIpAddress"], false, "{id}");
        assert_eq!(
            nic["Groups"],
            json!([get_att("BackendSecurityGroup", "GroupId")])
        );
        assert_eq!(
            data["IamInstanceProfile"]["Arn"],
            get_att("InstanceProfile", "Arn")
        );
        assert_eq!(data["ImageId"], stack::parameters::UBUNTU_AMI_PARAMETER);
        assert!(data.get("KeyName").is_none());
    }
    let image = &eval.template()["Parameters"]["ImageId"];
    assert_eq!(
        image["Type"],
        "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"
    );
    assert!(
        image["Default"]
            .as_str()
            .unwrap()
            .contains("ubuntu/server/24.04")
    );
}

#[test]
fn user_data_starts_the_service_from_the_s3_artifact_without_keys_or_ssh() {
    let eval = defaults();
    for (id, model, fleet) in [
        ("LaunchTemplateV1", "v1", "stable"),
        ("LaunchTemplateV2", "v2", "canary"),
    ] {
        let script = user_data(&eval, id);
        assert!(script.starts_with("#!/bin/bash\n"));
        fetches_the_fleet_version_and_verifies_it(&script, fleet);
        assert!(script.contains(&format!(
            "systemctl enable --now recommender@{model}.service"
        )));
        assert!(
            script.contains("/opt/recommender/recommender --model %i"),
            "the unit, embedded"
        );
        assert!(
            script.contains("until fetch_artifact \"$1\" \"$2\"; do"),
            "each fetch retries until released"
        );
        let forbidden_words = [
            "AKIA",
            "aws_access_key_id",
            "AWS_SECRET_ACCESS_KEY",
            "aws configure",
            "authorized_keys",
            "sshd",
            "ssh-rsa",
            "ssh-ed25519",
            "openssh",
        ];
        for forbidden in forbidden_words {
            assert!(
                !script.to_lowercase().contains(&forbidden.to_lowercase()),
                "{id} mentions {forbidden}"
            );
        }
    }
    let docker = Eval::new(&[("CanaryPlatform", "docker")]);
    let script = user_data(&docker, "LaunchTemplateDockerHost");
    fetches_the_fleet_version_and_verifies_it(&script, "canary");
    assert!(!script.contains("authorized_keys") && !script.contains("AKIA"));
}

#[test]
fn the_docker_host_runs_the_one_container_definition_rootless() {
    use stack::container::{Container, ENVIRONMENT_FILE, IMAGE, QUADLET_DIR};
    let docker = Eval::new(&[("CanaryPlatform", "docker")]);
    let script = user_data(&docker, "LaunchTemplateDockerHost");
    let spec = Container::recommender_v2();
    // The unit in the user data is the rendering of the value the podman test runs, byte for byte.
    let unit = script
        .split("<<'QUADLET'\n")
        .nth(1)
        .and_then(|rest| rest.split("QUADLET\n").next())
        .expect("a Quadlet unit in the user data");
    assert_eq!(unit, stack::cfn::sub_literal(&spec.quadlet()));
    assert!(script.contains(&format!(
        "cat > {QUADLET_DIR}/$uid/recommender-v2.container <<'QUADLET'"
    )));
    // The image is built on the host from the fetched binary, under the name the unit runs.
    assert!(script.contains(&format!(
        "podman build --format docker --pull=never -t {IMAGE} "
    )));
    assert!(script.contains("install -o root -g recommender -m 0755 /opt/recommender/recommender"));
    assert!(script.contains("FROM scratch"));
    assert!(script.contains(&format!("touch {ENVIRONMENT_FILE}")));
    assert!(script.contains("chmod 0640 /etc/recommender/v2.env"));
    assert!(
        script.contains("podman image prune --force"),
        "no image sprawl"
    );
    // Started as the engine owner, after the unit and the image exist.
    let start = script
        .find("systemctl --user restart recommender-v2.service")
        .unwrap();
    assert!(start > script.find("podman build").unwrap());
    assert!(
        script
            .trim_end()
            .ends_with("/usr/local/sbin/restart-recommender-v2"),
        "the container is started"
    );
    assert!(!script.contains("docker run") && !script.contains("docker.io"));
}

#[test]
fn the_image_runs_as_the_containers_user_and_checks_itself_like_the_unit() {
    use stack::container::Container;
    let spec = Container::recommender_v2();
    let dockerfile = stack::compute::DOCKERFILE;
    assert!(dockerfile.contains(&format!("USER {}:{}", spec.user.0, spec.user.1)));
    let health = &spec.health;
    let instruction = format!(
        "HEALTHCHECK --interval={} --timeout={} --start-period={} --retries={} \\\n    CMD {}",
        health.interval,
        health.timeout,
        health.start_period,
        health.retries,
        spec.health_cmd().replace(',', ", ")
    );
    assert!(
        dockerfile.contains(&instruction),
        "{instruction}\n{dockerfile}"
    );
    assert!(dockerfile.contains(&format!("EXPOSE {}", spec.publish.container_port)));
}

/// The instance reads its fleet's pointer, fetches that version's binary and checksum, and
/// verifies the binary before installing it where the service starts it from.
fn fetches_the_fleet_version_and_verifies_it(script: &str, fleet: &str) {
    let order = [
        format!(
            "fetch_until \"${{ArtifactPrefix}}/fleets/{fleet}\" /opt/recommender/staging/version"
        ),
        "fetch_until \"${ArtifactPrefix}/$version/recommender\" /opt/recommender/staging/recommender"
            .into(),
        "fetch_until \"${ArtifactPrefix}/$version/recommender.sha256\"".into(),
        "sha256sum --check --strict recommender.sha256)".into(),
        "install -m 0755 /opt/recommender/staging/recommender /opt/recommender/recommender".into(),
    ];
    let mut at = 0;
    for step in &order {
        let found = script[at..]
            .find(step.as_str())
            .unwrap_or_else(|| panic!("`{step}` missing or out of order in:\n{script}"));
        at += found + step.len();
    }
}

fn group_size(asg: &Value) -> Value {
    assert_eq!(asg["MinSize"], asg["DesiredCapacity"]);
    assert_eq!(asg["MaxSize"], asg["DesiredCapacity"]);
    asg["DesiredCapacity"].clone()
}

#[test]
fn instance_counts_and_platform_decide_the_groups() {
    let vm = Eval::new(&[("V1InstanceCount", "4"), ("V2InstanceCount", "2")]);
    assert_eq!(vm.resources("AWS::AutoScaling::AutoScalingGroup").len(), 2);
    let v1 = vm.resource("AutoScalingGroupV1");
    assert_eq!(group_size(&v1), "4");
    assert_eq!(v1["TargetGroupARNs"], json!([r#ref("TargetGroupV1")]));
    let v2 = vm.resource("AutoScalingGroupV2");
    assert_eq!(group_size(&v2), "2");
    assert_eq!(v2["TargetGroupARNs"], json!([r#ref("TargetGroupV2")]));
    assert!(!vm.exists("AutoScalingGroupDockerHost"));

    let docker = Eval::new(&[("CanaryPlatform", "docker")]);
    assert_eq!(
        docker.resources("AWS::AutoScaling::AutoScalingGroup").len(),
        2
    );
    assert!(
        !docker.exists("AutoScalingGroupV2"),
        "no V2 VMs on the docker platform"
    );
    let host = docker.resource("AutoScalingGroupDockerHost");
    assert_eq!(group_size(&host), "1");
    assert_eq!(
        host["TargetGroupARNs"],
        json!([r#ref("TargetGroupV2Docker")])
    );
    assert_eq!(
        group_size(&docker.resource("AutoScalingGroupV1")),
        "3",
        "V1 default count"
    );

    for (eval, id) in [
        (&vm, "AutoScalingGroupV1"),
        (&vm, "AutoScalingGroupV2"),
        (&docker, "AutoScalingGroupDockerHost"),
    ] {
        let asg = eval.resource(id);
        assert_eq!(
            asg["VPCZoneIdentifier"],
            json!([r#ref("PrivateSubnet1"), r#ref("PrivateSubnet2")]),
            "{id}: private subnets, both AZs"
        );
    }
    assert_eq!(
        vm.template()["Parameters"]["V2InstanceCount"]["Default"],
        "1"
    );
}

#[test]
fn instance_role_reads_only_the_artifact_prefix_and_uses_session_manager() {
    let eval = defaults();
    // The controller has roles of its own (tested in `controller`); one role is for instances.
    let roles: Vec<_> = eval
        .resources("AWS::IAM::Role")
        .into_iter()
        .filter(|(_, role)| {
            role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]
                == json!(["ec2.amazonaws.com"])
        })
        .collect();
    assert_eq!(roles.len(), 1);
    let role = &roles[0].1;
    assert_eq!(
        role["ManagedPolicyArns"],
        json!([{ "Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore" }])
    );
    let statements: Vec<&Value> = role["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["PolicyDocument"]["Statement"].as_array().unwrap())
        .collect();
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0]["Action"], json!(["s3:GetObject"]));
    assert_eq!(
        statements[0]["Resource"],
        json!([{ "Fn::Sub": "${ArtifactBucket.Arn}/${ArtifactPrefix}/*" }])
    );
}

#[test]
fn outputs_name_what_the_controller_and_the_operator_need() {
    let eval = defaults();
    let outputs = eval.template()["Outputs"].as_object().unwrap();
    for name in [
        "AlbDnsName",
        "ListenerArn",
        "TargetGroupV1Arn",
        "TargetGroupV2Arn",
        "TargetGroupV2DockerArn",
        "CanaryTargetGroupArn",
        "ArtifactBucketName",
    ] {
        assert!(outputs.contains_key(name), "output {name}");
    }
    assert_eq!(
        eval.value(&outputs["AlbDnsName"]["Value"]),
        get_att("LoadBalancer", "DNSName")
    );
    let docker = Eval::new(&[("CanaryPlatform", "docker")]);
    assert_eq!(
        docker.value(&outputs["CanaryTargetGroupArn"]["Value"]),
        r#ref("TargetGroupV2Docker")
    );
}

#[test]
fn synthesis_is_deterministic_and_self_describing() {
    let render = || {
        stack::synthesize(&stack::Options::default())
            .render()
            .unwrap()
    };
    let first = render();
    assert_eq!(first, render());
    assert!(first.ends_with("}\n"));
    let json: Value = serde_json::from_str(&first).unwrap();
    assert!(
        json["Description"]
            .as_str()
            .unwrap()
            .starts_with("Generated by `cargo xtask synth` — do not edit.")
    );
}

/// What an instance receives: the `Fn::Sub` text with its variables substituted.
fn substituted(script: &str) -> String {
    script
        .replace("${AWS::Region}", "eu-west-1")
        .replace("${AWS::URLSuffix}", "amazonaws.com")
        .replace("${ArtifactBucket}", "alb-canary-artifactbucket-abc123")
        .replace("${ArtifactPrefix}", "artifacts")
        .replace("${!", "${")
}

#[test]
fn user_data_is_valid_bash_with_every_variable_substituted() {
    let vm = defaults();
    let docker = Eval::new(&[("CanaryPlatform", "docker")]);
    for (eval, id) in [
        (&vm, "LaunchTemplateV1"),
        (&vm, "LaunchTemplateV2"),
        (&docker, "LaunchTemplateDockerHost"),
    ] {
        let script = substituted(&user_data(eval, id));
        assert!(
            !script.contains("${"),
            "{id}: a variable left unsubstituted"
        );
        let path = std::env::temp_dir().join(format!("alb-canary-{}-{id}.sh", std::process::id()));
        std::fs::write(&path, &script).unwrap();
        let output = std::process::Command::new("bash")
            .arg("-n")
            .arg(&path)
            .output()
            .expect("bash runs");
        std::fs::remove_file(&path).unwrap();
        assert!(
            output.status.success(),
            "{id}: bash -n: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
