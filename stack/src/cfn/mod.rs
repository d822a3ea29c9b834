//! A small typed model of CloudFormation: a [`Template`] whose resources are typed property structs,
//! and [`Handle`]s returned when something is added, so that a `Ref`, `Fn::GetAtt` or `${X}` in a
//! `Fn::Sub` can only name a parameter, condition or resource that exists.
//!
//! There is no maintained Rust crate for this; the model covers only the resource types the stack uses.

mod expr;
pub mod resources;
pub mod serverless;
mod template;

pub use expr::sub_literal;
pub use expr::{Expr, Sub};
pub use template::{
    Attributes, Cond, Handle, Mapping, Named, Param, ParamSpec, ParamType, ReferenceError,
    Resource, Template, Waiver,
};
