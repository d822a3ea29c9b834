//! Typed properties of the CloudFormation resource types the stack uses, with the spec's names.
//!
//! Plain CloudFormation types only (no SAM transform), so every policy tool reads the output.
//! Optional properties are `Option` and skipped when `None`; empty lists are skipped.

mod compute;
mod iam;
mod load_balancing;
mod network;
mod storage;
mod waf;

pub use compute::*;
pub use iam::*;
pub use load_balancing::*;
pub use network::*;
pub use storage::*;
pub use waf::*;

use serde::Serialize;

use super::Expr;

/// Declares the CloudFormation type and the `Fn::GetAtt` attributes of a property struct.
macro_rules! resource {
    ($name:ident, $type:literal, [$($attr:literal),* $(,)?]) => {
        impl $crate::cfn::Resource for $name {
            const TYPE: &'static str = $type;
            const ATTRIBUTES: &'static [&'static str] = &[$($attr),*];
        }
    };
}
pub(crate) use resource;

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: Expr,
}

/// A `Name` tag, the one the console shows.
pub fn name_tag(value: impl Into<Expr>) -> Vec<Tag> {
    vec![Tag {
        key: "Name".into(),
        value: value.into(),
    }]
}
