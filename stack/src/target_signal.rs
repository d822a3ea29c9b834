//! What `TargetSignal=enabled` adds around the instances: the `monitoring` interface endpoint that
//! lets `alb-canary-signal` publish without a NAT, its security group, and the instance role's
//! right to put metrics in the signal's namespace and nowhere else. The user data that runs the
//! proxy is in [`crate::compute`], the NACL entries in [`crate::security`], the 10 s alarms in the
//! controller.

use serde_json::json;

use crate::cfn::resources::{
    Policy, PolicyDocument, Principal, Role, SecurityGroup, SecurityGroupIngress, SgRule,
    Statement, VpcEndpoint, name_tag,
};
use crate::cfn::{Attributes, Expr, Fsbp, Handle, Sub, Template, Waiver};
use crate::network::Network;
use crate::parameters::Conditions;
use crate::security::Security;

pub const HTTPS: u16 = 443;
/// The port the service listens on (loopback only) when the proxy takes its public port.
pub const SERVICE_BEHIND_PROXY_PORT: u16 = 8001;

pub struct TargetSignal {
    pub endpoint: Handle<VpcEndpoint>,
}

/// `PutMetricData` into the signal's namespace only: the one condition key CloudWatch offers for it.
fn put_target_metrics(principal: Option<Principal>, sid: &'static str) -> Statement {
    Statement {
        sid: Some(sid),
        effect: "Allow",
        principal,
        action: vec!["cloudwatch:PutMetricData"],
        resource: vec![Expr::lit("*")],
        condition: Some(json!({
            "StringEquals": { "cloudwatch:namespace": contract::target_metric::NAMESPACE }
        })),
    }
}

/// IAM has no resource-level permission for `PutMetricData`; the namespace condition bounds it.
const PUT_METRICS_WAIVER: Waiver = Waiver {
    control: Fsbp::Holds("IAM.1"),
    checkov: &[],
    cfn_nag: &["W12"],
    guard: &["IAM_POLICYDOCUMENT_NO_WILDCARD_RESOURCE"],
    reason: "cloudwatch:PutMetricData has no resource-level permission, so its resource is \"*\", and the cloudwatch:namespace condition limits it to AlbCanary/Targets",
};

pub fn build(
    template: &mut Template,
    conds: &Conditions,
    network: &Network,
    security: &Security,
    instance_role: &Handle<Role>,
) -> TargetSignal {
    let on = || Attributes::new().condition(&conds.target_signal_on);
    template.add_with(
        "InstanceTargetSignalPolicy",
        Policy {
            policy_name: "PutTargetSignalMetrics",
            policy_document: PolicyDocument::new(vec![put_target_metrics(
                None,
                "PutTargetSignalMetrics",
            )]),
            roles: vec![instance_role.r#ref()],
        },
        on().waive(&[PUT_METRICS_WAIVER]),
    );

    let endpoint_group = endpoint_security_group(template, conds, network, security);
    let mut endpoint_policy =
        put_target_metrics(Some(Principal::Anyone("*")), "PutTargetMetricsOnly");
    // Only this account's principals: a stolen key of another account cannot use the endpoint.
    endpoint_policy.condition = Some(json!({
        "StringEquals": {
            "cloudwatch:namespace": contract::target_metric::NAMESPACE,
            "aws:PrincipalAccount": Expr::pseudo("AWS::AccountId"),
        }
    }));
    let endpoint = template.add_with(
        "MonitoringEndpoint",
        VpcEndpoint {
            vpc_id: network.vpc.r#ref(),
            service_name: Sub::new("com.amazonaws.${AWS::Region}.monitoring").build(),
            vpc_endpoint_type: "Interface",
            route_table_ids: Vec::new(),
            subnet_ids: network.private_subnets.iter().map(|s| s.r#ref()).collect(),
            security_group_ids: vec![endpoint_group.get_att("GroupId")],
            private_dns_enabled: Some(true),
            policy_document: PolicyDocument::new(vec![endpoint_policy]),
        },
        on(),
    );
    TargetSignal { endpoint }
}

/// The endpoint's interfaces only answer: its group admits HTTPS from the instances and, since a
/// group without egress rules gets AWS's allow-all, declares one rule that matches nothing.
fn endpoint_security_group(
    template: &mut Template,
    conds: &Conditions,
    network: &Network,
    security: &Security,
) -> Handle<SecurityGroup> {
    let on = || Attributes::new().condition(&conds.target_signal_on);
    let endpoint_group = template.add_with(
        "MonitoringEndpointSecurityGroup",
        SecurityGroup {
            group_description: "SG-MONITORING: the CloudWatch monitoring interface endpoint; HTTPS from SG-BACKEND only".into(),
            vpc_id: network.vpc.r#ref(),
            security_group_ingress: Vec::new(),
            security_group_egress: vec![SgRule {
                ip_protocol: "tcp",
                from_port: HTTPS,
                to_port: HTTPS,
                description: "no egress: the endpoint only answers (loopback is never a destination)".into(),
                cidr_ip: Some(Expr::lit("127.0.0.1/32")),
                source_security_group_id: None,
                destination_security_group_id: None,
            }],
            tags: name_tag(Sub::new("${AWS::StackName}-sg-monitoring").build()),
        },
        on(),
    );
    template.add_with(
        "MonitoringEndpointIngressFromBackend",
        SecurityGroupIngress {
            group_id: endpoint_group.get_att("GroupId"),
            rule: SgRule {
                ip_protocol: "tcp",
                from_port: HTTPS,
                to_port: HTTPS,
                description: "alb-canary-signal on V1, V2 and the Docker host".into(),
                cidr_ip: None,
                source_security_group_id: Some(security.backend_group.get_att("GroupId")),
                destination_security_group_id: None,
            },
        },
        on(),
    );
    endpoint_group
}
