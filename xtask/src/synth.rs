//! `cargo xtask synth [--check] [--no-build] [--arch x86_64|arm64]`: writes `templates/` from the
//! typed stack definition and builds the Lambda bundles the template's `Code` points at, so that
//! `sam deploy` alone deploys; in check mode it fails when the committed output differs from a
//! fresh synth (and builds nothing). `bench-synth` times the synthesis.

use std::path::Path;
use std::time::{Duration, Instant};

use stack::controller::Architecture;

use crate::bundle;
use crate::project::root;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    Write,
    Check,
}

pub fn run(mode: Mode, build_bundles: bool, architecture: Architecture) -> crate::Result {
    let options = stack::Options { architecture };
    for written in synth(&root(), mode, &options)? {
        println!("{written}");
    }
    if mode == Mode::Write && build_bundles {
        let dir = bundle::build(options.architecture)?;
        println!("built the Lambda bundles in {}", dir.display());
        // The operator's commands, ready before they are needed (an abort should not compile).
        crate::ops::build_canaryctl()?;
        println!(
            "built canaryctl in {}",
            crate::ops::canaryctl_target_dir().display()
        );
    }
    Ok(())
}

/// Renders every template; writes or checks them against the files under `root`.
/// Returns one line per file saying what happened.
pub fn synth(root: &Path, mode: Mode, options: &stack::Options) -> crate::Result<Vec<String>> {
    let rendered = render(options)?;
    let mut report = Vec::new();
    for (relative, text) in rendered {
        let path = root.join(relative);
        let current = std::fs::read_to_string(&path).ok();
        let fresh = current.as_deref() == Some(text.as_str());
        match mode {
            Mode::Check if !fresh => {
                return Err(format!(
                    "`{relative}` was not up to date — run `cargo xtask synth` and commit"
                )
                .into());
            }
            Mode::Check => report.push(format!("{relative} is up to date")),
            Mode::Write if fresh => report.push(format!("{relative} unchanged")),
            Mode::Write => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(|err| format!("could not create {}: {err}", dir.display()))?;
                }
                std::fs::write(&path, text)
                    .map_err(|err| format!("could not write {}: {err}", path.display()))?;
                report.push(format!("wrote {relative}"));
            }
        }
    }
    Ok(report)
}

fn render(options: &stack::Options) -> crate::Result<Vec<(&'static str, String)>> {
    let template = stack::synthesize(options);
    let text = template.render().map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        format!(
            "the template has unresolved references:\n{}",
            lines.join("\n")
        )
    })?;
    let picture = crate::diagram::render(&template.to_json())?;
    Ok(vec![
        (stack::TEMPLATE_PATH, text),
        (crate::diagram::PATH, picture),
    ])
}

pub fn bench(runs: u32) -> crate::Result {
    let runs = runs as usize;
    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    let mut bytes = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let rendered = render(&stack::Options::default())?;
        times.push(start.elapsed());
        bytes = rendered.iter().map(|(_, text)| text.len()).sum();
    }
    times.sort();
    println!(
        "synth (build + reference check + JSON render, in memory, {} build): {runs} runs, {bytes} bytes; min {:?}, median {:?}, max {:?}",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        times[0],
        times[runs / 2],
        times[runs - 1]
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed `templates/` match a fresh synth (rust-analyzer's codegen-check habit).
    #[test]
    fn templates_are_up_to_date() {
        if let Err(err) = synth(&root(), Mode::Check, &stack::Options::default()) {
            panic!("{err}");
        }
    }

    #[test]
    fn check_names_the_stale_file() {
        let dir = std::env::temp_dir().join(format!("alb-canary-synth-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("templates")).unwrap();
        std::fs::write(dir.join(stack::TEMPLATE_PATH), "{}\n").unwrap();
        let err = synth(&dir, Mode::Check, &stack::Options::default())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "`templates/alb-canary.json` was not up to date — run `cargo xtask synth` and commit"
        );
        synth(&dir, Mode::Write, &stack::Options::default()).unwrap();
        assert_eq!(
            synth(&dir, Mode::Check, &stack::Options::default()).unwrap(),
            vec![
                "templates/alb-canary.json is up to date",
                "docs/architecture.svg is up to date"
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
