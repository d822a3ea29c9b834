//! The diagram's arrows: each one a reference in the template, read by kind of resource.

use super::Model;

/// An arrow per reference of one kind, in the order they are drawn.
enum Arrow {
    /// `holder` references `referenced`; the arrow points along the reference.
    Along {
        holder: &'static str,
        referenced: &'static str,
        label: &'static str,
    },
    /// `holder` references `referenced`; the arrow points back, the way requests flow (a load
    /// balancer to the listener that names it, a target group to the fleet registered in it).
    Against {
        holder: &'static str,
        referenced: &'static str,
    },
    /// A `link` resource that references both ends (an association, an invoke config).
    Through {
        link: &'static str,
        from: &'static str,
        to: &'static str,
        label: &'static str,
    },
}

const LOAD_BALANCER: &str = "AWS::ElasticLoadBalancingV2::LoadBalancer";
const TARGET_GROUP: &str = "AWS::ElasticLoadBalancingV2::TargetGroup";
const LISTENER: &str = "AWS::ElasticLoadBalancingV2::Listener";
const FLEET: &str = "AWS::AutoScaling::AutoScalingGroup";
const FUNCTION: &str = "AWS::Lambda::Function";

const ARROWS: &[Arrow] = &[
    Arrow::Through {
        link: "AWS::WAFv2::WebACLAssociation",
        from: "AWS::WAFv2::WebACL",
        to: LOAD_BALANCER,
        label: "filters",
    },
    Arrow::Against {
        holder: LISTENER,
        referenced: LOAD_BALANCER,
    },
    Arrow::Along {
        holder: LISTENER,
        referenced: TARGET_GROUP,
        label: "",
    },
    Arrow::Against {
        holder: FLEET,
        referenced: TARGET_GROUP,
    },
    Arrow::Along {
        holder: "AWS::EC2::VPCEndpoint",
        referenced: "AWS::S3::Bucket",
        label: "artifacts",
    },
    Arrow::Along {
        holder: "AWS::CloudWatch::Alarm",
        referenced: FUNCTION,
        label: "",
    },
    Arrow::Along {
        holder: "AWS::Scheduler::Schedule",
        referenced: FUNCTION,
        label: "",
    },
    Arrow::Through {
        link: "AWS::Lambda::EventInvokeConfig",
        from: FUNCTION,
        to: "AWS::SQS::Queue",
        label: "",
    },
];

/// The arrows, each derived from a reference in the template.
pub(super) fn edges<'a>(model: &Model<'a>) -> Vec<(&'a str, &'a str, &'static str)> {
    let mut edges = Vec::new();
    for arrow in ARROWS {
        match *arrow {
            Arrow::Along {
                holder,
                referenced,
                label,
            } => {
                for from in model.of_type(holder) {
                    for to in model.refs_of_type(from, referenced) {
                        edges.push((from, to, label));
                    }
                }
            }
            Arrow::Against { holder, referenced } => {
                for to in model.of_type(holder) {
                    for from in model.refs_of_type(to, referenced) {
                        edges.push((from, to, ""));
                    }
                }
            }
            Arrow::Through {
                link,
                from,
                to,
                label,
            } => {
                for link in model.of_type(link) {
                    for from in model.refs_of_type(link, from) {
                        for to in model.refs_of_type(link, to) {
                            edges.push((from, to, label));
                        }
                    }
                }
            }
        }
    }
    // No reference joins the gateway to the load balancer: the picture puts it in front.
    for igw in model.of_type("AWS::EC2::InternetGateway") {
        for alb in model.of_type(LOAD_BALANCER) {
            edges.push((igw, alb, ""));
        }
    }
    // Fleets in a subnet whose route table an endpoint serves reach S3 through it.
    for endpoint in model.of_type("AWS::EC2::VPCEndpoint") {
        let tables = model
            .refs_of_type(endpoint, "AWS::EC2::RouteTable")
            .into_iter()
            .collect();
        let served = model.subnets_routed_by(&tables);
        for fleet in model.of_type(FLEET) {
            if model
                .refs_of_type(fleet, "AWS::EC2::Subnet")
                .iter()
                .any(|s| served.contains(s))
            {
                edges.push((fleet, endpoint, ""));
            }
        }
    }
    // What a function may touch is what its role's policies name.
    for function in model.of_type(FUNCTION) {
        for role in model.refs_of_type(function, "AWS::IAM::Role") {
            for kind in [LISTENER, "AWS::DynamoDB::Table", "AWS::SNS::Topic"] {
                for target in model.refs_of_type(role, kind) {
                    edges.push((function, target, ""));
                }
            }
        }
    }
    edges
}
