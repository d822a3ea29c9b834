//! IAM: policy documents, roles, policies and instance profiles.

use serde::Serialize;

use super::resource;
use crate::cfn::Expr;

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyDocument {
    pub version: &'static str,
    pub statement: Vec<Statement>,
}

impl PolicyDocument {
    pub fn new(statement: Vec<Statement>) -> PolicyDocument {
        PolicyDocument {
            version: "2012-10-17",
            statement,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<&'static str>,
    pub effect: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<Principal>,
    pub action: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resource: Vec<Expr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<serde_json::Value>,
}

#[derive(Debug, Serialize)]
pub enum Principal {
    Service(Vec<&'static str>),
    /// `"Principal": "*"`.
    #[serde(untagged)]
    Anyone(&'static str),
    /// A principal chosen by an intrinsic (e.g. `Fn::If` on the region).
    #[serde(untagged)]
    Chosen(Expr),
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InlinePolicy {
    pub policy_name: &'static str,
    pub policy_document: PolicyDocument,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Role {
    pub assume_role_policy_document: PolicyDocument,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub managed_policy_arns: Vec<Expr>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<InlinePolicy>,
}
resource!(Role, "AWS::IAM::Role", ["Arn", "RoleId"]);

/// A policy attached to roles after they exist: it may name resources that need the role first.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Policy {
    pub policy_name: &'static str,
    pub policy_document: PolicyDocument,
    pub roles: Vec<Expr>,
}
resource!(Policy, "AWS::IAM::Policy", ["Id"]);

/// A policy for people and roles outside the stack to attach (the operators').
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManagedPolicy {
    pub description: &'static str,
    pub policy_document: PolicyDocument,
}
resource!(ManagedPolicy, "AWS::IAM::ManagedPolicy", ["PolicyArn"]);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceProfile {
    pub roles: Vec<Expr>,
}
resource!(InstanceProfile, "AWS::IAM::InstanceProfile", ["Arn"]);
