//! The boot rehearsal's parts: the stack's user data executed for real, as root, in a Debian
//! userland booted with systemd as PID 1, against the emulator with signatures checked.
//!
//! - [`rootfs`]: the root file system, built by debootstrap once and cached by digest.
//! - [`imds`]: the instance metadata service (IMDSv2 tokens, the role's temporary credentials).
//! - [`machine`]: one booted instance: its user data run at boot, its units and processes read.

pub mod imds;
pub mod machine;
pub mod rootfs;
