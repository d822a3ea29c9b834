//! The boot, executed: each launch template's user data, rendered from the synthesized template,
//! run as root at boot in a Debian userland with systemd as PID 1 (`alb_canary_tests::boot`),
//! against the emulator with SigV4 and IAM checked, the artifacts published by the operators'
//! `publish`, the pointers written by `release`, and IMDSv2 served by the harness.
//!
//! Everything is asserted from outside the script: the service's `/health` on port 8000, its
//! unit's properties (`systemctl show`) and its process (`/proc`), the files it left, the
//! requests the metadata service saw. `docs/boot-rehearsal.md` says how close this is to
//! Ubuntu 24.04 on EC2, and what it cannot show.

mod account;

use std::sync::OnceLock;
use std::time::Duration;

use account::Account;
use alb_canary_tests::boot::imds::{Credentials, Imds};
use alb_canary_tests::boot::machine::{HOST_LOOPBACK, Machine, USER_DATA_UNIT};
use alb_canary_tests::boot::rootfs;
use alb_canary_tests::podman::{static_recommender, static_signal};
use contract::release::{SIGNAL_BINARY, binary_key, fleet_key};

const VERSION: &str = "1.0.0";
/// From `podman run` to `/health` 200 takes a few seconds here; this bounds a stuck boot.
const BOOT_PATIENCE: Duration = Duration::from_secs(90);
/// A refusal follows the pointer's first fetch, a second or two after boot.
const REFUSAL_PATIENCE: Duration = Duration::from_secs(30);
/// The user data retries a missing object every 15 s.
const RETRY_PATIENCE: Duration = Duration::from_secs(40);

/// The static binary `cargo xtask publish` uploads.
fn binary() -> &'static [u8] {
    static BINARY: OnceLock<Vec<u8>> = OnceLock::new();
    BINARY.get_or_init(|| std::fs::read(static_recommender()).expect("the static binary"))
}

/// An account where VERSION is published and released (both fleets' pointers name it), with
/// signatures checked from then on.
async fn released() -> Account {
    let account = Account::new().await;
    account.publish(VERSION, binary()).await;
    account.release(VERSION).await;
    account.enforce_auth();
    account
}

/// Boots the launch template `group`'s user data with `imds` as its metadata service.
fn boot(account: &Account, group: &str, imds: &Imds) -> Machine {
    boot_with(account, group, imds, &[])
}

/// [`boot`] with more of `podman run`'s options.
fn boot_with(account: &Account, group: &str, imds: &Imds, extra: &[&str]) -> Machine {
    let rootfs = rootfs::ensure();
    Machine::boot(
        &group.to_lowercase(),
        &rootfs,
        &account.user_data(group),
        &[
            (
                "IMDS_ENDPOINT",
                format!("http://{HOST_LOOPBACK}:{}", imds.port()),
            ),
            ("S3_ENDPOINT", account.s3_endpoint_from_machine()),
        ],
        extra,
    )
}

fn log_measure(group: &str, what: &str, elapsed: Duration) {
    // One JSON line per figure: the README's table is read off these.
    eprintln!(
        "{}",
        serde_json::json!({"measure": what, "group": group, "seconds": elapsed.as_secs_f64()})
    );
}

/// The fleet's service runs under systemd, sandboxed as its unit says, and answers on 8000.
async fn boots_to_healthy(group: &str, model: &str, model_id: &str) {
    let account = released().await;
    let imds = Imds::start(account::ROLE, account.credentials.clone());
    let machine = boot(&account, group, &imds);
    let healthy = machine.wait_healthy(BOOT_PATIENCE);
    log_measure(group, "boot_to_healthy", healthy);

    let unit = format!("recommender@{model}.service");
    let show = |property: &str| machine.property(&unit, property);
    assert_eq!(show("ActiveState"), "active");
    assert_eq!(show("SubState"), "running");
    assert_eq!(
        show("FragmentPath"),
        "/etc/systemd/system/recommender@.service"
    );
    for (property, expected) in [
        ("DynamicUser", "yes"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateDevices", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateUsers", "yes"),
        ("ProtectProc", "invisible"),
        ("MemoryDenyWriteExecute", "yes"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("CapabilityBoundingSet", ""),
        ("UnitFileState", "enabled"),
    ] {
        assert_eq!(show(property), expected, "{unit} {property}");
    }
    // The kernel's view of the running process, not the unit's word for it.
    let pid = show("MainPID");
    assert_ne!(pid, "0", "{unit} has a main process");
    let uid = machine.proc_status(&pid, "Uid");
    assert!(!uid.starts_with("0\t"), "runs as root: Uid {uid}");
    assert_eq!(machine.proc_status(&pid, "NoNewPrivs"), "1");
    assert_eq!(machine.proc_status(&pid, "CapEff"), "0000000000000000");
    assert_eq!(machine.proc_status(&pid, "CapBnd"), "0000000000000000");
    assert_eq!(
        machine.proc_status(&pid, "Seccomp"),
        "2",
        "a syscall filter"
    );
    let root_mount = machine.sh(&format!(
        "awk '$5 == \"/\" {{ print $6 }}' /proc/{pid}/mountinfo"
    ));
    assert!(
        root_mount.split(',').any(|o| o == "ro"),
        "ProtectSystem=strict: / is read-only for the service ({root_mount})"
    );
    // The model the fleet runs, and the version its pointer named.
    let answer = machine.sh(
        "curl -sf -X POST -H 'Content-Type: application/json' -d '{\"user_id\":\"u1\"}' \
         http://127.0.0.1:8000/api/v1/recommendation",
    );
    assert!(answer.contains(model_id), "{answer}");
    assert_eq!(machine.sh("cat /opt/recommender/version"), VERSION);
    assert_eq!(machine.property(USER_DATA_UNIT, "Result"), "success");
    // The credentials came from IMDSv2 (a token first), one fetch per object.
    let seen = imds.seen();
    assert_eq!(seen[0].method, "PUT", "{seen:?}");
    assert!(seen.iter().all(|s| s.status == 200), "{seen:?}");
    assert_eq!(imds.credentials_served(), 3, "pointer, binary, checksum");
}

#[tokio::test(flavor = "multi_thread")]
async fn v1_boots_to_healthy_under_systemd_with_its_sandbox() {
    boots_to_healthy("V1", "v1", "V1 - Stable").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn v2_boots_to_healthy_under_systemd_with_its_sandbox() {
    boots_to_healthy("V2", "v2", "V2 - DeepLearning - Canary").await;
}

/// The target signal's static proxy, published with each version.
fn signal_binary() -> &'static [u8] {
    static BINARY: OnceLock<Vec<u8>> = OnceLock::new();
    BINARY.get_or_init(|| std::fs::read(static_signal()).expect("the static proxy"))
}

/// With `TargetSignal=enabled`: the proxy, fetched and verified like the service, answers on
/// 8000 in front of the service (moved to 127.0.0.1:8001), sandboxed by its own unit, and its
/// 10 s metrics reach CloudWatch signed with the instance role's credentials from IMDSv2, under
/// the role's namespace-bound policy.
#[tokio::test(flavor = "multi_thread")]
async fn with_the_target_signal_a_proxy_fronts_the_service_and_publishes_as_the_instance_role() {
    let account = Account::with_parameters(&[("TargetSignal", "enabled")]).await;
    // In `cargo xtask publish`'s order: the proxy first, so a version whose recommender is
    // published always has its proxy.
    account.publish_signal(VERSION, signal_binary()).await;
    account.publish(VERSION, binary()).await;
    account.release(VERSION).await;
    account.enforce_auth();
    let imds = Imds::start(account::ROLE, account.credentials.clone());
    // On EC2 the proxy's SDK finds IMDS at its address and CloudWatch at the regional name, which
    // the `monitoring` endpoint's private DNS answers; here both are the harness's, given to the
    // unit by a drop-in as the script's own endpoints are given to it.
    let dropin = std::env::temp_dir().join(format!(
        "alb-canary-boot-signal-{}.conf",
        std::process::id()
    ));
    std::fs::write(
        &dropin,
        format!(
            "[Service]\nEnvironment=AWS_ENDPOINT_URL={}\n\
             Environment=AWS_EC2_METADATA_SERVICE_ENDPOINT=http://{HOST_LOOPBACK}:{}/\n",
            account.endpoint_from_machine(),
            imds.port()
        ),
    )
    .unwrap();
    let volume = format!(
        "{}:/etc/systemd/system/{SIGNAL_BINARY}.service.d/50-rehearsal.conf:ro",
        dropin.display()
    );
    let machine = boot_with(&account, "V1", &imds, &["--volume", &volume]);
    let healthy = machine.wait_healthy(BOOT_PATIENCE);
    log_measure("V1 with TargetSignal", "boot_to_healthy", healthy);

    // The kernel's sockets: the proxy on every address at 8000, the service on loopback at 8001
    // only (the ALB can reach nothing but the proxy).
    let listening = machine.sh("awk '$4 == \"0A\" { print $2 }' /proc/net/tcp");
    let listening: Vec<&str> = listening.lines().collect();
    assert!(listening.contains(&"00000000:1F40"), "{listening:?}");
    assert!(listening.contains(&"0100007F:1F41"), "{listening:?}");
    assert!(!listening.contains(&"00000000:1F41"), "{listening:?}");
    let unit = format!("{SIGNAL_BINARY}.service");
    let show = |property: &str| machine.property(&unit, property);
    assert_eq!(show("ActiveState"), "active");
    assert_eq!(show("FragmentPath"), format!("/etc/systemd/system/{unit}"));
    for (property, expected) in [
        ("DynamicUser", "yes"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("PrivateUsers", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
        ("CapabilityBoundingSet", ""),
        ("UnitFileState", "enabled"),
    ] {
        assert_eq!(show(property), expected, "{unit} {property}");
    }
    let pid = show("MainPID");
    assert_ne!(pid, "0", "{unit} has a main process");
    assert!(!machine.proc_status(&pid, "Uid").starts_with("0\t"));
    assert_eq!(machine.proc_status(&pid, "CapEff"), "0000000000000000");
    assert_eq!(machine.proc_status(&pid, "Seccomp"), "2");
    // The proxy that runs is the published one.
    let installed = machine.sh(&format!("sha256sum /opt/recommender/{SIGNAL_BINARY}"));
    assert!(
        installed.starts_with(&hex_sha256(signal_binary())),
        "{installed}"
    );

    // Requests through the proxy, and what CloudWatch holds of them for V1's target group.
    const REQUESTS: u32 = 40;
    machine.sh(&format!(
        "for i in $(seq {REQUESTS}); do curl -sf -o /dev/null -X POST \
         -H 'Content-Type: application/json' -d '{{\"user_id\":\"u1\"}}' \
         http://127.0.0.1:8000/api/v1/recommendation; done"
    ));
    let sent = std::time::Instant::now();
    let target_group = account
        .deployment
        .get_att("TargetGroupV1", "TargetGroupFullName");
    let (mut requests, mut errors) = (0.0, 0.0);
    // One 10 s period, then its publish (bounded to 8 s by the proxy).
    while sent.elapsed() < Duration::from_secs(40) {
        requests = account
            .target_sum(contract::alb_metric::REQUEST_COUNT, &target_group)
            .await;
        errors = account
            .target_sum(contract::alb_metric::TARGET_5XX, &target_group)
            .await;
        if requests >= f64::from(REQUESTS) {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(
        requests >= f64::from(REQUESTS),
        "AlbCanary/Targets RequestCount for {target_group}: {requests} after {:?}\n{}",
        sent.elapsed(),
        machine.journal(&unit)
    );
    assert_eq!(errors, 0.0);
    log_measure(
        "V1 with TargetSignal",
        "requests_to_metrics",
        sent.elapsed(),
    );
    // The proxy's SDK asked IMDS for its region and the role's credentials.
    let seen = imds.seen();
    assert!(
        seen.iter()
            .any(|s| s.path.ends_with("/placement/region") && s.status == 200),
        "{seen:?}"
    );
    assert!(
        imds.credentials_served() > 3,
        "the script's three reads and the proxy's: {seen:?}"
    );
    let _ = std::fs::remove_file(dropin);
}

/// Nothing from the service is installed or started: its unit is unknown to systemd.
fn assert_nothing_started(machine: &Machine, model: &str) {
    let unit = format!("recommender@{model}.service");
    assert_eq!(machine.property(&unit, "LoadState"), "not-found");
    assert!(!machine.exists("/opt/recommender/recommender"));
    assert!(!machine.exists("/opt/recommender/version"));
    assert_eq!(machine.health(), None, "nothing listens on 8000");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_binary_that_does_not_match_its_checksum_never_starts() {
    let account = released().await;
    // The published binary replaced afterwards (a corrupted or tampered object).
    let mut tampered = binary().to_vec();
    tampered.extend_from_slice(b"tampered");
    account
        .put(&binary_key(account.prefix(), VERSION), &tampered)
        .await;
    let imds = Imds::start(account::ROLE, account.credentials.clone());
    let machine = boot(&account, "V1", &imds);
    machine.wait_state(USER_DATA_UNIT, &["failed"], BOOT_PATIENCE);
    machine.wait_output("recommender: FAILED", REFUSAL_PATIENCE);
    assert_nothing_started(&machine, "v1");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pointer_not_published_yet_is_waited_for_then_picked_up() {
    let account = Account::new().await;
    account.publish(VERSION, binary()).await;
    account.enforce_auth();
    let imds = Imds::start(account::ROLE, account.credentials.clone());
    let machine = boot(&account, "V2", &imds);
    let pointer = fleet_key(account.prefix(), contract::release::Fleet::Canary);
    machine.wait_output(
        &format!("waiting for s3://{}/{pointer}", account.bucket()),
        BOOT_PATIENCE,
    );
    assert_nothing_started(&machine, "v2");
    assert_eq!(
        machine.property(USER_DATA_UNIT, "ActiveState"),
        "activating"
    );

    // The operator releases while the instance waits, with signatures checked throughout.
    let released_at = std::time::Instant::now();
    account.release(VERSION).await;
    let served_before = imds.credentials_served();
    machine.wait_healthy(BOOT_PATIENCE);
    log_measure("V2", "release_to_healthy", released_at.elapsed());
    assert_eq!(machine.sh("cat /opt/recommender/version"), VERSION);
    assert!(
        imds.credentials_served() >= served_before + 3,
        "pointer, binary and checksum fetched with signatures checked"
    );
}

/// A pointer whose body is not a release name: the instance refuses it and starts nothing.
async fn refuses_pointer(body: &str, version_in_message: &str) {
    let account = released().await;
    let pointer = fleet_key(account.prefix(), contract::release::Fleet::Stable);
    account.put(&pointer, body.as_bytes()).await;
    let imds = Imds::start(account::ROLE, account.credentials.clone());
    let machine = boot(&account, "V1", &imds);
    machine.wait_state(USER_DATA_UNIT, &["failed"], REFUSAL_PATIENCE);
    machine.wait_output(
        &format!("refusing version '{version_in_message}'"),
        REFUSAL_PATIENCE,
    );
    assert_nothing_started(&machine, "v1");
    assert_eq!(
        imds.credentials_served(),
        1,
        "nothing fetched after the pointer"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_version_with_a_path_in_it_is_refused() {
    refuses_pointer("../1.0.0\n", "../1.0.0").await;
}

/// A version the operators' commands would refuse (`contract::release::validate_version`): longer
/// than a release name may be. Before the fix the script took it and waited for its artifacts
/// forever, an instance unhealthy with no word of why.
#[tokio::test(flavor = "multi_thread")]
async fn a_version_longer_than_a_release_name_is_refused() {
    let long = "1".repeat(contract::release::MAX_VERSION_LEN + 1);
    assert!(contract::release::validate_version(&long).is_err());
    refuses_pointer(&format!("{long}\n"), &long).await;
}

/// A pointer is one version and its newline, as `release` writes it: whitespace inside is not
/// squeezed out into another version. Before the fix `1.0 .0` ran 1.0.0.
#[tokio::test(flavor = "multi_thread")]
async fn a_pointer_with_whitespace_inside_the_version_is_refused() {
    refuses_pointer("1.0 .0\n", "1.0 .0").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_credentials_start_nothing_until_right_ones_are_served() {
    let account = released().await;
    let right = account.credentials.clone();
    let wrong_secret = Credentials {
        secret_access_key: format!("{}x", right.secret_access_key),
        ..right.clone()
    };
    let imds = Imds::start(account::ROLE, wrong_secret);
    let machine = boot(&account, "V1", &imds);
    let pointer = fleet_key(account.prefix(), contract::release::Fleet::Stable);
    let waiting = format!("waiting for s3://{}/{pointer}", account.bucket());
    machine.wait_output(&waiting, BOOT_PATIENCE);
    assert_nothing_started(&machine, "v1");

    // The emulator refuses what the instance sent: an unsigned GET and a wrong session token
    // (what an expired one gets on AWS; the emulator does not check expiry) are 403 too.
    let object = format!("{}/{pointer}", account.s3_endpoint_from_machine());
    let status = machine.sh(&format!(
        "curl -s -o /dev/null -w '%{{http_code}}' {object}"
    ));
    assert_eq!(status, "403", "unsigned GET");
    let wrong_token = Credentials {
        session_token: format!("{}x", right.session_token),
        ..right.clone()
    };
    let attempts = |m: &Machine| m.journal(USER_DATA_UNIT).matches(&waiting).count();
    let before = attempts(&machine);
    imds.set_credentials(wrong_token);
    let deadline = std::time::Instant::now() + RETRY_PATIENCE;
    while attempts(&machine) <= before {
        assert!(
            std::time::Instant::now() < deadline,
            "no retry within {RETRY_PATIENCE:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_nothing_started(&machine, "v1");

    // Rotated credentials are read again on the next attempt: the instance recovers by itself.
    imds.set_credentials(right);
    machine.wait_healthy(BOOT_PATIENCE);
    assert_eq!(machine.sh("cat /opt/recommender/version"), VERSION);
}

/// The Docker host's user data, run as far as a container lets it: the verified binary, the
/// engine from the distribution, the engine's socket masked, its unprivileged owner with its
/// subordinate ids, the unprivileged port floor, the owner's outbound drop rule in the kernel's
/// nftables, the journal's limits. Then it loads its audit rules, which the kernel refuses to
/// any process outside the initial PID namespace (`audit_netlink_ok`), and a machine whose PID 1
/// is systemd in a container is outside it by definition: the script stops there, and this test
/// asserts that it stops exactly there (and asks the kernel why), so that a change that moves
/// the failure earlier fails it. What lies beyond (linger, the rootless build, Quadlet, the container's run flags) is
/// not rehearsed here; the run flags are `container.rs`'s.
#[tokio::test(flavor = "multi_thread")]
async fn the_docker_host_runs_up_to_its_audit_rules_which_a_container_cannot_load() {
    let account = released().await;
    let imds = Imds::start(account::ROLE, account.credentials.clone());
    let rootfs = rootfs::ensure();
    // Its own engine and nftables need the privileges a VM's root has.
    let machine = Machine::boot(
        "dockerhost",
        &rootfs,
        &account.user_data("DockerHost"),
        &[
            (
                "IMDS_ENDPOINT",
                format!("http://{HOST_LOOPBACK}:{}", imds.port()),
            ),
            ("S3_ENDPOINT", account.s3_endpoint_from_machine()),
        ],
        &["--privileged"],
    );
    // apt-get installs the engine from Debian's mirror first: tens of seconds.
    machine.wait_state(
        USER_DATA_UNIT,
        &["failed", "active"],
        Duration::from_secs(600),
    );
    log_measure(
        "DockerHost",
        "boot_to_audit_rules",
        machine.started.elapsed(),
    );

    assert_eq!(machine.sh("cat /opt/recommender/version"), VERSION);
    assert_eq!(
        machine.sh("sha256sum < /opt/recommender/recommender | cut -d' ' -f1"),
        hex_sha256(binary())
    );
    assert!(machine.sh("podman --version").starts_with("podman version"));
    assert_eq!(machine.property("podman.socket", "UnitFileState"), "masked");
    assert_eq!(
        machine.sh("readlink /etc/systemd/user/podman.socket"),
        "/dev/null"
    );
    let owner = machine.sh("getent passwd recommender");
    assert!(
        owner.ends_with(":/var/lib/recommender:/usr/sbin/nologin"),
        "{owner}"
    );
    assert_eq!(
        machine.sh("grep '^recommender:' /etc/subuid"),
        "recommender:200000:65536"
    );
    assert_eq!(
        machine.sh("sysctl -n net.ipv4.ip_unprivileged_port_start"),
        "80"
    );
    let rules = machine.sh("nft list ruleset");
    let drop = rules
        .lines()
        .find(|l| l.contains("meta skuid"))
        .unwrap_or_else(|| panic!("no owner rule in {rules}"));
    let uid = machine.sh("id -u recommender");
    assert!(
        drop.contains(&format!("meta skuid {uid} ct state new")) && drop.ends_with("drop"),
        "{drop}"
    );
    // journald came back after its restart with the host's limits.
    assert_eq!(
        machine.property("systemd-journald.service", "ActiveState"),
        "active"
    );

    // Where it stops: the audit rules are written, the drill knobs' directory (the next step)
    // is not. Its own words may not reach the journal (it restarted journald just before), so
    // why it stops is asked of the kernel directly: the same rules, loaded again, refused.
    assert_eq!(machine.property(USER_DATA_UNIT, "ActiveState"), "failed");
    assert!(machine.exists("/etc/audit/rules.d/60-alb-canary.rules"));
    assert!(
        !machine.exists("/etc/recommender"),
        "stopped before the drill knobs"
    );
    let load = machine.exec(&["auditctl", "-R", "/etc/audit/rules.d/60-alb-canary.rules"]);
    let said =
        String::from_utf8_lossy(&load.stderr).into_owned() + &String::from_utf8_lossy(&load.stdout);
    assert!(!load.status.success(), "{said}");
    assert!(
        said.contains("Error sending add rule data request (Operation not permitted)"),
        "{said}"
    );
    let output = machine.output();
    assert!(
        !output.contains("STEP 1"),
        "no image build started: {output}"
    );
    assert!(!machine.exists("/var/lib/recommender/image/recommender"));
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
