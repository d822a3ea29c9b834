//! AWS's own published rule sets, run on a template the way a governed account runs them:
//!
//! - the **Control Tower proactive controls**, the cfn-guard rules that CloudFormation hooks run
//!   on every resource of a deployment (a failing resource blocks it; nothing can suppress one),
//!   from the npm package `@cdklabs/cdk-validator-cfnguard` (pinned in `controltower/package.json`
//!   and `package-lock.json`, installed with `npm ci` when missing), which ships them together
//!   with AWS's cfn-guard binary;
//! - the **Guard Rules Registry** (`rules/aws`, mapped to FSBP, CIS and NIST), vendored unchanged
//!   in `registry/rules/` with its licence, checked against `registry/SHA256SUMS` by a test; a
//!   resource suppresses one of its rules with `Metadata.guard.SuppressedRules`.
//!
//! Both run through the package's cfn-guard binary, as `cfn-guard validate` on the directory of
//! rule files: one engine, AWS's, for both suites.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

pub use crate::guard::Status;
pub use governed::{Explanation, Standing, explanations, explanations_path, resolve};

mod governed;

/// The pinned npm package (also in `controltower/package.json`).
pub const CONTROL_TOWER_PACKAGE: &str = "@cdklabs/cdk-validator-cfnguard@0.0.62";
/// The Guard Rules Registry's commit the vendored rules were taken from (see `registry/README.md`).
pub const REGISTRY_COMMIT: &str = "7f7340c26ae5d5e8874651dbffeb12e0e9f505b6";

/// One of the two published rule sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Suite {
    ControlTower,
    Registry,
}

impl Suite {
    pub const ALL: [Suite; 2] = [Suite::ControlTower, Suite::Registry];

    pub fn name(self) -> &'static str {
        match self {
            Suite::ControlTower => "Control Tower proactive controls",
            Suite::Registry => "Guard Rules Registry",
        }
    }

    /// The folder of its `*.guard` files (the Control Tower ones exist once installed).
    pub fn rules_dir(self) -> PathBuf {
        match self {
            Suite::ControlTower => control_tower_package().join("rules/control-tower/cfn-guard"),
            Suite::Registry => registry_dir().join("rules"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PublishedError {
    #[error("{0}")]
    Install(String),
    #[error("cfn-guard ({suite}) could not run: {message}")]
    Run {
        suite: &'static str,
        message: String,
    },
    #[error("cfn-guard's report ({suite}) is not the JSON we expect: {message}")]
    Report {
        suite: &'static str,
        message: String,
    },
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
}

/// How one rule came out, and on which resources it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The control's ID: `CT.EC2.PR.5` (from the rule file's name) or the registry rule's name
    /// (what `Metadata.guard.SuppressedRules` names).
    pub control: String,
    /// The cfn-guard rule's name.
    pub rule: String,
    pub status: Status,
    /// The logical IDs the rule failed on (empty unless it failed).
    pub resources: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct SuiteReport {
    pub suite: Suite,
    pub outcomes: Vec<Outcome>,
}

impl SuiteReport {
    /// (pass, fail, skip).
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |s: Status| self.outcomes.iter().filter(|o| o.status == s).count();
        (
            count(Status::Pass),
            count(Status::Fail),
            count(Status::Skip),
        )
    }

    pub fn failures(&self) -> Vec<&Outcome> {
        self.outcomes
            .iter()
            .filter(|o| o.status == Status::Fail)
            .collect()
    }

    /// The failures, split into (explained, unexplained). A Control Tower failure is explained
    /// by its row in `docs/governed-account.md` (not a `fixed` one): nothing suppresses a control.
    /// A registry failure is explained when every resource it fails on suppresses it with a
    /// reason: a rule can ignore its own suppression (CFN_NO_EXPLICIT_RESOURCE_NAMES evaluates
    /// every resource of its types once any one of them is unsuppressed).
    pub fn explained(
        &self,
        template: &Value,
        rows: &[Explanation],
    ) -> (Vec<&Outcome>, Vec<&Outcome>) {
        self.failures().into_iter().partition(|o| match self.suite {
            Suite::ControlTower => rows
                .iter()
                .any(|r| r.control == o.control && r.standing != Standing::Fixed),
            Suite::Registry => {
                !o.resources.is_empty()
                    && o.resources
                        .iter()
                        .all(|id| suppression_reason(template, id, &o.rule).is_some())
            }
        })
    }

    /// The outcome of one control (`CT.EC2.PR.5`, or a registry rule's name).
    pub fn control(&self, control: &str) -> Option<&Outcome> {
        self.outcomes.iter().find(|o| o.control == control)
    }
}

impl fmt::Display for SuiteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (pass, fail, skip) = self.counts();
        writeln!(
            f,
            "{}: {pass} pass, {fail} fail, {skip} skip",
            self.suite.name()
        )?;
        for o in self.failures() {
            writeln!(
                f,
                "  ✗ {} ({}) on {}",
                o.control,
                o.rule,
                o.resources.join(", ")
            )?;
        }
        Ok(())
    }
}

/// The reason `id` gives for suppressing the registry rule `rule` (`Metadata.guard`), if it does.
pub fn suppression_reason<'t>(template: &'t Value, id: &str, rule: &str) -> Option<&'t str> {
    let guard = &template["Resources"][id]["Metadata"]["guard"];
    let suppressed = guard["SuppressedRules"]
        .as_array()?
        .iter()
        .any(|r| r == rule);
    if !suppressed {
        return None;
    }
    guard["Reasons"]
        .as_array()?
        .iter()
        .find(|r| r["rule"] == rule)?["reason"]
        .as_str()
        .filter(|reason| !reason.is_empty())
}

fn control_tower_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("controltower")
}

fn control_tower_package() -> PathBuf {
    control_tower_dir().join("node_modules/@cdklabs/cdk-validator-cfnguard")
}

/// The vendored Guard Rules Registry: `rules/`, `LICENSE`, `NOTICE`, `SHA256SUMS`.
pub fn registry_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("registry")
}

/// The package's cfn-guard binary for this machine, installed with `npm ci` when missing.
pub fn cfn_guard() -> Result<PathBuf, PublishedError> {
    let dir = control_tower_dir();
    crate::npm::ensure_installed(
        &dir,
        "node_modules/@cdklabs/cdk-validator-cfnguard/package.json",
    )
    .map_err(PublishedError::Install)?;
    let os = match std::env::consts::OS {
        "linux" => "ubuntu",
        "macos" => "macos",
        other => {
            return Err(PublishedError::Install(format!(
                "{CONTROL_TOWER_PACKAGE} ships cfn-guard for Linux and macOS, not {other}"
            )));
        }
    };
    let binary = control_tower_package()
        .join("bin")
        .join(os)
        .join(std::env::consts::ARCH)
        .join("cfn-guard");
    if !binary.exists() {
        return Err(PublishedError::Install(format!(
            "{CONTROL_TOWER_PACKAGE} has no cfn-guard at {}",
            binary.display()
        )));
    }
    Ok(binary)
}

/// Runs one suite on `template`; one outcome per rule, sorted by control.
pub fn run(suite: Suite, template: &Value) -> Result<SuiteReport, PublishedError> {
    let binary = cfn_guard()?;
    let rules = suite.rules_dir();
    let controls = controls_of(suite, &rules)?;
    // cfn-guard reads data from files only; one file per call, so that parallel tests never share one.
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let data = std::env::temp_dir().join(format!(
        "alb-canary-published-{}-{}.json",
        std::process::id(),
        CALLS.fetch_add(1, Ordering::Relaxed)
    ));
    let failed = |message: String| PublishedError::Run {
        suite: suite.name(),
        message,
    };
    std::fs::write(&data, template.to_string()).map_err(|e| failed(e.to_string()))?;
    let output = Command::new(&binary)
        .arg("validate")
        .arg("--rules")
        .arg(&rules)
        .arg("--data")
        .arg(&data)
        .args([
            "--show-summary",
            "none",
            "--output-format",
            "json",
            "--structured",
        ])
        .output();
    // Removed before the result is looked at, so that no failure leaves it behind.
    let _ = std::fs::remove_file(&data);
    let output = output.map_err(|e| failed(format!("{} ({e})", binary.display())))?;
    // 0: every rule passed or skipped; 19: some rule failed; anything else is an error.
    if !matches!(output.status.code(), Some(0 | 19)) {
        return Err(failed(format!(
            "{}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    let report: Value =
        serde_json::from_slice(&output.stdout).map_err(|e| PublishedError::Report {
            suite: suite.name(),
            message: e.to_string(),
        })?;
    parse(suite, &report, &controls)
}

fn parse(
    suite: Suite,
    report: &Value,
    controls: &BTreeMap<String, String>,
) -> Result<SuiteReport, PublishedError> {
    let bad = |message: String| PublishedError::Report {
        suite: suite.name(),
        message,
    };
    let report = report
        .as_array()
        .and_then(|r| r.first())
        .ok_or_else(|| bad("no report".into()))?;
    let list = |key: &str| {
        report
            .get(key)
            .and_then(Value::as_array)
            .ok_or_else(|| bad(format!("no `{key}` list")))
    };
    // A rule is listed once per data file under each status it reached on some resource: failed
    // anywhere is failed, else passed anywhere is passed, else it applied to nothing (skip).
    let mut failed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for entry in list("not_compliant")? {
        let name = entry["Rule"]["name"]
            .as_str()
            .ok_or_else(|| bad(format!("a failing entry without a rule name: {entry}")))?;
        resources_in(entry, failed.entry(name.to_owned()).or_default());
    }
    let passed: BTreeSet<&str> = list("compliant")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut outcomes: Vec<Outcome> = controls
        .iter()
        .map(|(rule, control)| {
            let (status, resources) = match failed.get(rule) {
                Some(resources) => (Status::Fail, resources.iter().cloned().collect()),
                None if passed.contains(rule.as_str()) => (Status::Pass, Vec::new()),
                None => (Status::Skip, Vec::new()),
            };
            Outcome {
                control: control.clone(),
                rule: rule.clone(),
                status,
                resources,
            }
        })
        .collect();
    // A rule cfn-guard reports that no file declares would be miscounted: refuse it.
    let skipped = list("not_applicable")?.iter().filter_map(Value::as_str);
    let reported = failed
        .keys()
        .map(String::as_str)
        .chain(passed.iter().copied());
    if let Some(unknown) = reported.chain(skipped).find(|r| !controls.contains_key(*r)) {
        return Err(bad(format!("rule `{unknown}` is in no rule file")));
    }
    outcomes.sort_by(|a, b| (&a.control, &a.rule).cmp(&(&b.control, &b.rule)));
    Ok(SuiteReport { suite, outcomes })
}

/// Every `/Resources/<id>/…` path under `node`.
fn resources_in(node: &Value, out: &mut BTreeSet<String>) {
    match node {
        Value::Object(map) => {
            if let Some(rest) = map
                .get("path")
                .and_then(Value::as_str)
                .and_then(|p| p.strip_prefix("/Resources/"))
            {
                out.insert(rest.split('/').next().unwrap_or(rest).to_owned());
            }
            map.values().for_each(|v| resources_in(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| resources_in(v, out)),
        _ => {}
    }
}

/// Every rule file under `dir` (recursively), sorted by path.
pub fn rule_files(dir: &Path) -> Result<Vec<PathBuf>, PublishedError> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_owned()];
    while let Some(folder) = folders.pop() {
        let entries = std::fs::read_dir(&folder).map_err(|e| PublishedError::File {
            path: folder.clone(),
            message: e.to_string(),
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|x| x == "guard") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Rule name → control ID, for the rules cfn-guard reports: those declared without parameters.
fn controls_of(suite: Suite, dir: &Path) -> Result<BTreeMap<String, String>, PublishedError> {
    let mut controls = BTreeMap::new();
    for path in rule_files(dir)? {
        let text = std::fs::read_to_string(&path).map_err(|e| PublishedError::File {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        for line in text.lines() {
            let Some(rest) = line
                .strip_prefix("rule")
                .filter(|r| r.starts_with(char::is_whitespace))
                .map(str::trim_start)
            else {
                continue;
            };
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if name.is_empty() || rest[name.len()..].trim_start().starts_with('(') {
                continue;
            }
            let control = match suite {
                // `ct-ec2-pr-5.guard` holds control CT.EC2.PR.5.
                Suite::ControlTower => stem.to_uppercase().replace('-', "."),
                Suite::Registry => name.clone(),
            };
            controls.entry(name).or_insert(control);
        }
    }
    if controls.is_empty() {
        return Err(PublishedError::File {
            path: dir.to_owned(),
            message: "no rule declared".into(),
        });
    }
    Ok(controls)
}
