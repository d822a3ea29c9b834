//! canaryctl's command line, defined in the SDK-free crate `canaryctl-args` (`ops/args/`) so that
//! xtask parses `cargo xtask release` with the same definition.

pub use canaryctl_args::{BIN_NAME_VAR, Cli, Command};
