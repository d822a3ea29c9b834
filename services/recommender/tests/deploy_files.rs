//! The deploy files agree with the binary: the systemd unit the stack's user data installs and the
//! two Dockerfiles, as text (`tests/tests/container.rs` builds and runs `Dockerfile.host`; the
//! multi-stage one needs a Rust base image no CI machine can pull).

use recommender::cli::{self, Command};
use recommender::{Config, Model};

const UNIT: &str = include_str!("../deploy/recommender@.service");
const DOCKERFILE: &str = include_str!("../Dockerfile");
const DOCKERFILE_HOST: &str = include_str!("../deploy/Dockerfile.host");

fn unit_values(key: &str) -> Vec<&'static str> {
    UNIT.lines()
        .filter_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        .collect()
}

/// Instructions of a Dockerfile without comments, continuation lines joined.
fn instructions(dockerfile: &str) -> Vec<String> {
    let mut joined = String::new();
    let mut out = Vec::new();
    for line in dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        match line.strip_suffix('\\') {
            Some(part) => joined.push_str(part),
            None => {
                joined.push_str(line);
                out.push(std::mem::take(&mut joined));
            }
        }
    }
    out
}

fn final_stage(dockerfile: &str) -> Vec<String> {
    let all = instructions(dockerfile);
    let last_from = all
        .iter()
        .rposition(|i| i.starts_with("FROM "))
        .expect("a FROM");
    all[last_from..].to_vec()
}

/// The configuration the binary would serve with these arguments (program name first), with an
/// empty environment.
fn serve<T: Into<std::ffi::OsString> + Clone>(args: impl IntoIterator<Item = T>) -> Config {
    match cli::parse(args, |_| None) {
        Ok(Command::Serve(config)) => config,
        other => panic!("not a serving command line: {other:?}"),
    }
}

fn json_array(instruction: &str, keyword: &str) -> Vec<String> {
    let rest = instruction.strip_prefix(keyword).unwrap().trim();
    serde_json::from_str(rest)
        .unwrap_or_else(|err| panic!("{keyword} must be exec form ({err}): {instruction}"))
}

#[test]
fn the_unit_starts_the_instance_model_on_port_8000_and_the_binary_accepts_it() {
    assert_eq!(
        unit_values("ExecStart"),
        ["/opt/recommender/recommender --model %i --port 8000"]
    );
    for (instance, model) in [("v1", Model::V1), ("v2", Model::V2)] {
        let args = unit_values("ExecStart")[0].replace("%i", instance);
        let config = serve(args.split(' '));
        assert_eq!((config.model, config.port), (model, 8000));
    }
}

#[test]
fn the_unit_restarts_on_failure_but_not_on_a_configuration_error_and_is_hardened() {
    for (key, value) in [
        ("Restart", "on-failure"),
        // Exit status 2 is what the binary returns for an invalid flag or knob (tests/server.rs).
        ("RestartPreventExitStatus", "2"),
        ("DynamicUser", "yes"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateDevices", "yes"),
        ("CapabilityBoundingSet", ""),
        ("MemoryDenyWriteExecute", "yes"),
    ] {
        assert_eq!(unit_values(key), [value], "{key}");
    }
    assert!(
        unit_values("User").is_empty(),
        "DynamicUser picks the user; a fixed User= would undo it"
    );
}

#[test]
fn both_images_end_in_the_same_scratch_stage_with_a_numeric_non_root_user_and_no_shell() {
    let built = final_stage(DOCKERFILE);
    let host = final_stage(DOCKERFILE_HOST);
    assert_eq!(
        instructions(DOCKERFILE_HOST),
        host,
        "Dockerfile.host is a single stage"
    );
    assert!(
        instructions(DOCKERFILE)
            .iter()
            .filter(|i| i.starts_with("FROM "))
            .count()
            >= 2,
        "multi-stage"
    );
    for stage in [&built, &host] {
        assert_eq!(stage[0], "FROM scratch");
        let user = stage
            .iter()
            .find_map(|i| i.strip_prefix("USER "))
            .expect("a USER");
        let uid: u32 = user
            .split(':')
            .next()
            .unwrap()
            .parse()
            .expect("a numeric UID");
        assert_ne!(uid, 0, "not root");
        assert!(
            stage
                .iter()
                .all(|i| !i.starts_with("RUN ") && !i.starts_with("SHELL ")),
            "scratch has no shell to RUN with: {stage:?}"
        );
    }
    // Same stage apart from where the binary comes from.
    let without_copy = |stage: &[String]| -> Vec<String> {
        stage
            .iter()
            .filter(|i| !i.starts_with("COPY "))
            .cloned()
            .collect()
    };
    assert_eq!(without_copy(&built), without_copy(&host));
    assert!(built.contains(&"COPY --from=build /recommender /recommender".to_string()));
    assert!(host.contains(&"COPY recommender /recommender".to_string()));
}

#[test]
fn the_image_command_is_one_the_binary_accepts() {
    let stage = final_stage(DOCKERFILE_HOST);
    let entrypoint = json_array(
        stage.iter().find(|i| i.starts_with("ENTRYPOINT ")).unwrap(),
        "ENTRYPOINT",
    );
    assert_eq!(entrypoint, ["/recommender"]);
    let cmd = json_array(stage.iter().find(|i| i.starts_with("CMD ")).unwrap(), "CMD");
    let config = serve(std::iter::once("/recommender".to_string()).chain(cmd));
    // The Docker host maps host port 80 to this container port.
    assert_eq!((config.model, config.port), (Model::V2, 8000));

    // The health command checks that same port, on the container's loopback.
    let health = stage
        .iter()
        .find(|i| i.starts_with("HEALTHCHECK "))
        .expect("a HEALTHCHECK");
    let (_, command) = health
        .split_once(" CMD ")
        .expect("HEALTHCHECK ... CMD [...]");
    let command = json_array(&format!("CMD {command}"), "CMD");
    match cli::parse(command, |_| None) {
        Ok(Command::HealthCheck(target)) => assert_eq!(target.0.to_string(), "127.0.0.1:8000"),
        other => panic!("not a health check: {other:?}"),
    }
}

#[test]
fn the_builder_stage_makes_a_static_binary_for_the_image_architecture() {
    let build = instructions(DOCKERFILE)
        .into_iter()
        .find(|i| i.starts_with("RUN "))
        .unwrap();
    assert!(build.contains("-C target-feature=+crt-static"), "{build}");
    assert!(build.contains("--target \"$target\""), "{build}");
    assert!(
        build.contains("-p recommender") && build.contains("--locked"),
        "{build}"
    );
}
