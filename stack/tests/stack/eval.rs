//! The synthesized template under a parameter set, through the evaluator the policy checks use
//! (`policy::intrinsics`, structure-preserving mode): conditions decide which resources exist,
//! `Ref` to a parameter becomes its value, `Fn::If` picks its branch and `AWS::NoValue`
//! disappears; `Ref`/`Fn::GetAtt` of resources and the value functions stay as written, for the
//! tests to inspect. An unknown intrinsic or an undeclared condition fails the test, naming the
//! resource and the path.

use alb_canary_tests::template::Deployment;
use policy::intrinsics::Physical;
use serde_json::{Value, json};

/// A deployment of the template before anything is created: every resource stays unresolved.
pub struct Eval {
    deployment: Deployment,
}

impl Eval {
    /// The template of `stack::synthesize`, with parameter defaults overridden by `overrides`.
    pub fn new(overrides: &[(&str, &str)]) -> Eval {
        let deployment = Deployment::new(overrides);
        for (name, spec) in deployment.template["Parameters"]
            .as_object()
            .expect("the template has parameters")
        {
            assert!(
                !spec["Default"].is_null(),
                "parameter {name} has no default"
            );
        }
        Eval { deployment }
    }

    /// The template with every parameter at its default.
    pub fn defaults() -> Eval {
        Eval::new(&[])
    }

    pub fn template(&self) -> &Value {
        &self.deployment.template
    }

    pub fn condition(&self, name: &str) -> bool {
        self.deployment.condition(name)
    }

    /// Resolves parameter `Ref`s and `Fn::If`, drops `AWS::NoValue`.
    pub fn value(&self, value: &Value) -> Value {
        self.deployment
            .evaluator()
            .value_at("(test value)", "", value, &Physical::Unresolved)
            .unwrap_or_else(|err| panic!("{err}"))
    }

    /// Logical IDs and resolved properties of the resources of `kind` that exist.
    pub fn resources(&self, kind: &str) -> Vec<(String, Value)> {
        let evaluator = self.deployment.evaluator();
        evaluator
            .resources()
            .unwrap_or_else(|err| panic!("{err}"))
            .into_iter()
            .filter(|(_, r)| r["Type"] == kind)
            .map(|(id, _)| {
                let props = evaluator
                    .properties(id, &Physical::Unresolved)
                    .unwrap_or_else(|err| panic!("{err}"));
                (id.clone(), props)
            })
            .collect()
    }

    /// The resolved properties of one resource that must exist.
    pub fn resource(&self, id: &str) -> Value {
        assert!(
            self.exists(id),
            "{id} does not exist under these parameters"
        );
        self.deployment
            .evaluator()
            .properties(id, &Physical::Unresolved)
            .unwrap_or_else(|err| panic!("{err}"))
    }

    pub fn exists(&self, id: &str) -> bool {
        !self.template()["Resources"][id].is_null()
            && self
                .deployment
                .evaluator()
                .exists(id)
                .unwrap_or_else(|err| panic!("{err}"))
    }
}

pub fn r#ref(id: &str) -> Value {
    json!({ "Ref": id })
}

pub fn get_att(id: &str, attribute: &str) -> Value {
    json!({ "Fn::GetAtt": [id, attribute] })
}
