//! The promote binary's cold start refuses bad settings by name (the cases are the harness's, shared
//! by both functions).

alb_canary_tests::cold_start_tests!(env!("CARGO_BIN_EXE_promotion"));
