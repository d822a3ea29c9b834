//! The judge without AWS: whole canaries simulated through the real decision code
//! ([`canaries`], [`canaries::peers`]), the seeded samplers they draw from ([`sample`]), one
//! recorded decision replayed from its inputs ([`replay`]), the old threshold rule the judge is
//! compared with ([`rule`]), and the commands that run them ([`bench`]: `cargo xtask
//! bench-judge`, `cargo xtask judge --replay`).
//!
//! A crate of its own so that the Lambdas contain what they run: it depends on the pure core
//! (`canary`, `judge`, `contract`) and never on the AWS SDK.

pub mod bench;
pub mod canaries;
pub mod cli;
pub mod replay;
pub mod rule;
pub mod sample;

pub type Result<T = (), E = Box<dyn std::error::Error>> = std::result::Result<T, E>;
