//! The rollback binary's cold start refuses bad settings by name (cases shared by both functions).

const BINARY: &str = env!("CARGO_BIN_EXE_rollback");

#[path = "../../controller/tests/support/cold_start.rs"]
mod cases;
