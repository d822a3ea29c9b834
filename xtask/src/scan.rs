//! checkov, the IaC scanner the template's waivers are written for: every finding it reports on
//! a template is either fixed or waived in that resource's `Metadata` (`checkov: skip`, written by
//! the stack's typed `Waiver`), so a run with any failed check is a failure. Pinned in
//! `requirements-scan.txt`, installed into `.venv-scan` (see [`crate::venv::SCAN`]).

use std::fmt;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::venv::SCAN;

/// One failed check.
#[derive(Debug)]
pub struct Finding {
    pub check: String,
    /// The resource's logical ID.
    pub resource: String,
    pub title: String,
    pub file: PathBuf,
}

/// What checkov said about a set of templates.
#[derive(Debug)]
pub struct Report {
    pub version: String,
    pub passed: u64,
    /// Checks a resource's `Metadata` skips, each with its reason.
    pub skipped: u64,
    pub failed: Vec<Finding>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "checkov {}: {} passed, {} skipped by a waiver in the resource's Metadata, {} failed",
            self.version,
            self.passed,
            self.skipped,
            self.failed.len()
        )?;
        for finding in &self.failed {
            writeln!(
                f,
                "  FAIL {} on {} ({}): {}\n    fix: meet it, or waive it on the resource (stack: Attributes::waive) with its one-sentence reason",
                finding.check,
                finding.resource,
                finding.file.display(),
                finding.title
            )?;
        }
        Ok(())
    }
}

/// Runs the pinned checkov on CloudFormation templates, installing it first if needed. Offline
/// apart from the package registry: `--skip-download` keeps it from calling the Prisma Cloud API.
pub fn scan(files: &[PathBuf]) -> crate::Result<Report> {
    let bin = SCAN.ensure()?;
    let mut command = Command::new(bin.join("checkov"));
    for file in files {
        command.arg("--file").arg(file);
    }
    command.args([
        "--framework",
        "cloudformation",
        "--skip-download",
        "--output",
        "json",
    ]);
    let shown = format!("{command:?}");
    let output = command
        .output()
        .map_err(|err| format!("could not start {shown}: {err}"))?;
    // checkov exits 1 when a check fails; anything else is checkov itself failing.
    if !matches!(output.status.code(), Some(0 | 1)) {
        return Err(format!(
            "{shown} failed with {}:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let json: Value = serde_json::from_slice(&output.stdout).map_err(|err| {
        format!(
            "{shown} printed no JSON report ({err}):\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    })?;
    parse(&json).map_err(|err| format!("{shown}: {err}").into())
}

/// Reads checkov's JSON report; a template it could not parse, or no resource at all, is an
/// error rather than a vacuous pass.
fn parse(json: &Value) -> Result<Report, String> {
    let summary = &json["summary"];
    let count = |key: &str| {
        summary[key]
            .as_u64()
            .ok_or_else(|| format!("no `summary.{key}` in checkov's report: {json}"))
    };
    if count("parsing_errors")? > 0 {
        return Err(format!(
            "checkov could not parse a template: {}",
            json["results"]["parsing_errors"]
        ));
    }
    if count("resource_count")? == 0 {
        return Err("checkov found no resource to check".into());
    }
    let failed = json["results"]["failed_checks"]
        .as_array()
        .ok_or("no `results.failed_checks` in checkov's report")?
        .iter()
        .map(|check| {
            let text = |key: &str| check[key].as_str().unwrap_or_default().to_owned();
            let resource = text("resource");
            Finding {
                check: text("check_id"),
                // `AWS::Type.LogicalId`: the type has no dots.
                resource: resource
                    .split_once('.')
                    .map_or(resource.clone(), |(_, id)| id.to_owned()),
                title: text("check_name"),
                file: PathBuf::from(text("file_abs_path")),
            }
        })
        .collect();
    Ok(Report {
        version: summary["checkov_version"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        passed: count("passed")?,
        skipped: count("skipped")?,
        failed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn failed_in<'a>(report: &'a Report, file: &Path) -> Vec<(&'a str, &'a str)> {
        report
            .failed
            .iter()
            .filter(|f| f.file == file)
            .map(|f| (f.check.as_str(), f.resource.as_str()))
            .collect()
    }

    /// The committed template passes checkov with its waivers, and the same template with one
    /// waiver removed fails exactly that check: one checkov run for both.
    #[test]
    fn checkov_passes_the_committed_template_and_fails_it_without_a_waiver() {
        let committed = crate::project::root()
            .join(stack::TEMPLATE_PATH)
            .canonicalize()
            .unwrap();
        let mut template: Value =
            serde_json::from_str(&std::fs::read_to_string(&committed).unwrap()).unwrap();
        let skips = template["Resources"]["LoadBalancer"]["Metadata"]["checkov"]["skip"]
            .as_array_mut()
            .expect("the load balancer carries checkov waivers");
        let before = skips.len();
        skips.retain(|skip| skip["id"] != "CKV_AWS_91");
        assert_eq!(skips.len(), before - 1, "the CKV_AWS_91 waiver is gone");
        let dir = std::env::temp_dir().join(format!("alb-canary-scan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mutated = dir.join("without-access-log-waiver.json");
        std::fs::write(&mutated, template.to_string()).unwrap();

        let report = scan(&[committed.clone(), mutated.clone()]);
        std::fs::remove_dir_all(&dir).unwrap();
        let report = report.unwrap();
        assert_eq!(
            failed_in(&report, &committed),
            Vec::<(&str, &str)>::new(),
            "checkov fails the committed template:\n{report}"
        );
        assert!(report.skipped > 0, "{report}");
        assert_eq!(
            failed_in(&report, &mutated),
            vec![("CKV_AWS_91", "LoadBalancer")],
            "{report}"
        );
    }

    #[test]
    fn a_report_without_resources_or_with_parse_errors_is_an_error() {
        let report = |parsing_errors: u64, resources: u64| {
            serde_json::json!({
                "results": { "failed_checks": [], "parsing_errors": ["t.json"] },
                "summary": {
                    "passed": 0, "failed": 0, "skipped": 0,
                    "parsing_errors": parsing_errors, "resource_count": resources,
                    "checkov_version": "3.3.30",
                },
            })
        };
        assert!(
            parse(&report(1, 5))
                .unwrap_err()
                .contains("could not parse")
        );
        assert!(parse(&report(0, 0)).unwrap_err().contains("no resource"));
        assert!(parse(&report(0, 5)).unwrap().failed.is_empty());
    }
}
