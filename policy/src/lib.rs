//! Pre-deploy proofs on synthesized templates: the cfn-guard rules of `guard/` and an offline reachability
//! check of the network. `check` runs both on one template; `check_dir` on every template of a folder.

pub mod guard;
pub mod iam;
pub mod intrinsics;
pub mod reachability;

mod report;
mod templates;

pub use report::{CheckFailure, Failure, Report, check};
pub use templates::{CheckError, check_dir};
