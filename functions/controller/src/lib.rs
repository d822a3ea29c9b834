//! Canary controller shared library: the pure decision core ([`decision`]) and thin AWS adapters
//! the `promote` and `rollback` Lambdas call.

pub mod decision;
