//! The cfn-guard rules of `guard/`, compiled into the crate and run in-process on a template.

use serde_json::Value;

/// One rule file: its name (for messages) and its text.
pub struct RuleFile {
    pub name: &'static str,
    pub text: &'static str,
}

/// Every rule file in `guard/`. Embedded so the check needs no working directory and no CLI.
pub const RULE_FILES: &[RuleFile] = &[
    RuleFile { name: "alb.guard", text: include_str!("../../guard/alb.guard") },
    RuleFile { name: "compute.guard", text: include_str!("../../guard/compute.guard") },
    RuleFile { name: "iam.guard", text: include_str!("../../guard/iam.guard") },
    RuleFile { name: "network_firewall.guard", text: include_str!("../../guard/network_firewall.guard") },
    RuleFile { name: "s3.guard", text: include_str!("../../guard/s3.guard") },
    RuleFile { name: "subnets.guard", text: include_str!("../../guard/subnets.guard") },
];

#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error("cfn-guard could not evaluate {file}: {message}")]
    Evaluation { file: &'static str, message: String },
    #[error("cfn-guard's report for {file} is not the JSON we expect: {message}")]
    Report { file: &'static str, message: String },
}

/// How one rule came out on the template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    Skip,
}

/// One failing clause: the resource it was found on and the rule's own violation/fix message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub resource: String,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct RuleOutcome {
    pub file: &'static str,
    pub rule: String,
    pub status: Status,
    pub violations: Vec<Violation>,
}

/// Runs every rule file on `template`; one outcome per rule, in file order.
pub fn evaluate(template: &Value) -> Result<Vec<RuleOutcome>, GuardError> {
    let data = template.to_string();
    let mut outcomes = Vec::new();
    for file in RULE_FILES {
        let report = cfn_guard::run_checks(
            cfn_guard::ValidateInput { content: &data, file_name: "template" },
            cfn_guard::ValidateInput { content: file.text, file_name: file.name },
            false,
        )
        .map_err(|err| GuardError::Evaluation { file: file.name, message: err.to_string() })?;
        outcomes.extend(parse_report(file.name, &report)?);
    }
    Ok(outcomes)
}

fn parse_report(file: &'static str, report: &str) -> Result<Vec<RuleOutcome>, GuardError> {
    let bad = |message: String| GuardError::Report { file, message };
    let json: Value = serde_json::from_str(report).map_err(|err| bad(err.to_string()))?;
    let mut outcomes = Vec::new();
    for (key, status) in [
        ("not_compliant", Status::Fail),
        ("compliant", Status::Pass),
        ("not_applicable", Status::Skip),
    ] {
        let entries = json
            .get(key)
            .and_then(Value::as_array)
            .ok_or_else(|| bad(format!("no `{key}` list")))?;
        for entry in entries {
            let (rule, violations) = match status {
                Status::Fail => {
                    let rule = entry.get("Rule").ok_or_else(|| bad(format!("a failing entry without `Rule`: {entry}")))?;
                    let name = rule.get("name").and_then(Value::as_str).unwrap_or("?").to_owned();
                    let mut violations = Vec::new();
                    collect_violations(rule, &mut violations);
                    violations.dedup();
                    (name, violations)
                }
                _ => (entry.as_str().unwrap_or("?").to_owned(), Vec::new()),
            };
            outcomes.push(RuleOutcome { file, rule, status, violations });
        }
    }
    Ok(outcomes)
}

/// Walks cfn-guard's clause tree: a leaf clause carries `messages` and a `check` holding the path it reached.
fn collect_violations(node: &Value, out: &mut Vec<Violation>) {
    match node {
        Value::Object(map) => {
            if let (Some(messages), Some(check)) = (map.get("messages"), map.get("check")) {
                let custom = messages.get("custom_message").and_then(Value::as_str).unwrap_or("").trim();
                let message = if custom.is_empty() {
                    messages.get("error_message").and_then(Value::as_str).unwrap_or("").trim()
                } else {
                    custom
                };
                out.push(Violation { resource: resource_of(check).unwrap_or_else(|| "(template)".into()), message: message.to_owned() });
                return;
            }
            for value in map.values() {
                collect_violations(value, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_violations(item, out)),
        _ => {}
    }
}

/// The logical ID in the first `/Resources/<id>/...` path found under `node`.
fn resource_of(node: &Value) -> Option<String> {
    match node {
        Value::Object(map) => {
            if let Some(path) = map.get("path").and_then(Value::as_str)
                && let Some(rest) = path.strip_prefix("/Resources/")
            {
                return Some(rest.split('/').next().unwrap_or(rest).to_owned());
            }
            map.values().find_map(resource_of)
        }
        Value::Array(items) => items.iter().find_map(resource_of),
        _ => None,
    }
}
