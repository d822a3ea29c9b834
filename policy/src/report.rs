//! The combined result of the guard rules and the reachability flows, and its readable rendering.

use crate::guard::{self, GuardError, RuleOutcome, Status};
use crate::intrinsics::EvalError;
use crate::reachability::{self, Expect, FlowVerdict, Hop};
use serde_json::Value;
use std::fmt;

#[derive(Debug)]
pub struct Report {
    pub rules: Vec<RuleOutcome>,
    pub flows: Vec<FlowVerdict>,
}

/// One reason the template is not safe to deploy: the resource, the rule (or flow), and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub resource: String,
    pub rule: String,
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} — rule {}: {}",
            self.resource, self.rule, self.message
        )
    }
}

/// Why a template could not be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum CheckFailure {
    #[error(transparent)]
    Guard(#[from] GuardError),
    #[error("the template has an expression the checks cannot evaluate: {0}")]
    Template(#[from] EvalError),
}

/// Runs the guard rules and every reachability scenario on `template`.
pub fn check(template: &Value) -> Result<Report, CheckFailure> {
    Ok(Report {
        rules: guard::evaluate(template)?,
        flows: reachability::analyze_all(template)?,
    })
}

impl Report {
    pub fn passed(&self) -> bool {
        self.failures().is_empty()
    }

    /// Names of the guard rules that failed (each once).
    pub fn failed_rules(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .rules
            .iter()
            .filter(|r| r.status == Status::Fail)
            .map(|r| r.rule.as_str())
            .collect();
        names.dedup();
        names
    }

    /// Names of the flows whose verdict contradicts the expectation (with their scenario).
    pub fn broken_flows(&self) -> Vec<&FlowVerdict> {
        self.flows.iter().filter(|f| !f.holds()).collect()
    }

    /// Every flow with every hop it crossed (request and reply legs): the long form behind each verdict.
    pub fn flow_paths(&self) -> String {
        let mut out = String::new();
        for v in &self.flows {
            let verdict = if v.allowed { "allowed" } else { "denied" };
            out.push_str(&format!("[{}] {}: {verdict}\n", v.scenario, v.name));
            for hop in &v.hops {
                out.push_str(&format!("    {hop}\n"));
            }
        }
        out
    }

    pub fn failures(&self) -> Vec<Failure> {
        let mut out = Vec::new();
        for rule in self.rules.iter().filter(|r| r.status == Status::Fail) {
            for v in &rule.violations {
                out.push(Failure {
                    resource: v.resource.clone(),
                    rule: format!("{}/{}", rule.file, rule.rule),
                    message: v.message.clone(),
                });
            }
            if rule.violations.is_empty() {
                out.push(Failure {
                    resource: "(template)".into(),
                    rule: format!("{}/{}", rule.file, rule.rule),
                    message: "failed without a message".into(),
                });
            }
        }
        for flow in self.broken_flows() {
            let hop = flow.deciding_hop();
            let resource = hop.map(|h| h.resource.clone()).unwrap_or_default();
            let message = match (flow.expect, hop) {
                (Expect::Allowed, Some(h)) => format!(
                    "[{}] required flow is blocked at {} hop {} ({}) by {}. Fix: {}",
                    flow.scenario,
                    h.leg,
                    h.layer,
                    h.resource,
                    h.rule,
                    fix_for(h)
                ),
                (Expect::Denied, _) => {
                    let path: Vec<String> = flow
                        .hops
                        .iter()
                        .map(|h| format!("{} {} by {}", h.layer, h.resource, h.rule))
                        .collect();
                    format!(
                        "[{}] forbidden flow gets through: {}. Fix: remove or narrow the rule that admits it.",
                        flow.scenario,
                        path.join(" → ")
                    )
                }
                (Expect::Allowed, None) => format!("[{}] required flow has no path", flow.scenario),
            };
            out.push(Failure {
                resource,
                rule: format!("flow: {}", flow.name),
                message,
            });
        }
        out
    }
}

/// What to change at the layer that dropped a required flow.
fn fix_for(hop: &Hop) -> String {
    let r = &hop.resource;
    match hop.layer {
        "network ACL inbound" | "network ACL outbound" => format!(
            "add an allow entry to {r} for exactly this traffic ({} {}), numbered below any deny that matches it; NACLs are stateless, so replies need their own entry on the ephemeral ports.",
            hop.leg,
            hop.layer.trim_start_matches("network ACL ")
        ),
        "security group ingress" => format!(
            "add an ingress rule to {r} that admits the source by its security group (SourceSecurityGroupId)."
        ),
        "security group egress" => format!(
            "add an egress rule to {r} toward the destination (security group or prefix list) on this port."
        ),
        "route table" => format!(
            "give {r} the route this flow needs (S3 prefix list → gateway endpoint, 0.0.0.0/0 → NAT gateway for private subnets)."
        ),
        "ALB listener" => {
            format!("add a listener on this port to {r}, or stop sending traffic to it.")
        }
        _ => format!("check {r}: {}.", hop.rule),
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = |s: Status| self.rules.iter().filter(|r| r.status == s).count();
        writeln!(
            f,
            "guard rules: {} pass, {} fail, {} skip",
            count(Status::Pass),
            count(Status::Fail),
            count(Status::Skip)
        )?;
        for r in &self.rules {
            let status = match r.status {
                Status::Pass => "PASS",
                Status::Fail => "FAIL",
                Status::Skip => "SKIP",
            };
            writeln!(f, "  {status} {}/{}", r.file, r.rule)?;
        }
        let held = self.flows.iter().filter(|v| v.holds()).count();
        writeln!(
            f,
            "reachability: {held}/{} flows as required",
            self.flows.len()
        )?;
        for v in &self.flows {
            let mark = if v.holds() { "ok  " } else { "FAIL" };
            let verdict = if v.allowed { "allowed" } else { "denied" };
            let expect = if v.expect == Expect::Allowed {
                "must be allowed"
            } else {
                "must be denied"
            };
            let hop = v
                .deciding_hop()
                .map(|h| format!(" — {} {}: {}", h.layer, h.resource, h.rule))
                .unwrap_or_default();
            writeln!(
                f,
                "  {mark} [{}] {} ({expect}): {verdict}{hop}",
                v.scenario, v.name
            )?;
        }
        let failures = self.failures();
        if failures.is_empty() {
            writeln!(f, "result: safe to deploy")
        } else {
            writeln!(f, "result: {} failure(s)", failures.len())?;
            for failure in failures {
                writeln!(f, "  ✗ {failure}")?;
            }
            Ok(())
        }
    }
}
