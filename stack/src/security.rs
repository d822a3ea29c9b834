//! Network ACLs (stateless: every flow is allowed both ways) and security groups.
//!
//! The rule sets are those of `docs/network.md`, which also says why. Among them: the public NACL
//! lets in 443 from the private subnets, because an instance's HTTPS request to the internet (snap
//! store, Docker packages) enters the public subnet at the NAT gateway before it leaves.

use crate::cfn::resources::{
    NetworkAcl, NetworkAclEntry, PortRange, SecurityGroup, SecurityGroupIngress, SgRule,
    SubnetNetworkAclAssociation, name_tag,
};
use crate::cfn::{Attributes, Cond, Expr, Fsbp, Handle, Sub, Template, Waiver};
use crate::network::Network;
use crate::parameters::{Conditions, Parameters};

pub const APP_PORT: u16 = 8000;
pub const DOCKER_HOST_PORT: u16 = 80;
/// The ports that ALB nodes and NAT gateways open connections from (and so receive replies on).
const EPHEMERAL: (u16, u16) = (1024, 65535);
/// `EPHEMERAL` without RDP's 3389 (22 is below it): what the public NACL admits from anywhere.
/// CT.EC2.PR.5 and FSBP EC2.21 forbid any NACL to admit 22 or 3389 from 0.0.0.0/0, whatever the
/// entry is for. The price: a NAT gateway connection mapped to source port 3389 (one of 64,512)
/// gets no reply and times out, and the client's retry is mapped to another port.
const EPHEMERAL_BELOW_RDP: (u16, u16) = (1024, 3388);
const EPHEMERAL_ABOVE_RDP: (u16, u16) = (3390, 65535);
/// Linux's client ports (`ip_local_port_range` 32768-60999, up to 65535): the only ports the
/// instances' own connections (to S3 and through NAT) get replies on, so the private NACL admits
/// no lower port from anywhere (CT.EC2.PR.5, FSBP EC2.21).
const INSTANCE_EPHEMERAL: (u16, u16) = (32768, 65535);
const ANYWHERE: &str = "0.0.0.0/0";
const TCP: i32 = 6;

pub struct Security {
    pub alb_group: Handle<SecurityGroup>,
    pub backend_group: Handle<SecurityGroup>,
    /// The private subnets' NACL associations: until they exist a subnet has the VPC's default NACL.
    pub private_nacl_associations: Vec<Handle<SubnetNetworkAclAssociation>>,
}

struct Entry<'a> {
    id: String,
    rule_number: u16,
    egress: bool,
    cidr: Expr,
    ports: (u16, u16),
    condition: Option<&'a Cond>,
}

fn entry(
    id: &str,
    rule_number: u16,
    egress: bool,
    cidr: Expr,
    ports: (u16, u16),
) -> Entry<'static> {
    Entry {
        id: id.to_owned(),
        rule_number,
        egress,
        cidr,
        ports,
        condition: None,
    }
}

const IN: bool = false;
const OUT: bool = true;

fn port(p: u16) -> (u16, u16) {
    (p, p)
}

fn add_nacl(
    template: &mut Template,
    id: &str,
    network: &Network,
    subnets: &[&Handle<crate::cfn::resources::Subnet>],
    entries: Vec<Entry<'_>>,
) -> Vec<Handle<SubnetNetworkAclAssociation>> {
    let acl = template.add(
        id,
        NetworkAcl {
            vpc_id: network.vpc.r#ref(),
            tags: name_tag(Sub::new(format!("${{AWS::StackName}}-{}", id.to_lowercase())).build()),
        },
    );
    for entry in entries {
        let attributes = match entry.condition {
            Some(condition) => Attributes::new().condition(condition),
            None => Attributes::new(),
        };
        template.add_with(
            &format!("{id}{}", entry.id),
            NetworkAclEntry {
                network_acl_id: acl.r#ref(),
                rule_number: entry.rule_number,
                protocol: TCP,
                rule_action: "allow",
                egress: entry.egress,
                cidr_block: entry.cidr,
                port_range: PortRange {
                    from: entry.ports.0,
                    to: entry.ports.1,
                },
            },
            attributes,
        );
    }
    subnets
        .iter()
        .map(|subnet| {
            template.add(
                &format!("{}NetworkAclAssociation", subnet.id()),
                SubnetNetworkAclAssociation {
                    subnet_id: subnet.r#ref(),
                    network_acl_id: acl.r#ref(),
                },
            )
        })
        .collect()
}

/// The internet-facing ALB's own ports: EC2.18 authorizes 80 and 443 from anywhere.
const PUBLIC_ENTRY_WAIVER: Waiver = Waiver {
    control: Fsbp::Holds("EC2.18"),
    checkov: &["CKV_AWS_260"],
    cfn_nag: &["W2", "W9"],
    guard: &[
        "EC2_SECURITY_GROUP_INGRESS_OPEN_TO_WORLD_RULE",
        "SECURITY_GROUP_INGRESS_CIDR_NON_32_RULE",
    ],
    reason: "the internet-facing ALB is the service's public entry on 80 and 443 (80 only redirects to HTTPS once a certificate is set), and it reaches nothing but SG-BACKEND",
};

/// Every role: its policies are inline on purpose.
pub const INLINE_POLICY_WAIVER: Waiver = Waiver {
    control: Fsbp::NoControl,
    checkov: &[],
    cfn_nag: &["F10"],
    guard: &["IAM_NO_INLINE_POLICY_CHECK"],
    reason: "each role's policy is written for that role alone and lives and dies with it, where a managed policy would be a second resource that anything in the account could attach",
};

pub fn build(
    template: &mut Template,
    params: &Parameters,
    conds: &Conditions,
    network: &Network,
) -> Security {
    add_nacl(
        template,
        "PublicNacl",
        network,
        &[&network.public_subnets[0], &network.public_subnets[1]],
        public_nacl_entries(params, conds),
    );
    let private_nacl_associations = add_nacl(
        template,
        "PrivateNacl",
        network,
        &[&network.private_subnets[0], &network.private_subnets[1]],
        private_nacl_entries(params, conds),
    );
    let backend_group = backend_group(template, network);
    let alb_group = alb_group(template, conds, network, &backend_group);
    backend_ingress_from_alb(template, &backend_group, &alb_group);
    Security {
        alb_group,
        backend_group,
        private_nacl_associations,
    }
}

fn anywhere() -> Expr {
    Expr::from(ANYWHERE)
}

/// A TCP rule on `ports`, to or from nothing yet (the caller names the peer).
fn rule(ports: (u16, u16), description: &str) -> SgRule {
    SgRule {
        ip_protocol: "tcp",
        from_port: ports.0,
        to_port: ports.1,
        description: description.to_owned(),
        cidr_ip: None,
        source_security_group_id: None,
        destination_security_group_id: None,
    }
}

/// The public subnets: the ALB's listeners, the targets' replies, NAT's traffic.
fn public_nacl_entries<'a>(params: &Parameters, conds: &'a Conditions) -> Vec<Entry<'a>> {
    let [private1, private2] = params.private_subnet_cidrs.each_ref().map(|p| p.r#ref());
    vec![
        entry("InHttp", 100, IN, anywhere(), port(80)),
        Entry {
            condition: Some(&conds.has_certificate),
            ..entry("InHttps", 110, IN, anywhere(), port(443))
        },
        entry("InHttpsFromPrivate1", 120, IN, private1.clone(), port(443)),
        entry("InHttpsFromPrivate2", 121, IN, private2.clone(), port(443)),
        // The targets' replies to the ALB nodes, on any port the ALB picked.
        entry(
            "InEphemeralFromPrivate1",
            125,
            IN,
            private1.clone(),
            EPHEMERAL,
        ),
        entry(
            "InEphemeralFromPrivate2",
            126,
            IN,
            private2.clone(),
            EPHEMERAL,
        ),
        // The internet's replies to the NAT gateway, every NAT port but 3389.
        entry("InEphemeral", 130, IN, anywhere(), EPHEMERAL_BELOW_RDP),
        entry(
            "InEphemeralAboveRdp",
            131,
            IN,
            anywhere(),
            EPHEMERAL_ABOVE_RDP,
        ),
        entry(
            "OutAppToPrivate1",
            100,
            OUT,
            private1.clone(),
            port(APP_PORT),
        ),
        entry(
            "OutAppToPrivate2",
            101,
            OUT,
            private2.clone(),
            port(APP_PORT),
        ),
        entry(
            "OutHttpToPrivate1",
            110,
            OUT,
            private1.clone(),
            port(DOCKER_HOST_PORT),
        ),
        entry(
            "OutHttpToPrivate2",
            111,
            OUT,
            private2.clone(),
            port(DOCKER_HOST_PORT),
        ),
        entry("OutHttp", 120, OUT, anywhere(), port(80)),
        entry("OutHttps", 130, OUT, anywhere(), port(443)),
        entry("OutEphemeral", 140, OUT, anywhere(), EPHEMERAL),
    ]
}

/// The private subnets: the ALB's requests in, replies out, HTTPS and HTTP out through NAT or the
/// endpoints.
fn private_nacl_entries<'a>(params: &Parameters, conds: &'a Conditions) -> Vec<Entry<'a>> {
    let [public1, public2] = params.public_subnet_cidrs.each_ref().map(|p| p.r#ref());
    let [private1, private2] = params.private_subnet_cidrs.each_ref().map(|p| p.r#ref());
    vec![
        entry("InAppFromPublic1", 100, IN, public1.clone(), port(APP_PORT)),
        entry("InAppFromPublic2", 101, IN, public2.clone(), port(APP_PORT)),
        entry(
            "InHttpFromPublic1",
            110,
            IN,
            public1.clone(),
            port(DOCKER_HOST_PORT),
        ),
        entry(
            "InHttpFromPublic2",
            111,
            IN,
            public2.clone(),
            port(DOCKER_HOST_PORT),
        ),
        entry("InEphemeral", 120, IN, anywhere(), INSTANCE_EPHEMERAL),
        entry(
            "OutEphemeralToPublic1",
            100,
            OUT,
            public1.clone(),
            EPHEMERAL,
        ),
        entry(
            "OutEphemeralToPublic2",
            101,
            OUT,
            public2.clone(),
            EPHEMERAL,
        ),
        entry("OutHttps", 110, OUT, anywhere(), port(443)),
        entry("OutHttp", 120, OUT, anywhere(), port(80)),
        // The monitoring endpoint has an interface in each private subnet, and an instance's
        // resolver may hand it the other subnet's: HTTPS between the private subnets and the
        // replies to the instances' client ports (within one subnet no NACL applies).
        Entry {
            condition: Some(&conds.target_signal_on),
            ..entry("InHttpsFromPrivate1", 130, IN, private1.clone(), port(443))
        },
        Entry {
            condition: Some(&conds.target_signal_on),
            ..entry("InHttpsFromPrivate2", 131, IN, private2.clone(), port(443))
        },
        Entry {
            condition: Some(&conds.target_signal_on),
            ..entry(
                "OutEphemeralToPrivate1",
                130,
                OUT,
                private1.clone(),
                INSTANCE_EPHEMERAL,
            )
        },
        Entry {
            condition: Some(&conds.target_signal_on),
            ..entry(
                "OutEphemeralToPrivate2",
                131,
                OUT,
                private2.clone(),
                INSTANCE_EPHEMERAL,
            )
        },
    ]
}

/// SG-BACKEND is declared first with its egress inline; its ingress from SG-ALB lives in separate
/// resources, so the two groups can name each other without a circular dependency.
fn backend_group(template: &mut Template, network: &Network) -> Handle<SecurityGroup> {
    template.add_with(
        "BackendSecurityGroup",
        SecurityGroup {
            group_description: "SG-BACKEND: V1, V2 and the Docker host; reachable only from the ALB".into(),
            vpc_id: network.vpc.r#ref(),
            security_group_ingress: Vec::new(),
            security_group_egress: vec![
                SgRule {
                    cidr_ip: Some(anywhere()),
                    ..rule(port(443), "HTTPS to S3 (gateway endpoint) and, through NAT, the snap store and package mirrors")
                },
                SgRule {
                    cidr_ip: Some(anywhere()),
                    ..rule(port(80), "HTTP to the Ubuntu package mirrors through NAT")
                },
            ],
            tags: name_tag(Sub::new("${AWS::StackName}-sg-backend").build()),
        },
        Attributes::new().waive(&[Waiver {
            control: Fsbp::NoControl,
            checkov: &[],
            cfn_nag: &["W5"],
            guard: &["EC2_SECURITY_GROUP_EGRESS_OPEN_TO_WORLD_RULE"],
            reason: "the instances' egress is 443 and 80 only, to S3 through the gateway endpoint and to package mirrors through NAT whose addresses are not fixed, and the private NACL and route tables bound where it goes",
        }]),
    )
}

/// SG-ALB, with HTTPS from the internet only when a certificate is set.
fn alb_group(
    template: &mut Template,
    conds: &Conditions,
    network: &Network,
    backend_group: &Handle<SecurityGroup>,
) -> Handle<SecurityGroup> {
    let alb_group = template.add_with(
        "AlbSecurityGroup",
        SecurityGroup {
            group_description: "SG-ALB: HTTP(S) from the internet, out only to SG-BACKEND".into(),
            vpc_id: network.vpc.r#ref(),
            security_group_ingress: vec![SgRule {
                cidr_ip: Some(anywhere()),
                ..rule(port(80), "HTTP from the internet")
            }],
            security_group_egress: vec![
                SgRule {
                    destination_security_group_id: Some(backend_group.get_att("GroupId")),
                    ..rule(port(APP_PORT), "V1 and V2 instances (recommender on 8000)")
                },
                SgRule {
                    destination_security_group_id: Some(backend_group.get_att("GroupId")),
                    ..rule(
                        port(DOCKER_HOST_PORT),
                        "Docker host (host port 80 to container 8000)",
                    )
                },
            ],
            tags: name_tag(Sub::new("${AWS::StackName}-sg-alb").build()),
        },
        Attributes::new().waive(&[PUBLIC_ENTRY_WAIVER]),
    );
    template.add_with(
        "AlbIngressHttps",
        SecurityGroupIngress {
            group_id: alb_group.get_att("GroupId"),
            rule: SgRule {
                cidr_ip: Some(anywhere()),
                ..rule(
                    port(443),
                    "HTTPS from the internet (only with a certificate)",
                )
            },
        },
        Attributes::new()
            .condition(&conds.has_certificate)
            .waive(&[PUBLIC_ENTRY_WAIVER]),
    );
    alb_group
}

fn backend_ingress_from_alb(
    template: &mut Template,
    backend_group: &Handle<SecurityGroup>,
    alb_group: &Handle<SecurityGroup>,
) {
    template.add(
        "BackendIngressAppFromAlb",
        SecurityGroupIngress {
            group_id: backend_group.get_att("GroupId"),
            rule: SgRule {
                source_security_group_id: Some(alb_group.get_att("GroupId")),
                ..rule(port(APP_PORT), "recommender on 8000 from the ALB only")
            },
        },
    );
    template.add(
        "BackendIngressHttpFromAlb",
        SecurityGroupIngress {
            group_id: backend_group.get_att("GroupId"),
            rule: SgRule {
                source_security_group_id: Some(alb_group.get_att("GroupId")),
                ..rule(
                    port(DOCKER_HOST_PORT),
                    "Docker host port 80 from the ALB only",
                )
            },
        },
    );
}
