//! The pinned npm packages the checks run (the IAM simulator, the Control Tower controls):
//! installed with `npm ci` from the committed `package-lock.json` when missing, never skipped.

use std::path::Path;
use std::process::Command;

/// Runs `npm ci` in `dir` unless `marker` (relative to `dir`) exists. Under a lock shared by
/// every package and process, so that parallel tests install once and never see half a tree.
pub(crate) fn ensure_installed(dir: &Path, marker: &str) -> Result<(), String> {
    let lock = std::fs::File::create(std::env::temp_dir().join("alb-canary-npm-ci.lock"))
        .map_err(|e| format!("lock file: {e}"))?;
    lock.lock().map_err(|e| format!("lock: {e}"))?;
    if dir.join(marker).exists() {
        return Ok(());
    }
    let output = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .output()
        .map_err(|e| {
            format!(
                "`npm ci` in {} could not start ({e}): install Node.js 20+ and npm",
                dir.display()
            )
        })?;
    if !output.status.success() {
        return Err(format!(
            "`npm ci` in {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}
