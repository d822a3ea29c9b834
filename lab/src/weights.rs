//! ALB weights (0–999 per target group) as HAProxy server weights (0–256), same split.

use controller::decision::Weights;

/// HAProxy's largest server weight.
pub const MAX: u32 = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HaproxyWeights {
    pub stable: u32,
    pub canary: u32,
}

impl HaproxyWeights {
    /// Percentages (the controller's writes) map 1:1; larger weights are scaled down so that the
    /// larger becomes 256, and a positive weight never rounds down to 0 (that would drop a group
    /// the listener still sends to).
    pub fn from_listener(w: Weights) -> HaproxyWeights {
        let (stable, canary) = (u32::from(w.stable), u32::from(w.canary));
        let top = stable.max(canary);
        if top <= MAX {
            return HaproxyWeights { stable, canary };
        }
        let scale = |x: u32| {
            if x == 0 {
                0
            } else {
                ((x * MAX + top / 2) / top).max(1)
            }
        };
        HaproxyWeights {
            stable: scale(stable),
            canary: scale(canary),
        }
    }

    /// The canary's share in percent.
    pub fn canary_percent(&self) -> f64 {
        let total = f64::from(self.stable + self.canary);
        if total == 0.0 {
            0.0
        } else {
            100.0 * f64::from(self.canary) / total
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_map_one_to_one() {
        for p in [0u8, 10, 25, 50, 100] {
            let h = HaproxyWeights::from_listener(Weights::for_percent(p));
            assert_eq!((h.stable, h.canary), (100 - u32::from(p), u32::from(p)));
        }
    }

    #[test]
    fn large_weights_keep_the_split_and_never_drop_a_group() {
        let h = HaproxyWeights::from_listener(Weights {
            stable: 900,
            canary: 100,
        });
        assert_eq!(
            h,
            HaproxyWeights {
                stable: 256,
                canary: 28
            }
        );
        let h = HaproxyWeights::from_listener(Weights {
            stable: 999,
            canary: 1,
        });
        assert_eq!(
            h,
            HaproxyWeights {
                stable: 256,
                canary: 1
            }
        );
        let h = HaproxyWeights::from_listener(Weights {
            stable: 0,
            canary: 999,
        });
        assert_eq!(
            h,
            HaproxyWeights {
                stable: 0,
                canary: 256
            }
        );
    }
}
