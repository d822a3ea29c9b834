//! AWS's published rule sets on the committed template: the vendored Guard Rules Registry is the
//! pinned commit unchanged, and every finding of either suite is fixed or explained.

use policy::published::{self, REGISTRY_COMMIT, Standing, Status, Suite};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::OnceLock;

fn committed() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates/alb-canary.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("templates/alb-canary.json"))
        .expect("json")
}

#[test]
fn the_vendored_registry_is_the_pinned_commit_unchanged() {
    let dir = published::registry_dir();
    let manifest = std::fs::read_to_string(dir.join("SHA256SUMS")).expect("SHA256SUMS");
    let listed: BTreeMap<&str, &str> = manifest
        .lines()
        .map(|line| {
            let (hash, file) = line.split_once("  ").expect("`<sha256>  <file>`");
            (file, hash)
        })
        .collect();
    let rules = dir.join("rules");
    let files = published::rule_files(&rules).expect("rules/");
    assert_eq!(files.len(), listed.len(), "a rule file added or missing");
    for path in files {
        let name = path
            .strip_prefix(&rules)
            .expect("under rules/")
            .to_str()
            .expect("utf-8")
            .to_owned();
        let bytes = std::fs::read(&path).expect("readable");
        let hash: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            listed.get(name.as_str()),
            Some(&hash.as_str()),
            "{name} differs from the registry's commit {REGISTRY_COMMIT}"
        );
    }
    for licence in ["LICENSE", "NOTICE"] {
        assert!(
            dir.join(licence).exists(),
            "{licence} travels with the rules"
        );
    }
    let readme = std::fs::read_to_string(dir.join("README.md")).expect("README.md");
    assert!(
        readme.contains(REGISTRY_COMMIT),
        "the README names the pinned commit"
    );
}

fn run(suite: Suite, template: &Value) -> published::SuiteReport {
    published::run(suite, template).unwrap_or_else(|e| panic!("{}: {e}", suite.name()))
}

fn failing(suite: Suite, template: &Value) -> BTreeSet<String> {
    run(suite, template)
        .failures()
        .iter()
        .map(|o| o.control.clone())
        .collect()
}

/// The template without the named scanners' sections of every resource's `Metadata`.
fn without_metadata(template: &Value, sections: &[&str]) -> Value {
    let mut t = template.clone();
    for resource in t["Resources"]
        .as_object_mut()
        .expect("resources")
        .values_mut()
    {
        if let Some(metadata) = resource.get_mut("Metadata").and_then(Value::as_object_mut) {
            for section in sections {
                metadata.remove(*section);
            }
        }
    }
    t
}

/// (rule, resource) of every `Metadata.guard.SuppressedRules` entry, each with its reason.
fn suppressions(template: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (id, resource) in template["Resources"].as_object().expect("resources") {
        let guard = &resource["Metadata"]["guard"];
        for rule in guard["SuppressedRules"].as_array().into_iter().flatten() {
            let rule = rule.as_str().expect("a rule name");
            let reason = guard["Reasons"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| r["rule"] == rule)
                .and_then(|r| r["reason"].as_str())
                .unwrap_or_else(|| panic!("{id}: {rule} suppressed without a reason"));
            // Typed by FSBP standing, one sentence, as the checkov waivers.
            let (standing, sentence) = reason.split_once(": ").unwrap_or(("", ""));
            assert!(
                (standing == "no FSBP control" || standing.contains('.'))
                    && !sentence.is_empty()
                    && !sentence.ends_with('.')
                    && !sentence.contains(". "),
                "{id}: {rule}: {reason}"
            );
            out.insert((rule.to_owned(), id.clone()));
        }
    }
    out
}

#[test]
fn every_registry_finding_is_suppressed_with_its_reason_and_no_suppression_is_stale() {
    let t = committed();
    let report = run(Suite::Registry, &t);
    let (_, open) = report.explained(&t, &[]);
    assert!(open.is_empty(), "{report}");
    // The one rule that ignores its own suppression (see `SuiteReport::explained`); any other
    // failure is a finding to fix or suppress.
    let ignored: Vec<&str> = report.failures().iter().map(|o| o.rule.as_str()).collect();
    assert_eq!(ignored, ["CFN_NO_EXPLICIT_RESOURCE_NAMES"], "{report}");
    // The guard suppressions alone explain every finding: not the cfn_nag IDs, which the registry
    // honours too but which nothing here verifies.
    let stripped = without_metadata(&t, &["cfn_nag"]);
    let guard_only = run(Suite::Registry, &stripped);
    assert!(
        guard_only.explained(&stripped, &[]).1.is_empty(),
        "{guard_only}"
    );
    // And each suppression hides a finding that exists.
    let suppressed = suppressions(&t);
    let bare = run(
        Suite::Registry,
        &without_metadata(&t, &["cfn_nag", "guard"]),
    );
    let found: BTreeSet<&str> = bare.failures().iter().map(|o| o.rule.as_str()).collect();
    let named: BTreeSet<&str> = suppressed.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(
        found, named,
        "suppressed rules against the findings they hide"
    );
    for o in bare.failures() {
        for resource in &o.resources {
            assert!(
                suppressed.contains(&(o.rule.clone(), resource.clone())),
                "{} on {resource} is not suppressed there",
                o.rule
            );
        }
    }
    for (rule, resource) in &suppressed {
        let hidden = bare
            .failures()
            .iter()
            .any(|o| &o.rule == rule && (o.resources.is_empty() || o.resources.contains(resource)));
        assert!(
            hidden,
            "{resource} suppresses {rule}, which does not fail there"
        );
    }
}

#[test]
fn every_control_tower_failure_has_its_row_and_every_row_holds() {
    let t = committed();
    let report = run(Suite::ControlTower, &t);
    let rows = published::explanations().expect("docs/governed-account.md");
    let failed: BTreeSet<String> = report
        .failures()
        .iter()
        .map(|o| o.control.clone())
        .collect();
    let unfixed: BTreeSet<String> = rows
        .iter()
        .filter(|e| e.standing != Standing::Fixed)
        .map(|e| e.control.clone())
        .collect();
    assert_eq!(failed, unfixed, "failing controls against the table's rows");
    for row in &rows {
        let outcome = report
            .control(&row.control)
            .unwrap_or_else(|| panic!("{} is no control of the package", row.control));
        if row.standing == Standing::Fixed {
            assert_eq!(outcome.status, Status::Pass, "{}", row.control);
        }
    }
    // The intrinsics rows: the same template, resolved as CloudFormation hands it to a hook.
    let resolved = published::resolve(&t, &[]).expect("the defaults resolve");
    let failing_resolved = failing(Suite::ControlTower, &resolved);
    for row in rows.iter().filter(|e| e.standing == Standing::Intrinsics) {
        assert!(
            !failing_resolved.contains(&row.control),
            "{} fails the resolved template",
            row.control
        );
    }
}

/// Each weakening of a fixed property fails exactly its control, and only on the committed
/// template's resource it was made on.
fn mutated(change: impl FnOnce(&mut Value)) -> BTreeSet<String> {
    // The committed template's failures, computed once for every mutation (each run is seconds).
    static BEFORE: OnceLock<BTreeSet<String>> = OnceLock::new();
    let t = committed();
    let before = BEFORE.get_or_init(|| failing(Suite::ControlTower, &t));
    let mut m = t.clone();
    change(&mut m);
    let report = run(Suite::ControlTower, &m);
    let newly: BTreeSet<String> = report
        .failures()
        .iter()
        .map(|o| o.control.clone())
        .filter(|c| !before.contains(c))
        .collect();
    // A fixed row explains nothing: `cargo xtask check` fails on the weakened template.
    let rows = published::explanations().expect("docs/governed-account.md");
    let (_, open) = report.explained(&m, &rows);
    let open: BTreeSet<String> = open.iter().map(|o| o.control.clone()).collect();
    assert_eq!(open, newly, "unexplained after the mutation");
    newly
}

fn props<'t>(t: &'t mut Value, id: &str) -> &'t mut Value {
    &mut t["Resources"][id]["Properties"]
}

fn only(control: &str) -> BTreeSet<String> {
    BTreeSet::from([control.to_owned()])
}

#[test]
fn mutation_rdp_back_in_the_public_nacl_fails_ct_ec2_pr_5() {
    let newly = mutated(|t| props(t, "PublicNaclInEphemeral")["PortRange"]["To"] = 65535.into());
    assert_eq!(newly, only("CT.EC2.PR.5"));
}

#[test]
fn mutation_rdp_back_in_the_private_nacl_fails_ct_ec2_pr_5() {
    let newly = mutated(|t| props(t, "PrivateNaclInEphemeral")["PortRange"]["From"] = 1024.into());
    assert_eq!(newly, only("CT.EC2.PR.5"));
}

#[test]
fn mutation_objects_as_fn_sub_fails_ct_s3_pr_8() {
    let newly = mutated(|t| {
        props(t, "ArtifactBucketPolicy")["PolicyDocument"]["Statement"][0]["Resource"][1] =
            json!({"Fn::Sub": "${ArtifactBucket.Arn}/*"});
    });
    assert_eq!(newly, only("CT.S3.PR.8"));
}

#[test]
fn mutation_secure_transport_as_the_boolean_fails_ct_s3_pr_8() {
    let newly = mutated(|t| {
        props(t, "LogBucketPolicy")["PolicyDocument"]["Statement"][0]["Condition"] =
            json!({"Bool": {"aws:SecureTransport": false}});
    });
    assert_eq!(newly, only("CT.S3.PR.8"));
}

#[test]
fn mutation_an_auto_scaling_group_without_its_zones_fails_ct_autoscaling_pr_1() {
    let newly = mutated(|t| {
        props(t, "AutoScalingGroupV1")
            .as_object_mut()
            .expect("properties")
            .remove("AvailabilityZones");
    });
    assert_eq!(newly, only("CT.AUTOSCALING.PR.1"));
}

#[test]
fn mutation_basic_monitoring_fails_ct_ec2_pr_10() {
    let newly = mutated(|t| {
        props(t, "LaunchTemplateV2")["LaunchTemplateData"]["Monitoring"]["Enabled"] = false.into();
    });
    assert_eq!(newly, only("CT.EC2.PR.10"));
}

#[test]
fn mutation_a_suppression_removed_fails_exactly_its_registry_rule() {
    let t = committed();
    let before = failing(Suite::Registry, &t);
    let mut m = t.clone();
    m["Resources"]["BackendSecurityGroup"]
        .as_object_mut()
        .expect("resource")
        .remove("Metadata");
    let report = run(Suite::Registry, &m);
    let newly: Vec<(&str, &[String])> = report
        .failures()
        .iter()
        .filter(|o| !before.contains(&o.control))
        .map(|o| (o.rule.as_str(), o.resources.as_slice()))
        .collect();
    assert_eq!(
        newly,
        [(
            "EC2_SECURITY_GROUP_EGRESS_OPEN_TO_WORLD_RULE",
            &["BackendSecurityGroup".to_owned()][..]
        )]
    );
    assert!(!report.explained(&m, &[]).1.is_empty(), "{report}");
}
