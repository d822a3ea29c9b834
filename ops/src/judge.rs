//! `cargo xtask judge --replay FILE` and `cargo xtask bench-judge`: the judge without AWS.
//! The replay prints one decision recomputed from its inputs; the benchmark runs seeded Monte
//! Carlo canaries through the real decision code, both methods side by side.

use contract::{Method, Plan};
use controller::simulation::{CellSummary, Scenario, grid, plan_for, run_cell};
use serde_json::json;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

pub use canaryctl_args::{BenchArgs, ReplayArgs};

/// `judge --replay FILE`: the decision, its reason and every statistic with its threshold.
pub fn run(args: &ReplayArgs) -> crate::Result {
    let file = args.replay.display();
    let text = std::fs::read_to_string(&args.replay).map_err(|err| format!("{file}: {err}"))?;
    let out = controller::replay::replay(&text).map_err(|err| format!("{file}: {err}"))?;
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// A method's plan at `period`. Sub-minute data is kept 3 hours, so below a minute the steps'
/// limit shrinks to fit the plan's check (2,700 s for the default four steps).
fn plan(method: Method, period: u64) -> crate::Result<Plan> {
    let mut plan = plan_for(method);
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

/// `bench-judge [--canaries N] [--seed S] [--period S] [--json]`.
pub fn bench(args: &BenchArgs) -> crate::Result {
    let (options, canaries) = (args, args.canaries.get());
    let cells = grid();
    let methods = [Method::Sequential, Method::Threshold];
    let plans = [
        plan(methods[0], options.period)?,
        plan(methods[1], options.period)?,
    ];
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
                    let summary =
                        run_cell(&plans[m], &cells[c].2, canaries, options.seed, c as u64);
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
        "{} canaries per cell, seed {}, {} s periods, {elapsed:.1} s on {threads} thread(s). Per method: rolled back / reached 100 % / median closed minutes to rollback / mean V2 errors served",
        canaries, options.seed, options.period
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
        .map_or("–".to_string(), |m| {
            format!("{}", (m * 100.0).round() / 100.0)
        });
    format!(
        "{:.1} % / {:.1} % / {minutes} / {:.1}",
        100.0 * s.rolled_back,
        100.0 * s.reached_final_step,
        s.mean_v2_errors_served
    )
}
