//! The entry point `cargo xtask check` and the tests share: every `*.json` template of a folder, checked.

use crate::report::{CheckFailure, Report, check};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not JSON: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("no *.json template in {0} — run `cargo xtask synth` first")]
    NoTemplates(PathBuf),
    #[error("{path}: {source}")]
    Check { path: PathBuf, source: CheckFailure },
}

/// Checks every `*.json` file of `dir` (sorted by name); one report per template.
pub fn check_dir(dir: &Path) -> Result<Vec<(PathBuf, Report)>, CheckError> {
    let entries = std::fs::read_dir(dir).map_err(|source| CheckError::Read {
        path: dir.to_owned(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(CheckError::NoTemplates(dir.to_owned()));
    }
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).map_err(|source| CheckError::Read {
                path: path.clone(),
                source,
            })?;
            let template = serde_json::from_str(&text).map_err(|source| CheckError::Json {
                path: path.clone(),
                source,
            })?;
            let report = check(&template).map_err(|source| CheckError::Check {
                path: path.clone(),
                source,
            })?;
            Ok((path, report))
        })
        .collect()
}
