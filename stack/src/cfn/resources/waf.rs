//! WAFv2: the web ACL in front of the load balancer and its association.

use serde::Serialize;

use super::resource;
use crate::cfn::Expr;

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WebAcl {
    pub scope: &'static str,
    pub description: &'static str,
    pub default_action: WafAction,
    pub visibility_config: VisibilityConfig,
    pub rules: Vec<WafRule>,
}
resource!(
    WebAcl,
    "AWS::WAFv2::WebACL",
    ["Arn", "Id", "LabelNamespace"]
);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VisibilityConfig {
    pub sampled_requests_enabled: bool,
    pub cloud_watch_metrics_enabled: bool,
    pub metric_name: String,
}

impl VisibilityConfig {
    pub fn on(metric_name: &str) -> VisibilityConfig {
        VisibilityConfig {
            sampled_requests_enabled: true,
            cloud_watch_metrics_enabled: true,
            metric_name: metric_name.to_owned(),
        }
    }
}

/// `{"Allow": {}}` or `{"Block": {}}`.
#[derive(Debug, Serialize)]
pub enum WafAction {
    Allow {},
    Block {},
}

/// A managed rule group's override: `{"None": {}}` keeps the group's own actions.
#[derive(Debug, Serialize)]
pub enum OverrideAction {
    None {},
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WafRule {
    pub name: String,
    pub priority: u16,
    pub statement: WafStatement,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<WafAction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_action: Option<OverrideAction>,
    pub visibility_config: VisibilityConfig,
}

#[derive(Debug, Serialize)]
pub enum WafStatement {
    ManagedRuleGroupStatement {
        #[serde(rename = "VendorName")]
        vendor_name: &'static str,
        #[serde(rename = "Name")]
        name: &'static str,
    },
    RateBasedStatement {
        #[serde(rename = "Limit")]
        limit: Expr,
        #[serde(rename = "AggregateKeyType")]
        aggregate_key_type: &'static str,
    },
}

#[derive(Debug, Serialize)]
pub struct WebAclAssociation {
    #[serde(rename = "ResourceArn")]
    pub resource_arn: Expr,
    #[serde(rename = "WebACLArn")]
    pub web_acl_arn: Expr,
}
resource!(WebAclAssociation, "AWS::WAFv2::WebACLAssociation", []);
