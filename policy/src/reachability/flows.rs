//! The named flows the architecture promises (must be allowed) and forbids (must be denied), generated from
//! the model so that every ALB, target group and compute group of the template is covered.

use super::evaluate::{ANY_EPHEMERAL, Hop, LINUX_EPHEMERAL, Node, NodeKind, Via, walk};
use super::model::{Alb, Compute, Network};
use std::net::Ipv4Addr;

/// A documentation-range address stands for "any client on the internet".
const INTERNET_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
/// An address inside S3's published ranges (reached through the S3 prefix list).
const S3_IP: Ipv4Addr = Ipv4Addr::new(52, 216, 4, 10);
/// Ports probed for "any port" on must-deny flows: administration, the app ports, and a high port.
const PROBE_PORTS: [u16; 6] = [22, 80, 443, 3389, 8000, 50000];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Allowed,
    Denied,
}

/// The verdict on one named flow. When several node pairs make up a flow (two ALB subnets × two target
/// subnets), `hops` is the walk of the pair that decided it: the first one that broke the expectation, or the
/// last one checked.
#[derive(Debug, Clone)]
pub struct FlowVerdict {
    pub scenario: String,
    pub name: String,
    pub expect: Expect,
    pub allowed: bool,
    pub hops: Vec<Hop>,
}

impl FlowVerdict {
    pub fn holds(&self) -> bool {
        (self.expect == Expect::Allowed) == self.allowed
    }

    /// The hop that decided: the one that dropped it, or for a flow that got through, the last one.
    pub fn deciding_hop(&self) -> Option<&Hop> {
        self.hops.iter().find(|h| !h.allowed).or(self.hops.last())
    }
}

fn internet() -> Node {
    Node {
        label: "internet".into(),
        kind: NodeKind::Internet,
        subnet: None,
        ip: INTERNET_IP,
        security_groups: Vec::new(),
        public_ip: true,
        ephemeral: ANY_EPHEMERAL,
    }
}

fn s3() -> Node {
    Node {
        label: "S3".into(),
        kind: NodeKind::S3,
        subnet: None,
        ip: S3_IP,
        security_groups: Vec::new(),
        public_ip: true,
        ephemeral: ANY_EPHEMERAL,
    }
}

fn alb_nodes(net: &Network, alb: &Alb) -> Vec<Node> {
    alb.subnets
        .iter()
        .filter_map(|s| Some((s, net.subnets.get(s)?.cidr?)))
        .map(|(s, cidr)| Node {
            label: format!("ALB {} in {s}", alb.id),
            kind: NodeKind::Alb {
                listener_ports: alb.listener_ports.clone(),
            },
            subnet: Some(s.clone()),
            ip: cidr.host(10),
            security_groups: alb.security_groups.clone(),
            public_ip: alb.internet_facing,
            ephemeral: ANY_EPHEMERAL,
        })
        .collect()
}

fn compute_nodes(net: &Network, c: &Compute) -> Vec<Node> {
    c.subnets
        .iter()
        .filter_map(|s| Some((s, net.subnets.get(s)?.cidr?)))
        .map(|(s, cidr)| Node {
            label: format!("{} in {s}", c.id),
            kind: NodeKind::Instance,
            subnet: Some(s.clone()),
            ip: cidr.host(20),
            security_groups: c.security_groups.clone(),
            public_ip: c.public_ip,
            ephemeral: LINUX_EPHEMERAL,
        })
        .collect()
}

struct Builder<'n> {
    net: &'n Network,
    scenario: String,
    out: Vec<FlowVerdict>,
}

impl Builder<'_> {
    /// Evaluates every (src, dst) pair; the flow holds only if every pair meets the expectation.
    fn flow(&mut self, name: String, expect: Expect, pairs: &[(Node, Node)], port: u16, via: Via) {
        let mut decided = None;
        for (src, dst) in pairs {
            let (allowed, hops) = walk(self.net, src, dst, port, via);
            let broke = (expect == Expect::Allowed) != allowed;
            decided = Some((allowed, hops));
            if broke {
                break;
            }
        }
        let (allowed, hops) = match decided {
            Some(d) => d,
            // No pair at all (e.g. a group with no subnet): an expected-allowed flow cannot be shown to work.
            None => (
                false,
                vec![Hop {
                    leg: "request",
                    layer: "model",
                    resource: name.clone(),
                    rule: "no node of this flow found in the template".into(),
                    allowed: false,
                }],
            ),
        };
        self.out.push(FlowVerdict {
            scenario: self.scenario.clone(),
            name,
            expect,
            allowed,
            hops,
        });
    }
}

fn pairs(srcs: &[Node], dsts: &[Node]) -> Vec<(Node, Node)> {
    srcs.iter()
        .flat_map(|s| dsts.iter().map(move |d| (s.clone(), d.clone())))
        .collect()
}

pub fn named_flows(net: &Network, scenario: &str) -> Vec<FlowVerdict> {
    let mut b = Builder {
        net,
        scenario: scenario.to_owned(),
        out: Vec::new(),
    };
    let inet = vec![internet()];
    let s3 = vec![s3()];
    let computes: Vec<(String, Vec<Node>)> = net
        .compute
        .iter()
        .map(|c| (c.id.clone(), compute_nodes(net, c)))
        .collect();

    for alb in &net.albs {
        let nodes = alb_nodes(net, alb);
        if alb.internet_facing {
            for port in &alb.listener_ports {
                b.flow(
                    format!("internet → ALB {} :{port}", alb.id),
                    Expect::Allowed,
                    &pairs(&inet, &nodes),
                    *port,
                    Via::Any,
                );
            }
            for port in [22, 3389, 8000, 8080] {
                if !alb.listener_ports.contains(&port) {
                    b.flow(
                        format!("internet → ALB {} :{port} (not a listener)", alb.id),
                        Expect::Denied,
                        &pairs(&inet, &nodes),
                        port,
                        Via::Any,
                    );
                }
            }
        }
        for (id, cnodes) in &computes {
            for port in [22, 8000] {
                if !alb.listener_ports.contains(&port) {
                    b.flow(
                        format!("{id} → ALB {} :{port} (not a listener)", alb.id),
                        Expect::Denied,
                        &pairs(cnodes, &nodes),
                        port,
                        Via::Any,
                    );
                }
            }
        }
        for tg in &net.target_groups {
            for target in &tg.targets {
                let Some((_, tnodes)) = computes.iter().find(|(id, _)| id == target) else {
                    continue;
                };
                let p = pairs(&nodes, tnodes);
                b.flow(
                    format!(
                        "ALB {} → {} ({target}) :{} and replies",
                        alb.id, tg.id, tg.port
                    ),
                    Expect::Allowed,
                    &p,
                    tg.port,
                    Via::Any,
                );
                b.flow(
                    format!(
                        "ALB {} health check → {} ({target}) :{}",
                        alb.id, tg.id, tg.health_port
                    ),
                    Expect::Allowed,
                    &p,
                    tg.health_port,
                    Via::Any,
                );
            }
        }
    }
    for (id, cnodes) in &computes {
        b.flow(
            format!("{id} → S3 :443 through the gateway endpoint"),
            Expect::Allowed,
            &pairs(cnodes, &s3),
            443,
            Via::Endpoint,
        );
        for port in [443, 80] {
            b.flow(
                format!("{id} → internet :{port} through the NAT and replies"),
                Expect::Allowed,
                &pairs(cnodes, &inet),
                port,
                Via::Nat,
            );
        }
        b.flow(
            format!("{id} → internet :443 without NAT"),
            Expect::Denied,
            &pairs(cnodes, &inet),
            443,
            Via::Direct,
        );
        for port in PROBE_PORTS {
            b.flow(
                format!("internet → {id} :{port}"),
                Expect::Denied,
                &pairs(&inet, cnodes),
                port,
                Via::Any,
            );
        }
    }
    b.out
}
