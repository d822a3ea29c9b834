//! `canaryctl publish --bucket B [--prefix P] --file PATH [--endpoint-url URL]`: uploads the
//! recommender binary to `s3://B/P/recommender`, where the stack's user data fetches it.
//!
//! `cargo xtask publish` builds the static binary and runs this; it can also be run by hand.

use std::fmt;
use std::path::PathBuf;

use aws_config::BehaviorVersion;
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_types::error::display::DisplayErrorContext;

/// The object name the user data downloads (`s3://${ArtifactBucket}/${ArtifactPrefix}/recommender`).
pub const OBJECT_NAME: &str = "recommender";

const USAGE: &str =
    "usage: canaryctl publish --bucket B [--prefix P] --file PATH [--endpoint-url URL]";

#[derive(Debug, PartialEq)]
struct Options {
    bucket: String,
    prefix: String,
    file: PathBuf,
    endpoint_url: Option<String>,
}

#[derive(Debug)]
enum PublishError {
    Usage(String),
    File { path: PathBuf, reason: String },
    Upload { target: String, reason: String },
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublishError::Usage(problem) => write!(f, "{problem}\n{USAGE}"),
            PublishError::File { path, reason } => write!(f, "--file {}: {reason}", path.display()),
            PublishError::Upload { target, reason } => {
                write!(f, "upload to {target} failed: {reason}")
            }
        }
    }
}

impl std::error::Error for PublishError {}

impl Options {
    fn parse(args: &[String]) -> Result<Options, PublishError> {
        let mut bucket = None;
        let mut prefix = String::new();
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
                "--file" => file = Some(PathBuf::from(value()?)),
                "--endpoint-url" => endpoint_url = Some(value()?),
                other => return Err(PublishError::Usage(format!("unknown option `{other}`"))),
            }
        }
        let bucket = bucket
            .filter(|b| !b.is_empty())
            .ok_or_else(|| PublishError::Usage("--bucket is required".into()))?;
        let file = file.ok_or_else(|| PublishError::Usage("--file is required".into()))?;
        Ok(Options {
            bucket,
            prefix,
            file,
            endpoint_url,
        })
    }

    /// `P/recommender`; slashes around the prefix are dropped so `/releases/` and `releases` agree.
    fn key(&self) -> String {
        match self.prefix.trim_matches('/') {
            "" => OBJECT_NAME.to_string(),
            prefix => format!("{prefix}/{OBJECT_NAME}"),
        }
    }
}

pub async fn run(args: &[String]) -> crate::Result {
    let options = Options::parse(args)?;
    // Checked before any AWS call: a wrong path should not look like a credentials problem.
    let size = std::fs::metadata(&options.file)
        .ok()
        .filter(|meta| meta.is_file())
        .map(|meta| meta.len())
        .ok_or_else(|| PublishError::File {
            path: options.file.clone(),
            reason: "not a readable file".into(),
        })?;
    let body = ByteStream::from_path(&options.file)
        .await
        .map_err(|err| PublishError::File {
            path: options.file.clone(),
            reason: err.to_string(),
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

    let key = options.key();
    let target = format!("s3://{}/{key}", options.bucket);
    client
        .put_object()
        .bucket(&options.bucket)
        .key(&key)
        .content_type("application/octet-stream")
        .body(body)
        .send()
        .await
        .map_err(|err| PublishError::Upload {
            target: target.clone(),
            reason: DisplayErrorContext(err).to_string(),
        })?;
    println!(
        "published {} ({size} bytes) to {target}",
        options.file.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, PublishError> {
        Options::parse(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn the_key_is_the_prefix_then_recommender() {
        for (prefix, key) in [
            ("", "recommender"),
            ("releases", "releases/recommender"),
            ("/a/b/", "a/b/recommender"),
        ] {
            let options = parse(&["--bucket", "b", "--prefix", prefix, "--file", "f"]).unwrap();
            assert_eq!(options.key(), key, "{prefix:?}");
        }
    }

    #[test]
    fn usage_errors_name_the_problem() {
        for (args, expected) in [
            (&["--file", "f"][..], "--bucket is required"),
            (&["--bucket", "b"][..], "--file is required"),
            (&["--bucket"][..], "--bucket needs a value"),
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
