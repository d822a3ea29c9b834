//! The V2 image, built and run for real: the `FROM scratch` image of `deploy/Dockerfile.host` around
//! the static binary of `cargo xtask build-static`, started with the run flags the Docker host's
//! Quadlet unit is rendered from (`stack::container`), published on 127.0.0.1 instead of port 80.
//!
//! Runs as root with a rootful engine on isolated state: these machines' hybrid cgroups cannot
//! limit a rootless container. The rootless side (engine owner, user namespace) is the user data's,
//! checked by `guard/docker_host.guard`; here the kernel's own view of the process is checked.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use alb_canary_tests::journal::Journal;
use alb_canary_tests::podman::{Podman, static_recommender};
use alb_canary_tests::{free_port, project_root};
use serde_json::Value;
use stack::container::{Container, IMAGE, Publish};

/// Kills the container by itself if the test dies without cleaning up (test-only, not a run flag).
const CONTAINER_LIFETIME_SECS: &str = "600";
const PATIENCE: Duration = Duration::from_secs(30);

/// A raw HTTP/1.1 exchange with the published port: status and JSON body.
fn http(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<(u16, Value)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw)?;
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("not HTTP: {raw:?}")))?;
    let status = head
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status: {head}")))?;
    Ok((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}

fn wait_healthy(port: u16, podman: &Podman, name: &str) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match http(port, "GET", "/health", "") {
            Ok((200, body)) => return body,
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            other => panic!(
                "/health did not answer 200 within {PATIENCE:?}: {other:?}\nlogs: {}",
                podman.ok(["ps", "--all", "--format", "{{.Names}} {{.Status}}"])
                    + &podman.ok(["inspect", "--format", "{{.State.Error}}", name])
            ),
        }
    }
}

/// `Key:` values of /proc/<pid>/status.
fn proc_status(pid: &str, key: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
        .trim()
        .to_owned()
}

/// Builds the image from the Docker host's Dockerfile and the static binary, as the user data does.
fn build_image(podman: &Podman) {
    let context = podman.dir().join("image");
    std::fs::create_dir_all(&context).unwrap();
    let binary = context.join("recommender");
    std::fs::copy(static_recommender(), &binary).unwrap();
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::copy(
        project_root().join("services/recommender/deploy/Dockerfile.host"),
        context.join("Dockerfile"),
    )
    .unwrap();
    podman.ok([
        "build",
        "--format",
        "docker",
        "--pull=never",
        "-t",
        IMAGE,
        context.to_str().unwrap(),
    ]);
    // Docker format keeps the HEALTHCHECK (OCI drops it); exec form, as scratch has no shell.
    let health: Value = serde_json::from_str(&podman.ok([
        "image",
        "inspect",
        "--format",
        "{{json .Config.Healthcheck}}",
        IMAGE,
    ]))
    .unwrap();
    assert_eq!(
        health["Test"],
        serde_json::json!(["CMD", "/recommender", "--health-check", "--port", "8000"])
    );
}

#[test]
fn the_scratch_image_runs_hardened_with_the_production_run_flags() {
    let podman = Podman::new("v2");
    build_image(&podman);

    // A canary drill's knob, through the environment file as on the host.
    let env_file = podman.dir().join("v2.env");
    std::fs::write(&env_file, "RECOMMENDER_ERROR_RATE=1\n").unwrap();
    let port = free_port();
    let spec = Container {
        publish: Publish {
            host_ip: Some("127.0.0.1".parse().unwrap()),
            host_port: port,
            container_port: 8000,
        },
        environment_file: env_file.to_string_lossy().into_owned(),
        ..Container::recommender_v2()
    };
    let journal = Journal::open();
    let mut run = vec![
        "run".to_string(),
        "--detach".into(),
        "--timeout".into(),
        CONTAINER_LIFETIME_SECS.into(),
    ];
    run.extend(spec.podman_run_args());
    podman.ok(&run);
    let name = spec.name;

    // /health answers through the published port, from the model the image's CMD selects.
    let health = wait_healthy(port, &podman, name);
    assert_eq!(health["model_id"], "V2 - DeepLearning - Canary");

    // The fault knob reached the process: every recommendation is an injected 500.
    let (status, body) = http(
        port,
        "POST",
        "/api/v1/recommendation",
        r#"{"user_id":"u1"}"#,
    )
    .unwrap();
    assert_eq!(
        (status, body["error"].as_str()),
        (500, Some("injected_fault")),
        "{body}"
    );

    // The kernel's view of the container's process, from the host.
    let pid = podman.inspect(name, "{{.State.Pid}}");
    let uids: Vec<String> = proc_status(&pid, "Uid")
        .split_whitespace()
        .map(String::from)
        .collect();
    assert_eq!(
        uids, ["10001"; 4],
        "real, effective, saved and fs uid: non-root on the host"
    );
    for caps in ["CapEff", "CapPrm", "CapInh", "CapAmb", "CapBnd"] {
        assert_eq!(proc_status(&pid, caps), "0000000000000000", "{caps}");
    }
    assert_eq!(proc_status(&pid, "NoNewPrivs"), "1");
    assert_eq!(
        proc_status(&pid, "Seccomp"),
        "2",
        "the default seccomp filter is on"
    );

    // Read-only root filesystem and no writable tmpfs anywhere.
    let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    let root_mount = mountinfo
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .expect("a root mount");
    let options = root_mount.split(' ').nth(5).unwrap();
    assert!(
        options.split(',').any(|o| o == "ro"),
        "root mounted {options}"
    );
    for point in ["/tmp", "/run", "/var/tmp"] {
        assert!(
            !mountinfo
                .lines()
                .any(|l| l.split(' ').nth(4) == Some(point)),
            "{point} is mounted: {mountinfo}"
        );
    }

    // Limits and policies as the engine recorded them.
    let host_config: Value =
        serde_json::from_str(&podman.inspect(name, "{{json .HostConfig}}")).unwrap();
    assert_eq!(host_config["ReadonlyRootfs"], true);
    assert_eq!(host_config["PidsLimit"], spec.pids_limit);
    assert_eq!(host_config["Memory"], 256 * 1024 * 1024);
    assert_eq!(host_config["MemorySwap"], 256 * 1024 * 1024);
    assert_eq!(host_config["NanoCpus"], 1_000_000_000u64);
    assert_eq!(
        host_config["RestartPolicy"],
        serde_json::json!({"Name": "on-failure", "MaximumRetryCount": spec.restart_attempts})
    );
    assert_eq!(host_config["LogConfig"]["Type"], "journald");
    assert_eq!(host_config["NetworkMode"], "slirp4netns");
    assert_eq!(
        podman.inspect(name, "{{.Config.StopTimeout}}"),
        spec.stop_timeout_secs.to_string()
    );

    // No shell, nothing to exec but the binary.
    let shell = podman.output(["exec", name, "/bin/sh", "-c", "true"]);
    assert!(!shell.status.success());
    assert!(
        String::from_utf8_lossy(&shell.stderr).contains("no such file or directory"),
        "{}",
        String::from_utf8_lossy(&shell.stderr)
    );

    // The health mode: the engine's check passes; the same command fails on a port nothing serves.
    let check = podman.output(["healthcheck", "run", name]);
    assert!(check.status.success(), "{:?}", check);
    assert_eq!(podman.inspect(name, "{{.State.Health.Status}}"), "healthy");
    let failing = podman.output([
        "exec",
        name,
        "/recommender",
        "--health-check",
        "--port",
        "1",
    ]);
    assert_eq!(failing.status.code(), Some(1), "{failing:?}");
    assert!(String::from_utf8_lossy(&failing.stderr).contains("unhealthy"));

    // The service's JSON log lines went to the journal through the log driver.
    let deadline = Instant::now() + PATIENCE;
    while !journal
        .messages_of(name)
        .iter()
        .any(|m| m.contains(r#""message":"listening""#))
    {
        assert!(
            Instant::now() < deadline,
            "no `listening` line in the journal: {:?}",
            journal.messages_of(name)
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // SIGTERM: the service finishes and exits 0 by itself, well before the engine's SIGKILL.
    let started = Instant::now();
    podman.ok(["stop", name]);
    let took = started.elapsed();
    assert_eq!(
        podman.inspect(name, "{{.State.ExitCode}}"),
        "0",
        "not killed"
    );
    assert!(
        took < Duration::from_secs(spec.stop_timeout_secs.into()),
        "stopped in {took:?}, the stop timeout is {} s",
        spec.stop_timeout_secs
    );
    let deadline = Instant::now() + PATIENCE;
    while !journal
        .messages_of(name)
        .iter()
        .any(|m| m.contains("requests in flight finished"))
    {
        assert!(
            Instant::now() < deadline,
            "no shutdown line: {:?}",
            journal.messages_of(name)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("container stopped by SIGTERM in {took:?}");
}
