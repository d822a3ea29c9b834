//! The real linters on a fresh synth: zero errors and zero warnings.

use std::path::PathBuf;
use std::process::Command;

use alb_canary_tests::tool;

/// A fresh synth written to its own temporary file (the committed copy is checked for
/// staleness by xtask's test; this checks what the generator produces now).
fn fresh_template(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alb-canary-stack-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("alb-canary.json");
    let text = stack::synthesize(&stack::Options::default())
        .render()
        .unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn cfn_lint_finds_nothing() {
    let path = fresh_template("cfn-lint");
    let output = Command::new(tool("cfn-lint"))
        .arg(&path)
        .output()
        .expect("cfn-lint runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.trim().is_empty() && stderr.trim().is_empty(),
        "cfn-lint: {}\n{stdout}\n{stderr}",
        output.status
    );
}

#[test]
fn cfn_lint_still_reports_a_broken_template() {
    // The lint test above proves something only if cfn-lint reads our files at all.
    let path = fresh_template("broken");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("\"HTTP_301\"", "\"HTTP_999\"")).unwrap();
    let output = Command::new(tool("cfn-lint")).arg(&path).output().unwrap();
    assert!(
        !output.status.success(),
        "cfn-lint accepted an invalid redirect status code"
    );
}

#[test]
fn sam_validate_lint_accepts_the_template() {
    let path = fresh_template("sam");
    let output = Command::new(tool("sam"))
        .env("SAM_CLI_TELEMETRY", "0")
        .args([
            "validate",
            "--lint",
            "--region",
            "us-east-1",
            "--template-file",
        ])
        .arg(&path)
        .output()
        .expect("sam runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("is a valid SAM Template"),
        "sam validate --lint: {}\n{stdout}\n{stderr}",
        output.status
    );
}
