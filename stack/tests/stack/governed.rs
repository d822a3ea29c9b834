//! The governed-account profile (`stack::GOVERNED_ACCOUNT`): the template synthesized and resolved
//! with it, as CloudFormation hands each resource to a Control Tower hook, passes every control
//! that `docs/governed-account.md` does not call incompatible by design, and fails those.

use policy::published::{self, Standing, Status, Suite};
use serde_json::Value;
use std::collections::BTreeSet;

fn failing_under(profile: &[(&str, &str)]) -> BTreeSet<String> {
    let template = stack::synthesize(&stack::Options::default()).to_json();
    let resolved = published::resolve(&template, profile).expect("the profile resolves");
    let report = published::run(Suite::ControlTower, &resolved).expect("the controls run");
    assert!(
        report.outcomes.iter().any(|o| o.status == Status::Pass),
        "{report}"
    );
    report
        .failures()
        .iter()
        .map(|o| o.control.clone())
        .collect()
}

fn by_design() -> BTreeSet<String> {
    published::explanations()
        .expect("docs/governed-account.md")
        .into_iter()
        .filter(|e| e.standing == Standing::ByDesign)
        .map(|e| e.control)
        .collect()
}

#[test]
fn the_profile_fails_only_the_controls_incompatible_by_design() {
    let by_design = by_design();
    assert!(!by_design.is_empty());
    assert_eq!(failing_under(stack::GOVERNED_ACCOUNT), by_design);
}

/// Every value of the profile is needed: without it exactly the control it is for fails again.
#[test]
fn each_profile_value_is_what_meets_its_controls() {
    let rows = published::explanations().expect("docs/governed-account.md");
    let by_design = by_design();
    for (name, _) in stack::GOVERNED_ACCOUNT {
        let without: Vec<(&str, &str)> = stack::GOVERNED_ACCOUNT
            .iter()
            .filter(|(n, _)| n != name)
            .copied()
            .collect();
        let expected: BTreeSet<String> = rows
            .iter()
            .filter(
                |e| matches!(&e.standing, Standing::Parameter(p) if p.iter().any(|p| p == name)),
            )
            .map(|e| e.control.clone())
            .collect();
        // AlbAccessLogs=enabled is the default: leaving it out changes nothing, and it is in the
        // profile so that an account's override file states it.
        let newly: BTreeSet<String> = failing_under(&without)
            .difference(&by_design)
            .cloned()
            .collect();
        assert_eq!(newly, expected, "without {name}");
    }
    // A value that weakens a control: access logs off fails CT.ELASTICLOADBALANCING.PR.6 alone.
    let mut off: Vec<(&str, &str)> = stack::GOVERNED_ACCOUNT.to_vec();
    off.retain(|(n, _)| *n != "AlbAccessLogs");
    off.push(("AlbAccessLogs", "disabled"));
    let newly: BTreeSet<String> = failing_under(&off)
        .difference(&by_design)
        .cloned()
        .collect();
    assert_eq!(
        newly,
        BTreeSet::from(["CT.ELASTICLOADBALANCING.PR.6".to_owned()])
    );
}

/// The profile is a valid set of overrides of the template's own parameters.
#[test]
fn the_profile_names_declared_parameters_with_allowed_values() {
    let template = stack::synthesize(&stack::Options::default()).to_json();
    for (name, value) in stack::GOVERNED_ACCOUNT {
        let declared: &Value = &template["Parameters"][name];
        assert!(declared.is_object(), "{name} is not a parameter");
        if let Some(allowed) = declared["AllowedValues"].as_array() {
            assert!(allowed.iter().any(|a| a == value), "{name}={value}");
        }
    }
}
