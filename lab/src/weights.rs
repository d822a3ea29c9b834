//! ALB weights (0–999 per target group) as HAProxy server weights (0–256), same split.

use controller::decision::Weights;

/// HAProxy's largest server weight.
pub const MAX: u32 = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HaproxyWeights {
    pub v1: u32,
    pub v2: u32,
}

impl HaproxyWeights {
    /// Percentages (the controller's writes) map 1:1; larger weights are scaled down so that the
    /// larger becomes 256, and a positive weight never rounds down to 0 (that would drop a group
    /// the listener still sends to).
    pub fn from_listener(w: Weights) -> HaproxyWeights {
        let (v1, v2) = (u32::from(w.v1), u32::from(w.v2));
        let top = v1.max(v2);
        if top <= MAX {
            return HaproxyWeights { v1, v2 };
        }
        let scale = |x: u32| {
            if x == 0 {
                0
            } else {
                ((x * MAX + top / 2) / top).max(1)
            }
        };
        HaproxyWeights {
            v1: scale(v1),
            v2: scale(v2),
        }
    }

    /// V2's share in percent.
    pub fn v2_percent(&self) -> f64 {
        let total = f64::from(self.v1 + self.v2);
        if total == 0.0 {
            0.0
        } else {
            100.0 * f64::from(self.v2) / total
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
            assert_eq!((h.v1, h.v2), (100 - u32::from(p), u32::from(p)));
        }
    }

    #[test]
    fn large_weights_keep_the_split_and_never_drop_a_group() {
        let h = HaproxyWeights::from_listener(Weights { v1: 900, v2: 100 });
        assert_eq!(h, HaproxyWeights { v1: 256, v2: 28 });
        let h = HaproxyWeights::from_listener(Weights { v1: 999, v2: 1 });
        assert_eq!(h, HaproxyWeights { v1: 256, v2: 1 });
        let h = HaproxyWeights::from_listener(Weights { v1: 0, v2: 999 });
        assert_eq!(h, HaproxyWeights { v1: 0, v2: 256 });
    }
}
