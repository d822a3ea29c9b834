//! The two recommendation models of the canary: what each answers and how slow it is.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Which model this process serves; chosen once at start-up with `--model v1|v2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    V1,
    V2,
}

impl Model {
    /// The `model_id` field of every answer; dashboards and the canary drill tell the versions apart by it.
    pub fn model_id(self) -> &'static str {
        match self {
            Model::V1 => "V1 - Stable",
            Model::V2 => "V2 - DeepLearning - Canary",
        }
    }

    pub fn items(self) -> &'static [&'static str] {
        match self {
            Model::V1 => &["item_X_old_model", "item_Y_old_model"],
            Model::V2 => &["item_A_new", "item_B_new", "item_C_new"],
        }
    }

    pub fn event_log(self, user_id: &str) -> String {
        match self {
            Model::V1 => format!("User {user_id} purchase processed."),
            Model::V2 => format!("User {user_id} purchase processed. Metrics available."),
        }
    }

    /// Simulated inference time: V2 is the heavier model, so the canary's latency comparison sees it.
    pub fn inference_time(self) -> Duration {
        match self {
            Model::V1 => Duration::ZERO,
            Model::V2 => Duration::from_millis(50),
        }
    }

    /// V2 is the one under observation: it logs one structured line per request.
    pub fn logs_each_request(self) -> bool {
        matches!(self, Model::V2)
    }
}

impl FromStr for Model {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "v1" | "V1" => Ok(Model::V1),
            "v2" | "V2" => Ok(Model::V2),
            _ => Err(()),
        }
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Model::V1 => "v1",
            Model::V2 => "v2",
        })
    }
}
