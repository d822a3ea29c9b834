//! The fleets: launch templates (IMDSv2, encrypted root volume, no public IP, no key pair), the
//! user data that fetches, verifies and starts a release, the rootless container host, the Auto
//! Scaling groups, and the instance role.

use serde_json::{Value, json};

use crate::eval::{Eval, get_att, r#ref};

fn user_data(eval: &Eval, launch_template: &str) -> String {
    let data = &eval.resource(launch_template)["LaunchTemplateData"]["UserData"];
    data["Fn::Base64"]["Fn::Sub"]
        .as_str()
        .expect("user data is Fn::Base64 of a Fn::Sub string")
        .to_owned()
}

#[test]
fn launch_templates_require_imdsv2_encrypt_the_root_volume_and_have_no_public_ip() {
    let eval = Eval::new(&[("CanaryPlatform", "vm")]);
    let docker = Eval::new(&[("CanaryPlatform", "docker")]);
    let all = [
        (&eval, "LaunchTemplateV1"),
        (&eval, "LaunchTemplateV2"),
        (&docker, "LaunchTemplateDockerHost"),
    ];
    for (eval, id) in all {
        let data = &eval.resource(id)["LaunchTemplateData"];
        assert_eq!(
            data["MetadataOptions"]["HttpTokens"], "required",
            "{id}: IMDSv2"
        );
        assert_eq!(
            data["MetadataOptions"]["HttpPutResponseHopLimit"], 1,
            "{id}"
        );
        let ebs = &data["BlockDeviceMappings"][0]["Ebs"];
        assert_eq!(ebs["Encrypted"], true, "{id}");
        assert_eq!(ebs["VolumeType"], "gp3");
        let nic = &data["NetworkInterfaces"][0];
        assert_eq!(nic["AssociatePublicIpAddress"], false, "{id}");
        assert_eq!(
            nic["Groups"],
            json!([get_att("BackendSecurityGroup", "GroupId")])
        );
        assert_eq!(
            data["IamInstanceProfile"]["Arn"],
            get_att("InstanceProfile", "Arn")
        );
        assert_eq!(data["ImageId"], stack::parameters::UBUNTU_AMI_PARAMETER);
        assert!(data.get("KeyName").is_none());
    }
    let image = &eval.template()["Parameters"]["ImageId"];
    assert_eq!(
        image["Type"],
        "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"
    );
    assert!(
        image["Default"]
            .as_str()
            .unwrap()
            .contains("ubuntu/server/24.04")
    );
}

#[test]
fn user_data_starts_the_service_from_the_s3_artifact_without_keys_or_ssh() {
    let eval = Eval::defaults();
    for (id, model, fleet) in [
        ("LaunchTemplateV1", "v1", "stable"),
        ("LaunchTemplateV2", "v2", "canary"),
    ] {
        let script = user_data(&eval, id);
        assert!(script.starts_with("#!/bin/bash\n"));
        fetches_the_fleet_version_and_verifies_it(&script, fleet);
        assert!(script.contains(&format!(
            "systemctl enable --now recommender@{model}.service"
        )));
        assert!(
            script.contains("/opt/recommender/recommender --model %i"),
            "the unit, embedded"
        );
        assert!(
            script.contains("until fetch_artifact \"$1\" \"$2\"; do"),
            "each fetch retries until released"
        );
        let forbidden_words = [
            "AKIA",
            "aws_access_key_id",
            "AWS_SECRET_ACCESS_KEY",
            "aws configure",
            "authorized_keys",
            "sshd",
            "ssh-rsa",
            "ssh-ed25519",
            "openssh",
        ];
        for forbidden in forbidden_words {
            assert!(
                !script.to_lowercase().contains(&forbidden.to_lowercase()),
                "{id} mentions {forbidden}"
            );
        }
    }
    let docker = Eval::new(&[("CanaryPlatform", "docker")]);
    let script = user_data(&docker, "LaunchTemplateDockerHost");
    fetches_the_fleet_version_and_verifies_it(&script, "canary");
    assert!(!script.contains("authorized_keys") && !script.contains("AKIA"));
}

#[test]
fn the_docker_host_runs_the_one_container_definition_rootless() {
    use stack::container::{Container, ENVIRONMENT_FILE, IMAGE, QUADLET_DIR};
    let docker = Eval::new(&[("CanaryPlatform", "docker")]);
    let script = user_data(&docker, "LaunchTemplateDockerHost");
    let spec = Container::recommender_v2();
    // The unit in the user data is the rendering of the value the podman test runs, byte for byte.
    let unit = |nth| {
        script
            .split("<<'QUADLET'\n")
            .nth(nth)
            .and_then(|rest| rest.split("QUADLET\n").next())
            .expect("a Quadlet unit in the user data")
    };
    // The first behind the target signal's proxy, the second on its own.
    assert_eq!(
        unit(1),
        stack::cfn::sub_literal(&Container::recommender_v2_behind_proxy().quadlet())
    );
    assert_eq!(unit(2), stack::cfn::sub_literal(&spec.quadlet()));
    assert!(script.contains(&format!(
        "cat > {QUADLET_DIR}/$uid/recommender-v2.container <<'QUADLET'"
    )));
    // The image is built on the host from the fetched binary, under the name the unit runs.
    assert!(script.contains(&format!(
        "podman build --format docker --pull=never -t {IMAGE} "
    )));
    assert!(script.contains("install -o root -g recommender -m 0755 /opt/recommender/recommender"));
    assert!(script.contains("FROM scratch"));
    assert!(script.contains(&format!("touch {ENVIRONMENT_FILE}")));
    assert!(script.contains("chmod 0640 /etc/recommender/v2.env"));
    assert!(
        script.contains("podman image prune --force"),
        "no image sprawl"
    );
    // Started as the engine owner, after the unit and the image exist.
    let start = script
        .find("systemctl --user restart recommender-v2.service")
        .unwrap();
    assert!(start > script.find("podman build").unwrap());
    // Then the target signal's proxy, if enabled, in front of the running container.
    let (_, last) = script
        .rsplit_once("\n/usr/local/sbin/restart-recommender-v2\n")
        .expect("the container is started");
    assert!(
        last.starts_with("if [[ \"$TARGET_SIGNAL\" == enabled ]]; then\n")
            && last.trim_end().ends_with("fi"),
        "the container is started last, before only the proxy: {last}"
    );
    assert!(!script.contains("docker run") && !script.contains("docker.io"));
}

#[test]
fn the_image_runs_as_the_containers_user_and_checks_itself_like_the_unit() {
    use stack::container::Container;
    let spec = Container::recommender_v2();
    let dockerfile = stack::compute::DOCKERFILE;
    assert!(dockerfile.contains(&format!("USER {}:{}", spec.user.0, spec.user.1)));
    let health = &spec.health;
    let instruction = format!(
        "HEALTHCHECK --interval={} --timeout={} --start-period={} --retries={} \\\n    CMD {}",
        health.interval,
        health.timeout,
        health.start_period,
        health.retries,
        spec.health_cmd().replace(',', ", ")
    );
    assert!(
        dockerfile.contains(&instruction),
        "{instruction}\n{dockerfile}"
    );
    assert!(dockerfile.contains(&format!("EXPOSE {}", spec.publish.container_port)));
}

/// The instance reads its fleet's pointer, fetches that version's binary and checksum, and
/// verifies the binary before installing it where the service starts it from.
fn fetches_the_fleet_version_and_verifies_it(script: &str, fleet: &str) {
    let order = [
        format!(
            "fetch_until \"${{ArtifactPrefix}}/fleets/{fleet}\" /opt/recommender/staging/version"
        ),
        "fetch_until \"${ArtifactPrefix}/$version/recommender\" /opt/recommender/staging/recommender"
            .into(),
        "fetch_until \"${ArtifactPrefix}/$version/recommender.sha256\"".into(),
        "sha256sum --check --strict recommender.sha256)".into(),
        "install -m 0755 /opt/recommender/staging/recommender /opt/recommender/recommender".into(),
    ];
    let mut at = 0;
    for step in &order {
        let found = script[at..]
            .find(step.as_str())
            .unwrap_or_else(|| panic!("`{step}` missing or out of order in:\n{script}"));
        at += found + step.len();
    }
}

fn group_size(asg: &Value) -> Value {
    assert_eq!(asg["MinSize"], asg["DesiredCapacity"]);
    assert_eq!(asg["MaxSize"], asg["DesiredCapacity"]);
    asg["DesiredCapacity"].clone()
}

#[test]
fn instance_counts_and_platform_decide_the_groups() {
    let vm = Eval::new(&[("StableInstanceCount", "4"), ("CanaryInstanceCount", "2")]);
    assert_eq!(vm.resources("AWS::AutoScaling::AutoScalingGroup").len(), 2);
    let stable = vm.resource("AutoScalingGroupV1");
    assert_eq!(group_size(&stable), "4");
    assert_eq!(stable["TargetGroupARNs"], json!([r#ref("TargetGroupV1")]));
    let canary = vm.resource("AutoScalingGroupV2");
    assert_eq!(group_size(&canary), "2");
    assert_eq!(canary["TargetGroupARNs"], json!([r#ref("TargetGroupV2")]));
    assert!(!vm.exists("AutoScalingGroupDockerHost"));

    let docker = Eval::new(&[("CanaryPlatform", "docker")]);
    assert_eq!(
        docker.resources("AWS::AutoScaling::AutoScalingGroup").len(),
        2
    );
    assert!(
        !docker.exists("AutoScalingGroupV2"),
        "no canary VMs on the docker platform"
    );
    let host = docker.resource("AutoScalingGroupDockerHost");
    assert_eq!(group_size(&host), "1");
    assert_eq!(
        host["TargetGroupARNs"],
        json!([r#ref("TargetGroupV2Docker")])
    );
    assert_eq!(
        group_size(&docker.resource("AutoScalingGroupV1")),
        "3",
        "stable default count"
    );

    for (eval, id) in [
        (&vm, "AutoScalingGroupV1"),
        (&vm, "AutoScalingGroupV2"),
        (&docker, "AutoScalingGroupDockerHost"),
    ] {
        let asg = eval.resource(id);
        assert_eq!(
            asg["VPCZoneIdentifier"],
            json!([r#ref("PrivateSubnet1"), r#ref("PrivateSubnet2")]),
            "{id}: private subnets, both AZs"
        );
    }
    assert_eq!(
        vm.template()["Parameters"]["CanaryInstanceCount"]["Default"],
        "1"
    );
}

#[test]
fn instance_role_reads_only_the_artifact_prefix_and_uses_session_manager() {
    let eval = Eval::defaults();
    // The controller has roles of its own (tested in `controller`); one role is for instances.
    let roles: Vec<_> = eval
        .resources("AWS::IAM::Role")
        .into_iter()
        .filter(|(_, role)| {
            role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]
                == json!(["ec2.amazonaws.com"])
        })
        .collect();
    assert_eq!(roles.len(), 1);
    let role = &roles[0].1;
    assert_eq!(
        role["ManagedPolicyArns"],
        json!([{ "Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore" }])
    );
    let statements: Vec<&Value> = role["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["PolicyDocument"]["Statement"].as_array().unwrap())
        .collect();
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0]["Action"], json!(["s3:GetObject"]));
    assert_eq!(
        statements[0]["Resource"],
        json!([{ "Fn::Sub": "${ArtifactBucket.Arn}/${ArtifactPrefix}/*" }])
    );
}

/// What an instance receives: the `Fn::Sub` text with its variables substituted.
fn substituted(script: &str) -> String {
    script
        .replace("${AWS::Region}", "eu-west-1")
        .replace("${AWS::URLSuffix}", "amazonaws.com")
        .replace("${ArtifactBucket}", "alb-canary-artifactbucket-abc123")
        .replace("${ArtifactPrefix}", "artifacts")
        .replace("${TargetSignal}", "enabled")
        .replace(
            "${LoadBalancer.LoadBalancerFullName}",
            "app/alb-canary/0123456789abcdef",
        )
        .replace(
            "${TargetGroupV1.TargetGroupFullName}",
            "targetgroup/tg-v1/0123456789abcdef",
        )
        .replace(
            "${TargetGroupV2.TargetGroupFullName}",
            "targetgroup/tg-v2/0123456789abcdef",
        )
        .replace(
            "${TargetGroupV2Docker.TargetGroupFullName}",
            "targetgroup/tg-v2-docker/0123456789abcdef",
        )
        .replace("${!", "${")
}

#[test]
fn user_data_is_valid_bash_with_every_variable_substituted() {
    let vm = Eval::defaults();
    let docker = Eval::new(&[("CanaryPlatform", "docker")]);
    for (eval, id) in [
        (&vm, "LaunchTemplateV1"),
        (&vm, "LaunchTemplateV2"),
        (&docker, "LaunchTemplateDockerHost"),
    ] {
        let script = substituted(&user_data(eval, id));
        assert!(
            !script.contains("${"),
            "{id}: a variable left unsubstituted"
        );
        let path = std::env::temp_dir().join(format!("alb-canary-{}-{id}.sh", std::process::id()));
        std::fs::write(&path, &script).unwrap();
        let output = std::process::Command::new("bash")
            .arg("-n")
            .arg(&path)
            .output()
            .expect("bash runs");
        std::fs::remove_file(&path).unwrap();
        assert!(
            output.status.success(),
            "{id}: bash -n: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The part of the user data that runs only under `if [[ "$TARGET_SIGNAL" == enabled ]]` blocks.
fn signal_blocks(script: &str) -> String {
    script
        .split("if [[ \"$TARGET_SIGNAL\" == enabled ]]; then\n")
        .skip(1)
        .map(|block| block.split("\nfi\n").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn with_the_target_signal_each_instance_verifies_the_proxy_and_puts_it_in_front_of_the_service() {
    use contract::release::SIGNAL_BINARY;
    let vm = Eval::new(&[("TargetSignal", "enabled")]);
    let docker = Eval::new(&[("TargetSignal", "enabled"), ("CanaryPlatform", "docker")]);
    for (eval, id, target_group, listen) in [
        (&vm, "LaunchTemplateV1", "TargetGroupV1", 8000),
        (&vm, "LaunchTemplateV2", "TargetGroupV2", 8000),
        (
            &docker,
            "LaunchTemplateDockerHost",
            "TargetGroupV2Docker",
            80,
        ),
    ] {
        let script = user_data(eval, id);
        // The parameter decides at boot: one user data for both settings.
        assert!(script.contains("TARGET_SIGNAL='${TargetSignal}'"), "{id}");
        let blocks = signal_blocks(&script);
        // Fetched from the fleet's version and verified before it is installed.
        let fetch = blocks
            .find(&format!(
                "fetch_until \"${{ArtifactPrefix}}/$version/{SIGNAL_BINARY}\""
            ))
            .unwrap_or_else(|| panic!("{id}: the proxy is not fetched from the version"));
        let verify = blocks
            .find(&format!(
                "sha256sum --check --strict {SIGNAL_BINARY}.sha256"
            ))
            .unwrap_or_else(|| panic!("{id}: the proxy is not verified"));
        let install = blocks
            .find(&format!(
                "install -m 0755 /opt/recommender/staging/{SIGNAL_BINARY}"
            ))
            .unwrap_or_else(|| panic!("{id}: the proxy is not installed"));
        assert!(fetch < verify && verify < install, "{id}");
        // Its unit is the one in services/signal, byte for byte, and it publishes under this
        // instance's own target group.
        assert!(
            blocks.contains(&stack::cfn::sub_literal(stack::compute::SIGNAL_UNIT)),
            "{id}"
        );
        assert!(
            blocks.contains(&format!("SIGNAL_LISTEN=0.0.0.0:{listen}\n")),
            "{id}"
        );
        assert!(blocks.contains("SIGNAL_UPSTREAM=127.0.0.1:8001\n"), "{id}");
        assert!(
            blocks.contains("SIGNAL_LOAD_BALANCER=${LoadBalancer.LoadBalancerFullName}\n"),
            "{id}"
        );
        assert!(
            blocks.contains(&format!(
                "SIGNAL_TARGET_GROUP=${{{target_group}.TargetGroupFullName}}\n"
            )),
            "{id}"
        );
        assert!(
            blocks.contains(&format!("systemctl enable --now {SIGNAL_BINARY}.service")),
            "{id}"
        );
        // The service leaves the public port to the proxy: loopback only.
        if id == "LaunchTemplateDockerHost" {
            assert!(blocks.contains("PublishPort=127.0.0.1:8001:8000\n"), "{id}");
        } else {
            assert!(
                blocks.contains("ExecStart=\nExecStart=/opt/recommender/recommender --model %i --host 127.0.0.1 --port 8001\n"),
                "{id}"
            );
        }
        // Without the signal none of it runs: the blocks are the only mention of the proxy.
        let outside: String = script
            .split("if [[ \"$TARGET_SIGNAL\" == enabled ]]; then\n")
            .enumerate()
            .map(|(i, part)| {
                if i == 0 {
                    part
                } else {
                    part.split_once("\nfi\n").map_or("", |(_, rest)| rest)
                }
            })
            .collect();
        assert!(
            !outside.contains(SIGNAL_BINARY),
            "{id}: the proxy outside the TargetSignal blocks"
        );
        assert!(!outside.contains("8001"), "{id}");
    }
}

#[test]
fn the_target_signal_adds_only_a_namespace_bound_metrics_right_and_a_private_endpoint() {
    let off = Eval::defaults();
    for id in [
        "InstanceTargetSignalPolicy",
        "MonitoringEndpoint",
        "MonitoringEndpointSecurityGroup",
        "MonitoringEndpointIngressFromBackend",
        "CanaryTargetErrorRateAlarm",
        "CanaryTargetLatencyAlarm",
    ] {
        assert!(!off.exists(id), "{id} exists with TargetSignal disabled");
    }
    let on = Eval::new(&[("TargetSignal", "enabled")]);
    let namespace = json!({ "cloudwatch:namespace": contract::target_metric::NAMESPACE });
    let policy = on.resource("InstanceTargetSignalPolicy");
    assert_eq!(policy["Roles"], json!([{ "Ref": "InstanceRole" }]));
    let statements = policy["PolicyDocument"]["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0]["Action"], json!(["cloudwatch:PutMetricData"]));
    assert_eq!(statements[0]["Condition"]["StringEquals"], namespace);

    let endpoint = on.resource("MonitoringEndpoint");
    assert_eq!(endpoint["VpcEndpointType"], "Interface");
    assert_eq!(endpoint["PrivateDnsEnabled"], true);
    assert_eq!(
        endpoint["SubnetIds"],
        json!([{ "Ref": "PrivateSubnet1" }, { "Ref": "PrivateSubnet2" }])
    );
    let statement = &endpoint["PolicyDocument"]["Statement"][0];
    assert_eq!(statement["Action"], json!(["cloudwatch:PutMetricData"]));
    assert_eq!(
        statement["Condition"]["StringEquals"]["cloudwatch:namespace"],
        contract::target_metric::NAMESPACE
    );
    assert_eq!(
        statement["Condition"]["StringEquals"]["aws:PrincipalAccount"],
        json!({ "Ref": "AWS::AccountId" })
    );
    // HTTPS from the instances' group only, and no egress at all.
    let ingress = on.resource("MonitoringEndpointIngressFromBackend");
    assert_eq!(ingress["FromPort"], 443);
    assert_eq!(ingress["ToPort"], 443);
    assert_eq!(
        ingress["SourceSecurityGroupId"],
        json!({ "Fn::GetAtt": ["BackendSecurityGroup", "GroupId"] })
    );
    let group = on.resource("MonitoringEndpointSecurityGroup");
    assert_eq!(group["SecurityGroupEgress"][0]["CidrIp"], "127.0.0.1/32");
    assert_eq!(group["SecurityGroupEgress"].as_array().unwrap().len(), 1);
}
