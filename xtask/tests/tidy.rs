//! The codebase's shape, checked on every `cargo test`: no `#[path]` includes (shared test code is a
//! crate), no module-wide `allow(dead_code)` (unused code is deleted, not silenced), every Rust
//! source file under 600 lines (a longer one holds more than one responsibility: split it), and
//! the stack's builders in small functions: none over 80 lines (one function per resource group).

use std::fs;
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 600;
/// The longest function the stack's builders (`stack/src/`, tests apart) may have.
const MAX_BUILDER_LINES: usize = 80;
const BUILDERS: &str = "stack/src/";

/// Directories never scanned: build output (`build/` holds the boot rehearsal's Debian root file
/// system), tool installs, VCS data. Symbolic links are never followed either: a root file system's
/// absolute links lead into the host's `/proc`, where the walk never ends.
const SKIPPED_DIRS: &[&str] = &[
    "target",
    "build",
    "node_modules",
    ".git",
    ".venv",
    ".venv-scan",
    ".venv-peers",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    PathAttribute,
    AllowDeadCode,
    TooLong,
    LongFunction,
}

/// Known violations, each as (file, rule, who removes it and why it is still here). An entry that
/// no longer violates fails the test too, so the list only shrinks; it is empty now: keep it so.
const ALLOWED: &[(&str, Rule, &str)] = &[];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace root")
        .to_path_buf()
}

fn rust_sources(dir: &Path, found: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display()));
    for entry in entries {
        let entry = entry.expect("a directory entry");
        let kind = entry.file_type().expect("a directory entry's type");
        let path = entry.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if kind.is_symlink() {
            continue;
        }
        if kind.is_dir() {
            if !SKIPPED_DIRS.contains(&name) {
                rust_sources(&path, found);
            }
        } else if name.ends_with(".rs") {
            found.push(path);
        }
    }
}

/// The rules `text` breaks. The needles are split so that this file does not match itself.
fn violations(text: &str) -> Vec<(Rule, String)> {
    let path_attribute = concat!("#[", "path");
    let inner_attributes = [concat!("#![", "allow("), concat!("#![", "expect(")];
    let mut found = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with(path_attribute) {
            found.push((Rule::PathAttribute, format!("line {}: {code}", number + 1)));
        }
        if inner_attributes.iter().any(|a| code.starts_with(a)) && code.contains("dead_code") {
            found.push((Rule::AllowDeadCode, format!("line {}: {code}", number + 1)));
        }
    }
    let lines = text.lines().count();
    if lines >= MAX_LINES {
        found.push((Rule::TooLong, format!("{lines} lines (limit {MAX_LINES})")));
    }
    found
}

/// The functions of `text` longer than `limit` lines, up to its tests (`#[cfg(test)]`): a function
/// runs from its `fn` line to the first closing brace at the same indentation.
fn long_functions(text: &str, limit: usize) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let end = lines
        .iter()
        .position(|line| line.trim() == "#[cfg(test)]")
        .unwrap_or(lines.len());
    let mut found = Vec::new();
    for (start, line) in lines[..end].iter().enumerate() {
        let code = line.trim_start();
        let indent = line.len() - code.len();
        let signature = ["pub ", "pub(crate) ", "pub(super) ", "const ", "async "]
            .iter()
            .fold(code, |rest, prefix| {
                rest.strip_prefix(prefix).unwrap_or(rest)
            });
        let Some(name) = signature.strip_prefix("fn ") else {
            continue;
        };
        if code.ends_with('}') || code.ends_with(';') {
            continue;
        }
        let closing = format!("{}}}", " ".repeat(indent));
        let Some(length) = lines[start + 1..end]
            .iter()
            .position(|l| l.starts_with(&closing) && l.len() - l.trim_start().len() == indent)
        else {
            continue;
        };
        let length = length + 2;
        if length > limit {
            let name: String = name
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.push(format!(
                "fn {name} at line {}: {length} lines (limit {limit})",
                start + 1
            ));
        }
    }
    found
}

/// What the scan `found` (file, rule, detail) leaves to fix given the `allowed` exceptions: every
/// violation not allowed, and every allowed entry that no longer violates.
fn problems(found: &[(String, Rule, String)], allowed: &[(&str, Rule, &str)]) -> Vec<String> {
    let mut problems: Vec<String> = found
        .iter()
        .filter(|(file, rule, _)| !allowed.iter().any(|(f, r, _)| f == file && r == rule))
        .map(|(file, rule, detail)| format!("{file}: {rule:?}: {detail}"))
        .collect();
    for (file, rule, _) in allowed {
        if !found.iter().any(|(f, r, _)| f == file && r == rule) {
            problems.push(format!(
                "{file}: {rule:?} is allowed in tidy.rs but no longer found: remove the entry"
            ));
        }
    }
    problems
}

#[test]
fn no_path_includes_no_dead_code_allowances_no_long_files() {
    let root = workspace_root();
    let mut files = Vec::new();
    rust_sources(&root, &mut files);
    files.sort();
    assert!(
        files.len() > 100,
        "the scan found only {} Rust files under {}",
        files.len(),
        root.display()
    );
    let mut found = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&root).expect("under the root");
        let relative = relative.to_string_lossy().replace('\\', "/");
        let text = fs::read_to_string(file).unwrap_or_else(|err| panic!("{relative}: {err}"));
        for (rule, detail) in violations(&text) {
            found.push((relative.clone(), rule, detail));
        }
        if relative.starts_with(BUILDERS) {
            for detail in long_functions(&text, MAX_BUILDER_LINES) {
                found.push((relative.clone(), Rule::LongFunction, detail));
            }
        }
    }
    let problems = problems(&found, ALLOWED);
    assert!(
        problems.is_empty(),
        "tidy: {} problem(s)\n  {}\n(no #[path] includes: share test code through the `alb-canary-tests` \
         crate; delete unused code instead of allowing it; split files of {MAX_LINES}+ lines by responsibility; \
         split the stack's builders into functions of at most {MAX_BUILDER_LINES} lines, one per resource group)",
        problems.len(),
        problems.join("\n  ")
    );
}

#[test]
fn each_rule_catches_what_it_names() {
    let long = "fn f() {}\n".repeat(MAX_LINES);
    let path_include = format!("{}\nmod support;\n", concat!("#[", "path = \"../x.rs\"]"));
    let allowance = format!("{}\n", concat!("#![", "allow(unused, dead_code)]"));
    let rules =
        |text: &str| -> Vec<Rule> { violations(text).into_iter().map(|(r, _)| r).collect() };
    assert_eq!(rules(&path_include), [Rule::PathAttribute]);
    assert_eq!(rules(&allowance), [Rule::AllowDeadCode]);
    assert_eq!(rules(&long), [Rule::TooLong]);
    assert_eq!(rules(&"fn f() {}\n".repeat(MAX_LINES - 1)), []);
    // An item-level allowance is a reasoned exception next to its item, not a blanket one.
    assert_eq!(rules("#[allow(dead_code)]\nfn f() {}\n"), []);
}

#[test]
fn long_functions_are_measured_from_fn_to_their_closing_brace_tests_apart() {
    let body = |n: usize| "    let x = 1;\n".repeat(n);
    let at_limit = format!("pub fn build() {{\n{}}}\n", body(MAX_BUILDER_LINES - 2));
    assert_eq!(
        long_functions(&at_limit, MAX_BUILDER_LINES),
        Vec::<String>::new()
    );
    let over = format!(
        "fn short() {{}}\nimpl X {{\n    pub(super) fn declare(\n        a: u8,\n    ) {{\n{}    }}\n}}\n",
        body(MAX_BUILDER_LINES - 3)
    );
    assert_eq!(
        long_functions(&over, MAX_BUILDER_LINES),
        [format!(
            "fn declare at line 3: {} lines (limit {MAX_BUILDER_LINES})",
            MAX_BUILDER_LINES + 1
        )]
    );
    let in_tests = format!("#[cfg(test)]\nmod tests {{\n{over}}}\n");
    assert_eq!(
        long_functions(&in_tests, MAX_BUILDER_LINES),
        Vec::<String>::new()
    );
}

#[test]
fn the_allow_list_admits_only_what_it_names_and_only_while_it_applies() {
    let found = [("a.rs".to_owned(), Rule::TooLong, "700 lines".to_owned())];
    let allowed = [("a.rs", Rule::TooLong, "someone: why")];
    assert_eq!(problems(&found, &allowed), Vec::<String>::new());
    assert_eq!(problems(&found, &[]), ["a.rs: TooLong: 700 lines"]);
    // Another rule of the same file is not covered.
    let other_rule = [("a.rs", Rule::PathAttribute, "someone: why")];
    assert_eq!(problems(&found, &other_rule).len(), 2);
    let stale = problems(&[], &allowed);
    assert_eq!(stale.len(), 1);
    assert!(
        stale[0].contains("no longer found: remove the entry"),
        "{stale:?}"
    );
}
