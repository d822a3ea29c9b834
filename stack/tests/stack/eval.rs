//! A tiny evaluator of the synthesized template under a parameter set: conditions decide which
//! resources exist, `Ref` to a parameter becomes its value, `Fn::If` picks its branch and
//! `AWS::NoValue` disappears. Other intrinsics stay as they are, for the tests to inspect.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

pub struct Eval {
    template: Value,
    params: HashMap<String, String>,
}

impl Eval {
    /// The template of `stack::synthesize`, with parameter defaults overridden by `overrides`.
    pub fn new(overrides: &[(&str, &str)]) -> Eval {
        let template = stack::synthesize(&stack::Options::default()).to_json();
        let mut params: HashMap<String, String> = template["Parameters"]
            .as_object()
            .expect("the template has parameters")
            .iter()
            .map(|(name, spec)| {
                let default = match &spec["Default"] {
                    Value::String(s) => s.clone(),
                    Value::Null => panic!("parameter {name} has no default"),
                    other => other.to_string(),
                };
                (name.clone(), default)
            })
            .collect();
        for (name, value) in overrides {
            assert!(params.contains_key(*name), "no parameter {name}");
            params.insert((*name).to_owned(), (*value).to_owned());
        }
        Eval { template, params }
    }

    pub fn template(&self) -> &Value {
        &self.template
    }

    pub fn condition(&self, name: &str) -> bool {
        let expr = &self.template["Conditions"][name];
        assert!(!expr.is_null(), "no condition {name}");
        self.truth(expr)
    }

    fn truth(&self, expr: &Value) -> bool {
        let (key, arg) = expr
            .as_object()
            .and_then(|m| m.iter().next())
            .expect("a condition function");
        match key.as_str() {
            "Fn::Equals" => self.value(&arg[0]) == self.value(&arg[1]),
            "Fn::Not" => !self.truth(&arg[0]),
            "Fn::And" => arg.as_array().unwrap().iter().all(|e| self.truth(e)),
            "Fn::Or" => arg.as_array().unwrap().iter().any(|e| self.truth(e)),
            "Condition" => self.condition(arg.as_str().unwrap()),
            other => panic!("unexpected condition function {other}"),
        }
    }

    /// Resolves parameter `Ref`s and `Fn::If`, drops `AWS::NoValue`.
    pub fn value(&self, value: &Value) -> Value {
        match value {
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| self.value(v))
                    .filter(|v| !is_no_value(v))
                    .collect(),
            ),
            Value::Object(map) => {
                if map.len() == 1 {
                    let (key, arg) = map.iter().next().unwrap();
                    if key == "Ref"
                        && let Some(param) = self.params.get(arg.as_str().unwrap())
                    {
                        return json!(param);
                    }
                    if key == "Fn::If" {
                        let branch = if self.condition(arg[0].as_str().unwrap()) {
                            1
                        } else {
                            2
                        };
                        return self.value(&arg[branch]);
                    }
                }
                let resolved: Map<String, Value> = map
                    .iter()
                    .map(|(k, v)| (k.clone(), self.value(v)))
                    .filter(|(_, v)| !is_no_value(v))
                    .collect();
                Value::Object(resolved)
            }
            other => other.clone(),
        }
    }

    /// Logical IDs and resolved properties of the resources of `kind` that exist.
    pub fn resources(&self, kind: &str) -> Vec<(String, Value)> {
        self.template["Resources"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, r)| r["Type"] == kind)
            .filter(|(_, r)| r["Condition"].as_str().is_none_or(|c| self.condition(c)))
            .map(|(id, r)| (id.clone(), self.value(&r["Properties"])))
            .collect()
    }

    /// The resolved properties of one resource that must exist.
    pub fn resource(&self, id: &str) -> Value {
        let r = &self.template["Resources"][id];
        assert!(!r.is_null(), "no resource {id}");
        if let Some(c) = r["Condition"].as_str() {
            assert!(
                self.condition(c),
                "{id} does not exist under these parameters"
            );
        }
        self.value(&r["Properties"])
    }

    pub fn exists(&self, id: &str) -> bool {
        let r = &self.template["Resources"][id];
        !r.is_null() && r["Condition"].as_str().is_none_or(|c| self.condition(c))
    }
}

fn is_no_value(v: &Value) -> bool {
    v == &json!({ "Ref": "AWS::NoValue" })
}

pub fn r#ref(id: &str) -> Value {
    json!({ "Ref": id })
}

pub fn get_att(id: &str, attribute: &str) -> Value {
    json!({ "Fn::GetAtt": [id, attribute] })
}
