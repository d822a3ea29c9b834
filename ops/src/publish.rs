//! `canaryctl publish --bucket B [--prefix P] --version V --file PATH [--signal-file PATH]
//! [--endpoint-url URL]`: uploads the recommender binary to `s3://B/P/V/recommender` (P defaults to
//! the prefix the instances read, `artifacts`) and its SHA-256 to `s3://B/P/V/recommender.sha256`
//! (written last: a version is published once its checksum exists). With `--signal-file`, the
//! target signal's proxy goes first to `s3://B/P/V/alb-canary-signal` with its own checksum.
//! A version is immutable: publishing the same binary again changes nothing, a different binary
//! under a published version is refused.
//!
//! `cargo xtask publish` builds the static binary and runs this; it can also be run by hand.

use std::fmt;
use std::path::PathBuf;

use aws_config::BehaviorVersion;
use aws_sdk_s3::primitives::ByteStream;
use contract::release::{Artifact, validate_version};
use sha2::{Digest, Sha256};

use crate::aws_error::describe;

/// `publish`'s options.
pub use canaryctl_args::PublishArgs as Args;

#[derive(Debug)]
enum PublishError {
    Version(String),
    File {
        flag: &'static str,
        path: PathBuf,
        reason: String,
    },
    Upload {
        target: String,
        source: Box<dyn std::error::Error + Send + Sync>,
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
            PublishError::Version(problem) => write!(f, "--version: {problem}"),
            PublishError::File { flag, path, reason } => {
                write!(f, "{flag} {}: {reason}", path.display())
            }
            PublishError::Upload { target, source } => {
                write!(f, "upload to {target} failed: {source}")
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

impl std::error::Error for PublishError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PublishError::Upload { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

pub async fn run(options: &Args) -> crate::Result {
    // Checked before any AWS call: a wrong path should not look like a credentials problem.
    let bytes = read_file("--file", &options.file)?;
    let signal = options
        .signal_file
        .as_deref()
        .map(|path| read_file("--signal-file", path))
        .transpose()?;
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(url) = &options.store.endpoint_url {
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

    let (bucket, prefix) = (&options.store.bucket, options.store.prefix());
    // The signal first: the recommender's checksum marks the version published.
    if let (Some(signal), Some(path)) = (&signal, &options.signal_file) {
        let outcome = upload_artifact(
            &client,
            bucket,
            prefix,
            &options.version,
            Artifact::Signal,
            signal,
        )
        .await?;
        println!("{} ({})", outcome, path.display());
    }
    let outcome = upload(&client, bucket, prefix, &options.version, &bytes).await?;
    println!("{} ({})", outcome, options.file.display());
    Ok(())
}

fn read_file(flag: &'static str, path: &std::path::Path) -> Result<Vec<u8>, PublishError> {
    std::fs::read(path)
        .ok()
        .filter(|_| path.is_file())
        .ok_or_else(|| PublishError::File {
            flag,
            path: path.to_path_buf(),
            reason: "not a readable file".into(),
        })
}

/// Publishes `bytes` as `version`'s recommender: nothing happens when that exact binary is
/// already published, a different one is refused. Returns what was done.
pub async fn upload(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    version: &str,
    bytes: &[u8],
) -> crate::Result<String> {
    upload_artifact(
        client,
        bucket,
        prefix,
        version,
        Artifact::Recommender,
        bytes,
    )
    .await
}

/// Publishes `bytes` as `version`'s `artifact`, immutable like the recommender.
pub async fn upload_artifact(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    version: &str,
    artifact: Artifact,
    bytes: &[u8],
) -> crate::Result<String> {
    validate_version(version).map_err(PublishError::Version)?;
    let local = hex::encode(Sha256::digest(bytes));
    let key = artifact.key(prefix, version);
    let sum_key = artifact.checksum_key(prefix, version);
    let target = format!("s3://{bucket}/{key}");
    let upload_error = |target: &str| {
        let target = target.to_string();
        move |source: Box<dyn std::error::Error + Send + Sync>| PublishError::Upload {
            target,
            source,
        }
    };
    if let Some(published) = published_checksum(client, bucket, &sum_key, artifact)
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
        .map_err(|err| upload_error(&target)(describe(err).into()))?;
    // Only one publisher can create the checksum: a concurrent publish of another binary loses
    // here, and an instance refuses a binary that does not match it anyway.
    let sum_target = format!("s3://{bucket}/{sum_key}");
    client
        .put_object()
        .bucket(bucket)
        .key(&sum_key)
        .content_type("text/plain")
        .if_none_match("*")
        .body(ByteStream::from(
            artifact.checksum_body(&local).into_bytes(),
        ))
        .send()
        .await
        .map_err(|err| upload_error(&sum_target)(describe(err).into()))?;
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
    artifact: Artifact,
) -> Result<Option<String>, Box<dyn std::error::Error + Send + Sync>> {
    match client.get_object().bucket(bucket).key(key).send().await {
        Ok(object) => {
            let body = object.body.collect().await?.into_bytes();
            let text = String::from_utf8_lossy(&body);
            artifact
                .parse_checksum(&text)
                .map(|hex| Some(hex.to_string()))
                .ok_or_else(|| format!("s3://{bucket}/{key} is not a checksum: {text:?}").into())
        }
        Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
        Err(err) => Err(describe(err).into()),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(args: &[&str]) -> Result<Args, String> {
        Cli::try_parse_from(std::iter::once("publish").chain(args.iter().copied()))
            .map(|cli| cli.args)
            .map_err(|err| err.to_string())
    }

    #[test]
    fn the_keys_are_the_prefix_the_version_then_the_files() {
        for (prefix, key) in [
            (None, "artifacts/1.1.0/recommender"),
            (Some(""), "1.1.0/recommender"),
            (Some("releases"), "releases/1.1.0/recommender"),
            (Some("/a/b/"), "a/b/1.1.0/recommender"),
        ] {
            let mut args = vec!["--bucket", "b", "--version", "1.1.0", "--file", "f"];
            if let Some(prefix) = prefix {
                args.extend(["--prefix", prefix]);
            }
            let options = parse(&args).unwrap();
            assert_eq!(
                contract::release::binary_key(options.store.prefix(), &options.version),
                key,
                "{prefix:?}"
            );
        }
    }

    #[test]
    fn without_a_prefix_it_publishes_where_the_instances_read() {
        let options = parse(&["--bucket", "b", "--version", "1.1.0", "--file", "f"]).unwrap();
        let read_by_instances = stack::parameters::DEFAULT_ARTIFACT_PREFIX;
        assert_eq!(options.store.prefix(), read_by_instances);
    }

    #[test]
    fn usage_errors_name_the_problem() {
        for (args, expected) in [
            (
                &["--version", "1", "--file", "f"][..],
                "the following required arguments were not provided:\n  --bucket <B>",
            ),
            (
                &["--bucket", "b", "--version", "1"][..],
                "the following required arguments were not provided:\n  --file <PATH>",
            ),
            (
                &["--bucket", "b", "--file", "f"][..],
                "the following required arguments were not provided:\n  --version <V>",
            ),
            (&["--bucket"][..], "a value is required for '--bucket <B>'"),
            (
                &["--bucket", "", "--version", "1", "--file", "f"][..],
                "a value is required for '--bucket <B>'",
            ),
            (
                &["--bucket", "b", "--version", "../x", "--file", "f"][..],
                "version `../x` contains `/`",
            ),
            (
                &["--bucket", "b", "--version", "1", "--file", "f", "--force"][..],
                "unexpected argument '--force'",
            ),
        ] {
            let err = parse(args).unwrap_err();
            assert!(err.contains(expected), "{args:?}: {err}");
        }
    }
}
