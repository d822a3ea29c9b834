//! Every guard rule file's own unit tests (`guard/<file>_tests.yaml`, cfn-guard's format) run through the
//! cfn-guard library, and every rule is covered by PASS, FAIL and SKIP cases.

use cfn_guard::CommandBuilder;
use cfn_guard::commands::Executable;
use cfn_guard::utils::reader::{ReadBuffer, Reader};
use cfn_guard::utils::writer::{WriteBuffer, Writer};
use std::path::{Path, PathBuf};

fn guard_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../guard")
}

fn rule_names(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("rule "))
        .map(|l| l.split_whitespace().next().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn every_rule_file_passes_its_unit_tests() {
    for file in policy::guard::RULE_FILES {
        let rules = guard_dir().join(file.name);
        let tests = guard_dir().join(file.name.replace(".guard", "_tests.yaml"));
        assert!(
            tests.exists(),
            "{} has no unit tests at {}",
            file.name,
            tests.display()
        );
        let cmd = cfn_guard::TestBuilder::default()
            .rules(Some(rules.display().to_string()))
            .test_data(Some(tests.display().to_string()))
            .try_build()
            .expect("a valid test command");
        let mut out =
            Writer::new_with_err(WriteBuffer::Vec(Vec::new()), WriteBuffer::Vec(Vec::new()))
                .expect("writer");
        let mut input = Reader::new(ReadBuffer::Cursor(std::io::Cursor::new(Vec::new())));
        let code = cmd
            .execute(&mut out, &mut input)
            .expect("cfn-guard test runs");
        let text = out.into_string().unwrap_or_default();
        // 0: every expectation met; 7: some expectation wrong; anything else: the rules did not parse.
        assert_eq!(code, 0, "{} unit tests failed:\n{text}", file.name);
        assert!(
            text.contains("PASS Rules"),
            "{}: no test case ran:\n{text}",
            file.name
        );
    }
}

#[test]
fn every_rule_is_tested_for_pass_fail_and_skip_starting_with_an_empty_template() {
    for file in policy::guard::RULE_FILES {
        let tests =
            std::fs::read_to_string(guard_dir().join(file.name.replace(".guard", "_tests.yaml")))
                .expect("tests file");
        let first_case = tests.split("\n- name:").next().unwrap_or_default();
        assert!(
            first_case.contains("input: {}"),
            "{}: the first case must be the empty template",
            file.name
        );
        for rule in rule_names(file.text) {
            assert!(
                first_case.contains(&format!("{rule}: SKIP")),
                "{}: empty template must SKIP {rule}",
                file.name
            );
            for status in ["PASS", "FAIL"] {
                assert!(
                    tests.contains(&format!("{rule}: {status}")),
                    "{}: no {status} case for {rule}",
                    file.name
                );
            }
        }
    }
}

#[test]
fn every_rule_file_states_intent_and_outcomes_and_every_clause_says_violation_and_fix() {
    for file in policy::guard::RULE_FILES {
        assert!(
            file.text.starts_with('#'),
            "{}: starts with a header comment",
            file.name
        );
        for word in ["Intent:", "PASS", "FAIL", "SKIP"] {
            assert!(
                file.text.contains(word),
                "{}: the header must mention {word}",
                file.name
            );
        }
        for message in file.text.split("<<").skip(1) {
            let message = message.split(">>").next().unwrap_or_default();
            assert!(
                message.contains("Violation:") && message.contains("Fix:"),
                "{}: message without Violation/Fix: {message}",
                file.name
            );
        }
        assert!(
            !rule_names(file.text).is_empty(),
            "{}: declares no rule",
            file.name
        );
    }
}

#[test]
fn every_guard_file_in_the_folder_is_compiled_into_the_crate() {
    let mut on_disk: Vec<String> = std::fs::read_dir(guard_dir())
        .expect("guard/ exists")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".guard"))
        .collect();
    on_disk.sort();
    let embedded: Vec<String> = policy::guard::RULE_FILES
        .iter()
        .map(|f| f.name.to_owned())
        .collect();
    assert_eq!(on_disk, embedded);
}
