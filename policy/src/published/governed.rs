//! What the Control Tower failures stand on (`docs/governed-account.md`), and the template
//! resolved as a hook sees it, for the governed-account profile and the intrinsics rows.

use super::PublishedError;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where a Control Tower control the template fails stands: a row of the table in
/// `docs/governed-account.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// The template passes it now.
    Fixed,
    /// Met by these parameters' values in the governed-account profile.
    Parameter(Vec<String>),
    /// Met, but the rule cannot evaluate a `Ref` or `Fn::If`: the resolved template passes it.
    Intrinsics,
    /// Incompatible with the architecture: a governed account exempts it.
    ByDesign,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub control: String,
    pub standing: Standing,
    pub why: String,
}

/// The page with the table of Control Tower controls.
pub fn explanations_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/governed-account.md")
}

/// The rows `| CT.… | standing | parameters | why |` of the page, in order.
pub fn explanations() -> Result<Vec<Explanation>, PublishedError> {
    let path = explanations_path();
    let bad = |message: String| PublishedError::File {
        path: path.clone(),
        message,
    };
    let text = std::fs::read_to_string(&path).map_err(|e| bad(e.to_string()))?;
    let mut rows = Vec::new();
    for line in text.lines().filter(|l| l.starts_with("| CT.")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let [control, standing, parameters, why] = cells[..] else {
            return Err(bad(format!("a row without 4 cells: {line}")));
        };
        let standing = match standing {
            "fixed" => Standing::Fixed,
            "intrinsics" => Standing::Intrinsics,
            "by design" => Standing::ByDesign,
            "parameter" => Standing::Parameter(
                parameters
                    .split(", ")
                    .map(|p| p.split('=').next().unwrap_or(p).to_owned())
                    .collect(),
            ),
            other => return Err(bad(format!("{control}: unknown standing `{other}`"))),
        };
        if why.is_empty() {
            return Err(bad(format!("{control}: no reason")));
        }
        rows.push(Explanation {
            control: control.to_owned(),
            standing,
            why: why.to_owned(),
        });
    }
    Ok(rows)
}

/// `template` with each property whose whole value is the `Ref` of a `Number` parameter replaced
/// by that number. A `Ref` of a `Number` parameter is a string, which CloudFormation converts to
/// the property's type (`RetentionInDays` is an integer) before the resource, and so its hook,
/// sees it; the rules compare numbers (`RetentionInDays >= 365`). Inside other intrinsics
/// (`Fn::Sub`, `Fn::Join`, …) the string stays.
fn numbers_typed(template: &Value, overrides: &[(&str, &str)]) -> Value {
    let numbers: BTreeMap<&str, Value> = template["Parameters"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, p)| p["Type"] == "Number")
        .filter_map(|(name, p)| {
            let value = overrides
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| *v)
                .or_else(|| p["Default"].as_str())?;
            let number: serde_json::Number = value.parse().ok()?;
            Some((name.as_str(), Value::Number(number)))
        })
        .collect();
    fn walk(value: &mut Value, numbers: &BTreeMap<&str, Value>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map.iter_mut() {
                    if key.starts_with("Fn::") {
                        continue;
                    }
                    let number = inner
                        .get("Ref")
                        .and_then(Value::as_str)
                        .filter(|_| inner.as_object().is_some_and(|m| m.len() == 1))
                        .and_then(|name| numbers.get(name));
                    match number {
                        Some(number) => *inner = number.clone(),
                        None => walk(inner, numbers),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| walk(item, numbers)),
            _ => {}
        }
    }
    let mut typed = template.clone();
    if let Some(resources) = typed.get_mut("Resources") {
        for resource in resources.as_object_mut().into_iter().flatten() {
            if let Some(properties) = resource.1.get_mut("Properties") {
                walk(properties, &numbers);
            }
        }
    }
    typed
}

/// The template as CloudFormation hands its resources to a hook under `overrides`: only the
/// resources that exist, their properties with parameters, conditions and `Fn::If` evaluated,
/// references to other resources kept as written (what the rules follow).
pub fn resolve(
    template: &Value,
    overrides: &[(&str, &str)],
) -> Result<Value, crate::intrinsics::EvalError> {
    let typed = numbers_typed(template, overrides);
    let evaluator = crate::intrinsics::Evaluator::new(&typed, overrides)?;
    let mut resources = serde_json::Map::new();
    for (id, resource) in evaluator.resources()? {
        let mut entry = resource.clone();
        if let Some(entry) = entry.as_object_mut() {
            entry.remove("Condition");
            entry.insert(
                "Properties".into(),
                evaluator.properties(id, &crate::intrinsics::Physical::Unresolved)?,
            );
        }
        resources.insert(id.clone(), entry);
    }
    Ok(serde_json::json!({
        "AWSTemplateFormatVersion": template["AWSTemplateFormatVersion"],
        "Resources": resources,
    }))
}
