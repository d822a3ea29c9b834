//! The lab handout's network (seeds/practica-4-canary.txt, section II.3 and phase 3) as a template: the
//! reachability check shows which required flows its NACLs break, and the guard rules catch its SG-ALB.
#![recursion_limit = "512"]

use policy::reachability::{Expect, FlowVerdict, Scenario, analyze};
use serde_json::{Value, json};

fn nacl_entry(nacl: &str, number: u32, egress: bool, cidr: &str, from: u16, to: u16) -> Value {
    json!({"Type": "AWS::EC2::NetworkAclEntry", "Properties": {
        "NetworkAclId": {"Ref": nacl}, "RuleNumber": number, "Protocol": 6, "RuleAction": "allow",
        "Egress": egress, "CidrBlock": cidr, "PortRange": {"From": from, "To": to}}})
}

fn instance(name: &str) -> Value {
    json!({"Type": "AWS::EC2::Instance", "Properties": {
        "ImageId": "ami-ubuntu", "SubnetId": {"Ref": "PrivateSubnet"},
        "SecurityGroupIds": [{"Fn::GetAtt": ["BackendSecurityGroup", "GroupId"]}],
        "Tags": [{"Key": "Name", "Value": name}]}})
}

/// One public and one private subnet, IGW, NAT, the assumed S3 endpoint, and the handout's exact rule tables.
fn handout() -> Value {
    json!({"Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "PublicSubnet": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.10.0/24", "MapPublicIpOnLaunch": true}},
        "PrivateSubnet": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.20.0/24"}},
        "InternetGateway": {"Type": "AWS::EC2::InternetGateway"},
        "PublicRouteTable": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}},
        "PublicDefaultRoute": {"Type": "AWS::EC2::Route", "Properties": {"RouteTableId": {"Ref": "PublicRouteTable"}, "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": {"Ref": "InternetGateway"}}},
        "PublicAssoc": {"Type": "AWS::EC2::SubnetRouteTableAssociation", "Properties": {"SubnetId": {"Ref": "PublicSubnet"}, "RouteTableId": {"Ref": "PublicRouteTable"}}},
        "NatGateway": {"Type": "AWS::EC2::NatGateway", "Properties": {"SubnetId": {"Ref": "PublicSubnet"}}},
        "PrivateRouteTable": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}},
        "PrivateDefaultRoute": {"Type": "AWS::EC2::Route", "Properties": {"RouteTableId": {"Ref": "PrivateRouteTable"}, "DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": {"Ref": "NatGateway"}}},
        "PrivateAssoc": {"Type": "AWS::EC2::SubnetRouteTableAssociation", "Properties": {"SubnetId": {"Ref": "PrivateSubnet"}, "RouteTableId": {"Ref": "PrivateRouteTable"}}},
        "S3Endpoint": {"Type": "AWS::EC2::VPCEndpoint", "Properties": {"VpcId": {"Ref": "Vpc"}, "ServiceName": "com.amazonaws.us-east-1.s3", "RouteTableIds": [{"Ref": "PrivateRouteTable"}]}},
        // NACL-PÚBLICA: in HTTP 80 from 0.0.0.0/0; out ephemeral 1024-65535 to 0.0.0.0/0.
        "PublicNacl": {"Type": "AWS::EC2::NetworkAcl", "Properties": {"VpcId": {"Ref": "Vpc"}}},
        "PublicNaclInHttp": nacl_entry("PublicNacl", 100, false, "0.0.0.0/0", 80, 80),
        "PublicNaclOutEphemeral": nacl_entry("PublicNacl", 100, true, "0.0.0.0/0", 1024, 65535),
        "PublicNaclAssoc": {"Type": "AWS::EC2::SubnetNetworkAclAssociation", "Properties": {"SubnetId": {"Ref": "PublicSubnet"}, "NetworkAclId": {"Ref": "PublicNacl"}}},
        // NACL-PRIVADA: in TCP 8000 from 10.0.10.0/24; out ephemeral 1024-65535 to 10.0.10.0/24.
        "PrivateNacl": {"Type": "AWS::EC2::NetworkAcl", "Properties": {"VpcId": {"Ref": "Vpc"}}},
        "PrivateNaclInApp": nacl_entry("PrivateNacl", 100, false, "10.0.10.0/24", 8000, 8000),
        "PrivateNaclOutEphemeral": nacl_entry("PrivateNacl", 100, true, "10.0.10.0/24", 1024, 65535),
        "PrivateNaclAssoc": {"Type": "AWS::EC2::SubnetNetworkAclAssociation", "Properties": {"SubnetId": {"Ref": "PrivateSubnet"}, "NetworkAclId": {"Ref": "PrivateNacl"}}},
        // SG-ALB: HTTP 80 and SSH 22 from 0.0.0.0/0; console default egress (all).
        "AlbSecurityGroup": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "SG-ALB", "VpcId": {"Ref": "Vpc"},
            "SecurityGroupIngress": [
                {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "CidrIp": "0.0.0.0/0", "Description": "HTTP"},
                {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0", "Description": "SSH"}]}},
        // SG-BACKEND: 8000 from SG-ALB, and in phase 3 also 80 from SG-ALB.
        "BackendSecurityGroup": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "SG-BACKEND", "VpcId": {"Ref": "Vpc"},
            "SecurityGroupIngress": [
                {"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8000, "SourceSecurityGroupId": {"Fn::GetAtt": ["AlbSecurityGroup", "GroupId"]}, "Description": "app"},
                {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "SourceSecurityGroupId": {"Fn::GetAtt": ["AlbSecurityGroup", "GroupId"]}, "Description": "docker"}]}},
        "LoadBalancer": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {"Scheme": "internet-facing",
            "Subnets": [{"Ref": "PublicSubnet"}], "SecurityGroups": [{"Fn::GetAtt": ["AlbSecurityGroup", "GroupId"]}]}},
        "TargetGroupV1": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {"Port": 8000, "Protocol": "HTTP",
            "Targets": [{"Id": {"Ref": "V1a"}}, {"Id": {"Ref": "V1b"}}, {"Id": {"Ref": "V1c"}}]}},
        "TargetGroupV2": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {"Port": 8000, "Protocol": "HTTP", "Targets": [{"Id": {"Ref": "V2"}}]}},
        "TargetGroupV2Docker": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {"Port": 80, "Protocol": "HTTP", "Targets": [{"Id": {"Ref": "DockerHost"}}]}},
        "HttpListener": {"Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": {"LoadBalancerArn": {"Ref": "LoadBalancer"}, "Port": 80, "Protocol": "HTTP",
            "DefaultActions": [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
                {"TargetGroupArn": {"Ref": "TargetGroupV1"}, "Weight": 90}, {"TargetGroupArn": {"Ref": "TargetGroupV2Docker"}, "Weight": 10}]}}]}},
        "V1a": instance("V1-a"), "V1b": instance("V1-b"), "V1c": instance("V1-c"),
        "V2": instance("V2"), "DockerHost": instance("docker-host"),
    }})
}

fn verdicts() -> Vec<FlowVerdict> {
    analyze(
        &handout(),
        &Scenario {
            name: "handout".into(),
            overrides: Vec::new(),
        },
    )
    .expect("the handout evaluates")
}

fn find<'v>(flows: &'v [FlowVerdict], name: &str) -> &'v FlowVerdict {
    flows
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no flow {name}"))
}

/// (leg, layer, resource) of the hop that decided.
fn decided_at(flow: &FlowVerdict) -> (&str, &str, &str) {
    let hop = flow.deciding_hop().expect("a hop");
    (hop.leg, hop.layer, hop.resource.as_str())
}

#[test]
fn the_handout_gets_internet_to_alb_right() {
    let flows = verdicts();
    let http = find(&flows, "internet → ALB LoadBalancer :80");
    assert!(http.allowed && http.holds(), "{:#?}", http.hops);
}

#[test]
fn the_handout_public_nacl_drops_the_targets_replies_so_nothing_reaches_v1_v2_or_docker() {
    let flows = verdicts();
    for (tg, target, port) in [
        ("TargetGroupV1", "V1a", 8000),
        ("TargetGroupV2", "V2", 8000),
    ] {
        for name in [
            format!("ALB LoadBalancer → {tg} ({target}) :{port} and replies"),
            format!("ALB LoadBalancer health check → {tg} ({target}) :{port}"),
        ] {
            let flow = find(&flows, &name);
            assert!(!flow.allowed && !flow.holds(), "{name} should be broken");
            // The request gets through; the reply on the ALB's ephemeral port finds only "80 from 0.0.0.0/0".
            assert_eq!(
                decided_at(flow),
                ("reply", "network ACL inbound", "PublicNacl"),
                "{name}"
            );
            assert!(
                flow.deciding_hop()
                    .expect("hop")
                    .rule
                    .contains("default deny")
            );
        }
    }
    // Phase 3: the public NACL lets out only 1024-65535, so the ALB's request to the Docker host's port 80
    // never leaves the public subnet (and the private NACL, admitting only 8000, would drop it next).
    let docker = find(
        &flows,
        "ALB LoadBalancer → TargetGroupV2Docker (DockerHost) :80 and replies",
    );
    assert_eq!(
        decided_at(docker),
        ("request", "network ACL outbound", "PublicNacl")
    );
}

#[test]
fn the_handout_private_nacl_blocks_package_installs_and_s3_downloads() {
    let flows = verdicts();
    for name in [
        "V1a → internet :443 through the NAT and replies",
        "V1a → internet :80 through the NAT and replies",
        "V1a → S3 :443 through the gateway endpoint",
    ] {
        let flow = find(&flows, name);
        assert!(!flow.holds(), "{name} should be broken");
        // Outbound only to the public subnet's ephemeral ports: apt (80/443) and S3 (443) never leave.
        assert_eq!(
            decided_at(flow),
            ("request", "network ACL outbound", "PrivateNacl"),
            "{name}"
        );
    }
}

#[test]
fn the_handout_still_denies_what_must_be_denied() {
    let flows = verdicts();
    let ssh = find(&flows, "internet → ALB LoadBalancer :22 (not a listener)");
    // SG-ALB admits SSH from the world; only the NACL (and the absence of a listener) stops it.
    assert!(ssh.holds());
    assert_eq!(
        decided_at(ssh),
        ("request", "network ACL inbound", "PublicNacl")
    );
    assert!(find(&flows, "internet → V1a any port").holds());
    assert!(find(&flows, "V1a → internet :443 without NAT").holds());
}

#[test]
fn the_handout_breaks_exactly_the_required_flows_the_spec_lists() {
    let flows = verdicts();
    let mut broken: Vec<&str> = flows
        .iter()
        .filter(|f| !f.holds())
        .map(|f| f.name.as_str())
        .collect();
    broken.sort();
    let mut expected = Vec::new();
    for (tg, target, port) in [
        ("TargetGroupV1", "V1a", 8000),
        ("TargetGroupV1", "V1b", 8000),
        ("TargetGroupV1", "V1c", 8000),
        ("TargetGroupV2", "V2", 8000),
        ("TargetGroupV2Docker", "DockerHost", 80),
    ] {
        expected.push(format!(
            "ALB LoadBalancer → {tg} ({target}) :{port} and replies"
        ));
        expected.push(format!(
            "ALB LoadBalancer health check → {tg} ({target}) :{port}"
        ));
    }
    for c in ["V1a", "V1b", "V1c", "V2", "DockerHost"] {
        expected.push(format!("{c} → S3 :443 through the gateway endpoint"));
        expected.push(format!("{c} → internet :443 through the NAT and replies"));
        expected.push(format!("{c} → internet :80 through the NAT and replies"));
    }
    expected.sort();
    assert_eq!(broken, expected);
    assert!(
        flows
            .iter()
            .filter(|f| f.expect == Expect::Denied)
            .all(FlowVerdict::holds)
    );
}

#[test]
fn the_guard_rules_catch_the_handout_ssh_rule_and_static_90_10() {
    let report = policy::check(&handout()).expect("the check runs");
    let failed = report.failed_rules();
    for rule in [
        "security_group_no_admin_ports_from_world",
        "listener_canary_weight_zero",
        "alb_internet_facing_has_waf",
        "alb_drops_invalid_headers",
    ] {
        assert!(
            failed.contains(&rule),
            "{rule} should fail; failed: {failed:?}"
        );
    }
    let ssh = report
        .failures()
        .into_iter()
        .find(|f| {
            f.rule
                .ends_with("/security_group_no_admin_ports_from_world")
        })
        .expect("ssh failure");
    assert_eq!(ssh.resource, "AlbSecurityGroup");
    assert!(ssh.message.contains("SSH"), "{ssh}");
}
