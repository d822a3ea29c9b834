//! What a template names: pseudo parameters, and the logical IDs of conditions and mappings.
//!
//! The bottom layer of the model: [`super::expr`] builds intrinsics from these names and
//! [`super::template`] hands them out, so neither of those two needs the other's internals.

/// The `AWS::...` names a `Ref` or `${X}` may use without declaring them.
pub(crate) const PSEUDO_PARAMETERS: &[&str] = &[
    "AWS::AccountId",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
];

/// Something with a logical ID: a parameter or a resource.
pub trait Named {
    fn logical_id(&self) -> &str;
}

/// A mapping of the template (`Fn::FindInMap`); only [`super::Template::mapping`] makes one.
#[derive(Clone, Debug)]
pub struct Mapping {
    id: String,
}

impl Mapping {
    pub(super) fn declared(id: &str) -> Mapping {
        Mapping { id: id.to_owned() }
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

/// A condition of the template; only [`super::Template::condition`] makes one.
#[derive(Clone, Debug)]
pub struct Cond {
    id: String,
}

impl Cond {
    pub(super) fn declared(id: &str) -> Cond {
        Cond { id: id.to_owned() }
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}
