//! An offline, template-level cousin of AWS's VPC Reachability Analyzer: a model of route tables, NACLs and
//! security groups evaluated on the flows the architecture promises and forbids.

mod cidr;
mod evaluate;
mod flows;
mod model;

pub use evaluate::Hop;
pub use flows::{Expect, FlowVerdict};

use crate::intrinsics::{self, EvalError, Evaluator};
use model::Network;
use serde_json::Value;

/// One deployment shape to check: a name and the parameter values that differ from the defaults.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub overrides: Vec<(String, String)>,
}

/// The defaults, plus every shape the parameters can switch: each non-default allowed value of a parameter
/// that a condition tests (V2 on Docker, one NAT per AZ, ...), and TLS on the ALB when a certificate is given.
pub fn scenarios(template: &Value) -> Vec<Scenario> {
    let params = template.get("Parameters").and_then(Value::as_object);
    let conditions = template
        .get("Conditions")
        .map(Value::to_string)
        .unwrap_or_default();
    let mut out = vec![Scenario {
        name: "defaults".into(),
        overrides: Vec::new(),
    }];
    for (name, decl) in params.into_iter().flatten() {
        if !conditions.contains(&format!("{{\"Ref\":\"{name}\"}}")) {
            continue;
        }
        let default = decl.get("Default").map(intrinsics::text);
        let allowed = decl.get("AllowedValues").and_then(Value::as_array);
        for value in allowed.into_iter().flatten().map(intrinsics::text) {
            if Some(&value) != default.as_ref() {
                out.push(Scenario {
                    name: format!("{name}={value}"),
                    overrides: vec![(name.clone(), value)],
                });
            }
        }
    }
    if params.is_some_and(|p| p.contains_key("CertificateArn")) {
        let arn =
            "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000";
        out.push(Scenario {
            name: "CertificateArn set (TLS)".into(),
            overrides: vec![("CertificateArn".into(), arn.into())],
        });
    }
    out
}

/// Evaluates the named flows on `template` under `scenario`; an expression the evaluator does
/// not understand is an error, never a guess.
pub fn analyze(template: &Value, scenario: &Scenario) -> Result<Vec<FlowVerdict>, EvalError> {
    let overrides: Vec<(&str, &str)> = scenario
        .overrides
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let evaluator = Evaluator::new(template, &overrides)?;
    let net = Network::build(&evaluator)?;
    Ok(flows::named_flows(&net, &scenario.name))
}

/// Every scenario's flows.
pub fn analyze_all(template: &Value) -> Result<Vec<FlowVerdict>, EvalError> {
    let mut out = Vec::new();
    for scenario in scenarios(template) {
        out.extend(analyze(template, &scenario)?);
    }
    Ok(out)
}
