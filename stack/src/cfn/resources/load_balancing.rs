//! Elastic Load Balancing canary: the load balancer, target groups, listeners and their actions.

use serde::Serialize;

use super::{Tag, resource};
use crate::cfn::Expr;

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyValue {
    pub key: &'static str,
    pub value: Expr,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoadBalancer {
    pub r#type: &'static str,
    pub scheme: &'static str,
    pub ip_address_type: &'static str,
    pub subnets: Vec<Expr>,
    pub security_groups: Vec<Expr>,
    /// Elements may be `Fn::If` with `AWS::NoValue`, hence `Expr`.
    pub load_balancer_attributes: Vec<Expr>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(
    LoadBalancer,
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    [
        "DNSName",
        "LoadBalancerFullName",
        "LoadBalancerName",
        "LoadBalancerArn",
        "CanonicalHostedZoneID"
    ]
);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetGroup {
    pub vpc_id: Expr,
    pub protocol: &'static str,
    pub port: u16,
    pub target_type: &'static str,
    pub health_check_enabled: bool,
    pub health_check_protocol: &'static str,
    pub health_check_path: &'static str,
    pub health_check_interval_seconds: u16,
    pub health_check_timeout_seconds: u16,
    pub healthy_threshold_count: u16,
    pub unhealthy_threshold_count: u16,
    pub matcher: Matcher,
    pub target_group_attributes: Vec<KeyValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(
    TargetGroup,
    "AWS::ElasticLoadBalancingV2::TargetGroup",
    [
        "TargetGroupArn",
        "TargetGroupFullName",
        "TargetGroupName",
        "LoadBalancerArns"
    ]
);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Matcher {
    pub http_code: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Listener {
    pub load_balancer_arn: Expr,
    pub port: u16,
    pub protocol: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssl_policy: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<Certificate>,
    /// An `Expr` so that one listener can switch its action on a condition.
    pub default_actions: Expr,
}
resource!(
    Listener,
    "AWS::ElasticLoadBalancingV2::Listener",
    ["ListenerArn"]
);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Certificate {
    pub certificate_arn: Expr,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Action {
    pub r#type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward_config: Option<ForwardConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_config: Option<RedirectConfig>,
}

impl Action {
    pub fn to_expr(&self) -> Expr {
        Expr(serde_json::to_value(self).expect("an action serializes"))
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ForwardConfig {
    pub target_groups: Vec<WeightedTargetGroup>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WeightedTargetGroup {
    pub target_group_arn: Expr,
    pub weight: u16,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RedirectConfig {
    pub protocol: &'static str,
    pub port: &'static str,
    pub status_code: &'static str,
}
