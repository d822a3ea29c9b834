//! The synthesized template's expressions, resolved as CloudFormation would for one deployment
//! into the emulator, by the evaluator the policy checks use (`policy::intrinsics`): a reference
//! to something not deployed here, an unknown intrinsic or an undeclared condition is a failure
//! naming the resource and the path.

use std::collections::HashMap;

use policy::intrinsics::{Evaluator, Physical};
use serde_json::{Value, json};

/// The stack name the emulator deployments use (`policy::intrinsics::Pseudo`'s default).
pub const STACK: &str = "alb-canary";
/// The account id moto reports.
pub const ACCOUNT: &str = "123456789012";

/// The template's expressions, resolved as CloudFormation would for one deployment.
pub struct Deployment {
    pub template: Value,
    overrides: Vec<(String, String)>,
    /// Logical ID → what `Ref` returns.
    refs: HashMap<String, String>,
    /// (logical ID, attribute) → what `Fn::GetAtt` returns.
    attrs: HashMap<(String, String), String>,
}

impl Deployment {
    /// The default synthesis with `overrides` for its parameters (an undeclared one fails).
    pub fn new(overrides: &[(&str, &str)]) -> Deployment {
        let template = stack::synthesize(&stack::Options::default()).to_json();
        let deployment = Deployment {
            template,
            overrides: overrides
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            refs: HashMap::new(),
            attrs: HashMap::new(),
        };
        deployment.evaluator();
        deployment
    }

    /// The policy checks' evaluator under this deployment's parameters (the stack tests read the
    /// template through it with every resource unresolved).
    pub fn evaluator(&self) -> Evaluator<'_> {
        let overrides: Vec<(&str, &str)> = self
            .overrides
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        Evaluator::new(&self.template, &overrides).unwrap_or_else(|err| panic!("{err}"))
    }

    /// A resource's property at `path`, resolved. Only what a step uses is resolved: the rest of
    /// a resource may name resources the deployment does not create (log groups, queues).
    pub fn property(&self, id: &str, path: &[&str]) -> Value {
        let mut value = &self.template["Resources"][id]["Properties"];
        for key in path {
            value = &value[*key];
        }
        assert!(!value.is_null(), "{id} has no property {}", path.join("."));
        let lookup = |id: &str, attribute: Option<&str>| match attribute {
            None => self.refs.get(id).cloned(),
            Some(a) => self.attrs.get(&(id.to_owned(), a.to_owned())).cloned(),
        };
        let path = std::iter::once("Properties")
            .chain(path.iter().copied())
            .collect::<Vec<_>>()
            .join(".");
        self.evaluator()
            .value_at(
                &format!("Resources.{id}"),
                &path,
                value,
                &Physical::Given(&lookup),
            )
            .unwrap_or_else(|err| panic!("{err}"))
    }

    /// A declared condition's value under this deployment's parameters.
    pub fn condition(&self, name: &str) -> bool {
        self.evaluator()
            .condition(name)
            .unwrap_or_else(|err| panic!("{err}"))
    }

    /// `id` was created: `Ref` returns `reference`.
    pub fn created(&mut self, id: &str, reference: &str) {
        self.refs.insert(id.to_owned(), reference.to_owned());
    }

    /// `Fn::GetAtt [id, attribute]` returns `value`.
    pub fn attribute(&mut self, id: &str, attribute: &str, value: &str) {
        self.attrs
            .insert((id.to_owned(), attribute.to_owned()), value.to_owned());
    }

    /// What `Ref` returns for a resource created here.
    pub fn lookup(&self, id: &str) -> String {
        self.refs
            .get(id)
            .unwrap_or_else(|| panic!("`{id}` is referenced but not deployed here"))
            .clone()
    }

    /// What `Fn::GetAtt` returns for a resource created here.
    pub fn get_att(&self, id: &str, attribute: &str) -> String {
        self.attrs
            .get(&(id.to_owned(), attribute.to_owned()))
            .unwrap_or_else(|| panic!("`{id}.{attribute}` is referenced but not deployed here"))
            .clone()
    }

    /// A recorded resource as the template names it: the `Ref` or `Fn::GetAtt` whose deployed
    /// value it is; an ARN that embeds one (an object in a bucket, a group by name) as a
    /// `Fn::Join` around the longest such value; else the ARN itself (which then holds only the
    /// shared pseudo values).
    pub fn expression_of(&self, resource: &str) -> Value {
        let mut known: Vec<(Value, &String)> = self
            .refs
            .iter()
            .map(|(id, v)| (json!({ "Ref": id }), v))
            .chain(
                self.attrs
                    .iter()
                    .map(|((id, a), v)| (json!({ "Fn::GetAtt": [id, a] }), v)),
            )
            .collect();
        // Longest first, then by expression: the same value under two names resolves the same way.
        known.sort_by(|a, b| {
            b.1.len()
                .cmp(&a.1.len())
                .then_with(|| a.0.to_string().cmp(&b.0.to_string()))
        });
        if let Some((expression, _)) = known.iter().find(|(_, v)| v.as_str() == resource) {
            return expression.clone();
        }
        let bounded = |at: usize, value: &str| {
            let before = resource[..at].chars().next_back();
            let after = resource[at + value.len()..].chars().next();
            before.is_none_or(|c| matches!(c, '/' | ':'))
                && after.is_none_or(|c| matches!(c, '/' | ':'))
        };
        for (expression, value) in &known {
            if let Some(at) = resource
                .find(value.as_str())
                .filter(|at| bounded(*at, value))
            {
                let (before, after) = (&resource[..at], &resource[at + value.len()..]);
                let parts: Vec<Value> = [json!(before), expression.clone(), json!(after)]
                    .into_iter()
                    .filter(|part| part != &json!(""))
                    .collect();
                return json!({ "Fn::Join": ["", parts] });
            }
        }
        json!(resource)
    }
}

/// A resolved scalar as the text an API takes.
pub fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => panic!("no value"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_to_something_not_deployed_fails_naming_it() {
        let d = Deployment::new(&[]);
        let err = std::panic::catch_unwind(|| d.property("HttpListener", &["DefaultActions"]))
            .expect_err("the target groups are not deployed");
        let text = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(text.contains("Resources.HttpListener"), "{text}");
    }

    #[test]
    fn an_undeclared_parameter_override_fails() {
        let err = std::panic::catch_unwind(|| Deployment::new(&[("NoSuchParameter", "x")]))
            .err()
            .expect("the stack has no such parameter");
        let text = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(text.contains("NoSuchParameter"), "{text}");
    }

    #[test]
    fn resolved_values_follow_the_deployment() {
        let mut d = Deployment::new(&[]);
        d.created("TargetGroupV1", "arn:tg/v1");
        d.created("TargetGroupV2", "arn:tg/v2");
        d.created("LoadBalancer", "arn:lb");
        let actions = d.property("HttpListener", &["DefaultActions"]);
        let groups = &actions[0]["ForwardConfig"]["TargetGroups"];
        assert_eq!(groups[0]["TargetGroupArn"], "arn:tg/v1");
        assert_eq!(groups[1]["TargetGroupArn"], "arn:tg/v2");
        assert_eq!(
            d.expression_of("arn:tg/v2"),
            json!({ "Ref": "TargetGroupV2" })
        );
        d.created("ArtifactBucket", "bucket");
        d.attribute("ArtifactBucket", "Arn", "arn:aws:s3:::bucket");
        assert_eq!(
            d.expression_of("arn:aws:s3:::bucket/artifacts/1.0.0/recommender"),
            json!({ "Fn::Join": ["", [
                { "Fn::GetAtt": ["ArtifactBucket", "Arn"] },
                "/artifacts/1.0.0/recommender"
            ]] })
        );
        assert_eq!(
            d.expression_of("arn:aws:s3:::bucketful/x"),
            json!("arn:aws:s3:::bucketful/x"),
            "only a whole name is a reference"
        );
    }
}
