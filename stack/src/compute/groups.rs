//! Each fleet's launch template and Auto Scaling group.

use super::{Group, ROOT_VOLUME_GIB};
use crate::cfn::resources::{
    AsgTag, AutoScalingGroup, BlockDeviceMapping, Ebs, IamInstanceProfile, InstanceProfile,
    LaunchTemplate, LaunchTemplateData, LaunchTemplateSpecification, MetadataOptions, Monitoring,
    NetworkInterface, Tag, TagSpecification,
};
use crate::cfn::{Attributes, Expr, Fsbp, Handle, Sub, Template, Waiver};
use crate::network::Network;
use crate::parameters::Parameters;
use crate::security::Security;
use crate::storage::Storage;

/// What every fleet's resources name.
pub(super) struct Fleet<'a> {
    pub params: &'a Parameters,
    pub network: &'a Network,
    pub security: &'a Security,
    pub storage: &'a Storage,
    pub instance_profile: &'a Handle<InstanceProfile>,
}

impl Fleet<'_> {
    /// `group`'s launch template and Auto Scaling group (both under its condition, if any).
    pub fn add(&self, template: &mut Template, group: Group) -> Handle<AutoScalingGroup> {
        let attributes = || match group.condition {
            Some(condition) => Attributes::new().condition(condition),
            None => Attributes::new(),
        };
        let name = Sub::new(format!("${{AWS::StackName}}-{}", group.id.to_lowercase())).build();
        let tags = vec![
            Tag {
                key: "Name".into(),
                value: name.clone(),
            },
            Tag {
                key: "alb-canary:model".into(),
                value: group.model.into(),
            },
        ];
        let launch_template =
            self.launch_template(template, group.id, group.user_data, tags, attributes());
        let attributes = self.group_attributes(attributes(), group.needs_nat);
        template.add_with(
            &format!("AutoScalingGroup{}", group.id),
            AutoScalingGroup {
                // Redundant with the subnets, which CloudFormation accepts when they agree (they
                // are the subnets' own AZs); CT.AUTOSCALING.PR.1 reads only this property.
                availability_zones: self
                    .network
                    .private_subnets
                    .iter()
                    .map(|s| s.get_att("AvailabilityZone"))
                    .collect(),
                vpc_zone_identifier: self
                    .network
                    .private_subnets
                    .iter()
                    .map(|s| s.r#ref())
                    .collect(),
                launch_template: LaunchTemplateSpecification {
                    launch_template_id: launch_template.r#ref(),
                    version: launch_template.get_att("LatestVersionNumber"),
                },
                min_size: group.count.clone(),
                max_size: group.count.clone(),
                desired_capacity: group.count,
                target_group_arns: vec![group.target_group.r#ref()],
                // ELB: a release's instance refresh replaces an instance only once its successor
                // is healthy in the target group, so a bad version never takes a fleet down.
                // Before the first release an instance has no version to run and is replaced
                // after each grace period; the canary alarms need traffic, so nothing rolls back.
                health_check_type: "ELB",
                health_check_grace_period: 600,
                tags: vec![AsgTag {
                    key: "alb-canary:group",
                    value: group.id.into(),
                    propagate_at_launch: true,
                }],
            },
            attributes,
        )
    }

    fn launch_template(
        &self,
        template: &mut Template,
        id: &str,
        user_data: Expr,
        tags: Vec<Tag>,
        attributes: Attributes,
    ) -> Handle<LaunchTemplate> {
        template.add_with(
            &format!("LaunchTemplate{id}"),
            LaunchTemplate {
                launch_template_data: LaunchTemplateData {
                    image_id: self.params.image_id.r#ref(),
                    instance_type: self.params.instance_type.r#ref(),
                    // Detailed (1-minute) monitoring, which CT.EC2.PR.10 requires of every launch
                    // template: instance metrics on the canary's own timescale, for a few dollars
                    // per instance and month.
                    monitoring: Monitoring { enabled: true },
                    iam_instance_profile: IamInstanceProfile {
                        arn: self.instance_profile.get_att("Arn"),
                    },
                    // IMDSv2 only, and hop limit 1 so a container behind a bridge cannot reach the role's
                    // credentials (the Docker host's rootless container is stopped by nftables).
                    metadata_options: MetadataOptions {
                        http_endpoint: "enabled",
                        http_tokens: "required",
                        http_put_response_hop_limit: 1,
                    },
                    block_device_mappings: vec![BlockDeviceMapping {
                        device_name: "/dev/sda1",
                        ebs: Ebs {
                            volume_size: ROOT_VOLUME_GIB,
                            volume_type: "gp3",
                            encrypted: true,
                            delete_on_termination: true,
                        },
                    }],
                    network_interfaces: vec![NetworkInterface {
                        device_index: 0,
                        associate_public_ip_address: false,
                        delete_on_termination: true,
                        groups: vec![self.security.backend_group.get_att("GroupId")],
                    }],
                    user_data,
                    tag_specifications: vec![
                        TagSpecification {
                            resource_type: "instance",
                            tags: tags.clone(),
                        },
                        TagSpecification {
                            resource_type: "volume",
                            tags,
                        },
                    ],
                },
            },
            attributes,
        )
    }

    /// Instances start once their subnets have their own route tables and NACLs (until the
    /// associations exist a subnet uses the VPC's main route table and default NACL) and the S3
    /// endpoint exists, so the first fetch can succeed; the Docker host also needs NAT.
    fn group_attributes(&self, attributes: Attributes, needs_nat: bool) -> Attributes {
        let mut attributes = attributes.depends_on(&self.storage.s3_endpoint);
        for association in &self.network.private_route_associations {
            attributes = attributes.depends_on(association);
        }
        for association in &self.security.private_nacl_associations {
            attributes = attributes.depends_on(association);
        }
        if needs_nat {
            for route in &self.network.private_default_routes {
                attributes = attributes.depends_on(route);
            }
        }
        attributes.waive(&[
        Waiver {
            control: Fsbp::Waived("AutoScaling.1"),
            checkov: &["CKV2_AWS_15"],
            cfn_nag: &[],
            guard: &[],
            reason: "EC2 health checks on purpose: an instance waits for `cargo xtask publish` unhealthy in its target group and must not be replaced in a loop meanwhile",
        },
        Waiver {
            control: Fsbp::Waived("AutoScaling.6"),
            checkov: &[],
            cfn_nag: &[],
            guard: &[],
            reason: "one InstanceType parameter keeps the lab's fleets identical; the groups already span two AZs",
        },
    ])
    }
}
