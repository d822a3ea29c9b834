//! Instance role, launch templates and Auto Scaling groups for stable, canary and the Docker host, and
//! the user data that starts the recommender with no manual step, no keys and no SSH.

use crate::cfn::resources::{
    AutoScalingGroup, InlinePolicy, InstanceProfile, PolicyDocument, Principal, Role, Statement,
    TargetGroup,
};
use crate::cfn::{Attributes, Cond, Expr, Handle, Sub, Template, sub_literal};
use crate::container::{self, Container};
use crate::load_balancer::LoadBalancing;
use crate::network::Network;
use crate::parameters::{Conditions, Parameters};
use crate::security::Security;
use crate::storage::Storage;
use contract::release::Fleet;

mod scripts;

mod groups;

pub use scripts::FETCH_FUNCTION;
use scripts::{exec_start_behind_proxy, fetch_script, render, signal_script};

/// The service's systemd unit, owned by the service; typed once, embedded here.
pub const SYSTEMD_UNIT: &str =
    include_str!("../../services/recommender/deploy/recommender@.service");
/// The target signal's systemd unit, owned by the signal; run only with `TargetSignal=enabled`.
pub const SIGNAL_UNIT: &str =
    include_str!("../../services/signal/deploy/alb-canary-signal.service");
/// The Docker host's image: `FROM scratch` + the same static binary, non-root.
pub const DOCKERFILE: &str = include_str!("../../services/recommender/deploy/Dockerfile.host");

const ROOT_VOLUME_GIB: u16 = 16;
/// Home of the engine's owner on the Docker host: its image storage and build context.
const HOST_USER_HOME: &str = "/var/lib/recommender";

pub struct Compute {
    /// Every instance's role: the target signal adds its metrics right to it.
    pub instance_role: Handle<Role>,
    pub stable_group: Handle<AutoScalingGroup>,
    /// Exists only with `CanaryPlatform=vm`.
    pub canary_group: Handle<AutoScalingGroup>,
    /// Exists only with `CanaryPlatform=docker`.
    pub docker_host_group: Handle<AutoScalingGroup>,
}

/// What the instance's user data needs besides its script: the handles its `${X}` name.
pub struct BootInputs<'a> {
    pub storage: &'a Storage,
    pub params: &'a Parameters,
    pub load_balancing: &'a LoadBalancing,
}

impl BootInputs<'_> {
    fn user_data(&self, script: String, target_group: &Handle<TargetGroup>) -> Expr {
        Expr::base64(
            Sub::new(script)
                .var(&self.storage.artifact_bucket)
                .var(&self.params.artifact_prefix)
                .var(&self.params.target_signal)
                .var(&self.load_balancing.alb)
                .var(target_group)
                .build(),
        )
    }
}

/// User data of a stable or canary instance: the binary as the systemd unit `recommender@<model>`; with
/// the target signal, a drop-in moves it to loopback behind the proxy.
pub fn vm_user_data(
    model: &str,
    fleet: Fleet,
    inputs: &BootInputs<'_>,
    target_group: &Handle<TargetGroup>,
) -> Expr {
    let script = render(
        include_str!("compute/user-data/vm.sh"),
        &[
            ("fetch", &fetch_script(fleet)),
            ("unit", &sub_literal(SYSTEMD_UNIT)),
            ("exec_start", &sub_literal(&exec_start_behind_proxy())),
            ("model", model),
            (
                "signal",
                &signal_script(
                    crate::security::APP_PORT,
                    target_group,
                    inputs.load_balancing.alb.id(),
                ),
            ),
        ],
    );
    inputs.user_data(script, target_group)
}

/// User data of the Docker host: the canary (V2) as a rootless Podman container (`docs/container-security.md`).
/// Root installs and configures; the engine and the container belong to the unprivileged
/// `recommender` user, whose systemd starts the Quadlet unit rendered from [`container`].
pub fn docker_user_data(inputs: &BootInputs<'_>, target_group: &Handle<TargetGroup>) -> Expr {
    let spec = Container::recommender_v2();
    let behind_proxy = Container::recommender_v2_behind_proxy();
    let script = render(
        include_str!("compute/user-data/docker-host.sh"),
        &[
            ("fetch", &fetch_script(Fleet::Canary)),
            ("uid", &spec.user.0.to_string()),
            ("uid_offset", &(spec.user.0 - 1).to_string()),
            ("user", container::HOST_USER),
            ("home", HOST_USER_HOME),
            ("env_file", &spec.environment_file),
            ("image", spec.image),
            ("quadlet_dir", container::QUADLET_DIR),
            ("unit", spec.name),
            ("dockerfile", &sub_literal(DOCKERFILE)),
            ("quadlet", &sub_literal(&spec.quadlet())),
            (
                "quadlet_behind_proxy",
                &sub_literal(&behind_proxy.quadlet()),
            ),
            (
                "signal",
                &signal_script(
                    spec.publish.host_port,
                    target_group,
                    inputs.load_balancing.alb.id(),
                ),
            ),
        ],
    );
    inputs.user_data(script, target_group)
}

struct Group<'a> {
    id: &'static str,
    model: &'static str,
    user_data: Expr,
    count: Expr,
    target_group: &'a Handle<TargetGroup>,
    condition: Option<&'a Cond>,
    /// Installs packages at boot (through NAT); stable and canary need no internet path at all.
    needs_nat: bool,
}

pub fn build(
    template: &mut Template,
    params: &Parameters,
    conds: &Conditions,
    network: &Network,
    security: &Security,
    storage: &Storage,
    load_balancing: &LoadBalancing,
) -> Compute {
    let instance_role = instance_role(template, params, storage);
    let instance_profile = template.add(
        "InstanceProfile",
        InstanceProfile {
            roles: vec![instance_role.r#ref()],
        },
    );

    let inputs = BootInputs {
        storage,
        params,
        load_balancing,
    };
    let fleet = groups::Fleet {
        params,
        network,
        security,
        storage,
        instance_profile: &instance_profile,
    };
    let [stable_group, canary_group, docker_host_group] =
        fleet_groups(&inputs, conds).map(|group| fleet.add(template, group));
    Compute {
        instance_role,
        stable_group,
        canary_group,
        docker_host_group,
    }
}

/// The instances' role: Session Manager, and reading the published artifacts.
fn instance_role(template: &mut Template, params: &Parameters, storage: &Storage) -> Handle<Role> {
    template.add_with(
        "InstanceRole",
        Role {
            assume_role_policy_document: PolicyDocument::new(vec![Statement {
                sid: None,
                effect: "Allow",
                principal: Some(Principal::Service(vec!["ec2.amazonaws.com"])),
                action: vec!["sts:AssumeRole"],
                resource: Vec::new(),
                condition: None,
            }]),
            // Session Manager instead of SSH, for the rare look inside an instance.
            managed_policy_arns: vec![
                Sub::new("arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore")
                    .build(),
            ],
            policies: vec![InlinePolicy {
                policy_name: "ReadRecommenderArtifact",
                policy_document: PolicyDocument::new(vec![Statement {
                    sid: None,
                    effect: "Allow",
                    principal: None,
                    action: vec!["s3:GetObject"],
                    resource: vec![
                        Sub::new("${ArtifactBucket.Arn}/${ArtifactPrefix}/*")
                            .var(&storage.artifact_bucket)
                            .var(&params.artifact_prefix)
                            .build(),
                    ],
                    condition: None,
                }]),
            }],
        },
        Attributes::new().waive(&[crate::security::INLINE_POLICY_WAIVER]),
    )
}

/// The stable, canary and Docker host groups, in that order.
fn fleet_groups<'a>(inputs: &BootInputs<'a>, conds: &'a Conditions) -> [Group<'a>; 3] {
    let (params, load_balancing) = (inputs.params, inputs.load_balancing);
    [
        Group {
            id: "V1",
            model: "v1",
            user_data: vm_user_data(
                "v1",
                Fleet::Stable,
                inputs,
                &load_balancing.target_group_stable,
            ),
            count: params.stable_instance_count.r#ref(),
            target_group: &load_balancing.target_group_stable,
            condition: None,
            needs_nat: false,
        },
        // With CanaryPlatform=docker the canary VMs do not exist at all (rather than a count of 0):
        // nothing would route to them, and CanaryInstanceCount keeps one meaning.
        Group {
            id: "V2",
            model: "v2",
            user_data: vm_user_data(
                "v2",
                Fleet::Canary,
                inputs,
                &load_balancing.target_group_canary,
            ),
            count: params.canary_instance_count.r#ref(),
            target_group: &load_balancing.target_group_canary,
            condition: Some(&conds.canary_on_vm),
            needs_nat: false,
        },
        Group {
            id: "DockerHost",
            model: "v2",
            user_data: docker_user_data(inputs, &load_balancing.target_group_canary_docker),
            count: "1".into(),
            target_group: &load_balancing.target_group_canary_docker,
            condition: Some(&conds.canary_on_docker),
            needs_nat: true,
        },
    ]
}
