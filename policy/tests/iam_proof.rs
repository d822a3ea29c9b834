//! The offline IAM proof on the committed template: every call the emulator tests recorded is
//! allowed for its principal, every call outside a principal's job is denied; and a widened or a
//! narrowed policy is caught.

use policy::iam::{Case, Expect, committed_cases, prove};
use serde_json::{Value, json};
use std::path::Path;

fn committed() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates/alb-canary.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} — run `cargo xtask synth`", path.display()));
    serde_json::from_str(&text).expect("the template is JSON")
}

/// The statements of a role's inline policies.
fn statements<'t>(t: &'t mut Value, role: &str) -> &'t mut Vec<Value> {
    t.pointer_mut(&format!(
        "/Resources/{role}/Properties/Policies/0/PolicyDocument/Statement"
    ))
    .and_then(Value::as_array_mut)
    .unwrap_or_else(|| panic!("{role} has no inline statements"))
}

#[test]
fn every_recorded_call_is_allowed_and_every_out_of_role_call_denied() {
    let cases = committed_cases().unwrap();
    for principal in [
        "PromotionFunctionRole",
        "RollbackFunctionRole",
        "CanaryOperatorPolicy",
    ] {
        for expect in [Expect::Allowed, Expect::Denied] {
            assert!(
                cases
                    .iter()
                    .any(|c| c.principal == principal && c.expect == expect),
                "no {expect:?} case for {principal}"
            );
        }
    }
    let report = prove(&committed(), &cases).unwrap();
    assert!(report.passed(), "{report}");
    assert_eq!(report.verdicts.len(), cases.len());
}

#[test]
fn modify_listener_on_every_listener_lets_an_out_of_role_call_through() {
    let mut t = committed();
    for statement in statements(&mut t, "PromotionFunctionRole") {
        if statement["Action"] == json!(["elasticloadbalancing:ModifyListener"]) {
            statement["Resource"] = json!(["*"]);
        }
    }
    let report = prove(&t, &committed_cases().unwrap()).unwrap();
    let failed: Vec<(&str, &str, Option<&str>)> = report
        .failures()
        .iter()
        .map(|v| {
            (
                v.case.principal.as_str(),
                v.case.action.as_str(),
                v.case.why.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        failed,
        vec![(
            "PromotionFunctionRole",
            "elasticloadbalancing:ModifyListener",
            Some("another listener")
        )],
        "{report}"
    );
}

#[test]
fn a_role_without_a_grant_its_function_uses_denies_the_recorded_call() {
    let mut t = committed();
    for statement in statements(&mut t, "RollbackFunctionRole") {
        if let Some(actions) = statement["Action"].as_array_mut() {
            actions.retain(|a| a != "dynamodb:UpdateItem" && a != "dynamodb:PutItem");
        }
    }
    let report = prove(&t, &committed_cases().unwrap()).unwrap();
    let failures = report.failures();
    assert!(!failures.is_empty(), "{report}");
    for v in failures {
        assert_eq!(v.case.principal, "RollbackFunctionRole", "{report}");
        assert_eq!(v.case.expect, Expect::Allowed);
        assert!(v.case.action.starts_with("dynamodb:"));
        assert!(v.decision.ends_with("Denied"), "{}", v.decision);
    }
}

#[test]
fn a_call_the_recorder_could_not_name_fails_closed() {
    let case = Case {
        principal: "PromotionFunctionRole".into(),
        action: "unrecorded".into(),
        resource: json!("ec2:DescribeInstances"),
        context: Default::default(),
        expect: Expect::Allowed,
        why: None,
    };
    let report = prove(&committed(), &[case]).unwrap();
    assert!(!report.passed());
    assert!(report.verdicts[0].decision.starts_with("Error"), "{report}");
}
