//! `canaryctl publish --bucket B [--prefix P] --version V --file PATH [--endpoint-url URL]`:
//! uploads the recommender binary to `s3://B/P/V/recommender` and its SHA-256 to
//! `s3://B/P/V/recommender.sha256` (written last: a version is published once its checksum exists).
//! A version is immutable: publishing the same binary again changes nothing, a different binary
//! under a published version is refused.
//!
//! `cargo xtask publish` builds the static binary and runs this; it can also be run by hand.

use std::fmt;
use std::path::PathBuf;

use aws_config::BehaviorVersion;
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_types::error::display::DisplayErrorContext;
use contract::release::{
    binary_key, checksum_body, checksum_key, parse_checksum, validate_version,
};
use sha2::{Digest, Sha256};

const USAGE: &str =
    "usage: canaryctl publish --bucket B [--prefix P] --version V --file PATH [--endpoint-url URL]";

#[derive(Debug, PartialEq)]
struct Options {
    bucket: String,
    prefix: String,
    version: String,
    file: PathBuf,
    endpoint_url: Option<String>,
}

#[derive(Debug)]
enum PublishError {
    Usage(String),
    File {
        path: PathBuf,
        reason: String,
    },
    Upload {
        target: String,
        reason: String,
    },
    Immutable {
        target: String,
        published: String,
        local: String,
    },
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublishError::Usage(problem) => write!(f, "{problem}\n{USAGE}"),
            PublishError::File { path, reason } => write!(f, "--file {}: {reason}", path.display()),
            PublishError::Upload { target, reason } => {
                write!(f, "upload to {target} failed: {reason}")
            }
            PublishError::Immutable {
                target,
                published,
                local,
            } => write!(
                f,
                "refused: {target} is already published with another binary (sha256 {published}, \
                 this file {local}); a version is immutable: publish under a new version; nothing changed"
            ),
        }
    }
}

impl std::error::Error for PublishError {}

impl Options {
    fn parse(args: &[String]) -> Result<Options, PublishError> {
        let mut bucket = None;
        let mut prefix = String::new();
        let mut version = None;
        let mut file = None;
        let mut endpoint_url = None;
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            let mut value = || {
                args.next()
                    .cloned()
                    .ok_or_else(|| PublishError::Usage(format!("{flag} needs a value")))
            };
            match flag.as_str() {
                "--bucket" => bucket = Some(value()?),
                "--prefix" => prefix = value()?,
                "--version" => version = Some(value()?),
                "--file" => file = Some(PathBuf::from(value()?)),
                "--endpoint-url" => endpoint_url = Some(value()?),
                other => return Err(PublishError::Usage(format!("unknown option `{other}`"))),
            }
        }
        let bucket = bucket
            .filter(|b| !b.is_empty())
            .ok_or_else(|| PublishError::Usage("--bucket is required".into()))?;
        let version = version.ok_or_else(|| PublishError::Usage("--version is required".into()))?;
        validate_version(&version).map_err(PublishError::Usage)?;
        let file = file.ok_or_else(|| PublishError::Usage("--file is required".into()))?;
        Ok(Options {
            bucket,
            prefix: prefix.trim_matches('/').to_string(),
            version,
            file,
            endpoint_url,
        })
    }
}

pub async fn run(args: &[String]) -> crate::Result {
    let options = Options::parse(args)?;
    // Checked before any AWS call: a wrong path should not look like a credentials problem.
    let bytes = std::fs::read(&options.file)
        .ok()
        .filter(|_| options.file.is_file())
        .ok_or_else(|| PublishError::File {
            path: options.file.clone(),
            reason: "not a readable file".into(),
        })?;
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(url) = &options.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let sdk_config = loader.load().await;
    let mut s3_config = aws_sdk_s3::config::Builder::from(&sdk_config);
    // An endpoint override is an emulator or a private endpoint reached by IP: virtual-hosted
    // bucket names (`B.127.0.0.1`) would not resolve there.
    if sdk_config.endpoint_url().is_some() {
        s3_config = s3_config.force_path_style(true);
    }
    let client = aws_sdk_s3::Client::from_conf(s3_config.build());

    let outcome = upload(
        &client,
        &options.bucket,
        &options.prefix,
        &options.version,
        &bytes,
    )
    .await?;
    println!("{} ({})", outcome, options.file.display());
    Ok(())
}

/// Publishes `bytes` as `version`: nothing happens when that exact binary is already published, a
/// different one is refused. Returns what was done.
pub async fn upload(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    version: &str,
    bytes: &[u8],
) -> crate::Result<String> {
    validate_version(version).map_err(PublishError::Usage)?;
    let local = hex::encode(Sha256::digest(bytes));
    let key = binary_key(prefix, version);
    let sum_key = checksum_key(prefix, version);
    let target = format!("s3://{bucket}/{key}");
    let upload_error = |target: &str| {
        let target = target.to_string();
        move |reason: String| PublishError::Upload { target, reason }
    };
    if let Some(published) = published_checksum(client, bucket, &sum_key)
        .await
        .map_err(upload_error(&target))?
    {
        if published != local {
            return Err(PublishError::Immutable {
                target,
                published,
                local,
            }
            .into());
        }
        return Ok(format!(
            "{target} is already published with this binary (sha256 {local}); nothing changed"
        ));
    }
    client
        .put_object()
        .bucket(bucket)
        .key(&key)
        .content_type("application/octet-stream")
        .body(ByteStream::from(bytes.to_vec()))
        .send()
        .await
        .map_err(|err| upload_error(&target)(DisplayErrorContext(err).to_string()))?;
    // Only one publisher can create the checksum: a concurrent publish of another binary loses
    // here, and an instance refuses a binary that does not match it anyway.
    let sum_target = format!("s3://{bucket}/{sum_key}");
    client
        .put_object()
        .bucket(bucket)
        .key(&sum_key)
        .content_type("text/plain")
        .if_none_match("*")
        .body(ByteStream::from(checksum_body(&local).into_bytes()))
        .send()
        .await
        .map_err(|err| upload_error(&sum_target)(DisplayErrorContext(err).to_string()))?;
    Ok(format!(
        "published {} bytes (sha256 {local}) to {target}",
        bytes.len()
    ))
}

/// The checksum a version was published with, or `None` when it is not published.
async fn published_checksum(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Option<String>, String> {
    match client.get_object().bucket(bucket).key(key).send().await {
        Ok(object) => {
            let body = object
                .body
                .collect()
                .await
                .map_err(|err| err.to_string())?
                .into_bytes();
            let text = String::from_utf8_lossy(&body);
            parse_checksum(&text)
                .map(|hex| Some(hex.to_string()))
                .ok_or_else(|| format!("s3://{bucket}/{key} is not a checksum: {text:?}"))
        }
        Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
        Err(err) => Err(DisplayErrorContext(err).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, PublishError> {
        Options::parse(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn the_keys_are_the_prefix_the_version_then_the_files() {
        for (prefix, key) in [
            ("", "1.1.0/recommender"),
            ("releases", "releases/1.1.0/recommender"),
            ("/a/b/", "a/b/1.1.0/recommender"),
        ] {
            let options = parse(&[
                "--bucket",
                "b",
                "--prefix",
                prefix,
                "--version",
                "1.1.0",
                "--file",
                "f",
            ])
            .unwrap();
            assert_eq!(
                binary_key(&options.prefix, &options.version),
                key,
                "{prefix:?}"
            );
        }
    }

    #[test]
    fn usage_errors_name_the_problem() {
        for (args, expected) in [
            (
                &["--version", "1", "--file", "f"][..],
                "--bucket is required",
            ),
            (
                &["--bucket", "b", "--version", "1"][..],
                "--file is required",
            ),
            (
                &["--bucket", "b", "--file", "f"][..],
                "--version is required",
            ),
            (&["--bucket"][..], "--bucket needs a value"),
            (
                &["--bucket", "b", "--version", "../x", "--file", "f"][..],
                "version `../x` contains `/`",
            ),
            (
                &["--bucket", "b", "--file", "f", "--force"][..],
                "unknown option `--force`",
            ),
        ] {
            let err = parse(args).unwrap_err().to_string();
            assert!(err.starts_with(expected) && err.contains(USAGE), "{err}");
        }
    }
}
