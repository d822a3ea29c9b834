//! EC2 compute: the launch template and the Auto Scaling groups of the fleets.

use serde::Serialize;

use super::{Tag, resource};
use crate::cfn::Expr;

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LaunchTemplate {
    pub launch_template_data: LaunchTemplateData,
}
resource!(
    LaunchTemplate,
    "AWS::EC2::LaunchTemplate",
    [
        "LaunchTemplateId",
        "LatestVersionNumber",
        "DefaultVersionNumber"
    ]
);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LaunchTemplateData {
    pub image_id: Expr,
    pub instance_type: Expr,
    pub monitoring: Monitoring,
    pub iam_instance_profile: IamInstanceProfile,
    pub metadata_options: MetadataOptions,
    pub block_device_mappings: Vec<BlockDeviceMapping>,
    pub network_interfaces: Vec<NetworkInterface>,
    pub user_data: Expr,
    pub tag_specifications: Vec<TagSpecification>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Monitoring {
    pub enabled: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IamInstanceProfile {
    pub arn: Expr,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetadataOptions {
    pub http_endpoint: &'static str,
    pub http_tokens: &'static str,
    pub http_put_response_hop_limit: u8,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BlockDeviceMapping {
    pub device_name: &'static str,
    pub ebs: Ebs,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ebs {
    pub volume_size: u16,
    pub volume_type: &'static str,
    pub encrypted: bool,
    pub delete_on_termination: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkInterface {
    pub device_index: u8,
    pub associate_public_ip_address: bool,
    pub delete_on_termination: bool,
    pub groups: Vec<Expr>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagSpecification {
    pub resource_type: &'static str,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AutoScalingGroup {
    pub availability_zones: Vec<Expr>,
    #[serde(rename = "VPCZoneIdentifier")]
    pub vpc_zone_identifier: Vec<Expr>,
    pub launch_template: LaunchTemplateSpecification,
    pub min_size: Expr,
    pub max_size: Expr,
    pub desired_capacity: Expr,
    #[serde(rename = "TargetGroupARNs")]
    pub target_group_arns: Vec<Expr>,
    pub health_check_type: &'static str,
    pub health_check_grace_period: u32,
    pub tags: Vec<AsgTag>,
}
resource!(AutoScalingGroup, "AWS::AutoScaling::AutoScalingGroup", []);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LaunchTemplateSpecification {
    pub launch_template_id: Expr,
    pub version: Expr,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsgTag {
    pub key: &'static str,
    pub value: Expr,
    pub propagate_at_launch: bool,
}
