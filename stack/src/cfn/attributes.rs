//! Resource attributes other than `Properties`: condition, dependencies, retention, and the
//! metadata that records deliberate exceptions for linters and scanners.

use serde_json::{Map, Value, json};

use super::names::{Cond, Named};

/// A scanner finding a resource deliberately does not meet, in the form the common IaC scanners
/// read from `Metadata` (checkov's `skip`, cfn_nag's `rules_to_suppress`, and the AWS Guard Rules
/// Registry's `guard.SuppressedRules`).
#[derive(Clone, Copy, Debug)]
pub struct Waiver {
    /// Where the finding stands against the AWS Foundational Security Best Practices.
    pub control: Fsbp,
    /// checkov check IDs for the same finding (may be empty).
    pub checkov: &'static [&'static str],
    /// cfn_nag rule IDs for the same finding (may be empty).
    pub cfn_nag: &'static [&'static str],
    /// AWS Guard Rules Registry rule names for the same finding (may be empty). The registry's
    /// rules read `Metadata.guard.SuppressedRules`, a list of names only, so the reasons go beside
    /// it in `Metadata.guard.Reasons`.
    pub guard: &'static [&'static str],
    /// Why, in one sentence: what the stack does instead.
    pub reason: &'static str,
}

/// The AWS Foundational Security Best Practices control behind a waived scanner finding.
#[derive(Clone, Copy, Debug)]
pub enum Fsbp {
    /// The resource does not meet this control, e.g. `ELB.6`.
    Waived(&'static str),
    /// The control holds; the scanners' check is stricter than the control, or cannot see that
    /// it holds (an `Fn::If` on a parameter).
    Holds(&'static str),
    /// No FSBP control covers the scanners' check.
    NoControl,
}

impl Waiver {
    fn comment(&self) -> String {
        match self.control {
            Fsbp::Waived(control) => format!("{control}: {}", self.reason),
            Fsbp::Holds(control) => format!("{control} holds: {}", self.reason),
            Fsbp::NoControl => format!("no FSBP control: {}", self.reason),
        }
    }
}

/// Resource attributes other than `Properties`.
#[derive(Clone, Debug, Default)]
pub struct Attributes {
    condition: Option<String>,
    depends_on: Vec<String>,
    retain: bool,
    lint_ignores: Vec<&'static str>,
    waivers: Vec<Waiver>,
}

impl Attributes {
    pub fn new() -> Attributes {
        Attributes::default()
    }

    /// The resource exists only when `condition` is true.
    pub fn condition(mut self, condition: &Cond) -> Attributes {
        self.condition = Some(condition.id().to_owned());
        self
    }

    pub fn depends_on(mut self, other: &dyn Named) -> Attributes {
        self.depends_on.push(other.logical_id().to_owned());
        self
    }

    /// `DeletionPolicy` and `UpdateReplacePolicy` `Retain`.
    pub fn retain(mut self) -> Attributes {
        self.retain = true;
        self
    }

    /// cfn-lint checks to skip on this resource; every call site says why next to it.
    pub fn ignore_lint(mut self, checks: &[&'static str]) -> Attributes {
        self.lint_ignores.extend_from_slice(checks);
        self
    }

    /// Security controls this resource deliberately does not meet, each with its reason.
    pub fn waive(mut self, waivers: &[Waiver]) -> Attributes {
        self.waivers.extend_from_slice(waivers);
        self
    }

    /// Writes the attributes into a resource entry, after its `Type` and before its `Properties`.
    pub(super) fn write_to(&self, entry: &mut Map<String, Value>) {
        if let Some(condition) = &self.condition {
            entry.insert("Condition".into(), condition.as_str().into());
        }
        if !self.depends_on.is_empty() {
            entry.insert("DependsOn".into(), self.depends_on.clone().into());
        }
        if self.retain {
            entry.insert("DeletionPolicy".into(), "Retain".into());
            entry.insert("UpdateReplacePolicy".into(), "Retain".into());
        }
        if let Some(metadata) = self.metadata() {
            entry.insert("Metadata".into(), metadata);
        }
    }

    fn metadata(&self) -> Option<Value> {
        let mut metadata = Map::new();
        if !self.lint_ignores.is_empty() {
            metadata.insert(
                "cfn-lint".into(),
                json!({ "config": { "ignore_checks": self.lint_ignores } }),
            );
        }
        let checkov: Vec<Value> = self
            .waivers
            .iter()
            .flat_map(|w| {
                w.checkov
                    .iter()
                    .map(|id| json!({ "id": id, "comment": w.comment() }))
            })
            .collect();
        if !checkov.is_empty() {
            metadata.insert("checkov".into(), json!({ "skip": checkov }));
        }
        let cfn_nag: Vec<Value> = self
            .waivers
            .iter()
            .flat_map(|w| {
                w.cfn_nag
                    .iter()
                    .map(|id| json!({ "id": id, "reason": w.comment() }))
            })
            .collect();
        if !cfn_nag.is_empty() {
            metadata.insert("cfn_nag".into(), json!({ "rules_to_suppress": cfn_nag }));
        }
        let guard: Vec<(&str, String)> = self
            .waivers
            .iter()
            .flat_map(|w| w.guard.iter().map(|rule| (*rule, w.comment())))
            .collect();
        if !guard.is_empty() {
            metadata.insert(
                "guard".into(),
                json!({
                    "SuppressedRules": guard.iter().map(|(rule, _)| *rule).collect::<Vec<_>>(),
                    "Reasons": guard
                        .iter()
                        .map(|(rule, reason)| json!({ "rule": rule, "reason": reason }))
                        .collect::<Vec<_>>(),
                }),
            );
        }
        let controls: Vec<Value> = self
            .waivers
            .iter()
            .filter_map(|w| match w.control {
                Fsbp::Waived(control) => Some(json!({ "control": control, "reason": w.reason })),
                Fsbp::Holds(_) | Fsbp::NoControl => None,
            })
            .collect();
        if !controls.is_empty() {
            metadata.insert("alb-canary".into(), json!({ "waived_controls": controls }));
        }
        (!metadata.is_empty()).then_some(Value::Object(metadata))
    }
}
