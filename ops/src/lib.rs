//! `canaryctl`: the operator commands behind `cargo xtask publish | release | status | history |
//! pause | resume | skip-bake | abort`,
//! as a library so that the end-to-end tests drive them in-process on the emulator.

pub mod aws_error;
pub mod cli;
pub mod control;
pub mod history;
pub mod publish;
pub mod release;
pub mod settings;
pub mod status;

pub type Result<T = (), E = Box<dyn std::error::Error>> = std::result::Result<T, E>;
