//! The handlers against the moto emulator through the real SDK clients: scenarios from first
//! promotion to completion or rollback, the rollback alarm, and bad input.

mod promotion;
mod refusals;
mod rollback;
mod setup;
