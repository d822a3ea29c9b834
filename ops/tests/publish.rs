//! `canaryctl publish` against a real moto server: the bytes land at `s3://B/P/V/recommender` with
//! their checksum; a published version is immutable.

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
async fn publish_uploads_the_exact_bytes_and_their_checksum_under_the_version() {
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
    let args = |file: &TempFile| {
        vec![
            "--bucket".to_string(),
            "artifacts".into(),
            "--prefix".into(),
            "/releases/".into(),
            "--version".into(),
            "1.1.0".into(),
            "--file".into(),
            file.0.to_str().unwrap().into(),
        ]
    };
    let run =
        |args: Vec<String>| publish(&moto, &args.iter().map(String::as_str).collect::<Vec<_>>());

    let output = run(args(&file));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("s3://artifacts/releases/1.1.0/recommender"),
        "{stdout}"
    );
    assert!(
        object(&client, "artifacts", "releases/1.1.0/recommender").await == bytes,
        "bytes differ"
    );
    // The checksum in `sha256sum` format, as the instance checks it.
    let sum =
        String::from_utf8(object(&client, "artifacts", "releases/1.1.0/recommender.sha256").await)
            .unwrap();
    let hex = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    assert_eq!(sum, format!("{hex}  recommender\n"));

    // The same binary again: nothing changes.
    let output = run(args(&file));
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("already published with this binary"));

    // Another binary under the same version: refused, the published one stays.
    let newer = TempFile::new("newer", b"release 8");
    let output = run(args(&newer));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("a version is immutable"), "{stderr}");
    assert!(stderr.contains(&hex), "{stderr}");
    assert!(object(&client, "artifacts", "releases/1.1.0/recommender").await == bytes);
    assert_eq!(
        String::from_utf8(object(&client, "artifacts", "releases/1.1.0/recommender.sha256").await)
            .unwrap(),
        sum
    );

    // A version with path characters: refused before any upload.
    let output = publish(
        &moto,
        &[
            "--bucket",
            "artifacts",
            "--version",
            "../1.1.0",
            "--file",
            newer.0.to_str().unwrap(),
        ],
    );
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("contains `/`"));
    let listed = client
        .list_objects_v2()
        .bucket("artifacts")
        .send()
        .await
        .unwrap();
    assert_eq!(
        listed.key_count(),
        Some(2),
        "only 1.1.0's binary and checksum"
    );
}

#[tokio::test]
async fn without_a_prefix_the_object_is_where_the_instances_read_it() {
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
            "--version",
            "2.0.0",
            "--file",
            file.0.to_str().unwrap(),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The stack's default `ArtifactPrefix`: the one the instances' boot script reads.
    let key = format!(
        "{}/2.0.0/recommender",
        stack::parameters::DEFAULT_ARTIFACT_PREFIX
    );
    assert_eq!(key, "artifacts/2.0.0/recommender");
    assert_eq!(
        object(&client, "root-artifacts", &key).await,
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
            "--version",
            "1.0.0",
            "--file",
            file.0.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("upload to s3://no-such-bucket/p/1.0.0/recommender failed"),
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
            "--version",
            "1.0.0",
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
            "--version",
            "3.0.0",
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
        object(&client, "env-artifacts", "p/3.0.0/recommender").await,
        b"from the environment"
    );
}

#[tokio::test]
async fn the_signal_is_published_beside_the_recommender_and_is_immutable_too() {
    let moto = Moto::start();
    let client = s3(&moto).await;
    client
        .create_bucket()
        .bucket("artifacts")
        .send()
        .await
        .unwrap();
    let recommender = TempFile::new("rec", b"recommender 1.2.0");
    let signal = TempFile::new("sig", b"alb-canary-signal 0.1.0");
    let run = |signal: &TempFile| {
        publish(
            &moto,
            &[
                "--bucket",
                "artifacts",
                "--version",
                "1.2.0",
                "--file",
                recommender.0.to_str().unwrap(),
                "--signal-file",
                signal.0.to_str().unwrap(),
            ],
        )
    };
    let output = run(&signal);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        object(&client, "artifacts", "artifacts/1.2.0/alb-canary-signal").await,
        b"alb-canary-signal 0.1.0"
    );
    let hex = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(b"alb-canary-signal 0.1.0"))
    };
    // The instance checks it with `sha256sum --check` under its own name.
    assert_eq!(
        String::from_utf8(
            object(
                &client,
                "artifacts",
                "artifacts/1.2.0/alb-canary-signal.sha256"
            )
            .await
        )
        .unwrap(),
        format!("{hex}  alb-canary-signal\n")
    );
    assert_eq!(
        object(&client, "artifacts", "artifacts/1.2.0/recommender").await,
        b"recommender 1.2.0"
    );

    // Another proxy under the same version: refused, before the recommender is touched.
    let other = TempFile::new("sig2", b"another proxy");
    let output = run(&other);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("s3://artifacts/artifacts/1.2.0/alb-canary-signal")
            && stderr.contains("a version is immutable"),
        "{stderr}"
    );
    assert_eq!(
        object(&client, "artifacts", "artifacts/1.2.0/alb-canary-signal").await,
        b"alb-canary-signal 0.1.0"
    );

    // A missing signal file: refused before any AWS call.
    let output = publish(
        &moto,
        &[
            "--bucket",
            "artifacts",
            "--version",
            "1.3.0",
            "--file",
            recommender.0.to_str().unwrap(),
            "--signal-file",
            "/nonexistent/alb-canary-signal",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("--signal-file /nonexistent/alb-canary-signal: not a readable file"),
        "{stderr}"
    );
}
