//! `cargo xtask judge --replay FILE` and `cargo xtask bench-judge`: the judge without AWS.
//! The replay prints one decision recomputed from its inputs; the benchmark runs seeded Monte
//! Carlo canaries through the real decision code, both methods side by side.

use contract::Method;
use controller::simulation::{CellSummary, Scenario, grid, plan_for, run_cell};
use serde_json::json;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// `judge --replay FILE`: the decision, its reason and every statistic with its threshold.
pub fn run(args: &[String]) -> crate::Result {
    let file = match args {
        [flag, file] if flag == "--replay" => file,
        _ => return Err(
            "usage: judge --replay FILE (a JSON replay input; README, section Replay a decision)"
                .into(),
        ),
    };
    let text = std::fs::read_to_string(file).map_err(|err| format!("{file}: {err}"))?;
    let out = controller::replay::replay(&text).map_err(|err| format!("{file}: {err}"))?;
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

struct BenchOptions {
    canaries: usize,
    seed: u64,
    json: bool,
}

fn parse(args: &[String]) -> crate::Result<BenchOptions> {
    let mut options = BenchOptions {
        canaries: 1000,
        seed: 20_261_125,
        json: false,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| format!("{name} needs a value"))
                .cloned()
        };
        match arg.as_str() {
            "--canaries" => {
                options.canaries = value("--canaries")?
                    .parse()
                    .map_err(|_| "--canaries takes a positive number")?;
                if options.canaries == 0 {
                    return Err("--canaries takes a positive number".into());
                }
            }
            "--seed" => {
                options.seed = value("--seed")?
                    .parse()
                    .map_err(|_| "--seed takes a number")?
            }
            "--json" => options.json = true,
            other => return Err(format!("bench-judge: unknown argument `{other}`").into()),
        }
    }
    Ok(options)
}

/// `bench-judge [--canaries N] [--seed S] [--json]`.
pub fn bench(args: &[String]) -> crate::Result {
    let options = parse(args)?;
    let cells = grid();
    let methods = [Method::Sequential, Method::Threshold];
    let work: Vec<(usize, usize)> = (0..cells.len())
        .flat_map(|c| (0..methods.len()).map(move |m| (c, m)))
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
                    let plan = plan_for(methods[m]);
                    let summary =
                        run_cell(&plan, &cells[c].2, options.canaries, options.seed, c as u64);
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
    let by_cell = |c: usize, m: usize| &results[c * methods.len() + m];
    if options.json {
        let rows: Vec<_> = cells
            .iter()
            .enumerate()
            .map(|(c, (family, label, scenario))| {
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
            "canaries_per_cell": options.canaries,
            "seed": options.seed,
            "seconds": elapsed,
            "cells": rows,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "{} canaries per cell, seed {}, {elapsed:.1} s on {threads} thread(s). Per method: rolled back / reached 100 % / median closed minutes to rollback / mean V2 errors served",
        options.canaries, options.seed
    );
    println!();
    println!("| cell | rps | sequential (default) | threshold (old rule) |");
    println!("|---|---|---|---|");
    for (c, (family, label, scenario)) in cells.iter().enumerate() {
        println!(
            "| {family}: {label} | {} | {} | {} |",
            scenario_rps(scenario),
            row(by_cell(c, 0)),
            row(by_cell(c, 1))
        );
    }
    Ok(())
}

fn scenario_rps(s: &Scenario) -> String {
    format!("{}", s.rps)
}

fn row(s: &CellSummary) -> String {
    let minutes = s
        .median_closed_minutes_to_rollback
        .map_or("–".to_string(), |m| format!("{m}"));
    format!(
        "{:.1} % / {:.1} % / {minutes} / {:.1}",
        100.0 * s.rolled_back,
        100.0 * s.reached_final_step,
        s.mean_v2_errors_served
    )
}
