//! Which rule judges a simulated canary: the functions' sequential test, or the old threshold
//! rule that `cargo xtask bench-judge` compares it with. Both go through the same decision
//! ([`canary::decision::decide_by`]), so only the judging differs.

use canary::decision::Assess;
use serde::Serialize;

pub mod threshold;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The `judge`'s anytime-valid sequential test: what the functions run.
    Sequential,
    /// The old rule ([`threshold`]): kept here only to compare with.
    Threshold,
}

impl Rule {
    /// Both, the functions' first.
    pub const ALL: [Rule; 2] = [Rule::Sequential, Rule::Threshold];

    pub fn assess(self) -> Assess {
        match self {
            Rule::Sequential => judge::assess_with_verdict,
            Rule::Threshold => threshold::assess,
        }
    }

    /// Whether the rule reads the periods' own latency statistic (a percentile per period)
    /// rather than slow counts from a percentile rank at T.
    pub fn reads_period_statistics(self) -> bool {
        self == Rule::Threshold
    }
}
