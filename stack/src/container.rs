//! The V2 container of the Docker host, defined once. The stack renders it as the Quadlet unit in
//! the host's user data ([`Container::quadlet`]); the container test runs `podman run` with
//! [`Container::podman_run_args`] (`tests/tests/container.rs`). Both come from the same
//! [`Container::settings`], so what the test proves is what the host runs.
//!
//! The target engine is rootless Podman 4.9 (Ubuntu 24.04); each setting pairs its Quadlet line
//! with the `podman run` arguments Quadlet 4.9 turns it into.

use std::net::IpAddr;

/// The image the host builds (`podman build`, never pulled).
pub const IMAGE: &str = "localhost/alb-canary/recommender:v2";
/// Where the unit lives: rootless units of one user, in a root-owned directory the user cannot edit.
pub const QUADLET_DIR: &str = "/etc/containers/systemd/users";
pub const UNIT_NAME: &str = "recommender-v2";
/// The unprivileged host account that owns the engine and the container.
pub const HOST_USER: &str = "recommender";
/// Drill knobs (`RECOMMENDER_ERROR_RATE`, ...) for the container, as for the VM unit.
pub const ENVIRONMENT_FILE: &str = "/etc/recommender/v2.env";
/// The image's numeric user (`USER` in `Dockerfile.host`): not root inside, and under rootless
/// Podman a subordinate uid outside, owning nothing on the host.
pub const IMAGE_USER: (u32, u32) = (10001, 10001);

/// Host side of the one published port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// `None`: every host address (the ALB reaches the host's private IP).
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_port: u16,
}

impl Publish {
    fn spec(&self) -> String {
        match self.host_ip {
            Some(ip) => format!("{ip}:{}:{}", self.host_port, self.container_port),
            None => format!("{}:{}", self.host_port, self.container_port),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub interval: &'static str,
    pub timeout: &'static str,
    pub start_period: &'static str,
    pub retries: u32,
    /// What the engine does with an unhealthy container: `kill` hands it to the restart policy.
    pub on_failure: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub name: &'static str,
    pub image: &'static str,
    pub user: (u32, u32),
    pub publish: Publish,
    pub environment_file: String,
    pub pids_limit: u32,
    pub memory: &'static str,
    pub cpus: &'static str,
    pub ulimits: Vec<(&'static str, u64)>,
    /// SIGTERM, then this long for the requests in flight (each bounded by 10 s), then SIGKILL.
    pub stop_timeout_secs: u32,
    /// Restarts after a failure before giving up (CIS Docker 5.15: on-failure, at most 5).
    pub restart_attempts: u32,
    pub health: Health,
    pub log_driver: &'static str,
}

/// One setting: its Quadlet `[Container]` lines and the `podman run` arguments they stand for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub quadlet: Vec<(&'static str, String)>,
    pub podman: Vec<String>,
}

fn setting(key: &'static str, value: impl Into<String>, podman: &[&str]) -> Setting {
    Setting {
        quadlet: vec![(key, value.into())],
        podman: podman.iter().map(|a| a.to_string()).collect(),
    }
}

/// Arguments Quadlet 4.9 passes through verbatim (`PodmanArgs=`), for what it has no key of its
/// own: memory, CPU, stop timeout, and more than one ulimit (4.9 keeps only the last `Ulimit=`).
fn podman_args(arg: String) -> Setting {
    Setting {
        quadlet: vec![("PodmanArgs", arg.clone())],
        podman: vec![arg],
    }
}

impl Container {
    /// The production container: V2 on the Docker host, host port 80 → container port 8000.
    pub fn recommender_v2() -> Container {
        Container {
            name: UNIT_NAME,
            image: IMAGE,
            user: IMAGE_USER,
            publish: Publish {
                host_ip: None,
                host_port: 80,
                container_port: 8000,
            },
            environment_file: ENVIRONMENT_FILE.to_string(),
            // Tokio's workers (one per core) plus headroom; a fork bomb stops here.
            pids_limit: 64,
            // The service peaks under 5 MiB (bench-service); no swap beyond the limit.
            memory: "256m",
            cpus: "1",
            ulimits: vec![("nofile", 16384), ("nproc", 4096)],
            stop_timeout_secs: 15,
            restart_attempts: 5,
            health: Health {
                interval: "30s",
                timeout: "5s",
                start_period: "5s",
                retries: 3,
                on_failure: "kill",
            },
            log_driver: "journald",
        }
    }

    /// The same container behind `alb-canary-signal` (`TargetSignal=enabled`): published on the
    /// host's loopback only, where the proxy on host port 80 forwards.
    pub fn recommender_v2_behind_proxy() -> Container {
        let mut container = Container::recommender_v2();
        container.publish = Publish {
            host_ip: Some(IpAddr::from([127, 0, 0, 1])),
            host_port: crate::target_signal::SERVICE_BEHIND_PROXY_PORT,
            container_port: container.publish.container_port,
        };
        container
    }

    /// The health command in exec form (a JSON array): `scratch` has no shell to run a string.
    pub fn health_cmd(&self) -> String {
        format!(
            r#"["/recommender","--health-check","--port","{}"]"#,
            self.publish.container_port
        )
    }

    /// Every run setting, in the order the unit lists them.
    pub fn settings(&self) -> Vec<Setting> {
        let (uid, gid) = self.user;
        let mut settings = vec![
            setting("ContainerName", self.name, &["--name", self.name]),
            // Built on the host from the verified binary; a registry is never asked.
            setting("Pull", "never", &["--pull", "never"]),
            Setting {
                quadlet: vec![("User", uid.to_string()), ("Group", gid.to_string())],
                podman: vec!["--user".into(), format!("{uid}:{gid}")],
            },
            // A user-mode network of its own (the rootless default, made explicit): no bridge
            // shared with other containers and no firewall rules of the engine on the host.
            setting("Network", "slirp4netns", &["--network", "slirp4netns"]),
            setting(
                "PublishPort",
                self.publish.spec(),
                &["--publish", &self.publish.spec()],
            ),
            setting(
                "EnvironmentFile",
                self.environment_file.clone(),
                &["--env-file", &self.environment_file],
            ),
            setting("ReadOnly", "true", &["--read-only"]),
            // No writable tmpfs on /tmp, /run, /var/tmp either: the service writes no file.
            setting("ReadOnlyTmpfs", "false", &["--read-only-tmpfs=false"]),
            setting("DropCapability", "all", &["--cap-drop=all"]),
            setting(
                "NoNewPrivileges",
                "true",
                &["--security-opt=no-new-privileges"],
            ),
            setting(
                "PidsLimit",
                self.pids_limit.to_string(),
                &["--pids-limit", &self.pids_limit.to_string()],
            ),
            podman_args(format!("--memory={}", self.memory)),
            podman_args(format!("--memory-swap={}", self.memory)),
            podman_args(format!("--cpus={}", self.cpus)),
        ];
        for (name, limit) in &self.ulimits {
            settings.push(podman_args(format!("--ulimit={name}={limit}:{limit}")));
        }
        settings.push(podman_args(format!(
            "--stop-timeout={}",
            self.stop_timeout_secs
        )));
        settings.push(setting(
            "LogDriver",
            self.log_driver,
            &["--log-driver", self.log_driver],
        ));
        settings.extend(self.health_settings());
        settings
    }

    /// The health check's settings, in the unit's order.
    fn health_settings(&self) -> Vec<Setting> {
        vec![
            setting(
                "HealthCmd",
                self.health_cmd(),
                &["--health-cmd", &self.health_cmd()],
            ),
            setting(
                "HealthInterval",
                self.health.interval,
                &["--health-interval", self.health.interval],
            ),
            setting(
                "HealthTimeout",
                self.health.timeout,
                &["--health-timeout", self.health.timeout],
            ),
            setting(
                "HealthStartPeriod",
                self.health.start_period,
                &["--health-start-period", self.health.start_period],
            ),
            setting(
                "HealthRetries",
                self.health.retries.to_string(),
                &["--health-retries", &self.health.retries.to_string()],
            ),
            setting(
                "HealthOnFailure",
                self.health.on_failure,
                &["--health-on-failure", self.health.on_failure],
            ),
        ]
    }

    /// `podman run` options and the image, for a container started without systemd: the
    /// restart policy is podman's own here (under Quadlet, systemd restarts the unit instead).
    pub fn podman_run_args(&self) -> Vec<String> {
        let mut args: Vec<String> = self.settings().into_iter().flat_map(|s| s.podman).collect();
        args.push(format!("--restart=on-failure:{}", self.restart_attempts));
        args.push(self.image.to_string());
        args
    }

    /// The Quadlet `.container` unit of a rootless user's systemd (`systemctl --user`).
    pub fn quadlet(&self) -> String {
        let mut unit = String::from(
            "# Generated by `cargo xtask synth` from stack/src/container.rs: the V2 container,\n\
             # run by rootless Podman under an unprivileged user's systemd.\n\
             [Unit]\n\
             Description=alb-canary recommendation API V2 (rootless Podman container)\n",
        );
        // Bounded restarts: past this many failed starts in 10 minutes the unit stays failed.
        unit.push_str(&format!(
            "StartLimitIntervalSec=600\nStartLimitBurst={}\n\n[Container]\nImage={}\n",
            self.restart_attempts, self.image
        ));
        for (key, value) in self.settings().into_iter().flat_map(|s| s.quadlet) {
            unit.push_str(&format!("{key}={value}\n"));
        }
        unit.push_str(&format!(
            "\n[Service]\nRestart=on-failure\nRestartSec=5\n\
             # Exit 2 is an invalid flag or knob: restarting cannot fix it.\n\
             RestartPreventExitStatus=2\n\
             TimeoutStopSec={}\n\n[Install]\nWantedBy=default.target\n",
            self.stop_timeout_secs + 15
        ));
        unit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(unit: &str, key: &str) -> Vec<String> {
        unit.lines()
            .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(String::from)
            .collect()
    }

    #[test]
    fn every_quadlet_line_has_its_podman_arguments_and_no_other() {
        let container = Container::recommender_v2();
        let unit = container.quadlet();
        for setting in container.settings() {
            assert!(!setting.podman.is_empty(), "{setting:?}");
            for (key, value) in &setting.quadlet {
                assert!(lines(&unit, key).contains(value), "{key}={value}");
            }
        }
        let args = container.podman_run_args();
        assert_eq!(args.last().map(String::as_str), Some(IMAGE));
        // PodmanArgs lines are the podman arguments verbatim.
        for arg in lines(&unit, "PodmanArgs") {
            assert!(args.contains(&arg), "{arg}");
        }
    }

    #[test]
    fn the_production_container_is_hardened_and_maps_host_80_to_8000() {
        let container = Container::recommender_v2();
        let args = container.podman_run_args().join(" ");
        for flag in [
            "--read-only",
            "--read-only-tmpfs=false",
            "--cap-drop=all",
            "--security-opt=no-new-privileges",
            "--pids-limit 64",
            "--memory=256m",
            "--memory-swap=256m",
            "--cpus=1",
            "--ulimit=nofile=16384:16384",
            "--ulimit=nproc=4096:4096",
            "--stop-timeout=15",
            "--restart=on-failure:5",
            "--log-driver journald",
            "--pull never",
            "--user 10001:10001",
            "--publish 80:8000",
            "--env-file /etc/recommender/v2.env",
            "--network slirp4netns",
            r#"--health-cmd ["/recommender","--health-check","--port","8000"]"#,
            "--health-on-failure kill",
        ] {
            assert!(args.contains(flag), "{flag} missing from {args}");
        }
        for forbidden in [
            "--privileged",
            "--cap-add",
            "=host",
            " host",
            "--volume",
            "-v ",
        ] {
            assert!(!args.contains(forbidden), "{forbidden} in {args}");
        }
    }

    #[test]
    fn a_test_address_changes_only_the_published_port() {
        let production = Container::recommender_v2();
        let test = Container {
            publish: Publish {
                host_ip: Some("127.0.0.1".parse().unwrap()),
                host_port: 18080,
                container_port: 8000,
            },
            ..Container::recommender_v2()
        };
        let differ: Vec<_> = production
            .podman_run_args()
            .into_iter()
            .zip(test.podman_run_args())
            .filter(|(a, b)| a != b)
            .collect();
        assert_eq!(
            differ,
            [("80:8000".to_string(), "127.0.0.1:18080:8000".to_string())]
        );
    }

    #[test]
    fn the_unit_restarts_a_bounded_number_of_times_and_waits_longer_than_the_stop_timeout() {
        let unit = Container::recommender_v2().quadlet();
        assert_eq!(lines(&unit, "Restart"), ["on-failure"]);
        assert_eq!(lines(&unit, "StartLimitBurst"), ["5"]);
        assert_eq!(lines(&unit, "TimeoutStopSec"), ["30"]);
        assert_eq!(lines(&unit, "WantedBy"), ["default.target"]);
        assert_eq!(lines(&unit, "Image"), [IMAGE]);
        assert!(!unit.contains("${"), "nothing for Fn::Sub to substitute");
    }
}
