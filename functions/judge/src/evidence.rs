//! Anytime-valid evidence against "canary is acceptable", as e-values in logs.
//!
//! Each e-value is a mixture likelihood ratio over a fixed grid of alternatives divided by the best
//! fit under the null, so under the null it is a non-negative supermartingale in the data and, by
//! Ville's inequality, crosses `1/α` with probability at most `α` however often it is looked at.
//! References: Lindon & Malek (NeurIPS 2022), Lindon, Sanden & Shirikian (KDD 2022), Johari,
//! Koomen, Pekelis & Walsh (Operations Research 2022); `docs/judge.md` for the design and its guarantees.

use crate::special::{ln_beta, log_point, log_sum_exp, x_ln};

/// Alternatives in each mixture.
pub const GRID_POINTS: usize = 40;
/// The relative test's alternatives run from `1.1 × max_ratio` to this ratio.
pub const RATIO_GRID_TOP: f64 = 200.0;
/// The one-sample tests' alternatives run from `1.1 × null rate` to this rate.
pub const RATE_GRID_TOP: f64 = 0.5;
/// Share of each mixture's prior mass spread over its alternatives just above the null, from
/// `lo` to `NEAR_SPAN × lo`; the rest is spread over the whole grid. Small regressions (2–5 × stable)
/// make the most of a test's time, and a prior flat in the log of the ratio up to 200 spends
/// most of its mass on alternatives far above them; the whole grid keeps gross failures caught at
/// once (its half of the mass costs them at most ln 2).
pub const NEAR_WEIGHT: f64 = 0.5;
/// How far above the grid's start the near alternatives reach.
pub const NEAR_SPAN: f64 = 10.0;

/// `ln Σ_k w_k exp(ll(x_k))`: the mixture of likelihoods `ll` over the prior above (the whole
/// grid's `GRID_POINTS` log-spaced points from `lo` to `hi`, and as many from `lo` to
/// `min(NEAR_SPAN × lo, hi)`), its weights summing to 1.
fn ln_mixture(lo: f64, hi: f64, ll: impl Fn(f64) -> f64) -> f64 {
    let n = GRID_POINTS as f64;
    let whole = (0..GRID_POINTS)
        .map(|k| (1.0 - NEAR_WEIGHT).ln() - n.ln() + ll(log_point(lo, hi, k, GRID_POINTS)));
    let near_hi = (NEAR_SPAN * lo).min(hi);
    let near = (0..GRID_POINTS)
        .map(|k| NEAR_WEIGHT.ln() - n.ln() + ll(log_point(lo, near_hi, k, GRID_POINTS)));
    log_sum_exp(whole.chain(near).collect::<Vec<f64>>())
}

/// Prior of the confidence sequence on the stable version's rate: Beta(1, 100), mass on rates around 1 %.
const PRIOR: (f64, f64) = (1.0, 100.0);

/// One minute's counts of both versions: requests and errors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Paired {
    pub n1: f64,
    pub e1: f64,
    pub n2: f64,
    pub e2: f64,
}

impl Paired {
    /// Only minutes where both versions served requests and someone failed say anything about
    /// the ratio (a minute without errors has likelihood 1 under every ratio).
    fn informative(&self) -> bool {
        self.n1 > 0.0 && self.n2 > 0.0 && self.e1 + self.e2 > 0.0
    }
}

/// The relative test's log-likelihood `ℓ(r)`: given a minute's errors, the canary's share of them is
/// Binomial with `θ(r) = n2·r / (n1 + n2·r)`, where `r = p2 / p1` (the stable version's rate cancels).
pub fn relative_log_likelihood(periods: &[Paired], r: f64) -> f64 {
    if r == 0.0 {
        // θ = 0: certain when the canary had no errors, impossible otherwise.
        return if periods.iter().all(|m| m.e2 == 0.0) {
            0.0
        } else {
            f64::NEG_INFINITY
        };
    }
    periods
        .iter()
        .filter(|m| m.informative())
        .map(|m| {
            let ln_total = (m.n1 + m.n2 * r).ln();
            m.e2 * ((m.n2 * r).ln() - ln_total) + m.e1 * (m.n1.ln() - ln_total)
        })
        .sum()
}

/// Score (derivative of `ℓ` in `s = ln r`) and its derivative; `ℓ` is concave in `s`.
fn score(periods: &[Paired], s: f64) -> (f64, f64) {
    let r = s.exp();
    let (mut g, mut dg) = (0.0, 0.0);
    for m in periods {
        let theta = m.n2 * r / (m.n1 + m.n2 * r);
        let k = m.e1 + m.e2;
        g += m.e2 - k * theta;
        dg -= k * theta * (1.0 - theta);
    }
    (g, dg)
}

/// The maximiser `r̂` of `ℓ`: 0 when the canary had no errors, `∞` when stable had none.
pub fn ratio_estimate(periods: &[Paired]) -> f64 {
    let used: Vec<Paired> = periods
        .iter()
        .copied()
        .filter(Paired::informative)
        .collect();
    let (e1, e2): (f64, f64) = used
        .iter()
        .fold((0.0, 0.0), |(a, b), m| (a + m.e1, b + m.e2));
    if e2 == 0.0 {
        return 0.0;
    }
    if e1 == 0.0 {
        return f64::INFINITY;
    }
    // Start from the pooled ratio; bracket the root of the decreasing score; safeguarded Newton.
    let (n1, n2) = used
        .iter()
        .fold((0.0, 0.0), |(a, b), m| (a + m.n1, b + m.n2));
    let start = ((e2 / n2) / (e1 / n1)).ln();
    let (mut lo, mut hi) = (start, start);
    while score(&used, lo).0 <= 0.0 {
        lo -= 4.0;
    }
    while score(&used, hi).0 >= 0.0 {
        hi += 4.0;
    }
    let mut s = start.clamp(lo, hi);
    for _ in 0..200 {
        let (g, dg) = score(&used, s);
        if g == 0.0 {
            break;
        }
        if g > 0.0 {
            lo = s;
        } else {
            hi = s;
        }
        let mut next = s - g / dg;
        if !(next > lo && next < hi) {
            next = 0.5 * (lo + hi);
        }
        if (next - s).abs() < 1e-14 * s.abs().max(1.0) || hi - lo < 1e-14 {
            s = next;
            break;
        }
        s = next;
    }
    s.exp()
}

/// The relative e-value in logs and the ratio estimate: evidence that `p2 > max_ratio × p1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Relative {
    pub ln_e: f64,
    pub ratio_estimate: Option<f64>,
}

/// `ln e_rel = ln mean_k exp(ℓ(r_k) − ℓ(min(r̂, r0)))`, `r_k` log-spaced in `[1.1·r0, 200]`.
pub fn relative(periods: &[Paired], max_ratio: f64) -> Relative {
    let used: Vec<Paired> = periods
        .iter()
        .copied()
        .filter(Paired::informative)
        .collect();
    if used.is_empty() {
        return Relative {
            ln_e: 0.0,
            ratio_estimate: None,
        };
    }
    let r_hat = ratio_estimate(&used);
    let null = relative_log_likelihood(&used, r_hat.min(max_ratio));
    let mixture = ln_mixture(1.1 * max_ratio, RATIO_GRID_TOP, |r| {
        relative_log_likelihood(&used, r)
    });
    Relative {
        ln_e: mixture - null,
        ratio_estimate: Some(r_hat),
    }
}

/// Binomial log-likelihood of `events` in `trials` at rate `p`.
fn binomial_log_likelihood(events: f64, trials: f64, p: f64) -> f64 {
    x_ln(events, p)
        + if trials > events {
            (trials - events) * (-p).ln_1p()
        } else {
            0.0
        }
}

/// One-sample e-value in logs: evidence that the rate of `events` per trial exceeds `null_rate`.
/// `ln e = ln mean_k exp(m(p_k) − m(min(p̂, null_rate)))`, `p_k` log-spaced in `[1.1·null_rate, 0.5]`.
/// `None` when the null rate leaves no room for alternatives below 0.5 (no test possible).
pub fn one_sample(events: f64, trials: f64, null_rate: f64) -> Option<f64> {
    let lo = 1.1 * null_rate;
    if !(lo > 0.0 && lo < RATE_GRID_TOP) {
        return None;
    }
    let p_hat = if trials > 0.0 { events / trials } else { 0.0 };
    let null = binomial_log_likelihood(events, trials, p_hat.min(null_rate));
    let mixture = ln_mixture(lo, RATE_GRID_TOP, |p| {
        binomial_log_likelihood(events, trials, p)
    });
    Some(mixture - null)
}

/// Anytime-valid upper confidence bound on a rate at `level`: the largest `p` the Beta(1, 100)
/// mixture confidence sequence keeps (`ln M(p) < ln(1/level)`). 1 without data.
pub fn rate_upper_bound(events: f64, trials: f64, level: f64) -> f64 {
    if trials <= 0.0 || events >= trials {
        return 1.0;
    }
    let (a, b) = PRIOR;
    let ln_mixture = ln_beta(a + events, b + trials - events) - ln_beta(a, b);
    let ln_m = |p: f64| ln_mixture - binomial_log_likelihood(events, trials, p);
    let bound = (1.0 / level).ln();
    let (mut lo, mut hi) = (events / trials, 1.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if ln_m(mid) < bound {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

#[cfg(test)]
mod tests;
