//! The reachability model's semantics on the committed template: NACL rule order, stateless replies,
//! stateful security groups, parameter scenarios, and "any port" probing.

use policy::reachability::{FlowVerdict, analyze_all};
use serde_json::{Value, json};
use std::path::Path;

fn committed() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates/alb-canary.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("templates/alb-canary.json"))
        .expect("json")
}

fn find<'v>(flows: &'v [FlowVerdict], scenario: &str, name: &str) -> &'v FlowVerdict {
    flows
        .iter()
        .find(|f| f.scenario == scenario && f.name == name)
        .unwrap_or_else(|| panic!("no flow [{scenario}] {name}"))
}

fn deny_http_at(number: u32) -> Value {
    let mut t = committed();
    t["Resources"]["PublicNaclInDenyHttp"] = json!({"Type": "AWS::EC2::NetworkAclEntry", "Properties": {
        "NetworkAclId": {"Ref": "PublicNacl"}, "RuleNumber": number, "Protocol": 6, "RuleAction": "deny",
        "Egress": false, "CidrBlock": "0.0.0.0/0", "PortRange": {"From": 80, "To": 80}}});
    t
}

#[test]
fn nacl_entries_are_evaluated_in_rule_number_order() {
    let before = analyze_all(&deny_http_at(50)).expect("the template evaluates");
    let blocked = find(&before, "defaults", "internet → ALB LoadBalancer :80");
    assert!(!blocked.allowed);
    let hop = blocked.deciding_hop().expect("hop");
    assert!(
        hop.rule.starts_with("rule 50 (PublicNaclInDenyHttp): deny"),
        "{hop}"
    );

    let after = analyze_all(&deny_http_at(32000)).expect("the template evaluates");
    assert!(
        find(&after, "defaults", "internet → ALB LoadBalancer :80").allowed,
        "the allow at 100 wins over a deny at 32000"
    );
}

#[test]
fn security_groups_are_stateful_and_nacls_are_not() {
    let t = committed();
    let egress =
        t["Resources"]["BackendSecurityGroup"]["Properties"]["SecurityGroupEgress"].to_string();
    assert!(
        !egress.contains("AlbSecurityGroup"),
        "the backends have no egress rule toward the ALB: {egress}"
    );
    let flows = analyze_all(&t).expect("the template evaluates");
    let v1 = find(
        &flows,
        "defaults",
        "ALB LoadBalancer → TargetGroupV1 (AutoScalingGroupV1) :8000 and replies",
    );
    assert!(v1.allowed);
    let replies: Vec<_> = v1.hops.iter().filter(|h| h.leg == "reply").collect();
    assert!(
        !replies.is_empty() && replies.iter().all(|h| h.layer.starts_with("network ACL")),
        "{replies:?}"
    );
    assert!(
        replies
            .iter()
            .any(|h| h.rule.contains("PrivateNaclOutEphemeralToPublic")),
        "{replies:?}"
    );
}

#[test]
fn parameters_switch_the_canary_to_the_docker_host_and_tls_adds_443() {
    let flows = analyze_all(&committed()).expect("the template evaluates");
    let names = |scenario: &str| -> Vec<&str> {
        flows
            .iter()
            .filter(|f| f.scenario == scenario)
            .map(|f| f.name.as_str())
            .collect()
    };
    let vm = names("defaults");
    // Every non-default value of a parameter that a condition tests is its own scenario, all flows held.
    let per_az = names("NatGateways=per-az");
    assert_eq!(per_az.len(), vm.len());
    assert!(
        flows
            .iter()
            .filter(|f| f.scenario == "NatGateways=per-az")
            .all(FlowVerdict::holds)
    );
    assert!(
        !flows
            .iter()
            .any(|f| f.scenario.starts_with("AlbDeletionProtection")),
        "not a shape switch"
    );
    let docker = names("CanaryPlatform=docker");
    assert!(
        vm.iter()
            .any(|n| n.contains("TargetGroupV2 (AutoScalingGroupV2) :8000"))
    );
    assert!(!vm.iter().any(|n| n.contains("DockerHost")));
    assert!(
        docker
            .iter()
            .any(|n| n.contains("TargetGroupV2Docker (AutoScalingGroupDockerHost) :80"))
    );
    assert!(!docker.iter().any(|n| n.contains("AutoScalingGroupV2 ")));
    assert!(
        find(
            &flows,
            "CertificateArn set (TLS)",
            "internet → ALB LoadBalancer :443"
        )
        .allowed
    );
    assert!(
        !vm.contains(&"internet → ALB LoadBalancer :443"),
        "no HTTPS listener without a certificate"
    );
}

fn expose_private_subnet_1(t: &mut Value) {
    t["Resources"]["PrivateSubnet1"]["Properties"]["MapPublicIpOnLaunch"] = json!(true);
    // The launch template's explicit `AssociatePublicIpAddress: false` would override the subnet.
    let nic = &mut t["Resources"]["LaunchTemplateV1"]["Properties"]["LaunchTemplateData"]["NetworkInterfaces"]
        [0];
    nic.as_object_mut()
        .expect("nic")
        .remove("AssociatePublicIpAddress");
    let route = t["Resources"]["PrivateDefaultRoute1"]["Properties"]
        .as_object_mut()
        .expect("route");
    route.remove("NatGatewayId");
    route.insert("GatewayId".into(), json!({"Ref": "InternetGateway"}));
}

#[test]
fn with_a_public_address_the_security_group_still_denies_every_port_from_the_internet() {
    let mut t = committed();
    expose_private_subnet_1(&mut t);
    let flows = analyze_all(&t).expect("the template evaluates");
    let any = find(&flows, "defaults", "internet → AutoScalingGroupV1 any port");
    assert!(any.holds() && !any.allowed);
    assert_eq!(
        any.deciding_hop().map(|h| h.layer),
        Some("security group ingress")
    );
}

#[test]
fn any_port_probing_finds_an_odd_port_range_opened_to_the_world() {
    let mut t = committed();
    expose_private_subnet_1(&mut t);
    // Inside the instances' client ports (32768-65535), the only ports the private NACL admits from
    // anywhere: only the security group stands in the way.
    t["Resources"]["BackendOddPorts"] = json!({"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
        "GroupId": {"Fn::GetAtt": ["BackendSecurityGroup", "GroupId"]}, "IpProtocol": "tcp",
        "FromPort": 40001, "ToPort": 40003, "CidrIp": "0.0.0.0/0", "Description": "debug ports"}});
    // Without this the stateless private NACL would still drop the replies to the internet.
    t["Resources"]["PrivateNaclOutEphemeralWorld"] = json!({"Type": "AWS::EC2::NetworkAclEntry", "Properties": {
        "NetworkAclId": {"Ref": "PrivateNacl"}, "RuleNumber": 300, "Protocol": 6, "RuleAction": "allow",
        "Egress": true, "CidrBlock": "0.0.0.0/0", "PortRange": {"From": 1024, "To": 65535}}});
    let flows = analyze_all(&t).expect("the template evaluates");
    let any = find(&flows, "defaults", "internet → AutoScalingGroupV1 any port");
    assert!(any.allowed && !any.holds(), "{:#?}", any.hops);
    let subnet_2 = analyze_all(&{
        let mut t = t.clone();
        t["Resources"]
            .as_object_mut()
            .expect("resources")
            .remove("PrivateNaclOutEphemeralWorld");
        t
    })
    .expect("the template evaluates");
    assert!(
        !find(
            &subnet_2,
            "defaults",
            "internet → AutoScalingGroupV1 any port"
        )
        .allowed,
        "stateless NACL drops replies"
    );
    assert!(
        any.hops
            .iter()
            .any(|h| h.rule.starts_with("BackendOddPorts: tcp 40001-40003")),
        "{:#?}",
        any.hops
    );
}

/// The NAT gateway's replies are still required on every port it uses but RDP's 3389, which no
/// NACL may admit from anywhere (CT.EC2.PR.5): one more closed port breaks the flow.
#[test]
fn the_nat_replies_are_required_on_every_port_but_3389() {
    let flow = "AutoScalingGroupV1 → internet :443 through the NAT and replies";
    let flows = analyze_all(&committed()).expect("the template evaluates");
    assert!(find(&flows, "defaults", flow).holds());
    for (entry, end, port) in [
        ("PublicNaclInEphemeral", "To", 3387),
        ("PublicNaclInEphemeralAboveRdp", "From", 3391),
    ] {
        let mut t = committed();
        t["Resources"][entry]["Properties"]["PortRange"][end] = json!(port);
        let flows = analyze_all(&t).expect("the template evaluates");
        let broken = find(&flows, "defaults", flow);
        assert!(!broken.allowed, "{entry} {end} {port}");
        let hop = broken.deciding_hop().expect("hop");
        assert!(
            hop.leg == "reply" && hop.resource == "PublicNacl",
            "{entry}: {hop}"
        );
    }
}
