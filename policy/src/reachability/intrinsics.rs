//! Evaluates CloudFormation intrinsics offline, with parameter defaults (or overrides) and the conditions
//! they imply, so the network model sees the values a deployment with those parameters would get.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Pseudo parameters get fixed, plausible values: the network model never depends on them.
const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";

pub struct Resolver<'t> {
    template: &'t Value,
    params: BTreeMap<String, Value>,
    conditions: BTreeMap<String, bool>,
}

impl<'t> Resolver<'t> {
    /// `overrides` replace parameter defaults (e.g. CanaryPlatform=docker); unknown names are ignored.
    pub fn new(template: &'t Value, overrides: &[(&str, &str)]) -> Resolver<'t> {
        let mut params = BTreeMap::new();
        if let Some(declared) = template.get("Parameters").and_then(Value::as_object) {
            for (name, decl) in declared {
                if let Some(default) = decl.get("Default") {
                    params.insert(name.clone(), default.clone());
                }
            }
        }
        for (name, value) in overrides {
            params.insert((*name).to_owned(), Value::String((*value).to_owned()));
        }
        let mut resolver = Resolver {
            template,
            params,
            conditions: BTreeMap::new(),
        };
        if let Some(conds) = template.get("Conditions").and_then(Value::as_object) {
            for name in conds.keys() {
                let value = resolver.condition(name, 0);
                resolver.conditions.insert(name.clone(), value);
            }
        }
        resolver
    }

    pub fn resources(&self) -> impl Iterator<Item = (&'t String, &'t Value)> {
        let resources = self.template.get("Resources").and_then(Value::as_object);
        resources
            .into_iter()
            .flat_map(|m| m.iter())
            .filter(|(_, r)| {
                r.get("Condition")
                    .and_then(Value::as_str)
                    .is_none_or(|c| self.conditions.get(c).copied().unwrap_or(false))
            })
    }

    /// The resolved `Properties` of a resource (absent properties resolve to an empty map).
    pub fn properties(&self, resource: &Value) -> Value {
        resource
            .get("Properties")
            .map(|p| self.resolve(p))
            .unwrap_or_else(|| Value::Object(Map::new()))
    }

    fn condition(&self, name: &str, depth: u8) -> bool {
        if let Some(done) = self.conditions.get(name) {
            return *done;
        }
        let expr = self.template.get("Conditions").and_then(|c| c.get(name));
        expr.is_some_and(|e| self.truth(e, depth + 1))
    }

    fn truth(&self, expr: &Value, depth: u8) -> bool {
        if depth > 32 {
            return false;
        }
        let Some((key, arg)) = single(expr) else {
            return false;
        };
        let args = arg.as_array().map(Vec::as_slice).unwrap_or(&[]);
        match key {
            "Fn::Equals" => {
                args.len() == 2 && text(&self.resolve(&args[0])) == text(&self.resolve(&args[1]))
            }
            "Fn::Not" => args.first().is_some_and(|a| !self.truth(a, depth + 1)),
            "Fn::And" => args.iter().all(|a| self.truth(a, depth + 1)),
            "Fn::Or" => args.iter().any(|a| self.truth(a, depth + 1)),
            "Condition" => arg.as_str().is_some_and(|c| self.condition(c, depth + 1)),
            _ => false,
        }
    }

    /// Resolves every intrinsic in `value`. A `Ref` or `Fn::GetAtt` to a resource becomes the resource's
    /// logical ID (the model joins resources by logical ID), except a VPC's CidrBlock, which is looked up.
    pub fn resolve(&self, value: &Value) -> Value {
        self.resolve_at(value, 0).unwrap_or(Value::Null)
    }

    /// `None` is `AWS::NoValue`: the caller drops the property or list item.
    fn resolve_at(&self, value: &Value, depth: u8) -> Option<Value> {
        if depth > 64 {
            return Some(Value::Null);
        }
        match value {
            Value::Array(items) => Some(Value::Array(
                items
                    .iter()
                    .filter_map(|v| self.resolve_at(v, depth + 1))
                    .collect(),
            )),
            Value::Object(map) => {
                if let Some((key, arg)) = single(value)
                    && (key == "Ref" || key.starts_with("Fn::") || key == "Condition")
                {
                    return self.intrinsic(key, arg, depth + 1);
                }
                Some(Value::Object(
                    map.iter()
                        .filter_map(|(k, v)| self.resolve_at(v, depth + 1).map(|v| (k.clone(), v)))
                        .collect(),
                ))
            }
            other => Some(other.clone()),
        }
    }

    fn intrinsic(&self, key: &str, arg: &Value, depth: u8) -> Option<Value> {
        let args = arg.as_array().map(Vec::as_slice).unwrap_or(&[]);
        match key {
            "Ref" => self.reference(arg.as_str().unwrap_or_default(), depth),
            "Fn::GetAtt" => {
                let (name, attr) = match arg {
                    Value::String(s) => s
                        .split_once('.')
                        .map(|(a, b)| (a.to_owned(), b.to_owned()))?,
                    _ => (text(args.first()?), text(args.get(1)?)),
                };
                Some(self.attribute(&name, &attr, depth))
            }
            "Fn::If" => {
                let cond = args.first().and_then(Value::as_str).unwrap_or_default();
                let branch = if self.condition(cond, 0) {
                    args.get(1)
                } else {
                    args.get(2)
                };
                self.resolve_at(branch?, depth)
            }
            "Fn::Select" => {
                let index = text(&self.resolve_at(args.first()?, depth)?)
                    .parse::<usize>()
                    .ok()?;
                match self.resolve_at(args.get(1)?, depth)? {
                    Value::Array(items) => items.get(index).cloned(),
                    _ => Some(Value::Null),
                }
            }
            "Fn::GetAZs" => Some(Value::Array(
                ["a", "b", "c"]
                    .iter()
                    .map(|z| Value::String(format!("{REGION}{z}")))
                    .collect(),
            )),
            "Fn::Join" => {
                let sep = text(args.first()?);
                let parts = self.resolve_at(args.get(1)?, depth)?;
                let parts = parts.as_array()?.iter().map(text).collect::<Vec<_>>();
                Some(Value::String(parts.join(&sep)))
            }
            "Fn::Sub" => {
                let (pattern, vars) = match arg {
                    Value::String(s) => (s.clone(), Map::new()),
                    _ => (
                        text(args.first()?),
                        self.resolve_at(args.get(1)?, depth)?
                            .as_object()
                            .cloned()
                            .unwrap_or_default(),
                    ),
                };
                Some(Value::String(self.substitute(&pattern, &vars, depth)))
            }
            "Fn::FindInMap" => {
                let keys: Vec<String> = args
                    .iter()
                    .filter_map(|a| self.resolve_at(a, depth))
                    .map(|v| text(&v))
                    .collect();
                let found = self
                    .template
                    .get("Mappings")?
                    .get(keys.first()?)?
                    .get(keys.get(1)?)?
                    .get(keys.get(2)?)?;
                self.resolve_at(found, depth)
            }
            "Fn::Base64" => self.resolve_at(arg, depth),
            "Condition" => Some(Value::Bool(
                self.condition(arg.as_str().unwrap_or_default(), 0),
            )),
            _ => Some(Value::Null),
        }
    }

    fn reference(&self, name: &str, depth: u8) -> Option<Value> {
        match name {
            "AWS::NoValue" => None,
            "AWS::Region" => Some(Value::String(REGION.into())),
            "AWS::AccountId" => Some(Value::String(ACCOUNT.into())),
            "AWS::Partition" => Some(Value::String("aws".into())),
            "AWS::URLSuffix" => Some(Value::String("amazonaws.com".into())),
            _ => match self.params.get(name) {
                Some(value) => self.resolve_at(&value.clone(), depth),
                None => Some(Value::String(name.to_owned())),
            },
        }
    }

    fn attribute(&self, name: &str, attr: &str, depth: u8) -> Value {
        let resource = self.template.get("Resources").and_then(|r| r.get(name));
        if attr == "CidrBlock"
            && let Some(cidr) = resource
                .and_then(|r| r.get("Properties"))
                .and_then(|p| p.get("CidrBlock"))
        {
            return self.resolve_at(cidr, depth).unwrap_or(Value::Null);
        }
        Value::String(name.to_owned())
    }

    fn substitute(&self, pattern: &str, vars: &Map<String, Value>, depth: u8) -> String {
        let mut out = String::with_capacity(pattern.len());
        let mut rest = pattern;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                return out;
            };
            let name = &after[..end];
            let value = if let Some(literal) = name.strip_prefix('!') {
                format!("${{{literal}}}")
            } else if let Some(v) = vars.get(name) {
                text(v)
            } else if let Some((res, attr)) = name.split_once('.') {
                text(&self.attribute(res, attr, depth))
            } else {
                self.reference(name, depth)
                    .map(|v| text(&v))
                    .unwrap_or_default()
            };
            out.push_str(&value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }
}

fn single(value: &Value) -> Option<(&str, &Value)> {
    let map = value.as_object()?;
    if map.len() != 1 {
        return None;
    }
    map.iter().next().map(|(k, v)| (k.as_str(), v))
}

/// A scalar as text (CloudFormation compares parameters as strings).
pub fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resolves_parameters_conditions_and_azs() {
        let template = json!({
            "Parameters": {
                "PrivateSubnet1Cidr": {"Type": "String", "Default": "10.0.20.0/24"},
                "CanaryPlatform": {"Type": "String", "Default": "vm"}
            },
            "Conditions": {"UseDocker": {"Fn::Equals": [{"Ref": "CanaryPlatform"}, "docker"]}},
            "Resources": {"Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}}}
        });
        let vm = Resolver::new(&template, &[]);
        let docker = Resolver::new(&template, &[("CanaryPlatform", "docker")]);
        let expr = json!({"Fn::If": ["UseDocker", {"Ref": "DockerHost"}, {"Ref": "AWS::NoValue"}]});
        assert_eq!(vm.resolve(&json!([expr.clone()])), json!([]));
        assert_eq!(docker.resolve(&json!([expr])), json!(["DockerHost"]));
        assert_eq!(
            vm.resolve(&json!({"Ref": "PrivateSubnet1Cidr"})),
            json!("10.0.20.0/24")
        );
        assert_eq!(
            vm.resolve(&json!({"Fn::GetAtt": ["Vpc", "CidrBlock"]})),
            json!("10.0.0.0/16")
        );
        assert_eq!(
            vm.resolve(&json!({"Fn::Select": [1, {"Fn::GetAZs": ""}]})),
            json!("us-east-1b")
        );
        assert_eq!(
            vm.resolve(&json!({"Fn::Sub": "com.amazonaws.${AWS::Region}.s3"})),
            json!("com.amazonaws.us-east-1.s3")
        );
    }
}
