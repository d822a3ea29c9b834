//! Properties of the judge's statistics that must hold for any data: no canary error is no evidence;
//! the order of the minutes changes nothing; one more canary error never lowers the evidence and one
//! more stable error never raises it; canary within the ratio of stable in every minute never rejects; the
//! same traffic judged in 10 s periods instead of a minute gives the same error evidence while the
//! weights hold still.

use contract::HealthRules;
use judge::evidence::{Paired, one_sample, relative};
use judge::{Counts, Period, Window, assess};
use proptest::prelude::*;

const R0: f64 = 1.5;
const FLOOR: f64 = 0.001;

fn arb_minute() -> impl Strategy<Value = Paired> {
    (1u32..5000, 0u32..40, 1u32..2000, 0u32..40).prop_map(|(n1, e1, n2, e2)| Paired {
        n1: n1.into(),
        e1: e1.min(n1).into(),
        n2: n2.into(),
        e2: e2.min(n2).into(),
    })
}

fn arb_minutes() -> impl Strategy<Value = Vec<Paired>> {
    proptest::collection::vec(arb_minute(), 0..30)
}

fn ln_abs(periods: &[Paired]) -> f64 {
    let (e, n) = periods
        .iter()
        .fold((0.0, 0.0), |(e, n), m| (e + m.e2, n + m.n2));
    one_sample(e, n, FLOOR).unwrap()
}

/// Equal up to floating-point summation order.
fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(1.0)
}

fn window_minutes(paired: &[Paired]) -> Vec<Period> {
    paired
        .iter()
        .enumerate()
        .map(|(i, p)| Period {
            t: 60 * i as i64,
            stable: Counts {
                requests: p.n1 as u64,
                errors: p.e1 as u64,
                ..Counts::default()
            },
            canary: Counts {
                requests: p.n2 as u64,
                errors: p.e2 as u64,
                slow: Some(0),
                ..Counts::default()
            },
        })
        .collect()
}

#[test]
fn no_data_is_no_evidence() {
    assert_eq!(relative(&[], R0).ln_e, 0.0);
    assert!(one_sample(0.0, 0.0, FLOOR).unwrap() <= 0.0);
    let health = HealthRules::default();
    let a = assess(
        &health,
        &Window {
            periods: &[],
            step_started_at: 0,
            final_step: true,
            baseline_ms: None,
            calibration: None,
        },
    );
    assert!(!a.errors.reject && !a.latency.reject, "{a:?}");
}

proptest! {
    #[test]
    fn no_canary_errors_is_no_evidence(periods in arb_minutes(), stable_errors in 1u32..40) {
        // Canary without an error beside stable with some: the relative test runs (its minutes are
        // informative) and must find nothing against canary.
        let mut quiet: Vec<Paired> = periods.iter().map(|m| Paired { e2: 0.0, ..*m }).collect();
        quiet.push(Paired { n1: 1000.0, e1: stable_errors.into(), n2: 1000.0, e2: 0.0 });
        let rel = relative(&quiet, R0);
        prop_assert_eq!(rel.ratio_estimate, Some(0.0), "{:?}", rel);
        prop_assert!(rel.ln_e <= 0.0, "{:?}", rel);
        prop_assert!(ln_abs(&quiet) <= 0.0);
        let health = HealthRules::default();
        let series = window_minutes(&quiet);
        let a = assess(&health, &Window { periods: &series, step_started_at: 0, final_step: true, baseline_ms: None, calibration: None });
        prop_assert!(!a.errors.reject && !a.latency.reject, "{:?}", a);
    }

    #[test]
    fn the_order_of_the_minutes_changes_nothing(periods in arb_minutes(), rotate in 0usize..30) {
        let mut other = periods.clone();
        if !other.is_empty() {
            let n = other.len();
            other.rotate_left(rotate % n);
        }
        other.reverse();
        prop_assert!(same(relative(&periods, R0).ln_e, relative(&other, R0).ln_e));
        prop_assert!(same(ln_abs(&periods), ln_abs(&other)));
    }

    #[test]
    fn one_more_canary_error_never_lowers_the_evidence(periods in arb_minutes(), pick in 0usize..30) {
        prop_assume!(!periods.is_empty());
        let i = pick % periods.len();
        prop_assume!(periods[i].e2 < periods[i].n2);
        let mut worse = periods.clone();
        worse[i].e2 += 1.0;
        let (before, after) = (relative(&periods, R0).ln_e, relative(&worse, R0).ln_e);
        prop_assert!(after >= before - 1e-9 * before.abs().max(1.0), "{} -> {}", before, after);
        prop_assert!(ln_abs(&worse) >= ln_abs(&periods) - 1e-9);
    }

    #[test]
    fn one_more_stable_error_never_raises_it(periods in arb_minutes(), pick in 0usize..30) {
        prop_assume!(!periods.is_empty());
        let i = pick % periods.len();
        prop_assume!(periods[i].e1 < periods[i].n1);
        let mut stable_worse = periods.clone();
        stable_worse[i].e1 += 1.0;
        let (before, after) = (relative(&periods, R0).ln_e, relative(&stable_worse, R0).ln_e);
        prop_assert!(after <= before + 1e-9 * before.abs().max(1.0), "{} -> {}", before, after);
        prop_assert!(same(ln_abs(&stable_worse), ln_abs(&periods)));
    }

    #[test]
    fn canary_within_the_ratio_of_stable_never_rejects(periods in arb_minutes()) {
        // Keep the canary's errors within max_ratio × the stable version's rate in every minute: e2·n1 ≤ r0·e1·n2.
        let within: Vec<Paired> = periods
            .iter()
            .map(|m| Paired { e2: m.e2.min((R0 * m.e1 * m.n2 / m.n1).floor()), ..*m })
            .collect();
        let rel = relative(&within, R0);
        prop_assert!(rel.ln_e <= 1e-9, "{:?}", rel);
        let health = HealthRules::default();
        let series = window_minutes(&within);
        let a = assess(&health, &Window { periods: &series, step_started_at: 0, final_step: false, baseline_ms: None, calibration: None });
        prop_assert!(!a.errors.reject, "{:?}", a.errors);
    }

    #[test]
    fn proportional_counts_give_a_ratio_estimate_at_the_proportion(
        periods in proptest::collection::vec((1u32..50, 1u32..20, 1u32..4), 1..10),
        ratio in 1u32..3,
    ) {
        // Canary with `ratio` times the stable version's rate in every minute (n2 = k·n1, e2 = ratio·k·e1).
        let paired: Vec<Paired> = periods
            .iter()
            .map(|&(n, e, k)| Paired {
                n1: f64::from(100 * n),
                e1: f64::from(e),
                n2: f64::from(100 * n * k),
                e2: f64::from(ratio * k * e),
            })
            .collect();
        let r = relative(&paired, R0).ratio_estimate.unwrap();
        prop_assert!((r - f64::from(ratio)).abs() < 1e-9 * f64::from(ratio), "{}", r);
    }

    #[test]
    fn shorter_periods_under_steady_weights_give_the_same_error_evidence(
        // Six 10 s periods; stable serves `a` and canary `b` requests per unit of traffic in every one.
        a in 1u64..40,
        b in 1u64..40,
        units in proptest::collection::vec(0u64..30, 6),
        errors in proptest::collection::vec((0u64..6, 0u64..6), 6),
        final_step in any::<bool>(),
    ) {
        let sub: Vec<Period> = units
            .iter()
            .zip(&errors)
            .enumerate()
            .map(|(j, (&m, &(e1, e2)))| Period {
                t: 600 + 10 * j as i64,
                stable: Counts { requests: a * m, errors: e1.min(a * m), ..Counts::default() },
                canary: Counts { requests: b * m, errors: e2.min(b * m), slow: Some(0), ..Counts::default() },
            })
            .collect();
        let sum = |f: fn(&Period) -> u64| sub.iter().map(f).sum::<u64>();
        let whole = [Period {
            t: 600,
            stable: Counts { requests: sum(|m| m.stable.requests), errors: sum(|m| m.stable.errors), ..Counts::default() },
            canary: Counts { requests: sum(|m| m.canary.requests), errors: sum(|m| m.canary.errors), slow: Some(0), ..Counts::default() },
        }];
        let judge = |periods: &[Period], period: u64| {
            let health = HealthRules { period_seconds: period, ..HealthRules::default() };
            assess(&health, &Window { periods, step_started_at: 600, final_step, baseline_ms: None, calibration: None })
        };
        let (fine, coarse) = (judge(&sub, 10), judge(&whole, 60));
        let close = |x: Option<f64>, y: Option<f64>| match (x, y) {
            (Some(x), Some(y)) => same(x, y),
            (x, y) => x == y,
        };
        prop_assert!(close(fine.errors.ln_e_relative, coarse.errors.ln_e_relative),
            "{:?} vs {:?}", fine.errors, coarse.errors);
        prop_assert!(close(fine.errors.ln_e_absolute, coarse.errors.ln_e_absolute));
        prop_assert_eq!(fine.errors.final_step.as_ref().map(|f| (f.canary_requests, f.canary_errors)),
            coarse.errors.final_step.as_ref().map(|f| (f.canary_requests, f.canary_errors)));
        prop_assert!(close(fine.errors.final_step.and_then(|f| f.ln_e), coarse.errors.final_step.and_then(|f| f.ln_e)));
        prop_assert_eq!(fine.errors.reject, coarse.errors.reject);
        prop_assert_eq!(fine.step_canary_requests, coarse.step_canary_requests);
        prop_assert_eq!(fine.judged_until, coarse.judged_until);
        prop_assert_eq!((fine.closed_periods, coarse.closed_periods), (6, 1));
    }
}
