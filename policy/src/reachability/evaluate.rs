//! Walks one TCP connection hop by hop: security groups (stateful), network ACLs (stateless, so the reply is
//! checked too, on the originator's ephemeral ports), route tables, NAT, gateway endpoint, ALB listeners.

use super::cidr::{Cidr, PortSet, Ports};
use super::model::{Destination, Network, Peer, SgRule, Target};
use std::fmt;
use std::net::Ipv4Addr;

/// Client ports as the peer that opens the connection picks them.
pub const LINUX_EPHEMERAL: Ports = Ports {
    from: 32768,
    to: 60999,
};
/// A NAT gateway's source ports (1024-65535) but 3389: CT.EC2.PR.5 and FSBP EC2.21 forbid a NACL
/// to admit 3389 from anywhere, so the reply to a connection the NAT maps to that one port of
/// 64,512 is dropped, and the client's retry gets another port. The connection is required on
/// every other port, as two ranges because a reply is checked on one range.
pub const NAT_PORTS_BELOW_RDP: Ports = Ports {
    from: 1024,
    to: 3388,
};
pub const NAT_PORTS_ABOVE_RDP: Ports = Ports {
    from: 3390,
    to: 65535,
};
/// ALB nodes, NAT gateways and arbitrary internet clients may use any unprivileged port.
pub const ANY_EPHEMERAL: Ports = Ports {
    from: 1024,
    to: 65535,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    Internet,
    S3,
    Alb { listener_ports: Vec<u16> },
    Instance,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub label: String,
    pub kind: NodeKind,
    pub subnet: Option<String>,
    pub ip: Ipv4Addr,
    pub security_groups: Vec<String>,
    pub public_ip: bool,
    pub ephemeral: Ports,
}

/// Which path a flow must (or must not) take out of the VPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Any,
    /// Internet-bound traffic must leave through a NAT gateway.
    Nat,
    /// S3-bound traffic must leave through the gateway endpoint.
    Endpoint,
    /// Internet-bound traffic straight out of the instance's own subnet, no NAT: must never work.
    Direct,
}

/// One step of the walk: the layer, the resource, the rule that decided, and the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub leg: &'static str,
    pub layer: &'static str,
    pub resource: String,
    pub rule: String,
    pub allowed: bool,
}

impl fmt::Display for Hop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.allowed { "allowed" } else { "DROPPED" };
        write!(
            f,
            "[{}] {} {}: {} by {}",
            self.leg, self.layer, self.resource, verdict, self.rule
        )
    }
}

/// A NACL crossing of the request, remembered to check its reply.
struct Crossing {
    subnet: String,
    egress: bool,
    peer: Ipv4Addr,
    originator_ephemeral: Ports,
}

pub struct Walk<'n> {
    net: &'n Network,
    hops: Vec<Hop>,
    crossings: Vec<Crossing>,
}

/// Walks `src → dst:port`; returns the hops and whether the connection (request and reply) completes.
pub fn walk(net: &Network, src: &Node, dst: &Node, port: u16, via: Via) -> (bool, Vec<Hop>) {
    let mut w = Walk {
        net,
        hops: Vec::new(),
        crossings: Vec::new(),
    };
    let ok = w.request(src, dst, port, via) && w.replies();
    (ok, w.hops)
}

impl Walk<'_> {
    fn hop(
        &mut self,
        leg: &'static str,
        layer: &'static str,
        resource: &str,
        rule: String,
        allowed: bool,
    ) -> bool {
        self.hops.push(Hop {
            leg,
            layer,
            resource: resource.to_owned(),
            rule,
            allowed,
        });
        allowed
    }

    fn request(&mut self, src: &Node, dst: &Node, port: u16, via: Via) -> bool {
        let net = self.net;
        if let Some(src_subnet) = &src.subnet {
            if !self.security_group(src, dst, port, true) {
                return false;
            }
            let local = net.vpc_cidrs.iter().any(|c| c.contains(dst.ip));
            if local {
                let dst_subnet = dst.subnet.clone().unwrap_or_default();
                if *src_subnet != dst_subnet
                    && !(self.nacl(src_subnet, true, dst.ip, port, src.ephemeral)
                        && self.nacl(&dst_subnet, false, src.ip, port, src.ephemeral))
                {
                    return false;
                }
                let rule = format!(
                    "local route to {}",
                    net.vpc_cidrs
                        .iter()
                        .map(Cidr::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                self.hop(
                    "request",
                    "route table",
                    &table_label(net, src_subnet),
                    rule,
                    true,
                );
            } else if !self.leave_vpc(src, src_subnet, dst, port, via) {
                return false;
            }
        } else {
            // From the internet: only a public address is reachable, and its subnet must route back to the IGW.
            let Some(dst_subnet) = dst.subnet.clone() else {
                return false;
            };
            if !dst.public_ip {
                return self.hop(
                    "request",
                    "internet gateway",
                    &dst.label,
                    format!(
                        "{} has no public IP address: nothing routes to it from the internet",
                        dst.label
                    ),
                    false,
                );
            }
            match self.route(&dst_subnet, src.ip, false) {
                Some((route, Target::InternetGateway(igw))) => {
                    let rule = format!("route {route} sends replies to {igw}");
                    self.hop(
                        "request",
                        "route table",
                        &table_label(net, &dst_subnet),
                        rule,
                        true,
                    );
                }
                _ => {
                    let rule =
                        format!("no route from subnet {dst_subnet} back to an internet gateway");
                    return self.hop(
                        "request",
                        "route table",
                        &table_label(net, &dst_subnet),
                        rule,
                        false,
                    );
                }
            }
            if !self.nacl(&dst_subnet, false, src.ip, port, src.ephemeral) {
                return false;
            }
        }
        if dst.subnet.is_some() && !self.security_group(dst, src, port, false) {
            return false;
        }
        if let NodeKind::Alb { listener_ports } = &dst.kind {
            let listening = listener_ports.contains(&port);
            let rule = if listening {
                format!("listener on port {port}")
            } else {
                format!("no listener on port {port} (listeners: {listener_ports:?})")
            };
            return self.hop("request", "ALB listener", &dst.label, rule, listening);
        }
        true
    }

    fn leave_vpc(&mut self, src: &Node, src_subnet: &str, dst: &Node, port: u16, via: Via) -> bool {
        let net = self.net;
        let table = table_label(net, src_subnet);
        let Some((route, target)) = self.route(src_subnet, dst.ip, dst.kind == NodeKind::S3) else {
            return self.hop(
                "request",
                "route table",
                &table,
                format!("no route to {}", dst.ip),
                false,
            );
        };
        match (&target, via) {
            (Target::Endpoint(e), Via::Any | Via::Endpoint) => {
                self.hop(
                    "request",
                    "route table",
                    &table,
                    format!("route {route}: S3 prefix list → gateway endpoint {e}"),
                    true,
                );
                self.nacl(src_subnet, true, dst.ip, port, src.ephemeral)
            }
            (Target::InternetGateway(igw), Via::Any | Via::Direct) => {
                self.hop(
                    "request",
                    "route table",
                    &table,
                    format!("route {route} → internet gateway {igw}"),
                    true,
                );
                if !src.public_ip {
                    return self.hop(
                        "request",
                        "internet gateway",
                        igw,
                        format!(
                            "{} has no public IP: the gateway drops its packets",
                            src.label
                        ),
                        false,
                    );
                }
                self.nacl(src_subnet, true, dst.ip, port, src.ephemeral)
            }
            (Target::Nat(nat), Via::Any | Via::Nat) => {
                self.hop(
                    "request",
                    "route table",
                    &table,
                    format!("route {route} → NAT gateway {nat}"),
                    true,
                );
                if !self.nacl(src_subnet, true, dst.ip, port, src.ephemeral) {
                    return false;
                }
                let Some(nat_subnet) = net.nat_subnets.get(nat).cloned() else {
                    return self.hop(
                        "request",
                        "NAT gateway",
                        nat,
                        "the NAT gateway is not in this template".into(),
                        false,
                    );
                };
                if nat_subnet != src_subnet
                    && !self.nacl(&nat_subnet, false, src.ip, port, src.ephemeral)
                {
                    return false;
                }
                match self.route(&nat_subnet, dst.ip, false) {
                    Some((r, Target::InternetGateway(igw))) => {
                        let nat_table = table_label(net, &nat_subnet);
                        self.hop(
                            "request",
                            "route table",
                            &nat_table,
                            format!("route {r} from the NAT's subnet → internet gateway {igw}"),
                            true,
                        );
                    }
                    _ => {
                        return self.hop(
                            "request",
                            "route table",
                            &table_label(net, &nat_subnet),
                            format!(
                                "the NAT's subnet {nat_subnet} has no route to an internet gateway"
                            ),
                            false,
                        );
                    }
                }
                // Past the NAT the originator is the NAT gateway itself, with its own source ports.
                if !self.nacl(&nat_subnet, true, dst.ip, port, NAT_PORTS_BELOW_RDP) {
                    return false;
                }
                self.crossings.push(Crossing {
                    subnet: nat_subnet.clone(),
                    egress: true,
                    peer: dst.ip,
                    originator_ephemeral: NAT_PORTS_ABOVE_RDP,
                });
                true
            }
            (target, _) => {
                let rule = format!(
                    "route {route} → {target:?}, but this flow is required to go via {via:?}"
                );
                self.hop("request", "route table", &table, rule, false)
            }
        }
    }

    /// The most specific route for `ip`; the S3 prefix list outranks 0.0.0.0/0 for S3 addresses.
    fn route(&self, subnet: &str, ip: Ipv4Addr, s3: bool) -> Option<(String, Target)> {
        let table = self.net.subnets.get(subnet)?.route_table.as_ref()?;
        let routes = self.net.route_tables.get(table)?;
        if s3
            && let Some(r) = routes
                .iter()
                .find(|r| r.destination == Destination::S3PrefixList)
        {
            return Some((r.resource.clone(), r.target.clone()));
        }
        routes
            .iter()
            .filter_map(|r| match r.destination {
                Destination::Cidr(c) if c.contains(ip) => Some((c.len, r)),
                _ => None,
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, r)| (r.resource.clone(), r.target.clone()))
    }

    /// Evaluates `node`'s groups: egress toward `peer` or ingress from `peer`.
    fn security_group(&mut self, node: &Node, peer: &Node, port: u16, egress: bool) -> bool {
        let leg = "request";
        let layer = if egress {
            "security group egress"
        } else {
            "security group ingress"
        };
        let label = node.security_groups.join(", ");
        if node.security_groups.is_empty() {
            return self.hop(
                leg,
                layer,
                &node.label,
                format!("{} has no security group", node.label),
                false,
            );
        }
        for sg in &node.security_groups {
            let Some(group) = self.net.security_groups.get(sg) else {
                continue;
            };
            if egress && group.default_egress {
                return self.hop(
                    leg,
                    layer,
                    sg,
                    "the default allow-all egress (no SecurityGroupEgress listed)".into(),
                    true,
                );
            }
            let rules = if egress {
                &group.egress
            } else {
                &group.ingress
            };
            if let Some(rule) = rules.iter().find(|r| sg_matches(r, peer, port)) {
                return self.hop(leg, layer, sg, describe_sg_rule(rule), true);
            }
        }
        let direction = if egress { "to" } else { "from" };
        let rule = format!(
            "no rule admits tcp {port} {direction} {} ({})",
            peer.label, peer.ip
        );
        self.hop(leg, layer, &label, rule, false)
    }

    /// Evaluates a subnet's NACL in order; `ports` of the request is one port, of a reply an ephemeral range.
    fn nacl(
        &mut self,
        subnet: &str,
        egress: bool,
        peer: Ipv4Addr,
        port: u16,
        originator_ephemeral: Ports,
    ) -> bool {
        self.crossings.push(Crossing {
            subnet: subnet.to_owned(),
            egress,
            peer,
            originator_ephemeral,
        });
        self.nacl_ports("request", subnet, egress, peer, Ports::one(port))
    }

    fn nacl_ports(
        &mut self,
        leg: &'static str,
        subnet: &str,
        egress: bool,
        peer: Ipv4Addr,
        ports: Ports,
    ) -> bool {
        let layer = if egress {
            "network ACL outbound"
        } else {
            "network ACL inbound"
        };
        let Some(nacl) = self.net.subnets.get(subnet).and_then(|s| s.nacl.clone()) else {
            return self.hop(
                leg,
                layer,
                subnet,
                "the VPC's default network ACL (allows all)".into(),
                true,
            );
        };
        let mut entries: Vec<_> = self
            .net
            .nacls
            .get(&nacl)
            .into_iter()
            .flatten()
            .filter(|e| e.egress == egress)
            .collect();
        entries.sort_by_key(|e| e.number);
        let mut open = PortSet::of(ports);
        let mut allowing = Vec::new();
        let dir = if egress { "to" } else { "from" };
        for e in entries {
            if !(e.any_protocol || e.tcp) || !e.cidr.is_some_and(|c| c.contains(peer)) {
                continue;
            }
            let Some(hit) = open.intersects(e.ports) else {
                continue;
            };
            let cidr = e.cidr.map(|c| c.to_string()).unwrap_or_default();
            if !e.allow {
                let rule = format!(
                    "rule {} ({}): deny tcp {} {dir} {cidr}, hit on port(s) {hit}",
                    e.number, e.resource, e.ports
                );
                return self.hop(leg, layer, &nacl, rule, false);
            }
            allowing.push(format!(
                "rule {} ({}): allow tcp {} {dir} {cidr}",
                e.number, e.resource, e.ports
            ));
            open.remove(e.ports);
            if open.is_empty() {
                return self.hop(leg, layer, &nacl, allowing.join("; "), true);
            }
        }
        let missing = open.first().map(|p| p.to_string()).unwrap_or_default();
        let rule = format!("rule * (default deny): nothing allows tcp {missing} {dir} {peer}");
        self.hop(leg, layer, &nacl, rule, false)
    }

    /// Stateless NACLs see the reply as new traffic: back toward each request peer, on the originator's
    /// ephemeral ports, in the opposite direction.
    fn replies(&mut self) -> bool {
        let crossings = std::mem::take(&mut self.crossings);
        crossings.iter().rev().all(|c| {
            self.nacl_ports(
                "reply",
                &c.subnet,
                !c.egress,
                c.peer,
                c.originator_ephemeral,
            )
        })
    }
}

fn sg_matches(rule: &SgRule, peer: &Node, port: u16) -> bool {
    if !(rule.any_protocol || (rule.tcp && rule.ports.from <= port && port <= rule.ports.to)) {
        return false;
    }
    match &rule.peer {
        Peer::Cidr(c) => c.contains(peer.ip),
        Peer::Group(g) => peer.security_groups.contains(g),
        Peer::PrefixList(_) => peer.kind == NodeKind::S3,
    }
}

fn describe_sg_rule(rule: &SgRule) -> String {
    let peer = match &rule.peer {
        Peer::Cidr(c) => c.to_string(),
        Peer::Group(g) => format!("group {g}"),
        Peer::PrefixList(p) => format!("prefix list {p}"),
    };
    let proto = if rule.any_protocol {
        "all traffic".to_owned()
    } else {
        format!("tcp {}", rule.ports)
    };
    format!("{}: {proto} {peer}", rule.resource)
}

fn table_label(net: &Network, subnet: &str) -> String {
    net.subnets
        .get(subnet)
        .and_then(|s| s.route_table.clone())
        .unwrap_or_else(|| format!("main route table of {subnet}"))
}
