//! `check_dir` is what `cargo xtask check` runs: on the committed templates it passes; on a broken copy it
//! reports failures that name the resource, the rule and the fix; with no template it says what to run.

use std::path::{Path, PathBuf};

fn templates() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates")
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("policy-check-dir-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn the_committed_templates_are_safe_to_deploy() {
    let reports = policy::check_dir(&templates()).expect("the check runs");
    assert!(reports.iter().any(|(p, _)| p.ends_with("alb-canary.json")));
    for (path, report) in &reports {
        assert!(report.passed(), "{}:\n{report}", path.display());
        assert!(!report.flows.is_empty() && !report.rules.is_empty());
        // The long form names every hop of both legs with the rule that let it through.
        let paths = report.flow_paths();
        assert!(
            paths.contains("[reply] network ACL inbound PublicNacl: allowed by rule"),
            "{paths}"
        );
        assert!(paths.contains("[request] route table PrivateRouteTable1: allowed by route PrivateDefaultRoute1 → NAT gateway"), "{paths}");
    }
}

#[test]
fn a_broken_template_fails_with_resource_rule_and_fix() {
    let text = std::fs::read_to_string(templates().join("alb-canary.json")).expect("template");
    let mut template: serde_json::Value = serde_json::from_str(&text).expect("json");
    template["Resources"]["LaunchTemplateV1"]["Properties"]["LaunchTemplateData"]["MetadataOptions"]
        ["HttpTokens"] = "optional".into();
    template["Resources"]
        .as_object_mut()
        .expect("resources")
        .remove("PrivateNaclOutHttps");
    let dir = scratch_dir("broken");
    std::fs::write(dir.join("broken.json"), template.to_string()).expect("write");
    let reports = policy::check_dir(&dir).expect("the check runs");
    let (_, report) = &reports[0];
    assert!(!report.passed());
    let text = report.to_string();
    assert!(
        text.contains(
            "LaunchTemplateV1 — rule compute.guard/launch_template_imdsv2_required: Violation:"
        ),
        "{text}"
    );
    assert!(
        text.contains("Fix: set LaunchTemplateData.MetadataOptions.HttpTokens to 'required'"),
        "{text}"
    );
    // Without 443 out of the private NACL, package installs and S3 downloads stop; the failure names the NACL.
    assert!(
        text.contains(
            "PrivateNacl — rule flow: AutoScalingGroupV1 → S3 :443 through the gateway endpoint"
        ),
        "{text}"
    );
    assert!(text.contains("result: "), "{text}");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn an_empty_folder_says_to_synthesize_first() {
    let dir = scratch_dir("empty");
    let err = policy::check_dir(&dir).expect_err("no template");
    assert!(err.to_string().contains("cargo xtask synth"), "{err}");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn a_template_that_is_not_json_is_named() {
    let dir = scratch_dir("notjson");
    std::fs::write(dir.join("bad.json"), "Resources: {}").expect("write");
    let err = policy::check_dir(&dir).expect_err("not json");
    assert!(err.to_string().contains("bad.json"), "{err}");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
