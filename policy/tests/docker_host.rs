//! Mutation tests of `guard/docker_host.guard` on the committed template: the Docker host's user data
//! passes every rule, and losing any one hardening line (or adding a forbidden one) fails exactly the
//! rule that guards it, naming the Docker host's launch template and the fix.

use policy::guard::{self, RuleOutcome, Status};
use serde_json::{Value, json};
use std::path::Path;

const HOST: &str = "LaunchTemplateDockerHost";

fn committed() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates/alb-canary.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} — run `cargo xtask synth`", path.display()));
    serde_json::from_str(&text).expect("the template is JSON")
}

fn user_data(t: &mut Value) -> &mut Value {
    t.pointer_mut(&format!(
        "/Resources/{HOST}/Properties/LaunchTemplateData/UserData/Fn::Base64/Fn::Sub"
    ))
    .expect("the Docker host's user data is Fn::Base64 of an Fn::Sub string")
}

fn docker_host_rules(outcomes: &[RuleOutcome]) -> Vec<&RuleOutcome> {
    outcomes
        .iter()
        .filter(|o| o.file == "docker_host.guard")
        .collect()
}

/// Rewrites the Docker host's user data with `edit` (which must change it) and evaluates the rules.
fn mutated(edit: impl Fn(&str) -> String) -> Vec<RuleOutcome> {
    let mut t = committed();
    let data = user_data(&mut t);
    let before = data.as_str().unwrap().to_owned();
    let after = edit(&before);
    assert_ne!(before, after, "the mutation must change the user data");
    *data = json!(after);
    guard::evaluate(&t).expect("the rules run")
}

fn without_line(line: &'static str) -> impl Fn(&str) -> String {
    move |script: &str| {
        let kept: Vec<&str> = script.lines().filter(|l| l.trim() != line).collect();
        kept.join("\n") + "\n"
    }
}

fn assert_only_failure(outcomes: &[RuleOutcome], rule: &str, mutation: &str) {
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.status == Status::Fail)
        .map(|o| o.rule.as_str())
        .collect();
    assert_eq!(failed, [rule], "{mutation}");
    let outcome = outcomes.iter().find(|o| o.rule == rule).unwrap();
    for v in &outcome.violations {
        assert_eq!(v.resource, HOST, "{mutation}: {v:?}");
        assert!(
            v.message.contains("Violation:") && v.message.contains("Fix:"),
            "{v:?}"
        );
    }
    assert!(!outcome.violations.is_empty(), "{mutation}");
}

#[test]
fn the_committed_docker_host_passes_every_rule_rather_than_skipping() {
    let outcomes = guard::evaluate(&committed()).expect("the rules run");
    let rules = docker_host_rules(&outcomes);
    assert_eq!(rules.len(), 6);
    for outcome in rules {
        assert_eq!(outcome.status, Status::Pass, "{}", outcome.rule);
    }
}

#[test]
fn losing_any_hardening_line_fails_the_rule_that_guards_it() {
    let cases: &[(&str, &str)] = &[
        (
            "systemctl mask podman.socket",
            "docker_host_rootless_engine",
        ),
        (
            "systemctl --global mask podman.socket",
            "docker_host_rootless_engine",
        ),
        (
            "loginctl enable-linger recommender",
            "docker_host_rootless_engine",
        ),
        (
            "|| useradd --system --create-home --home-dir /var/lib/recommender --shell /usr/sbin/nologin recommender",
            "docker_host_rootless_engine",
        ),
        (
            "net.ipv4.ip_unprivileged_port_start = 80",
            "docker_host_port_80_only",
        ),
        ("ReadOnly=true", "docker_host_container_hardened"),
        ("ReadOnlyTmpfs=false", "docker_host_container_hardened"),
        ("DropCapability=all", "docker_host_container_hardened"),
        ("NoNewPrivileges=true", "docker_host_container_hardened"),
        ("User=10001", "docker_host_container_hardened"),
        ("Group=10001", "docker_host_container_hardened"),
        ("PidsLimit=64", "docker_host_container_hardened"),
        ("PodmanArgs=--memory=256m", "docker_host_container_hardened"),
        (
            "PodmanArgs=--memory-swap=256m",
            "docker_host_container_hardened",
        ),
        ("PodmanArgs=--cpus=1", "docker_host_container_hardened"),
        (
            "PodmanArgs=--ulimit=nofile=16384:16384",
            "docker_host_container_hardened",
        ),
        (
            "PodmanArgs=--ulimit=nproc=4096:4096",
            "docker_host_container_hardened",
        ),
        ("Pull=never", "docker_host_container_hardened"),
        ("Network=slirp4netns", "docker_host_container_hardened"),
        ("PublishPort=80:8000", "docker_host_container_hardened"),
        ("Restart=on-failure", "docker_host_restart_and_health"),
        ("StartLimitBurst=5", "docker_host_restart_and_health"),
        (
            "PodmanArgs=--stop-timeout=15",
            "docker_host_restart_and_health",
        ),
        (
            r#"HealthCmd=["/recommender","--health-check","--port","8000"]"#,
            "docker_host_restart_and_health",
        ),
        ("HealthOnFailure=kill", "docker_host_restart_and_health"),
        ("LogDriver=journald", "docker_host_logs_and_audit"),
        ("SystemMaxUse=512M", "docker_host_logs_and_audit"),
        ("MaxRetentionSec=14day", "docker_host_logs_and_audit"),
        (
            "-w /usr/bin/podman -p x -k container-engine",
            "docker_host_logs_and_audit",
        ),
        ("augenrules --load", "docker_host_logs_and_audit"),
        (
            r#"meta skuid "recommender" ct state new counter drop"#,
            "docker_host_no_egress",
        ),
    ];
    for (line, rule) in cases {
        assert_only_failure(
            &docker_host_rules(&mutated(without_line(line)))
                .into_iter()
                .cloned()
                .collect::<Vec<_>>(),
            rule,
            &format!("without `{line}`"),
        );
    }
}

#[test]
fn weakening_a_value_or_adding_a_forbidden_line_fails_the_rule_that_guards_it() {
    let cases: &[(&str, &str, &str)] = &[
        ("User=10001", "User=0", "docker_host_container_hardened"),
        (
            "ReadOnly=true",
            "ReadOnly=false",
            "docker_host_container_hardened",
        ),
        (
            "DropCapability=all",
            "DropCapability=all\nAddCapability=CAP_SYS_ADMIN",
            "docker_host_container_hardened",
        ),
        (
            "PidsLimit=64",
            "PidsLimit=64\nPodmanArgs=--privileged",
            "docker_host_container_hardened",
        ),
        (
            "PidsLimit=64",
            "PidsLimit=64\nVolume=/:/host",
            "docker_host_container_hardened",
        ),
        (
            "PidsLimit=64",
            "PidsLimit=64\nPodmanArgs=--pid=host",
            "docker_host_container_hardened",
        ),
        (
            "PublishPort=80:8000",
            "PublishPort=80:8000\nNetwork=host",
            "docker_host_container_hardened",
        ),
        (
            "StartLimitBurst=5",
            "StartLimitBurst=50",
            "docker_host_restart_and_health",
        ),
        (
            "LogDriver=journald",
            "LogDriver=k8s-file",
            "docker_host_logs_and_audit",
        ),
        (
            "net.ipv4.ip_unprivileged_port_start = 80",
            "net.ipv4.ip_unprivileged_port_start = 80\nnet.ipv4.ip_unprivileged_port_start = 0",
            "docker_host_port_80_only",
        ),
        (
            "systemctl mask podman.socket",
            "systemctl mask podman.socket\napt-get install -y docker.io",
            "docker_host_rootless_engine",
        ),
    ];
    // The user data holds the unit twice (with and without the target signal's proxy): each
    // occurrence weakened alone must fail, whatever the other still says.
    let script = user_data(&mut committed()).as_str().unwrap().to_owned();
    for (from, to, rule) in cases {
        let occurrences = script.matches(from).count();
        assert!(occurrences > 0, "`{from}` is in the user data");
        for nth in 0..occurrences {
            let outcomes = mutated(|script| replace_nth(script, from, to, nth));
            assert_only_failure(
                &docker_host_rules(&outcomes)
                    .into_iter()
                    .cloned()
                    .collect::<Vec<_>>(),
                rule,
                &format!(
                    "`{from}` → `{to}` (occurrence {} of {occurrences})",
                    nth + 1
                ),
            );
        }
    }
}

/// `script` with its `nth` occurrence (from 0) of `from` replaced by `to`.
fn replace_nth(script: &str, from: &str, to: &str, nth: usize) -> String {
    let (at, _) = script
        .match_indices(from)
        .nth(nth)
        .expect("the occurrence exists");
    format!("{}{to}{}", &script[..at], &script[at + from.len()..])
}
