//! The cfn-guard rules of `guard/`, compiled into the crate and run in-process on a template.

use cfn_guard::CommandBuilder;
use cfn_guard::commands::Executable;
use cfn_guard::commands::validate::{OutputFormatType, ShowSummaryType};
use cfn_guard::utils::reader::{ReadBuffer, Reader};
use cfn_guard::utils::writer::{WriteBuffer, Writer};
use serde_json::Value;
use std::io::Cursor;

/// One rule file: its name (for messages) and its text.
pub struct RuleFile {
    pub name: &'static str,
    pub text: &'static str,
}

/// Every rule file in `guard/`. Embedded so the check needs no working directory and no CLI.
pub const RULE_FILES: &[RuleFile] = &[
    RuleFile {
        name: "alb.guard",
        text: include_str!("../../guard/alb.guard"),
    },
    RuleFile {
        name: "compute.guard",
        text: include_str!("../../guard/compute.guard"),
    },
    RuleFile {
        name: "docker_host.guard",
        text: include_str!("../../guard/docker_host.guard"),
    },
    RuleFile {
        name: "iam.guard",
        text: include_str!("../../guard/iam.guard"),
    },
    RuleFile {
        name: "network_firewall.guard",
        text: include_str!("../../guard/network_firewall.guard"),
    },
    RuleFile {
        name: "s3.guard",
        text: include_str!("../../guard/s3.guard"),
    },
    RuleFile {
        name: "subnets.guard",
        text: include_str!("../../guard/subnets.guard"),
    },
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

/// Runs every rule file on `template`; one outcome per rule.
///
/// Through `ValidateBuilder`'s payload mode rather than `run_checks`: in cfn-guard 3.2.1 `run_checks` returns
/// only the last 8 KiB of its report (it reads a `BufWriter`'s buffer), which cuts a large template's report.
pub fn evaluate(template: &Value) -> Result<Vec<RuleOutcome>, GuardError> {
    let all = "all rule files";
    let payload = serde_json::json!({
        "rules": RULE_FILES.iter().map(|f| f.text).collect::<Vec<_>>(),
        "data": [template.to_string()],
    });
    let cmd = cfn_guard::ValidateBuilder::default()
        .payload(true)
        .structured(true)
        .output_format(OutputFormatType::JSON)
        .show_summary(vec![ShowSummaryType::None])
        .try_build()
        .map_err(|err| GuardError::Evaluation {
            file: all,
            message: err.to_string(),
        })?;
    let evaluation = |err: cfn_guard::Error| GuardError::Evaluation {
        file: all,
        message: err.to_string(),
    };
    let mut out = Writer::new_with_err(WriteBuffer::Vec(Vec::new()), WriteBuffer::Vec(Vec::new()))
        .map_err(evaluation)?;
    let mut input = Reader::new(ReadBuffer::Cursor(Cursor::new(
        payload.to_string().into_bytes(),
    )));
    // Exit codes: 0 all pass, 19 some rule failed, 5 an error (reported below as an unparsable report).
    cmd.execute(&mut out, &mut input).map_err(evaluation)?;
    let report = out.into_string().map_err(evaluation)?;
    let reports: Vec<Value> = serde_json::from_str(&report).map_err(|err| GuardError::Report {
        file: all,
        message: format!("{err}: {}", truncate(&report)),
    })?;
    let report = reports.first().ok_or_else(|| GuardError::Report {
        file: all,
        message: "no report".into(),
    })?;
    let mut outcomes = parse_report(report)?;
    outcomes.sort_by(|a, b| (a.file, &a.rule).cmp(&(b.file, &b.rule)));
    Ok(outcomes)
}

fn truncate(text: &str) -> &str {
    &text[..text.char_indices().nth(300).map_or(text.len(), |(i, _)| i)]
}

/// The rule file that declares `rule`.
fn file_of(rule: &str) -> &'static str {
    let declaration = format!("rule {rule} ");
    RULE_FILES
        .iter()
        .find(|f| f.text.lines().any(|l| l.starts_with(&declaration)))
        .map_or("?", |f| f.name)
}

fn parse_report(json: &Value) -> Result<Vec<RuleOutcome>, GuardError> {
    let bad = |message: String| GuardError::Report {
        file: "all rule files",
        message,
    };
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
                    let rule = entry
                        .get("Rule")
                        .ok_or_else(|| bad(format!("a failing entry without `Rule`: {entry}")))?;
                    let name = rule
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                        .to_owned();
                    let mut violations = Vec::new();
                    collect_violations(rule, &mut violations);
                    (name, violations)
                }
                _ => (entry.as_str().unwrap_or("?").to_owned(), Vec::new()),
            };
            outcomes.push(RuleOutcome {
                file: file_of(&rule),
                rule,
                status,
                violations,
            });
        }
    }
    Ok(outcomes)
}

/// Walks cfn-guard's clause tree: a leaf clause carries `messages` and a `check` holding the path it reached.
fn collect_violations(node: &Value, out: &mut Vec<Violation>) {
    match node {
        // `a or b << message >>`: cfn-guard attaches the message to the last clause only; every failing
        // clause of the disjunction is the same violation, so all of them get the message.
        Value::Object(map) if map.contains_key("Disjunctions") => {
            let mut inner = Vec::new();
            for value in map.values() {
                collect_violations(value, &mut inner);
            }
            let custom = inner
                .iter()
                .find(|v| v.message.starts_with("Violation:"))
                .map(|v| v.message.clone());
            for mut v in inner {
                if let Some(custom) = &custom {
                    v.message.clone_from(custom);
                }
                if !out.contains(&v) {
                    out.push(v);
                }
            }
        }
        Value::Object(map) => {
            if let (Some(messages), Some(check)) = (map.get("messages"), map.get("check")) {
                let custom = messages
                    .get("custom_message")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .trim();
                let message = if custom.is_empty() {
                    messages
                        .get("error_message")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .trim()
                } else {
                    custom
                };
                let v = Violation {
                    resource: resource_of(check).unwrap_or_else(|| "(template)".into()),
                    message: message.to_owned(),
                };
                if !out.contains(&v) {
                    out.push(v);
                }
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
