//! The one offline evaluator of CloudFormation intrinsics, shared by the reachability check, the
//! IAM proof, the stack tests and the end-to-end tests: parameters (defaults or overrides), the
//! conditions they imply, `Fn::If`, `AWS::NoValue` and the value functions.
//!
//! It fails closed: an intrinsic it does not know, a condition the template does not declare, a
//! `Ref` or `Fn::GetAtt` that names nothing, a mapping key that is missing or a malformed argument
//! is an [`EvalError`] naming the resource and the path, never a null or a false that would let a
//! check pass a template it did not understand.
//!
//! What a `Ref` or `Fn::GetAtt` of a *resource* becomes is the caller's choice ([`Physical`]).

mod functions;
#[cfg(test)]
mod tests;

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// An expression the evaluator cannot evaluate, and where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}, at {path}: {message}")]
pub struct EvalError {
    /// `Resources.<id>`, `Conditions.<name>` or `Outputs.<name>`.
    pub at: String,
    /// The JSON path inside it, e.g. `Properties.LoadBalancerAttributes[3].Value`.
    pub path: String,
    pub message: String,
}

/// Pseudo parameters. The defaults are fixed, plausible values shared by every offline check.
#[derive(Debug, Clone)]
pub struct Pseudo {
    pub region: String,
    pub account: String,
    pub partition: String,
    pub stack_name: String,
    /// The UUID at the end of the stack ID.
    pub stack_uuid: String,
}

impl Default for Pseudo {
    fn default() -> Pseudo {
        Pseudo {
            region: "us-east-1".into(),
            account: "123456789012".into(),
            partition: "aws".into(),
            stack_name: "alb-canary".into(),
            stack_uuid: "1e2f3a4b-5c6d-4e7f-8a9b-0c1d2e3f4a5b".into(),
        }
    }
}

impl Pseudo {
    pub fn stack_id(&self) -> String {
        format!(
            "arn:{}:cloudformation:{}:{}:stack/{}/{}",
            self.partition, self.region, self.account, self.stack_name, self.stack_uuid
        )
    }
}

/// What a `Ref` or `Fn::GetAtt` of a resource evaluates to.
pub enum Physical<'a> {
    /// The resource's logical ID (the reachability model joins resources by ID).
    LogicalIds,
    /// The intrinsic itself, and any `Fn::Sub`, `Fn::Join`, ... around it kept as written, for
    /// tests that inspect the template's structure under a parameter set.
    Unresolved,
    /// What the caller says: `(id, None)` for `Ref`, `(id, Some(attribute))` for `Fn::GetAtt`.
    /// A resource the caller does not know is an error.
    Given(&'a dyn Fn(&str, Option<&str>) -> Option<String>),
}

/// A template with one set of parameter values.
pub struct Evaluator<'t> {
    template: &'t Value,
    params: BTreeMap<String, Value>,
    conditions: BTreeMap<String, bool>,
    pub pseudo: Pseudo,
}

const MAX_DEPTH: usize = 64;

/// Where an evaluation is, for errors.
#[derive(Clone, Copy)]
pub(crate) struct At<'a> {
    at: &'a str,
    path: &'a str,
}

impl At<'_> {
    pub(crate) fn error(&self, message: impl Into<String>) -> EvalError {
        EvalError {
            at: self.at.to_owned(),
            path: self.path.to_owned(),
            message: message.into(),
        }
    }
}

fn join_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else if key.starts_with('[') {
        format!("{path}{key}")
    } else {
        format!("{path}.{key}")
    }
}

impl<'t> Evaluator<'t> {
    /// `overrides` replace parameter defaults; an override of a parameter the template does not
    /// declare is an error, and so is a parameter without a default that is not overridden.
    pub fn new(
        template: &'t Value,
        overrides: &[(&str, &str)],
    ) -> Result<Evaluator<'t>, EvalError> {
        Evaluator::with_pseudo(template, overrides, Pseudo::default())
    }

    pub fn with_pseudo(
        template: &'t Value,
        overrides: &[(&str, &str)],
        pseudo: Pseudo,
    ) -> Result<Evaluator<'t>, EvalError> {
        let declared = template.get("Parameters").and_then(Value::as_object);
        let mut params = BTreeMap::new();
        for (name, decl) in declared.into_iter().flatten() {
            if let Some(default) = decl.get("Default") {
                params.insert(name.clone(), default.clone());
            }
        }
        for (name, value) in overrides {
            if !declared.is_some_and(|d| d.contains_key(*name)) {
                return Err(EvalError {
                    at: format!("Parameters.{name}"),
                    path: String::new(),
                    message: "overridden but not declared".into(),
                });
            }
            params.insert((*name).to_owned(), Value::String((*value).to_owned()));
        }
        let mut evaluator = Evaluator {
            template,
            params,
            conditions: BTreeMap::new(),
            pseudo,
        };
        let names: Vec<String> = template
            .get("Conditions")
            .and_then(Value::as_object)
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default();
        for name in names {
            let value = evaluator.condition_named(&name, 0)?;
            evaluator.conditions.insert(name, value);
        }
        Ok(evaluator)
    }

    pub fn template(&self) -> &'t Value {
        self.template
    }

    /// A declared condition's value.
    pub fn condition(&self, name: &str) -> Result<bool, EvalError> {
        self.conditions.get(name).copied().ok_or_else(|| EvalError {
            at: format!("Conditions.{name}"),
            path: String::new(),
            message: "the condition is not declared".into(),
        })
    }

    fn condition_named(&self, name: &str, depth: usize) -> Result<bool, EvalError> {
        if let Some(done) = self.conditions.get(name) {
            return Ok(*done);
        }
        let at = format!("Conditions.{name}");
        let expr = self
            .template
            .get("Conditions")
            .and_then(|c| c.get(name))
            .ok_or_else(|| EvalError {
                at: at.clone(),
                path: String::new(),
                message: "the condition is not declared".into(),
            })?;
        self.truth(expr, At { at: &at, path: "" }, depth + 1)
    }

    fn truth(&self, expr: &Value, at: At<'_>, depth: usize) -> Result<bool, EvalError> {
        if depth > MAX_DEPTH {
            return Err(at.error("conditions nest too deep (a cycle?)"));
        }
        let (key, arg) =
            single(expr).ok_or_else(|| at.error(format!("not a condition function: {expr}")))?;
        let path = join_path(at.path, key);
        let inner = At {
            at: at.at,
            path: &path,
        };
        let args = arg.as_array().map(Vec::as_slice).unwrap_or(&[]);
        match key {
            "Fn::Equals" => {
                let [left, right] = args else {
                    return Err(inner.error("Fn::Equals takes two values"));
                };
                let physical = Physical::LogicalIds;
                let left = self.eval(left, inner, &physical, depth + 1)?;
                let right = self.eval(right, inner, &physical, depth + 1)?;
                Ok(left.as_ref().map(text) == right.as_ref().map(text))
            }
            "Fn::Not" => match args {
                [one] => Ok(!self.truth(one, inner, depth + 1)?),
                _ => Err(inner.error("Fn::Not takes one condition")),
            },
            "Fn::And" | "Fn::Or" => {
                if !(2..=10).contains(&args.len()) {
                    return Err(inner.error(format!("{key} takes 2 to 10 conditions")));
                }
                let mut values = Vec::new();
                for a in args {
                    values.push(self.truth(a, inner, depth + 1)?);
                }
                Ok(if key == "Fn::And" {
                    values.iter().all(|v| *v)
                } else {
                    values.iter().any(|v| *v)
                })
            }
            "Condition" => {
                let name = arg
                    .as_str()
                    .ok_or_else(|| inner.error("Condition takes a name"))?;
                self.condition_named(name, depth + 1).map_err(|mut e| {
                    if e.path.is_empty() {
                        e = inner.error(format!("condition `{name}` is not declared"));
                    }
                    e
                })
            }
            other => Err(inner.error(format!("unknown condition function `{other}`"))),
        }
    }

    /// The resources that exist under these parameters, in template order.
    pub fn resources(&self) -> Result<Vec<(&'t String, &'t Value)>, EvalError> {
        let mut out = Vec::new();
        for (id, resource) in self
            .template
            .get("Resources")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if self.exists_resource(id, resource)? {
                out.push((id, resource));
            }
        }
        Ok(out)
    }

    fn exists_resource(&self, id: &str, resource: &Value) -> Result<bool, EvalError> {
        match resource.get("Condition") {
            None => Ok(true),
            Some(Value::String(name)) => {
                self.conditions.get(name).copied().ok_or_else(|| EvalError {
                    at: format!("Resources.{id}"),
                    path: "Condition".into(),
                    message: format!("condition `{name}` is not declared"),
                })
            }
            Some(other) => Err(EvalError {
                at: format!("Resources.{id}"),
                path: "Condition".into(),
                message: format!("a condition name, not {other}"),
            }),
        }
    }

    /// Whether the resource exists (an undeclared resource is an error).
    pub fn exists(&self, id: &str) -> Result<bool, EvalError> {
        let resource = self.resource(id)?;
        self.exists_resource(id, resource)
    }

    fn resource(&self, id: &str) -> Result<&'t Value, EvalError> {
        self.template
            .get("Resources")
            .and_then(|r| r.get(id))
            .ok_or_else(|| EvalError {
                at: format!("Resources.{id}"),
                path: String::new(),
                message: "no such resource".into(),
            })
    }

    /// A resource's `Properties` evaluated (absent: an empty map).
    pub fn properties(&self, id: &str, physical: &Physical<'_>) -> Result<Value, EvalError> {
        let resource = self.resource(id)?;
        match resource.get("Properties") {
            None => Ok(Value::Object(Map::new())),
            Some(p) => self.value_at(&format!("Resources.{id}"), "Properties", p, physical),
        }
    }

    /// `value` evaluated, reported as found at `at`/`path` (e.g. `Resources.X`, `Properties.Y`).
    /// `AWS::NoValue` at the top evaluates to null.
    pub fn value_at(
        &self,
        at: &str,
        path: &str,
        value: &Value,
        physical: &Physical<'_>,
    ) -> Result<Value, EvalError> {
        Ok(self
            .eval(value, At { at, path }, physical, 0)?
            .unwrap_or(Value::Null))
    }

    /// `None` is `AWS::NoValue`: the caller drops the property or list item.
    fn eval(
        &self,
        value: &Value,
        at: At<'_>,
        physical: &Physical<'_>,
        depth: usize,
    ) -> Result<Option<Value>, EvalError> {
        if depth > MAX_DEPTH {
            return Err(at.error("expressions nest too deep"));
        }
        match value {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let path = join_path(at.path, &format!("[{i}]"));
                    if let Some(v) = self.eval(
                        item,
                        At {
                            at: at.at,
                            path: &path,
                        },
                        physical,
                        depth + 1,
                    )? {
                        out.push(v);
                    }
                }
                Ok(Some(Value::Array(out)))
            }
            Value::Object(map) => {
                if let Some((key, arg)) = single(value)
                    && (key == "Ref" || key.starts_with("Fn::") || key == "Condition")
                {
                    let path = join_path(at.path, key);
                    return self.intrinsic(
                        key,
                        arg,
                        value,
                        At {
                            at: at.at,
                            path: &path,
                        },
                        physical,
                        depth + 1,
                    );
                }
                let mut out = Map::new();
                for (k, v) in map {
                    let path = join_path(at.path, k);
                    if let Some(v) = self.eval(
                        v,
                        At {
                            at: at.at,
                            path: &path,
                        },
                        physical,
                        depth + 1,
                    )? {
                        out.insert(k.clone(), v);
                    }
                }
                Ok(Some(Value::Object(out)))
            }
            other => Ok(Some(other.clone())),
        }
    }

    fn required(
        &self,
        v: &Value,
        at: At<'_>,
        physical: &Physical<'_>,
        depth: usize,
    ) -> Result<Value, EvalError> {
        self.eval(v, at, physical, depth)?
            .ok_or_else(|| at.error("AWS::NoValue where a value is needed"))
    }

    #[allow(clippy::too_many_arguments)]
    fn intrinsic(
        &self,
        key: &str,
        arg: &Value,
        whole: &Value,
        at: At<'_>,
        physical: &Physical<'_>,
        depth: usize,
    ) -> Result<Option<Value>, EvalError> {
        let args = arg.as_array().map(Vec::as_slice).unwrap_or(&[]);
        let keep = matches!(physical, Physical::Unresolved);
        match key {
            "Ref" => {
                let name = arg.as_str().ok_or_else(|| at.error("Ref takes a name"))?;
                self.reference(name, at, physical, depth)
            }
            "Fn::GetAtt" => {
                let (name, attribute) = match arg {
                    Value::String(s) => s
                        .split_once('.')
                        .map(|(a, b)| (a.to_owned(), b.to_owned()))
                        .ok_or_else(|| at.error("Fn::GetAtt takes Resource.Attribute"))?,
                    _ => match args {
                        [Value::String(a), Value::String(b)] => (a.clone(), b.clone()),
                        _ => return Err(at.error("Fn::GetAtt takes [resource, attribute]")),
                    },
                };
                if keep {
                    self.resource(&name)
                        .map_err(|_| at.error(format!("Fn::GetAtt names no resource `{name}`")))?;
                    return Ok(Some(whole.clone()));
                }
                self.attribute(&name, &attribute, at, physical, depth)
                    .map(Some)
            }
            "Fn::If" => {
                let [Value::String(cond), then, otherwise] = args else {
                    return Err(at.error("Fn::If takes [condition, then, else]"));
                };
                let chosen = if self
                    .conditions
                    .get(cond)
                    .copied()
                    .ok_or_else(|| at.error(format!("condition `{cond}` is not declared")))?
                {
                    then
                } else {
                    otherwise
                };
                self.eval(chosen, at, physical, depth)
            }
            "Condition" => {
                let name = arg
                    .as_str()
                    .ok_or_else(|| at.error("Condition takes a name"))?;
                let value = self
                    .conditions
                    .get(name)
                    .ok_or_else(|| at.error(format!("condition `{name}` is not declared")))?;
                Ok(Some(Value::Bool(*value)))
            }
            // Value functions: checked, then kept as written when the caller wants the structure.
            "Fn::Select" | "Fn::Split" | "Fn::Join" | "Fn::Sub" | "Fn::FindInMap"
            | "Fn::Base64" | "Fn::GetAZs" => {
                if keep {
                    let inner = self.eval(arg, at, physical, depth)?.unwrap_or(Value::Null);
                    return Ok(Some(json!({ key: inner })));
                }
                self.value_function(key, arg, args, at, physical, depth)
                    .map(Some)
            }
            other => Err(at.error(format!("unknown intrinsic function `{other}`"))),
        }
    }

    pub(crate) fn reference(
        &self,
        name: &str,
        at: At<'_>,
        physical: &Physical<'_>,
        depth: usize,
    ) -> Result<Option<Value>, EvalError> {
        let pseudo = |v: String| Ok(Some(Value::String(v)));
        if matches!(physical, Physical::Unresolved)
            && name.starts_with("AWS::")
            && name != "AWS::NoValue"
        {
            return Ok(Some(json!({ "Ref": name })));
        }
        match name {
            "AWS::NoValue" => Ok(None),
            "AWS::Region" => pseudo(self.pseudo.region.clone()),
            "AWS::AccountId" => pseudo(self.pseudo.account.clone()),
            "AWS::Partition" => pseudo(self.pseudo.partition.clone()),
            "AWS::StackName" => pseudo(self.pseudo.stack_name.clone()),
            "AWS::StackId" => pseudo(self.pseudo.stack_id()),
            "AWS::URLSuffix" => pseudo("amazonaws.com".into()),
            _ => {
                if let Some(value) = self.params.get(name) {
                    return self.eval(&value.clone(), at, physical, depth);
                }
                self.resource(name).map_err(|_| {
                    at.error(format!(
                        "Ref `{name}` names no parameter, resource or pseudo parameter"
                    ))
                })?;
                match physical {
                    Physical::LogicalIds => pseudo(name.to_owned()),
                    Physical::Unresolved => Ok(Some(json!({ "Ref": name }))),
                    Physical::Given(lookup) => lookup(name, None)
                        .map(|v| Some(Value::String(v)))
                        .ok_or_else(|| {
                            at.error(format!("`{name}` is referenced but has no value here"))
                        }),
                }
            }
        }
    }

    pub(crate) fn attribute(
        &self,
        name: &str,
        attribute: &str,
        at: At<'_>,
        physical: &Physical<'_>,
        depth: usize,
    ) -> Result<Value, EvalError> {
        let resource = self
            .resource(name)
            .map_err(|_| at.error(format!("Fn::GetAtt names no resource `{name}`")))?;
        match physical {
            Physical::LogicalIds => {
                // A VPC's CidrBlock is its property: the network model needs the value.
                if attribute == "CidrBlock"
                    && let Some(cidr) = resource.get("Properties").and_then(|p| p.get("CidrBlock"))
                {
                    return self.required(cidr, at, physical, depth);
                }
                Ok(Value::String(name.to_owned()))
            }
            Physical::Unresolved => Ok(json!({ "Fn::GetAtt": [name, attribute] })),
            Physical::Given(lookup) => {
                lookup(name, Some(attribute))
                    .map(Value::String)
                    .ok_or_else(|| {
                        at.error(format!(
                            "`{name}.{attribute}` is referenced but has no value here"
                        ))
                    })
            }
        }
    }
}

pub(crate) fn single(value: &Value) -> Option<(&str, &Value)> {
    let map = value.as_object()?;
    if map.len() != 1 {
        return None;
    }
    map.iter().next().map(|(k, v)| (k.as_str(), v))
}

pub(crate) fn scalar(value: &Value, at: At<'_>) -> Result<String, EvalError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(at.error(format!("a string where {other} was found"))),
    }
}

/// A scalar as text (CloudFormation compares parameters as strings).
pub fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
