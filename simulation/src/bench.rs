//! `cargo xtask judge --replay FILE` and `cargo xtask bench-judge`: the judge without AWS.
//! The replay prints one decision recomputed from its inputs; the benchmark runs seeded Monte
//! Carlo canaries through the real decision code, the judge and the old threshold rule side by side.

use crate::canaries::{CellSummary, Scenario, grid, peers, run_cell, seed_for};
use crate::rule::Rule;
use contract::Plan;
use serde_json::json;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

pub use crate::cli::{BenchArgs, ReplayArgs};

/// `judge --replay FILE`: the decision, its reason and every statistic with its threshold.
pub fn run(args: &ReplayArgs) -> crate::Result {
    let file = args.replay.display();
    let text = std::fs::read_to_string(&args.replay).map_err(|err| format!("{file}: {err}"))?;
    let out = crate::replay::replay(&text).map_err(|err| format!("{file}: {err}"))?;
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// A method's plan at `period`. Sub-minute data is kept 3 hours, so below a minute the steps'
/// limit shrinks to fit the plan's check (2,700 s for the default four steps).
fn plan(mut plan: Plan, period: u64) -> crate::Result<Plan> {
    plan.health.period_seconds = period;
    if period < 60 {
        plan.max_step_seconds = plan
            .max_step_seconds
            .min(3 * 3600 / plan.steps.len() as u64);
    }
    plan.validate()
        .map_err(|e| format!("--period {period}: {e}"))?;
    Ok(plan)
}

/// `bench-judge [--canaries N] [--seed S] [--period S] [--only TEXT] [--plan FILE] [--json]`.
pub fn bench(args: &BenchArgs) -> crate::Result {
    let (options, canaries) = (args, args.canaries.get());
    // Each cell keeps its index in the whole grid: its canaries' seeds do not depend on --only.
    let cells: Vec<(u64, (&str, String, Scenario))> = (0..)
        .zip(grid())
        .filter(|(_, (family, label, _))| {
            options
                .only
                .as_ref()
                .is_none_or(|o| format!("{family}: {label}").contains(o.as_str()))
        })
        .collect();
    if cells.is_empty() {
        return Err(format!(
            "--only {:?} matches no cell",
            options.only.as_deref().unwrap_or_default()
        )
        .into());
    }
    let rules = Rule::ALL;
    let sequential = match &options.plan {
        Some(path) => {
            let file = path.display();
            let text = std::fs::read_to_string(path).map_err(|e| format!("{file}: {e}"))?;
            Plan::from_json(&text).map_err(|e| format!("{file}: {e}"))?
        }
        None => Plan::default(),
    };
    // Both rules judge the same plan: only the judging differs.
    let plans = [
        plan(sequential.clone(), options.period)?,
        plan(sequential, options.period)?,
    ];
    if let Some(path) = &options.export {
        return export(path, &plans[0], &cells, canaries, options.seed);
    }
    let work: Vec<(usize, usize)> = (0..cells.len())
        .flat_map(|c| (0..rules.len()).map(move |m| (c, m)))
        .collect();
    let results: Mutex<Vec<Option<CellSummary>>> = Mutex::new(vec![None; work.len()]);
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(c, m)) = work.get(i) else { break };
                    let summary = run_cell(
                        &plans[m],
                        rules[m],
                        &cells[c].1.2,
                        canaries,
                        options.seed,
                        cells[c].0,
                    );
                    results.lock().expect("no panics while holding it")[i] = Some(summary);
                }
            });
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    let results: Vec<CellSummary> = results
        .into_inner()
        .expect("threads joined")
        .into_iter()
        .map(|r| r.expect("every cell ran"))
        .collect();
    let by_cell = |c: usize, m: usize| &results[c * rules.len() + m];
    if options.json {
        let rows: Vec<_> = cells
            .iter()
            .enumerate()
            .map(|(c, (_, (family, label, scenario)))| {
                json!({
                    "family": family,
                    "cell": label,
                    "scenario": scenario,
                    "sequential": by_cell(c, 0),
                    "threshold": by_cell(c, 1),
                })
            })
            .collect();
        let out = json!({
            "canaries_per_cell": canaries,
            "seed": options.seed,
            "period_seconds": options.period,
            "seconds": elapsed,
            "cells": rows,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "{} canaries per cell, seed {}, {} s periods, {elapsed:.1} s on {threads} thread(s). Per method: rolled back / reached 100 % / median closed periods to rollback / mean canary errors served",
        canaries, options.seed, options.period
    );
    println!();
    println!("| cell | rps | sequential (default) | threshold (old rule) |");
    println!("|---|---|---|---|");
    for (c, (_, (family, label, scenario))) in cells.iter().enumerate() {
        println!(
            "| {family}: {label} | {} | {} | {} |",
            scenario_rps(scenario),
            row(by_cell(c, 0)),
            row(by_cell(c, 1))
        );
    }
    Ok(())
}

/// `--export FILE`: the error cells' canaries under the fixed schedule of
/// [`crate::canaries::peers`], one JSON line each.
fn export(
    path: &std::path::Path,
    plan: &Plan,
    cells: &[(u64, (&str, String, Scenario))],
    canaries: usize,
    seed: u64,
) -> crate::Result {
    use std::io::Write as _;
    let file = path.display();
    let mut out =
        std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| format!("{file}: {e}"))?);
    let mut written = 0;
    for (index, (family, label, scenario)) in cells {
        if !(family.starts_with("errors") || family.starts_with("A/A")) {
            continue;
        }
        for canary in 0..canaries {
            let stream = peers::stream(plan, scenario, seed_for(seed, *index, canary as u64));
            let line = json!({
                "cell": format!("{family}: {label}"),
                "rps": scenario.rps,
                "canary": canary,
                "period_seconds": plan.health.period_seconds,
                "alpha": plan.health.errors.alpha,
                "periods": stream.periods,
                "judged": stream.judged,
                "ours": stream.ours,
            });
            writeln!(out, "{line}").map_err(|e| format!("{file}: {e}"))?;
            written += 1;
        }
    }
    out.flush().map_err(|e| format!("{file}: {e}"))?;
    if written == 0 {
        return Err("--export: no error cell selected (see --only)".into());
    }
    eprintln!("wrote {written} canaries to {file}");
    Ok(())
}

fn scenario_rps(s: &Scenario) -> String {
    format!("{}", s.rps)
}

fn row(s: &CellSummary) -> String {
    let periods = s
        .median_closed_minutes_to_rollback
        .map_or("–".to_string(), |m| {
            format!("{}", (m * 100.0).round() / 100.0)
        });
    format!(
        "{:.1} % / {:.1} % / {periods} / {:.1}",
        100.0 * s.rolled_back,
        100.0 * s.reached_final_step,
        s.mean_canary_errors_served
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroUsize;

    fn args(only: &str, plan: Option<std::path::PathBuf>) -> BenchArgs {
        BenchArgs {
            canaries: NonZeroUsize::new(2).expect("2 > 0"),
            seed: 7,
            json: true,
            period: 60,
            only: Some(only.to_owned()),
            plan,
            export: None,
        }
    }

    #[test]
    fn only_a_cell_that_exists_runs() {
        let err = bench(&args("no such cell", None)).unwrap_err().to_string();
        assert!(
            err.contains("--only \"no such cell\" matches no cell"),
            "{err}"
        );
        bench(&args("every request fails", None)).unwrap();
    }

    #[test]
    fn a_plan_file_is_checked_as_the_stacks_parameter_is() {
        let dir = std::env::temp_dir().join(format!("bench-judge-plan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("bad.json");
        std::fs::write(&bad, r#"{"steps": [50, 10]}"#).unwrap();
        let err = bench(&args("every request fails", Some(bad.clone())))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(&bad.display().to_string()), "{err}");
        let missing = dir.join("missing.json");
        let err = bench(&args("every request fails", Some(missing)))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing.json"), "{err}");
        let good = dir.join("good.json");
        std::fs::write(
            &good,
            r#"{"health": {"latency": {"reference_requests": 300}}}"#,
        )
        .unwrap();
        bench(&args("every request fails", Some(good))).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_export_holds_each_error_canary_and_our_verdict() {
        let path =
            std::env::temp_dir().join(format!("bench-judge-export-{}.jsonl", std::process::id()));
        let mut a = args("every request fails", None);
        a.export = Some(path.clone());
        bench(&a).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 6, "3 rates × 2 canaries");
        for line in &lines {
            assert_eq!(line["ours"], 1, "{line}");
            assert_eq!(line["periods"].as_array().unwrap().len(), 48);
        }
        a.only = Some("latency".to_owned());
        let err = bench(&a).unwrap_err().to_string();
        assert!(err.contains("no error cell"), "{err}");
        std::fs::remove_file(&path).unwrap();
    }
}
