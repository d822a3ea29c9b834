//! The network as the template declares it: subnets, route tables, NACLs, security groups, the ALB, the
//! compute that sits behind it and the target groups that join them. Built from resolved properties.

use super::cidr::{Cidr, Ports};
use crate::intrinsics::{EvalError, Evaluator, Physical, text};
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct Network {
    pub vpc_cidrs: Vec<Cidr>,
    pub subnets: BTreeMap<String, Subnet>,
    pub route_tables: BTreeMap<String, Vec<Route>>,
    pub nat_subnets: BTreeMap<String, String>,
    pub nacls: BTreeMap<String, Vec<NaclEntry>>,
    pub security_groups: BTreeMap<String, SecurityGroup>,
    pub albs: Vec<Alb>,
    pub compute: Vec<Compute>,
    pub target_groups: Vec<TargetGroup>,
}

#[derive(Debug, Default)]
pub struct Subnet {
    pub cidr: Option<Cidr>,
    pub map_public_ip: bool,
    pub route_table: Option<String>,
    pub nacl: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Destination {
    Cidr(Cidr),
    /// An AWS-managed prefix list: in this model, S3's (the only gateway endpoint service we route).
    S3PrefixList,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    InternetGateway(String),
    Nat(String),
    Endpoint(String),
    Other(String),
}

#[derive(Debug, Clone)]
pub struct Route {
    pub resource: String,
    pub destination: Destination,
    pub target: Target,
}

#[derive(Debug, Clone)]
pub struct NaclEntry {
    pub resource: String,
    pub number: i64,
    pub egress: bool,
    /// Only TCP matters to the flows: `any` is protocol -1, otherwise the entry must be TCP (6).
    pub any_protocol: bool,
    pub tcp: bool,
    pub allow: bool,
    pub cidr: Option<Cidr>,
    pub ports: Ports,
}

#[derive(Debug, Clone)]
pub enum Peer {
    Cidr(Cidr),
    Group(String),
    PrefixList(String),
}

#[derive(Debug, Clone)]
pub struct SgRule {
    /// Where the rule is written: `Sg.SecurityGroupIngress[0]` or a standalone resource's logical ID.
    pub resource: String,
    pub any_protocol: bool,
    pub tcp: bool,
    pub ports: Ports,
    pub peer: Peer,
}

#[derive(Debug, Default)]
pub struct SecurityGroup {
    pub ingress: Vec<SgRule>,
    pub egress: Vec<SgRule>,
    /// CloudFormation keeps the default allow-all egress unless the group lists SecurityGroupEgress inline.
    pub default_egress: bool,
}

#[derive(Debug, Clone)]
pub struct Alb {
    pub id: String,
    pub internet_facing: bool,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub listener_ports: Vec<u16>,
}

/// An Auto Scaling group (its launch template's groups) or an instance.
#[derive(Debug, Clone)]
pub struct Compute {
    pub id: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    /// `AssociatePublicIpAddress` where the template sets it: it overrides the subnet's MapPublicIpOnLaunch.
    pub public_ip: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct TargetGroup {
    pub id: String,
    pub port: u16,
    pub health_port: u16,
    pub targets: Vec<String>,
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items.iter().map(text).filter(|s| !s.is_empty()).collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(one) => vec![text(one)],
    }
}

fn port(value: Option<&Value>) -> Option<u16> {
    value.and_then(|v| text(v).parse().ok())
}

fn truthy(value: Option<&Value>) -> bool {
    value.is_some_and(|v| text(v) == "true")
}

fn protocol(value: Option<&Value>) -> (bool, bool) {
    let p = value.map(text).unwrap_or_default().to_ascii_lowercase();
    (p == "-1" || p == "all", p == "6" || p == "tcp")
}

fn sg_rule(resource: String, rule: &Value, peer_keys: [&str; 3]) -> Option<SgRule> {
    let (any_protocol, tcp) = protocol(rule.get("IpProtocol"));
    let ports = if any_protocol {
        Ports::ALL
    } else {
        Ports {
            from: port(rule.get("FromPort")).unwrap_or(0),
            to: port(rule.get("ToPort")).unwrap_or(65535),
        }
    };
    let [cidr_key, group_key, prefix_key] = peer_keys;
    let peer = if let Some(c) = rule.get(cidr_key) {
        Peer::Cidr(Cidr::parse(&text(c))?)
    } else if let Some(g) = rule.get(group_key) {
        Peer::Group(text(g))
    } else {
        Peer::PrefixList(text(rule.get(prefix_key)?))
    };
    Some(SgRule {
        resource,
        any_protocol,
        tcp,
        ports,
        peer,
    })
}

const INGRESS_PEERS: [&str; 3] = ["CidrIp", "SourceSecurityGroupId", "SourcePrefixListId"];
const EGRESS_PEERS: [&str; 3] = [
    "CidrIp",
    "DestinationSecurityGroupId",
    "DestinationPrefixListId",
];

impl Network {
    pub fn build(evaluator: &Evaluator<'_>) -> Result<Network, EvalError> {
        let mut net = Network::default();
        let mut endpoint_tables: Vec<(String, Vec<String>)> = Vec::new();
        let mut listeners: Vec<(String, u16)> = Vec::new();
        let mut launch_templates: BTreeMap<String, (Vec<String>, Option<bool>)> = BTreeMap::new();
        let mut asgs: Vec<(String, Value)> = Vec::new();
        let mut instances: Vec<(String, Value)> = Vec::new();
        let mut pending_ingress = Vec::new();
        let mut pending_egress = Vec::new();

        for (id, resource) in evaluator.resources()? {
            let kind = resource
                .get("Type")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let props = evaluator.properties(id, &Physical::LogicalIds)?;
            let p = |k: &str| props.get(k);
            match kind {
                "AWS::EC2::VPC" => net
                    .vpc_cidrs
                    .extend(p("CidrBlock").and_then(|c| Cidr::parse(&text(c)))),
                "AWS::EC2::Subnet" => {
                    let subnet = net.subnets.entry(id.clone()).or_default();
                    subnet.cidr = p("CidrBlock").and_then(|c| Cidr::parse(&text(c)));
                    subnet.map_public_ip = truthy(p("MapPublicIpOnLaunch"));
                }
                "AWS::EC2::SubnetRouteTableAssociation" => {
                    let subnet = text(p("SubnetId").unwrap_or(&Value::Null));
                    net.subnets.entry(subnet).or_default().route_table =
                        p("RouteTableId").map(text);
                }
                "AWS::EC2::SubnetNetworkAclAssociation" => {
                    let subnet = text(p("SubnetId").unwrap_or(&Value::Null));
                    net.subnets.entry(subnet).or_default().nacl = p("NetworkAclId").map(text);
                }
                "AWS::EC2::RouteTable" => {
                    net.route_tables.entry(id.clone()).or_default();
                }
                "AWS::EC2::Route" => {
                    let table = text(p("RouteTableId").unwrap_or(&Value::Null));
                    let destination = match p("DestinationCidrBlock")
                        .and_then(|c| Cidr::parse(&text(c)))
                    {
                        Some(c) => Destination::Cidr(c),
                        None if p("DestinationPrefixListId").is_some() => Destination::S3PrefixList,
                        None => continue,
                    };
                    let target = if let Some(g) = p("GatewayId") {
                        Target::InternetGateway(text(g))
                    } else if let Some(n) = p("NatGatewayId") {
                        Target::Nat(text(n))
                    } else if let Some(e) = p("VpcEndpointId") {
                        Target::Endpoint(text(e))
                    } else {
                        Target::Other(format!("{props}"))
                    };
                    net.route_tables.entry(table).or_default().push(Route {
                        resource: id.clone(),
                        destination,
                        target,
                    });
                }
                "AWS::EC2::NatGateway" => {
                    net.nat_subnets
                        .insert(id.clone(), text(p("SubnetId").unwrap_or(&Value::Null)));
                }
                "AWS::EC2::VPCEndpoint" => {
                    let service = text(p("ServiceName").unwrap_or(&Value::Null));
                    let gateway = p("VpcEndpointType")
                        .map(text)
                        .is_none_or(|t| t == "Gateway");
                    if gateway && service.ends_with(".s3") {
                        endpoint_tables.push((id.clone(), strings(p("RouteTableIds"))));
                    }
                }
                "AWS::EC2::NetworkAcl" => {
                    net.nacls.entry(id.clone()).or_default();
                }
                "AWS::EC2::NetworkAclEntry" => {
                    let (any_protocol, tcp) = protocol(p("Protocol"));
                    let range = p("PortRange");
                    let ports = match range {
                        Some(r) if !any_protocol => Ports {
                            from: port(r.get("From")).unwrap_or(0),
                            to: port(r.get("To")).unwrap_or(65535),
                        },
                        _ => Ports::ALL,
                    };
                    let entry = NaclEntry {
                        resource: id.clone(),
                        number: p("RuleNumber")
                            .and_then(|n| text(n).parse().ok())
                            .unwrap_or(i64::MAX),
                        egress: truthy(p("Egress")),
                        any_protocol,
                        tcp,
                        allow: p("RuleAction")
                            .map(text)
                            .is_some_and(|a| a.eq_ignore_ascii_case("allow")),
                        cidr: p("CidrBlock").and_then(|c| Cidr::parse(&text(c))),
                        ports,
                    };
                    net.nacls
                        .entry(text(p("NetworkAclId").unwrap_or(&Value::Null)))
                        .or_default()
                        .push(entry);
                }
                "AWS::EC2::SecurityGroup" => {
                    let sg = net.security_groups.entry(id.clone()).or_default();
                    let ingress = p("SecurityGroupIngress")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    for (i, rule) in ingress.iter().enumerate() {
                        sg.ingress.extend(sg_rule(
                            format!("{id}.SecurityGroupIngress[{i}]"),
                            rule,
                            INGRESS_PEERS,
                        ));
                    }
                    match p("SecurityGroupEgress").and_then(Value::as_array) {
                        Some(egress) => {
                            for (i, rule) in egress.iter().enumerate() {
                                sg.egress.extend(sg_rule(
                                    format!("{id}.SecurityGroupEgress[{i}]"),
                                    rule,
                                    EGRESS_PEERS,
                                ));
                            }
                        }
                        None => sg.default_egress = true,
                    }
                }
                "AWS::EC2::SecurityGroupIngress" => {
                    pending_ingress.push((id.clone(), props.clone()))
                }
                "AWS::EC2::SecurityGroupEgress" => pending_egress.push((id.clone(), props.clone())),
                "AWS::ElasticLoadBalancingV2::LoadBalancer" => {
                    let mut subnets = strings(p("Subnets"));
                    if let Some(Value::Array(maps)) = p("SubnetMappings") {
                        subnets.extend(maps.iter().filter_map(|m| m.get("SubnetId")).map(text));
                    }
                    net.albs.push(Alb {
                        id: id.clone(),
                        internet_facing: p("Scheme")
                            .map(text)
                            .is_none_or(|s| s == "internet-facing"),
                        subnets,
                        security_groups: strings(p("SecurityGroups")),
                        listener_ports: Vec::new(),
                    });
                }
                "AWS::ElasticLoadBalancingV2::Listener" => {
                    if let Some(port) = port(p("Port")) {
                        listeners.push((text(p("LoadBalancerArn").unwrap_or(&Value::Null)), port));
                    }
                }
                "AWS::ElasticLoadBalancingV2::TargetGroup" => {
                    let traffic = port(p("Port")).unwrap_or(80);
                    let health = match p("HealthCheckPort").map(text) {
                        Some(h) if h != "traffic-port" => h.parse().unwrap_or(traffic),
                        _ => traffic,
                    };
                    let targets = match p("Targets") {
                        Some(Value::Array(ts)) => {
                            ts.iter().filter_map(|t| t.get("Id")).map(text).collect()
                        }
                        _ => Vec::new(),
                    };
                    net.target_groups.push(TargetGroup {
                        id: id.clone(),
                        port: traffic,
                        health_port: health,
                        targets,
                    });
                }
                "AWS::EC2::LaunchTemplate" => {
                    let data = p("LaunchTemplateData").cloned().unwrap_or(Value::Null);
                    let mut groups = strings(data.get("SecurityGroupIds"));
                    let mut public = None;
                    if let Some(Value::Array(nics)) = data.get("NetworkInterfaces") {
                        for nic in nics {
                            groups.extend(strings(nic.get("Groups")));
                            if let Some(v) = nic.get("AssociatePublicIpAddress") {
                                public = Some(truthy(Some(v)));
                            }
                        }
                    }
                    launch_templates.insert(id.clone(), (groups, public));
                }
                "AWS::AutoScaling::AutoScalingGroup" => asgs.push((id.clone(), props.clone())),
                "AWS::EC2::Instance" => instances.push((id.clone(), props.clone())),
                _ => {}
            }
        }

        for (endpoint, tables) in endpoint_tables {
            for table in tables {
                net.route_tables.entry(table).or_default().push(Route {
                    resource: endpoint.clone(),
                    destination: Destination::S3PrefixList,
                    target: Target::Endpoint(endpoint.clone()),
                });
            }
        }
        for (id, props) in pending_ingress {
            let group = text(props.get("GroupId").unwrap_or(&Value::Null));
            if let Some(rule) = sg_rule(id, &props, INGRESS_PEERS) {
                net.security_groups
                    .entry(group)
                    .or_default()
                    .ingress
                    .push(rule);
            }
        }
        for (id, props) in pending_egress {
            let group = text(props.get("GroupId").unwrap_or(&Value::Null));
            if let Some(rule) = sg_rule(id, &props, EGRESS_PEERS) {
                net.security_groups
                    .entry(group)
                    .or_default()
                    .egress
                    .push(rule);
            }
        }
        for alb in &mut net.albs {
            alb.listener_ports = listeners
                .iter()
                .filter(|(lb, _)| *lb == alb.id)
                .map(|(_, p)| *p)
                .collect();
        }
        let template_of = |props: &Value| {
            props
                .get("LaunchTemplate")
                .and_then(|lt| {
                    lt.get("LaunchTemplateId")
                        .or_else(|| lt.get("LaunchTemplateName"))
                })
                .map(text)
        };
        for (id, props) in asgs {
            let (groups, public) = template_of(&props)
                .and_then(|lt| launch_templates.get(&lt).cloned())
                .unwrap_or_default();
            let subnets = strings(props.get("VPCZoneIdentifier"));
            for tg in strings(props.get("TargetGroupARNs")) {
                if let Some(group) = net.target_groups.iter_mut().find(|g| g.id == tg) {
                    group.targets.push(id.clone());
                }
            }
            net.compute.push(Compute {
                id,
                subnets,
                security_groups: groups,
                public_ip: public,
            });
        }
        for (id, props) in instances {
            let (mut groups, mut public) = template_of(&props)
                .and_then(|lt| launch_templates.get(&lt).cloned())
                .unwrap_or_default();
            groups.extend(strings(props.get("SecurityGroupIds")));
            let mut subnets = strings(props.get("SubnetId"));
            if let Some(Value::Array(nics)) = props.get("NetworkInterfaces") {
                for nic in nics {
                    groups.extend(strings(nic.get("GroupSet")));
                    subnets.extend(strings(nic.get("SubnetId")));
                    if let Some(v) = nic.get("AssociatePublicIpAddress") {
                        public = Some(truthy(Some(v)));
                    }
                }
            }
            net.compute.push(Compute {
                id,
                subnets,
                security_groups: groups,
                public_ip: public,
            });
        }
        Ok(net)
    }
}
