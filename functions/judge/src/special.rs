//! The few special functions the tests need, in logs: `ln Γ`, `ln B`, log-sum-exp, log-spaced grids.

/// `ln Γ(x)` for `x > 0`: Stirling's series (error below 1e-15 for x ≥ 10) after shifting small
/// arguments up with `Γ(x) = Γ(x + 1) / x`.
pub fn ln_gamma(x: f64) -> f64 {
    debug_assert!(x > 0.0, "ln_gamma({x})");
    let mut shift = 0.0;
    let mut x = x;
    while x < 10.0 {
        shift -= x.ln();
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    let series =
        inv * (1.0 / 12.0 - inv2 * (1.0 / 360.0 - inv2 * (1.0 / 1260.0 - inv2 * (1.0 / 1680.0))));
    shift + (x - 0.5) * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI).ln() + series
}

/// `ln B(a, b)`.
pub fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// `ln Σ exp(v)`, stable for large and very negative values; `-∞` for no values.
pub fn log_sum_exp(values: impl IntoIterator<Item = f64> + Clone) -> f64 {
    let top = values.clone().into_iter().fold(f64::NEG_INFINITY, f64::max);
    if top.is_infinite() {
        return top;
    }
    top + values
        .into_iter()
        .map(|v| (v - top).exp())
        .sum::<f64>()
        .ln()
}

/// The `k`-th of `n` log-spaced points from `lo` to `hi` (both included).
pub fn log_point(lo: f64, hi: f64, k: usize, n: usize) -> f64 {
    let (a, b) = (lo.ln(), hi.ln());
    (a + (b - a) * k as f64 / (n - 1) as f64).exp()
}

/// `a · ln p`, with `0 · ln 0 = 0` (a count of zero contributes nothing, whatever p is).
pub fn x_ln(a: f64, p: f64) -> f64 {
    if a == 0.0 { 0.0 } else { a * p.ln() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_gamma_matches_factorials_and_half_integers() {
        let mut factorial: f64 = 1.0;
        for n in 1..30 {
            assert!(
                (ln_gamma(n as f64) - factorial.ln()).abs() < 1e-12,
                "Γ({n})"
            );
            factorial *= n as f64;
        }
        let sqrt_pi = std::f64::consts::PI.sqrt();
        assert!((ln_gamma(0.5) - sqrt_pi.ln()).abs() < 1e-12);
        assert!((ln_gamma(1.5) - (sqrt_pi / 2.0).ln()).abs() < 1e-12);
        assert!((ln_beta(1.0, 100.0) + 100f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn log_sum_exp_is_stable() {
        assert!((log_sum_exp([1000.0, 1000.0]) - (1000.0 + 2f64.ln())).abs() < 1e-12);
        assert!((log_sum_exp([-1000.0, -1000.0]) - (-1000.0 + 2f64.ln())).abs() < 1e-12);
        assert_eq!(log_sum_exp(Vec::<f64>::new()), f64::NEG_INFINITY);
        assert!((log_point(1.0, 100.0, 1, 3) - 10.0).abs() < 1e-12);
    }
}
