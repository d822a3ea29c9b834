//! The rollback binary's cold start refuses bad settings by name (cases shared by both functions).

use alb_canary_tests::cold_start;

const BINARY: &str = env!("CARGO_BIN_EXE_rollback");

#[test]
fn a_missing_setting_is_named() {
    cold_start::a_missing_setting_is_named(BINARY);
}

#[test]
fn a_malformed_plan_is_named() {
    cold_start::a_malformed_plan_is_named(BINARY);
}
