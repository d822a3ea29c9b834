//! A small typed model of CloudFormation: a [`Template`] whose resources are typed property structs,
//! and [`Handle`]s returned when something is added, so that a `Ref`, `Fn::GetAtt` or `${X}` in a
//! `Fn::Sub` can only name a parameter, condition or resource that exists.
//!
//! There is no maintained Rust crate for this; the model covers only the resource types the stack uses.
//! Layers, each using only those above it: `names` (logical IDs) → `expr` (intrinsics) →
//! `attributes` → `template` → `resources`, `serverless` (typed properties).

mod attributes;
mod expr;
mod names;
pub mod resources;
pub mod serverless;
mod template;

pub use attributes::{Attributes, Fsbp, Waiver};
pub use expr::sub_literal;
pub use expr::{Expr, Sub};
pub use names::{Cond, Mapping, Named};
pub use template::{Handle, Param, ParamSpec, ParamType, ReferenceError, Resource, Template};
