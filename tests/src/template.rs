//! The synthesized template's expressions, resolved as CloudFormation would for one deployment
//! into the emulator: parameters (defaults and overrides), `Ref`, `Fn::GetAtt`, `Fn::Sub`,
//! `Fn::Join`, `Fn::If` and conditions. A reference to something not deployed is a panic naming it.

use std::collections::HashMap;

use serde_json::{Value, json};

/// The stack name the emulator deployments use.
pub const STACK: &str = "alb-canary";
/// The account id moto reports.
pub const ACCOUNT: &str = "123456789012";
/// The stack id's UUID part (`AWS::StackId`).
pub const STACK_UUID: &str = "1e2f3a4b-5c6d-4e7f-8a9b-0c1d2e3f4a5b";

/// The template's expressions, resolved as CloudFormation would for one deployment.
pub struct Deployment {
    pub template: Value,
    pub params: HashMap<String, String>,
    /// Logical ID → what `Ref` returns.
    refs: HashMap<String, String>,
    /// (logical ID, attribute) → what `Fn::GetAtt` returns.
    attrs: HashMap<(String, String), String>,
}

impl Deployment {
    pub fn new(overrides: &[(&str, &str)]) -> Deployment {
        let template = stack::synthesize(&stack::Options::default()).to_json();
        let mut params: HashMap<String, String> = template["Parameters"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, spec)| (name.clone(), scalar(&spec["Default"])))
            .collect();
        for (name, value) in overrides {
            assert!(
                params.contains_key(*name),
                "the stack has no parameter {name}"
            );
            params.insert((*name).to_owned(), (*value).to_owned());
        }
        Deployment {
            template,
            params,
            refs: HashMap::new(),
            attrs: HashMap::new(),
        }
    }

    /// A resource's property at `path`, resolved. Only what a step uses is resolved: the rest of
    /// a resource may name resources this test does not create (log groups, queues).
    pub fn property(&self, id: &str, path: &[&str]) -> Value {
        let mut value = &self.template["Resources"][id]["Properties"];
        for key in path {
            value = &value[*key];
        }
        assert!(!value.is_null(), "{id} has no property {}", path.join("."));
        self.resolve(value)
    }

    pub fn created(&mut self, id: &str, reference: &str) {
        self.refs.insert(id.to_owned(), reference.to_owned());
    }

    pub fn attribute(&mut self, id: &str, attribute: &str, value: &str) {
        self.attrs
            .insert((id.to_owned(), attribute.to_owned()), value.to_owned());
    }

    pub fn condition(&self, name: &str) -> bool {
        let expr = &self.template["Conditions"][name];
        assert!(!expr.is_null(), "no condition {name}");
        self.truth(expr)
    }

    fn truth(&self, expr: &Value) -> bool {
        let (key, arg) = expr.as_object().and_then(|m| m.iter().next()).unwrap();
        match key.as_str() {
            "Fn::Equals" => self.resolve(&arg[0]) == self.resolve(&arg[1]),
            "Fn::Not" => !self.truth(&arg[0]),
            "Fn::And" => arg.as_array().unwrap().iter().all(|e| self.truth(e)),
            "Fn::Or" => arg.as_array().unwrap().iter().any(|e| self.truth(e)),
            "Condition" => self.condition(arg.as_str().unwrap()),
            other => panic!("unexpected condition function {other}"),
        }
    }

    pub fn lookup(&self, name: &str) -> String {
        match name {
            "AWS::StackName" => STACK.into(),
            "AWS::StackId" => {
                format!("arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{STACK}/{STACK_UUID}")
            }
            "AWS::Region" => "us-east-1".into(),
            "AWS::AccountId" => ACCOUNT.into(),
            "AWS::Partition" => "aws".into(),
            _ => self
                .params
                .get(name)
                .or_else(|| self.refs.get(name))
                .unwrap_or_else(|| panic!("`{name}` is referenced but not deployed here"))
                .clone(),
        }
    }

    pub fn get_att(&self, id: &str, attribute: &str) -> String {
        self.attrs
            .get(&(id.to_owned(), attribute.to_owned()))
            .unwrap_or_else(|| panic!("`{id}.{attribute}` is referenced but not deployed here"))
            .clone()
    }

    pub fn resolve(&self, value: &Value) -> Value {
        match value {
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| self.resolve(v))
                    .filter(|v| v != &json!("AWS::NoValue"))
                    .collect(),
            ),
            Value::Object(map) if map.len() == 1 => {
                let (key, arg) = map.iter().next().unwrap();
                match key.as_str() {
                    "Ref" if arg == "AWS::NoValue" => json!("AWS::NoValue"),
                    "Ref" => json!(self.lookup(arg.as_str().unwrap())),
                    "Fn::GetAtt" => {
                        json!(self.get_att(arg[0].as_str().unwrap(), arg[1].as_str().unwrap()))
                    }
                    "Fn::If" => {
                        let branch = if self.condition(arg[0].as_str().unwrap()) {
                            &arg[1]
                        } else {
                            &arg[2]
                        };
                        self.resolve(branch)
                    }
                    "Fn::Select" => {
                        let index = arg[0].as_u64().unwrap() as usize;
                        self.resolve(&arg[1]).as_array().unwrap()[index].clone()
                    }
                    "Fn::Split" => {
                        let text = scalar(&self.resolve(&arg[1]));
                        json!(text.split(arg[0].as_str().unwrap()).collect::<Vec<_>>())
                    }
                    "Fn::Join" => {
                        let parts: Vec<String> = self
                            .resolve(&arg[1])
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(scalar)
                            .collect();
                        json!(parts.join(arg[0].as_str().unwrap()))
                    }
                    "Fn::Sub" => {
                        let (text, locals) = match arg {
                            Value::Array(parts) => {
                                (parts[0].as_str().unwrap(), parts[1].as_object().cloned())
                            }
                            other => (other.as_str().unwrap(), None),
                        };
                        json!(self.substitute(text, locals.as_ref()))
                    }
                    _ => Value::Object(
                        map.iter()
                            .map(|(k, v)| (k.clone(), self.resolve(v)))
                            .collect(),
                    ),
                }
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.resolve(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn substitute(&self, text: &str, locals: Option<&serde_json::Map<String, Value>>) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out += &rest[..start];
            let after = &rest[start + 2..];
            let end = after.find('}').expect("closed ${");
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out += &format!("${{{literal}}}");
            } else if let Some(local) = locals.and_then(|l| l.get(name)) {
                out += &scalar(&self.resolve(local));
            } else if let Some((id, attribute)) = name.split_once('.') {
                out += &self.get_att(id, attribute);
            } else {
                out += &self.lookup(name);
            }
            rest = &after[end + 1..];
        }
        out + rest
    }
}

pub fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => panic!("no value"),
        other => other.to_string(),
    }
}
