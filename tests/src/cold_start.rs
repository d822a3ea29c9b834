//! Both functions' cold-start cases (each function's `cold_start` test passes its own binary): a
//! missing or malformed setting stops the cold start with a message that names it, before the
//! function asks the Lambda runtime API for any event.

use crate::settings;
use contract::env;
use std::process::Command;

fn cold_start(binary: &str, vars: &[(&str, String)]) -> (bool, String) {
    let out = Command::new(binary)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("the function binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Without the state table's name the binary stops, naming the setting.
pub fn a_missing_setting_is_named(binary: &str) {
    let vars: Vec<_> = settings::valid()
        .into_iter()
        .filter(|(k, _)| *k != env::STATE_TABLE)
        .collect();
    let (ok, stderr) = cold_start(binary, &vars);
    assert!(!ok);
    assert!(stderr.contains("CANARY_STATE_TABLE is not set"), "{stderr}");
}

/// A plan that does not end at 100 % stops the binary, naming the setting and the problem.
pub fn a_malformed_plan_is_named(binary: &str) {
    let mut vars = settings::valid();
    vars.retain(|(k, _)| *k != env::PLAN);
    vars.push((env::PLAN, r#"{"steps":[10,50]}"#.into()));
    let (ok, stderr) = cold_start(binary, &vars);
    assert!(!ok);
    assert!(
        stderr.contains("CANARY_PLAN is not a valid plan") && stderr.contains("end at 100"),
        "{stderr}"
    );
}

/// The cold-start tests of the function whose binary is `$binary` (its `CARGO_BIN_EXE_<name>`):
/// one test per case above, so that each function runs every case under the case's name.
#[macro_export]
macro_rules! cold_start_tests {
    ($binary:expr) => {
        #[test]
        fn a_missing_setting_is_named() {
            $crate::cold_start::a_missing_setting_is_named($binary);
        }

        #[test]
        fn a_malformed_plan_is_named() {
            $crate::cold_start::a_malformed_plan_is_named($binary);
        }
    };
}
