//! The named flows the architecture promises (must be allowed) and forbids (must be denied), generated from
//! the model so that every ALB, target group and compute group of the template is covered.

use super::cidr::Ports;
use super::evaluate::{ANY_EPHEMERAL, Hop, LINUX_EPHEMERAL, Node, NodeKind, Via, walk};
use super::model::{Alb, Compute, Network};
use std::net::Ipv4Addr;

/// A documentation-range address stands for "any client on the internet".
const INTERNET_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
/// An address inside S3's published ranges (reached through the S3 prefix list).
const S3_IP: Ipv4Addr = Ipv4Addr::new(52, 216, 4, 10);
/// Ports always probed for "any port": administration, the app ports, and the ends of the range.
const PROBE_PORTS: [u16; 8] = [0, 22, 80, 443, 3389, 8000, 50000, 65535];

/// "Any port", exactly: every verdict is constant between two edges of some NACL or security group port
/// range, so probing each edge (and its neighbours) covers every port of 0-65535.
fn any_port(net: &Network) -> Vec<u16> {
    let mut ports: Vec<u16> = PROBE_PORTS.to_vec();
    let mut edge = |p: Ports| {
        ports.extend([
            p.from.saturating_sub(1),
            p.from,
            p.to,
            p.to.saturating_add(1),
        ]);
    };
    net.nacls.values().flatten().for_each(|e| edge(e.ports));
    for sg in net.security_groups.values() {
        sg.ingress
            .iter()
            .chain(&sg.egress)
            .for_each(|r| edge(r.ports));
    }
    ports.sort_unstable();
    ports.dedup();
    ports
}

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
            // An explicit AssociatePublicIpAddress wins; otherwise the subnet's MapPublicIpOnLaunch decides.
            public_ip: c
                .public_ip
                .unwrap_or_else(|| net.subnets.get(s).is_some_and(|sub| sub.map_public_ip)),
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
        self.flow_ports(name, expect, pairs, &[port], via);
    }

    /// Same over several ports: a must-deny flow breaks as soon as one port of one pair gets through.
    fn flow_ports(
        &mut self,
        name: String,
        expect: Expect,
        pairs: &[(Node, Node)],
        ports: &[u16],
        via: Via,
    ) {
        let mut decided = None;
        'search: for port in ports {
            for (src, dst) in pairs {
                let (allowed, hops) = walk(self.net, src, dst, *port, via);
                let broke = (expect == Expect::Allowed) != allowed;
                // While the expectation holds, keep the walk that got furthest: for a denied flow that is
                // the layer that really stopped it (the closest call), not the first obstacle of any pair.
                let further = decided
                    .as_ref()
                    .is_none_or(|(_, h): &(bool, Vec<Hop>)| hops.len() > h.len());
                if broke || further {
                    decided = Some((allowed, hops));
                }
                if broke {
                    break 'search;
                }
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

fn non_listener(ports: &[u16], alb: &Alb) -> Vec<u16> {
    ports
        .iter()
        .copied()
        .filter(|p| !alb.listener_ports.contains(p))
        .collect()
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
    let any = any_port(net);
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
            if !alb.listener_ports.contains(&22) {
                b.flow(
                    format!("internet → ALB {} :22 (not a listener)", alb.id),
                    Expect::Denied,
                    &pairs(&inet, &nodes),
                    22,
                    Via::Any,
                );
            }
            b.flow_ports(
                format!("internet → ALB {} any non-listener port", alb.id),
                Expect::Denied,
                &pairs(&inet, &nodes),
                &non_listener(&any, alb),
                Via::Any,
            );
        }
        for (id, cnodes) in &computes {
            b.flow_ports(
                format!("{id} → ALB {} any non-listener port", alb.id),
                Expect::Denied,
                &pairs(cnodes, &nodes),
                &non_listener(&any, alb),
                Via::Any,
            );
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
        b.flow_ports(
            format!("internet → {id} any port"),
            Expect::Denied,
            &pairs(&inet, cnodes),
            &any,
            Via::Any,
        );
    }
    b.out
}
