//! `cargo xtask bench-peers`: our judge next to published sequential tests on the same seeded
//! canaries. `simulation bench-judge --export` writes the error cells' canaries under a fixed
//! schedule with our verdict; `benches/peers/compare.py` runs the peers on them in `.venv-peers`.

use std::process::Command;

use crate::project::{root, run_command, target_dir};
use crate::venv::PEERS;

pub fn bench(canaries: u32, only: Option<&str>) -> crate::Result {
    let bin = PEERS.ensure()?;
    let export = target_dir().join("bench-peers.jsonl");
    let mut args = vec![
        "--canaries".to_owned(),
        canaries.to_string(),
        "--export".to_owned(),
        export.display().to_string(),
    ];
    if let Some(only) = only {
        args.extend(["--only".to_owned(), only.to_owned()]);
    }
    run_command(
        crate::simulation::simulation()
            .arg("bench-judge")
            .args(&args),
    )?;
    run_command(
        Command::new(bin.join("python3"))
            .arg(root().join("benches/peers/compare.py"))
            .arg(&export),
    )
}
