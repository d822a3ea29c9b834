//! The template, its sections, and the handles that name what was added to it.

use std::marker::PhantomData;

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::attributes::Attributes;
use super::expr::{Expr, sub_variables};
use super::names::{Cond, Mapping, Named, PSEUDO_PARAMETERS};

/// A CloudFormation resource type: its properties serialize with the spec's property names.
pub trait Resource: Serialize {
    const TYPE: &'static str;
    /// The attributes `Fn::GetAtt` may read.
    const ATTRIBUTES: &'static [&'static str];
}

/// A resource added to a template; only [`Template::add`] makes one, so its ID exists.
pub struct Handle<R> {
    id: String,
    kind: PhantomData<fn() -> R>,
}

impl<R> Clone for Handle<R> {
    fn clone(&self) -> Self {
        Handle {
            id: self.id.clone(),
            kind: PhantomData,
        }
    }
}

impl<R> std::fmt::Debug for Handle<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Handle({})", self.id)
    }
}

impl<R: Resource> Handle<R> {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `{"Ref": id}`.
    pub fn r#ref(&self) -> Expr {
        Expr(json!({ "Ref": self.id }))
    }

    /// `{"Fn::GetAtt": [id, attribute]}`; panics on an attribute the resource type does not have.
    pub fn get_att(&self, attribute: &str) -> Expr {
        assert!(
            R::ATTRIBUTES.contains(&attribute),
            "{} ({}) has no attribute `{attribute}`; it has {:?}",
            self.id,
            R::TYPE,
            R::ATTRIBUTES
        );
        Expr(json!({ "Fn::GetAtt": [self.id, attribute] }))
    }
}

impl<R> Named for Handle<R> {
    fn logical_id(&self) -> &str {
        &self.id
    }
}

/// A parameter of the template.
#[derive(Clone, Debug)]
pub struct Param {
    id: String,
}

impl Param {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn r#ref(&self) -> Expr {
        Expr(json!({ "Ref": self.id }))
    }
}

impl Named for Param {
    fn logical_id(&self) -> &str {
        &self.id
    }
}

#[derive(Clone, Copy, Debug, Serialize)]
pub enum ParamType {
    String,
    Number,
    #[serde(rename = "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>")]
    SsmImageId,
}

/// A parameter's declaration, with CloudFormation's property names.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParamSpec {
    #[serde(rename = "Type")]
    pub kind: ParamType,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_values: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_pattern: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_value: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_value: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraint_description: Option<String>,
}

impl ParamSpec {
    pub fn string(description: &str, default: &str) -> ParamSpec {
        ParamSpec {
            kind: ParamType::String,
            description: description.to_owned(),
            default: Some(default.to_owned()),
            allowed_values: Vec::new(),
            allowed_pattern: None,
            min_value: None,
            max_value: None,
            constraint_description: None,
        }
    }

    pub fn number(description: &str, default: i64, min: i64, max: i64) -> ParamSpec {
        ParamSpec {
            kind: ParamType::Number,
            min_value: Some(min),
            max_value: Some(max),
            ..ParamSpec::string(description, &default.to_string())
        }
    }

    pub fn allowed(mut self, values: &[&str]) -> ParamSpec {
        self.allowed_values = values.iter().map(|v| (*v).to_owned()).collect();
        self
    }

    pub fn pattern(mut self, pattern: &str, explanation: &str) -> ParamSpec {
        self.allowed_pattern = Some(pattern.to_owned());
        self.constraint_description = Some(explanation.to_owned());
        self
    }
}

/// A reference in the template that names nothing.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReferenceError {
    #[error("{from}: Ref `{name}` names no parameter, resource or pseudo parameter")]
    Ref { from: String, name: String },
    #[error("{from}: Fn::GetAtt names no resource `{name}`")]
    GetAtt { from: String, name: String },
    #[error("{from}: `${{{name}}}` in Fn::Sub names no parameter, resource or pseudo parameter")]
    Sub { from: String, name: String },
    #[error("{from}: condition `{name}` is not declared")]
    Condition { from: String, name: String },
    #[error("{from}: DependsOn `{name}` names no resource")]
    DependsOn { from: String, name: String },
    #[error("{from}: Fn::FindInMap names no mapping `{name}`")]
    Mapping { from: String, name: String },
}

/// A CloudFormation template under construction.
#[derive(Debug)]
pub struct Template {
    description: String,
    parameters: IndexMap<String, Value>,
    mappings: IndexMap<String, Value>,
    conditions: IndexMap<String, Value>,
    resources: IndexMap<String, Value>,
    outputs: IndexMap<String, Value>,
}

impl Template {
    pub fn new(description: &str) -> Template {
        Template {
            description: description.to_owned(),
            parameters: IndexMap::new(),
            mappings: IndexMap::new(),
            conditions: IndexMap::new(),
            resources: IndexMap::new(),
            outputs: IndexMap::new(),
        }
    }

    fn claim(&self, id: &str) {
        assert!(
            id.chars().all(|c| c.is_ascii_alphanumeric()) && !id.is_empty(),
            "logical ID `{id}` must be alphanumeric"
        );
        assert!(
            !self.parameters.contains_key(id) && !self.resources.contains_key(id),
            "logical ID `{id}` is used twice"
        );
    }

    pub fn parameter(&mut self, id: &str, spec: ParamSpec) -> Param {
        self.claim(id);
        let value = serde_json::to_value(spec).expect("a parameter spec serializes");
        self.parameters.insert(id.to_owned(), value);
        Param { id: id.to_owned() }
    }

    /// A `Mappings` entry: top-level key → second-level key → value.
    pub fn mapping(&mut self, id: &str, map: Value) -> Mapping {
        assert!(
            !self.mappings.contains_key(id),
            "mapping `{id}` is declared twice"
        );
        self.mappings.insert(id.to_owned(), map);
        Mapping::declared(id)
    }

    pub fn condition(&mut self, id: &str, expr: Expr) -> Cond {
        assert!(
            !self.conditions.contains_key(id),
            "condition `{id}` is declared twice"
        );
        self.conditions.insert(id.to_owned(), expr.0);
        Cond::declared(id)
    }

    pub fn add<R: Resource>(&mut self, id: &str, properties: R) -> Handle<R> {
        self.add_with(id, properties, Attributes::new())
    }

    pub fn add_with<R: Resource>(
        &mut self,
        id: &str,
        properties: R,
        attributes: Attributes,
    ) -> Handle<R> {
        self.claim(id);
        let mut entry = Map::new();
        entry.insert("Type".into(), R::TYPE.into());
        attributes.write_to(&mut entry);
        let properties = serde_json::to_value(properties).expect("resource properties serialize");
        if properties.as_object().is_some_and(|p| !p.is_empty()) {
            entry.insert("Properties".into(), properties);
        }
        self.resources.insert(id.to_owned(), Value::Object(entry));
        Handle {
            id: id.to_owned(),
            kind: PhantomData,
        }
    }

    pub fn output(&mut self, id: &str, description: &str, value: Expr, condition: Option<&Cond>) {
        assert!(
            !self.outputs.contains_key(id),
            "output `{id}` is declared twice"
        );
        let mut entry = Map::new();
        entry.insert("Description".into(), description.into());
        if let Some(condition) = condition {
            entry.insert("Condition".into(), condition.id().into());
        }
        entry.insert("Value".into(), value.0);
        self.outputs.insert(id.to_owned(), Value::Object(entry));
    }

    /// The resource section, for inspection by tests and by code that extends the stack.
    pub fn resources(&self) -> &IndexMap<String, Value> {
        &self.resources
    }

    /// The whole template as JSON, in insertion order.
    pub fn to_json(&self) -> Value {
        let mut root = Map::new();
        root.insert("AWSTemplateFormatVersion".into(), "2010-09-09".into());
        root.insert("Description".into(), self.description.clone().into());
        let sections = [
            ("Parameters", &self.parameters),
            ("Mappings", &self.mappings),
            ("Conditions", &self.conditions),
            ("Resources", &self.resources),
            ("Outputs", &self.outputs),
        ];
        for (name, section) in sections {
            if !section.is_empty() {
                let map: Map<String, Value> = section
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                root.insert(name.into(), Value::Object(map));
            }
        }
        Value::Object(root)
    }

    /// Pretty JSON with a trailing newline, after checking every reference resolves.
    pub fn render(&self) -> Result<String, Vec<ReferenceError>> {
        self.check_references()?;
        let mut text =
            serde_json::to_string_pretty(&self.to_json()).expect("a JSON value serializes");
        text.push('\n');
        Ok(text)
    }

    /// Every `Ref`, `Fn::GetAtt`, `${X}` in `Fn::Sub`, condition name and `DependsOn` resolves.
    pub fn check_references(&self) -> Result<(), Vec<ReferenceError>> {
        let mut errors = Vec::new();
        for (id, value) in &self.conditions {
            self.walk(&format!("Conditions.{id}"), value, &mut errors);
        }
        for (id, value) in &self.resources {
            let from = format!("Resources.{id}");
            if let Some(name) = value.get("Condition").and_then(Value::as_str) {
                self.check_condition(&from, name, &mut errors);
            }
            for name in value
                .get("DependsOn")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !self.resources.contains_key(name) {
                    errors.push(ReferenceError::DependsOn {
                        from: from.clone(),
                        name: name.to_owned(),
                    });
                }
            }
            if let Some(properties) = value.get("Properties") {
                self.walk(&from, properties, &mut errors);
            }
        }
        for (id, value) in &self.outputs {
            let from = format!("Outputs.{id}");
            if let Some(name) = value.get("Condition").and_then(Value::as_str) {
                self.check_condition(&from, name, &mut errors);
            }
            self.walk(&from, &value["Value"], &mut errors);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    fn check_condition(&self, from: &str, name: &str, errors: &mut Vec<ReferenceError>) {
        if !self.conditions.contains_key(name) {
            errors.push(ReferenceError::Condition {
                from: from.to_owned(),
                name: name.to_owned(),
            });
        }
    }

    fn names_value(&self, name: &str) -> bool {
        PSEUDO_PARAMETERS.contains(&name)
            || self.parameters.contains_key(name)
            || self.resources.contains_key(name)
    }

    /// `Fn::Sub`: every `${name}` is a local variable, a pseudo parameter, a parameter or a
    /// resource (`${Resource.Attribute}` names the resource); the locals' values are walked.
    fn walk_sub(&self, from: &str, arg: &Value, errors: &mut Vec<ReferenceError>) {
        let (text, locals) = match arg {
            Value::Array(parts) => (
                parts[0].as_str().unwrap_or_default(),
                parts.get(1).and_then(Value::as_object),
            ),
            other => (other.as_str().unwrap_or_default(), None),
        };
        for var in sub_variables(text) {
            let base = var.split('.').next().unwrap_or(var);
            let local = locals.is_some_and(|l| l.contains_key(var));
            if !local && !PSEUDO_PARAMETERS.contains(&var) && !self.names_value(base) {
                errors.push(ReferenceError::Sub {
                    from: from.to_owned(),
                    name: var.to_owned(),
                });
            }
        }
        if let Some(locals) = locals {
            locals.values().for_each(|v| self.walk(from, v, errors));
        }
    }

    fn walk(&self, from: &str, value: &Value, errors: &mut Vec<ReferenceError>) {
        match value {
            Value::Array(items) => items.iter().for_each(|v| self.walk(from, v, errors)),
            Value::Object(map) => {
                if map.len() == 1 {
                    let (key, arg) = map.iter().next().expect("one entry");
                    match key.as_str() {
                        "Ref" => {
                            let name = arg.as_str().unwrap_or_default();
                            if !self.names_value(name) {
                                errors.push(ReferenceError::Ref {
                                    from: from.to_owned(),
                                    name: name.to_owned(),
                                });
                            }
                            return;
                        }
                        "Fn::GetAtt" => {
                            let name = arg[0].as_str().unwrap_or_default();
                            if !self.resources.contains_key(name) {
                                errors.push(ReferenceError::GetAtt {
                                    from: from.to_owned(),
                                    name: name.to_owned(),
                                });
                            }
                            return;
                        }
                        "Fn::Sub" => {
                            self.walk_sub(from, arg, errors);
                            return;
                        }
                        "Fn::If" => {
                            let name = arg[0].as_str().unwrap_or_default();
                            self.check_condition(from, name, errors);
                            if let Some(branches) = arg.as_array() {
                                branches[1..]
                                    .iter()
                                    .for_each(|v| self.walk(from, v, errors));
                            }
                            return;
                        }
                        "Fn::FindInMap" => {
                            let name = arg[0].as_str().unwrap_or_default();
                            if !self.mappings.contains_key(name) {
                                errors.push(ReferenceError::Mapping {
                                    from: from.to_owned(),
                                    name: name.to_owned(),
                                });
                            }
                            if let Some(keys) = arg.as_array() {
                                keys[1..].iter().for_each(|v| self.walk(from, v, errors));
                            }
                            return;
                        }
                        "Condition" if from.starts_with("Conditions.") => {
                            self.check_condition(from, arg.as_str().unwrap_or_default(), errors);
                            return;
                        }
                        _ => {}
                    }
                }
                map.values().for_each(|v| self.walk(from, v, errors));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_are_reported() {
        let mut template = Template::new("t");
        template.output("A", "a", Expr(json!({ "Ref": "Missing" })), None);
        template.output(
            "B",
            "b",
            Expr(json!({ "Fn::Sub": "${Nope.Arn} ${!Fine}" })),
            None,
        );
        template.output("C", "c", Expr(json!({ "Fn::If": ["NoCond", 1, 2] })), None);
        let errors = template.check_references().unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(matches!(&errors[0], ReferenceError::Ref { name, .. } if name == "Missing"));
        assert!(matches!(&errors[1], ReferenceError::Sub { name, .. } if name == "Nope.Arn"));
        assert!(matches!(&errors[2], ReferenceError::Condition { name, .. } if name == "NoCond"));
    }
}
