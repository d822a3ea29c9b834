//! Seeded samplers for the benchmark's simulated canaries: Poisson counts (Knuth's product method
//! for small means, Hörmann's PTRS transformed rejection for large ones), Gamma
//! (Marsaglia–Tsang), Beta order statistics, and a Lomax (Pareto II) latency model whose tail
//! and quantiles are closed-form.

use judge::special::ln_gamma;

/// A seeded source of random numbers (`fastrand`'s wyrand): the same seed, the same canaries.
pub struct Sampler {
    rng: fastrand::Rng,
}

impl Sampler {
    pub fn new(seed: u64) -> Sampler {
        Sampler {
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// Uniform on `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        self.rng.f64()
    }

    /// Uniform on `(0, 1)`, for logs.
    fn open_uniform(&mut self) -> f64 {
        loop {
            let u = self.rng.f64();
            if u > 0.0 {
                return u;
            }
        }
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.open_uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    /// Poisson with mean `lambda`.
    pub fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda <= 0.0 {
            0
        } else if lambda < 30.0 {
            self.poisson_product(lambda)
        } else {
            self.poisson_ptrs(lambda)
        }
    }

    fn poisson_product(&mut self, lambda: f64) -> u64 {
        let limit = (-lambda).exp();
        let mut product = self.uniform();
        let mut k = 0;
        while product > limit {
            product *= self.uniform();
            k += 1;
        }
        k
    }

    /// Hörmann (1993), "The transformed rejection method for generating Poisson random variables".
    fn poisson_ptrs(&mut self, lambda: f64) -> u64 {
        let ln_lambda = lambda.ln();
        let b = 0.931 + 2.53 * lambda.sqrt();
        let a = -0.059 + 0.02483 * b;
        let inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
        let v_r = 0.9277 - 3.6224 / (b - 2.0);
        loop {
            let u = self.uniform() - 0.5;
            let v = self.open_uniform();
            let us = 0.5 - u.abs();
            let k = ((2.0 * a / us + b) * u + lambda + 0.43).floor();
            if us >= 0.07 && v <= v_r {
                return k as u64;
            }
            if k < 0.0 || (us < 0.013 && v > us) {
                continue;
            }
            if v.ln() + inv_alpha.ln() - (a / (us * us) + b).ln()
                <= -lambda + k * ln_lambda - ln_gamma(k + 1.0)
            {
                return k as u64;
            }
        }
    }

    /// Gamma with the given shape and scale 1 (Marsaglia & Tsang 2000).
    pub fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            let u = self.open_uniform();
            return self.gamma(shape + 1.0) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = self.open_uniform();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }

    /// The upper tail `1 − U(k)` of the `k`-th smallest of `n` uniforms (`U(k)` ~ Beta(k, n−k+1)),
    /// computed without cancellation.
    pub fn order_statistic_tail(&mut self, k: u64, n: u64) -> f64 {
        let below = self.gamma(k as f64);
        let above = self.gamma((n - k + 1) as f64);
        above / (below + above)
    }
}

/// Latency in milliseconds: `shift + base + Lomax(scale, shape)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencyModel {
    pub base_ms: f64,
    pub scale_ms: f64,
    pub shape: f64,
    pub shift_ms: f64,
}

impl LatencyModel {
    /// The value whose upper tail probability is `tail`.
    pub fn from_tail(&self, tail: f64) -> f64 {
        self.shift_ms + self.base_ms + self.scale_ms * (tail.powf(-1.0 / self.shape) - 1.0)
    }

    /// `P(latency > x)`.
    pub fn tail(&self, x: f64) -> f64 {
        let over = x - self.shift_ms - self.base_ms;
        if over <= 0.0 {
            1.0
        } else {
            (1.0 + over / self.scale_ms).powf(-self.shape)
        }
    }

    /// The `q`-quantile (0 < q < 1).
    pub fn quantile(&self, q: f64) -> f64 {
        self.from_tail(1.0 - q)
    }

    /// A sampled `q`-percentile of `n` requests (CloudWatch's per-period percentile).
    pub fn sample_percentile(&self, sampler: &mut Sampler, q: f64, n: u64) -> Option<f64> {
        if n == 0 {
            return None;
        }
        let k = ((q * n as f64).ceil() as u64).clamp(1, n);
        Some(self.from_tail(sampler.order_statistic_tail(k, n)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(samples: &[f64]) -> (f64, f64) {
        let n = samples.len() as f64;
        let mean = samples.iter().sum::<f64>() / n;
        let var = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var)
    }

    #[test]
    fn poisson_has_its_mean_and_variance_on_both_methods() {
        let mut s = Sampler::new(7);
        for lambda in [0.3, 4.0, 29.0, 31.0, 540.0, 5400.0] {
            let samples: Vec<f64> = (0..20_000).map(|_| s.poisson(lambda) as f64).collect();
            let (mean, var) = moments(&samples);
            // 20,000 draws: the mean's standard error is sqrt(λ / 20,000).
            let se = (lambda / 20_000.0).sqrt();
            assert!((mean - lambda).abs() < 5.0 * se, "λ {lambda}: mean {mean}");
            assert!(
                (var / lambda - 1.0).abs() < 0.06,
                "λ {lambda}: variance {var}"
            );
        }
        assert_eq!(s.poisson(0.0), 0);
    }

    #[test]
    fn poisson_ptrs_matches_the_probabilities() {
        // P(K = k) at λ = 50 against the pmf, on the central values.
        let mut s = Sampler::new(11);
        let n = 100_000;
        let mut counts = vec![0u32; 120];
        for _ in 0..n {
            counts[(s.poisson(50.0) as usize).min(119)] += 1;
        }
        for (k, count) in counts.iter().enumerate().take(60).skip(40) {
            let pmf = (-50.0 + k as f64 * 50f64.ln() - ln_gamma(k as f64 + 1.0)).exp();
            let got = *count as f64 / n as f64;
            let se = (pmf * (1.0 - pmf) / n as f64).sqrt();
            assert!((got - pmf).abs() < 5.0 * se, "k {k}: {got} vs {pmf}");
        }
    }

    #[test]
    fn gamma_and_order_statistics() {
        let mut s = Sampler::new(3);
        for shape in [0.5, 1.0, 7.0, 600.0] {
            let samples: Vec<f64> = (0..20_000).map(|_| s.gamma(shape)).collect();
            let (mean, var) = moments(&samples);
            assert!(
                (mean / shape - 1.0).abs() < 0.03,
                "shape {shape}: mean {mean}"
            );
            assert!((var / shape - 1.0).abs() < 0.08, "shape {shape}: var {var}");
        }
        // The 99th of 100 uniforms: upper tail ~ Beta(2, 99), mean 2/101.
        let tails: Vec<f64> = (0..20_000)
            .map(|_| s.order_statistic_tail(99, 100))
            .collect();
        assert!((moments(&tails).0 - 2.0 / 101.0).abs() < 0.0005);
    }

    #[test]
    fn lomax_tail_and_quantile_agree() {
        let m = LatencyModel {
            base_ms: 10.0,
            scale_ms: 15.0,
            shape: 3.0,
            shift_ms: 50.0,
        };
        let p99 = m.quantile(0.99);
        assert!((m.tail(p99) - 0.01).abs() < 1e-12);
        assert_eq!(m.tail(59.0), 1.0);
        assert!(m.sample_percentile(&mut Sampler::new(1), 0.99, 0).is_none());
    }
}
