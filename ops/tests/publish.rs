//! `canaryctl publish` against a real moto server: the bytes land at `s3://B/P/recommender`.

use std::path::PathBuf;
use std::process::{Command, Output};

use alb_canary_tests::Moto;

/// A file of distinctive bytes in the temp dir, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, bytes: &[u8]) -> TempFile {
        let path =
            std::env::temp_dir().join(format!("canaryctl-publish-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs the binary with the endpoint given only by `--endpoint-url`, so the flag itself is tested.
fn publish(moto: &Moto, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_canaryctl"))
        .arg("publish")
        .args(args)
        .args(["--endpoint-url", &moto.endpoint()])
        .envs(moto.env())
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .unwrap()
}

async fn s3(moto: &Moto) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(&moto.sdk_config().await)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

async fn object(client: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    let object = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    object.body.collect().await.unwrap().into_bytes().to_vec()
}

#[tokio::test]
async fn publish_uploads_the_exact_bytes_under_the_prefix() {
    let moto = Moto::start();
    let client = s3(&moto).await;
    client
        .create_bucket()
        .bucket("artifacts")
        .send()
        .await
        .unwrap();
    // 3 MiB of non-repeating bytes: large enough to be a real binary's size class.
    let bytes: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let file = TempFile::new("binary", &bytes);

    let output = publish(
        &moto,
        &[
            "--bucket",
            "artifacts",
            "--prefix",
            "/releases/v7/",
            "--file",
            file.0.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("s3://artifacts/releases/v7/recommender"),
        "{stdout}"
    );
    assert!(
        object(&client, "artifacts", "releases/v7/recommender").await == bytes,
        "bytes differ"
    );

    // Publishing again replaces the object: a new release under the same prefix.
    let newer = TempFile::new("newer", b"release 8");
    let output = publish(
        &moto,
        &[
            "--bucket",
            "artifacts",
            "--prefix",
            "releases/v7",
            "--file",
            newer.0.to_str().unwrap(),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        object(&client, "artifacts", "releases/v7/recommender").await,
        b"release 8"
    );
}

#[tokio::test]
async fn without_a_prefix_the_object_is_at_the_bucket_root() {
    let moto = Moto::start();
    let client = s3(&moto).await;
    client
        .create_bucket()
        .bucket("root-artifacts")
        .send()
        .await
        .unwrap();
    let file = TempFile::new("root", b"\x7fELF static");

    let output = publish(
        &moto,
        &[
            "--bucket",
            "root-artifacts",
            "--file",
            file.0.to_str().unwrap(),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        object(&client, "root-artifacts", "recommender").await,
        b"\x7fELF static"
    );
}

#[tokio::test]
async fn a_missing_bucket_fails_with_the_target_and_the_service_error() {
    let moto = Moto::start();
    let file = TempFile::new("nobucket", b"bytes");

    let output = publish(
        &moto,
        &[
            "--bucket",
            "no-such-bucket",
            "--prefix",
            "p",
            "--file",
            file.0.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("upload to s3://no-such-bucket/p/recommender failed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("NoSuchBucket"),
        "the SDK's error code is shown, not just `service error`: {stderr}"
    );
}

#[tokio::test]
async fn a_missing_file_fails_before_any_upload() {
    let moto = Moto::start();
    let client = s3(&moto).await;
    client
        .create_bucket()
        .bucket("untouched")
        .send()
        .await
        .unwrap();

    let output = publish(
        &moto,
        &[
            "--bucket",
            "untouched",
            "--file",
            "/nonexistent/recommender",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("--file /nonexistent/recommender: not a readable file"),
        "{stderr}"
    );
    let listed = client
        .list_objects_v2()
        .bucket("untouched")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.key_count(), Some(0));
}

#[tokio::test]
async fn aws_endpoint_url_from_the_environment_works_without_the_flag() {
    let moto = Moto::start();
    let client = s3(&moto).await;
    client
        .create_bucket()
        .bucket("env-artifacts")
        .send()
        .await
        .unwrap();
    let file = TempFile::new("env", b"from the environment");

    let output = Command::new(env!("CARGO_BIN_EXE_canaryctl"))
        .args([
            "publish",
            "--bucket",
            "env-artifacts",
            "--prefix",
            "p",
            "--file",
            file.0.to_str().unwrap(),
        ])
        .envs(moto.env())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        object(&client, "env-artifacts", "p/recommender").await,
        b"from the environment"
    );
}
