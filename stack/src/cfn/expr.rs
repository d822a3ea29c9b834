//! Property values: literals and the intrinsic functions the stack uses.
//!
//! Only plain intrinsics (`Ref`, `Fn::GetAtt`, `Fn::If`, `Fn::Select`, `Fn::Split`, `Fn::Join`,
//! `Fn::GetAZs`, `Fn::Sub`, `Fn::FindInMap`, `Fn::Base64`, `Fn::Equals`, `Fn::Not`, `Fn::Or`): the
//! offline evaluator of the template (`policy::intrinsics`) knows exactly these.

use serde::Serialize;
use serde_json::{Value, json};

use super::names::{Cond, Mapping, Named, PSEUDO_PARAMETERS};

/// A CloudFormation value: a literal or an intrinsic function.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Expr(pub(crate) Value);

impl Expr {
    /// A literal JSON value.
    pub fn lit(value: impl Into<Value>) -> Expr {
        Expr(value.into())
    }

    /// `{"Ref": "AWS::..."}` for a pseudo parameter such as `AWS::Region`.
    pub fn pseudo(name: &'static str) -> Expr {
        assert!(
            PSEUDO_PARAMETERS.contains(&name),
            "`{name}` is not a CloudFormation pseudo parameter"
        );
        Expr(json!({ "Ref": name }))
    }

    /// `AWS::NoValue`: removes the property (or list element) it stands in.
    pub fn no_value() -> Expr {
        Expr::pseudo("AWS::NoValue")
    }

    /// The `index`-th availability zone of the stack's region (no hard-coded AZ names).
    pub fn availability_zone(index: u32) -> Expr {
        Expr(json!({ "Fn::Select": [index, { "Fn::GetAZs": "" }] }))
    }

    /// `Fn::If` on a condition of the template.
    pub fn if_(condition: &Cond, then: impl Into<Expr>, otherwise: impl Into<Expr>) -> Expr {
        Expr(json!({ "Fn::If": [condition.id(), then.into().0, otherwise.into().0] }))
    }

    /// `Fn::Equals`, for conditions.
    pub fn equals(left: impl Into<Expr>, right: impl Into<Expr>) -> Expr {
        Expr(json!({ "Fn::Equals": [left.into().0, right.into().0] }))
    }

    /// `Fn::Not`, for conditions.
    pub fn negate(inner: Expr) -> Expr {
        Expr(json!({ "Fn::Not": [inner.0] }))
    }

    /// `{"Condition": name}`: another condition, used inside a condition.
    pub fn condition(condition: &Cond) -> Expr {
        Expr(json!({ "Condition": condition.id() }))
    }

    /// `Fn::Or`, for conditions (at most 10 operands, as CloudFormation allows).
    pub fn or(operands: impl IntoIterator<Item = Expr>) -> Expr {
        let operands: Vec<Value> = operands.into_iter().map(|e| e.0).collect();
        assert!(
            (2..=10).contains(&operands.len()),
            "Fn::Or takes 2 to 10 conditions, got {}",
            operands.len()
        );
        Expr(json!({ "Fn::Or": operands }))
    }

    /// `Fn::FindInMap`.
    pub fn find_in_map(mapping: &Mapping, key: Expr, attribute: &str) -> Expr {
        Expr(json!({ "Fn::FindInMap": [mapping.id(), key.0, attribute] }))
    }

    /// `Fn::Join`.
    pub fn join(separator: &str, items: impl IntoIterator<Item = Expr>) -> Expr {
        Expr(json!({ "Fn::Join": [separator, Expr::list(items).0] }))
    }

    /// `Fn::Select` of `Fn::Split`: the `index`-th part of `text` split at `separator`.
    pub fn split_part(separator: &str, text: Expr, index: u32) -> Expr {
        Expr(json!({ "Fn::Select": [index, { "Fn::Split": [separator, text.0] }] }))
    }

    /// `Fn::Base64`.
    pub fn base64(inner: Expr) -> Expr {
        Expr(json!({ "Fn::Base64": inner.0 }))
    }

    /// A list of values.
    pub fn list(items: impl IntoIterator<Item = Expr>) -> Expr {
        Expr(Value::Array(items.into_iter().map(|e| e.0).collect()))
    }

    /// The JSON this value serializes to.
    pub fn as_json(&self) -> &Value {
        &self.0
    }
}

impl From<&str> for Expr {
    fn from(value: &str) -> Expr {
        Expr(Value::from(value))
    }
}

impl From<String> for Expr {
    fn from(value: String) -> Expr {
        Expr(Value::from(value))
    }
}

impl From<i64> for Expr {
    fn from(value: i64) -> Expr {
        Expr(Value::from(value))
    }
}

impl From<bool> for Expr {
    fn from(value: bool) -> Expr {
        Expr(Value::from(value))
    }
}

/// A `Fn::Sub` string whose `${X}` variables can only name things handed to it.
///
/// `Sub::new(text).var(&bucket).build()` panics at synth time if `text` holds a `${X}` that is
/// neither a pseudo parameter nor one of the handles given (or `${X.Attr}` of one): a typo is a
/// failing test, never a template CloudFormation rejects at deploy time. `${!X}` is a literal `${X}`.
#[derive(Debug)]
pub struct Sub {
    text: String,
    vars: Vec<String>,
}

impl Sub {
    pub fn new(text: impl Into<String>) -> Sub {
        Sub {
            text: text.into(),
            vars: Vec::new(),
        }
    }

    /// Allows `${id}` (and `${id.Attr}`) for this parameter or resource.
    pub fn var(mut self, named: &dyn Named) -> Sub {
        self.vars.push(named.logical_id().to_owned());
        self
    }

    pub fn build(self) -> Expr {
        for var in sub_variables(&self.text) {
            let base = var.split('.').next().unwrap_or(var);
            let known = PSEUDO_PARAMETERS.contains(&var) || self.vars.iter().any(|v| v == base);
            assert!(
                known,
                "`${{{var}}}` in a Fn::Sub names nothing handed to it (allowed: {:?} and pseudo parameters)",
                self.vars
            );
        }
        Expr(json!({ "Fn::Sub": self.text }))
    }
}

/// Escapes text that must reach the instance verbatim through a `Fn::Sub` (`${X}` → `${!X}`).
pub fn sub_literal(text: &str) -> String {
    text.replace("${", "${!")
}

/// The variable names of `${X}` in a `Fn::Sub` string, skipping the `${!X}` literals.
pub(crate) fn sub_variables(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !name.starts_with('!') {
            found.push(name);
        }
        rest = &after[end + 1..];
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_variables_skip_literals() {
        assert_eq!(
            sub_variables("a ${X} b ${!Y} ${Z.Arn} ${AWS::Region}"),
            vec!["X", "Z.Arn", "AWS::Region"]
        );
    }
}
