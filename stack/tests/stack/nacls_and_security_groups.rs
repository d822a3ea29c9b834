//! Every stateless NACL entry and every security-group rule, with and without TLS, checked as
//! complete sets and against the flows the architecture needs; no SSH anywhere.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::addresses::{ANYWHERE, CERT, PRIVATE, PUBLIC};
use crate::eval::{Eval, r#ref};

/// (egress, cidr, from port, to port) of every allow entry of a NACL; all entries must be TCP allows.
pub fn nacl_rules(eval: &Eval, acl: &str) -> BTreeSet<(bool, String, u64, u64)> {
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
/// CT.EC2.PR.5 / FSBP EC2.21: no NACL admits 22 or 3389 from anywhere.
const EPHEMERAL_BELOW_RDP: (u64, u64) = (1024, 3388);
const EPHEMERAL_ABOVE_RDP: (u64, u64) = (3390, 65535);
const INSTANCE_EPHEMERAL: (u64, u64) = (32768, 65535);

fn expected_public_nacl(tls: bool) -> BTreeSet<(bool, String, u64, u64)> {
    let mut expected = BTreeSet::from([
        rule(IN, ANYWHERE, (80, 80)),
        // NAT: the private instances' HTTPS requests pass the public subnet.
        rule(IN, PRIVATE[0], (443, 443)),
        rule(IN, PRIVATE[1], (443, 443)),
        rule(IN, PRIVATE[0], EPHEMERAL),
        rule(IN, PRIVATE[1], EPHEMERAL),
        rule(IN, ANYWHERE, EPHEMERAL_BELOW_RDP),
        rule(IN, ANYWHERE, EPHEMERAL_ABOVE_RDP),
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
        rule(IN, ANYWHERE, INSTANCE_EPHEMERAL),
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
    let eval = Eval::defaults();
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
    let eval = Eval::defaults();
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
    // No entry admits SSH or RDP from anywhere, on any of the ALB's or NAT's client ports.
    for rules in [&public, &private] {
        for port in [22, 3389] {
            assert!(!allows(rules, IN, ANYWHERE, port), "port {port}");
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
