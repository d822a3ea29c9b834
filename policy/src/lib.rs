//! Pre-deploy proofs on synthesized templates: the cfn-guard rules of `guard/` and an offline reachability
//! check of the network. `check` runs both on one template; `check_dir` on every template of a folder.
//! Beside them: the IAM proof (`iam`) and AWS's own published rule sets (`published`: the Control
//! Tower proactive controls and the Guard Rules Registry).

pub mod guard;
pub mod iam;
pub mod intrinsics;
pub mod published;
pub mod reachability;

mod npm;
mod report;
mod templates;

pub use report::{CheckFailure, Failure, Report, check};
pub use templates::{CheckError, check_dir};
