//! Typed properties of the CloudFormation resource types the stack uses, with the spec's names.
//!
//! Plain CloudFormation types only (no SAM transform), so every policy tool reads the output.
//! Optional properties are `Option` and skipped when `None`; empty lists are skipped.

use serde::Serialize;

use super::expr::Expr;
use super::template::Resource;

macro_rules! resource {
    ($name:ident, $type:literal, [$($attr:literal),* $(,)?]) => {
        impl Resource for $name {
            const TYPE: &'static str = $type;
            const ATTRIBUTES: &'static [&'static str] = &[$($attr),*];
        }
    };
}
pub(crate) use resource;

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: Expr,
}

/// A `Name` tag, the one the console shows.
pub fn name_tag(value: impl Into<Expr>) -> Vec<Tag> {
    vec![Tag {
        key: "Name".into(),
        value: value.into(),
    }]
}

// ---------------------------------------------------------------- EC2 network

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Vpc {
    pub cidr_block: Expr,
    pub enable_dns_support: bool,
    pub enable_dns_hostnames: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(
    Vpc,
    "AWS::EC2::VPC",
    [
        "CidrBlock",
        "VpcId",
        "DefaultNetworkAcl",
        "DefaultSecurityGroup"
    ]
);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Subnet {
    pub vpc_id: Expr,
    pub cidr_block: Expr,
    pub availability_zone: Expr,
    pub map_public_ip_on_launch: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(
    Subnet,
    "AWS::EC2::Subnet",
    ["SubnetId", "AvailabilityZone", "VpcId"]
);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InternetGateway {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(
    InternetGateway,
    "AWS::EC2::InternetGateway",
    ["InternetGatewayId"]
);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VpcGatewayAttachment {
    pub vpc_id: Expr,
    pub internet_gateway_id: Expr,
}
resource!(VpcGatewayAttachment, "AWS::EC2::VPCGatewayAttachment", []);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Eip {
    pub domain: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(Eip, "AWS::EC2::EIP", ["AllocationId", "PublicIp"]);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NatGateway {
    pub allocation_id: Expr,
    pub subnet_id: Expr,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(NatGateway, "AWS::EC2::NatGateway", ["NatGatewayId"]);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RouteTable {
    pub vpc_id: Expr,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(RouteTable, "AWS::EC2::RouteTable", ["RouteTableId"]);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Route {
    pub route_table_id: Expr,
    pub destination_cidr_block: Expr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway_id: Option<Expr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nat_gateway_id: Option<Expr>,
}
resource!(Route, "AWS::EC2::Route", []);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubnetRouteTableAssociation {
    pub subnet_id: Expr,
    pub route_table_id: Expr,
}
resource!(
    SubnetRouteTableAssociation,
    "AWS::EC2::SubnetRouteTableAssociation",
    []
);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VpcEndpoint {
    pub vpc_id: Expr,
    pub service_name: Expr,
    pub vpc_endpoint_type: &'static str,
    pub route_table_ids: Vec<Expr>,
    pub policy_document: PolicyDocument,
}
resource!(VpcEndpoint, "AWS::EC2::VPCEndpoint", ["Id"]);

// ---------------------------------------------------------------- NACLs and security groups

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkAcl {
    pub vpc_id: Expr,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(NetworkAcl, "AWS::EC2::NetworkAcl", ["Id"]);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PortRange {
    pub from: u16,
    pub to: u16,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkAclEntry {
    pub network_acl_id: Expr,
    pub rule_number: u16,
    /// IANA protocol number; 6 is TCP.
    pub protocol: i32,
    pub rule_action: &'static str,
    pub egress: bool,
    pub cidr_block: Expr,
    pub port_range: PortRange,
}
resource!(NetworkAclEntry, "AWS::EC2::NetworkAclEntry", []);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubnetNetworkAclAssociation {
    pub subnet_id: Expr,
    pub network_acl_id: Expr,
}
resource!(
    SubnetNetworkAclAssociation,
    "AWS::EC2::SubnetNetworkAclAssociation",
    ["AssociationId"]
);

/// One inline rule of a security group (ingress or egress).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SgRule {
    pub ip_protocol: &'static str,
    pub from_port: u16,
    pub to_port: u16,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr_ip: Option<Expr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_security_group_id: Option<Expr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_security_group_id: Option<Expr>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecurityGroup {
    pub group_description: String,
    pub vpc_id: Expr,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_group_ingress: Vec<SgRule>,
    /// Declared even when the rules live in separate resources: a group without inline egress
    /// gets AWS's default allow-all egress rule.
    pub security_group_egress: Vec<SgRule>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(
    SecurityGroup,
    "AWS::EC2::SecurityGroup",
    ["GroupId", "VpcId"]
);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecurityGroupIngress {
    pub group_id: Expr,
    #[serde(flatten)]
    pub rule: SgRule,
}
resource!(
    SecurityGroupIngress,
    "AWS::EC2::SecurityGroupIngress",
    ["Id"]
);

// ---------------------------------------------------------------- IAM

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyDocument {
    pub version: &'static str,
    pub statement: Vec<Statement>,
}

impl PolicyDocument {
    pub fn new(statement: Vec<Statement>) -> PolicyDocument {
        PolicyDocument {
            version: "2012-10-17",
            statement,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<&'static str>,
    pub effect: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<Principal>,
    pub action: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resource: Vec<Expr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<serde_json::Value>,
}

#[derive(Debug, Serialize)]
pub enum Principal {
    Service(Vec<&'static str>),
    /// `"Principal": "*"`.
    #[serde(untagged)]
    Anyone(&'static str),
    /// A principal chosen by an intrinsic (e.g. `Fn::If` on the region).
    #[serde(untagged)]
    Chosen(Expr),
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InlinePolicy {
    pub policy_name: &'static str,
    pub policy_document: PolicyDocument,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Role {
    pub assume_role_policy_document: PolicyDocument,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub managed_policy_arns: Vec<Expr>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<InlinePolicy>,
}
resource!(Role, "AWS::IAM::Role", ["Arn", "RoleId"]);

/// A policy attached to roles after they exist: it may name resources that need the role first.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Policy {
    pub policy_name: &'static str,
    pub policy_document: PolicyDocument,
    pub roles: Vec<Expr>,
}
resource!(Policy, "AWS::IAM::Policy", ["Id"]);

/// A policy for people and roles outside the stack to attach (the operators').
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManagedPolicy {
    pub description: &'static str,
    pub policy_document: PolicyDocument,
}
resource!(ManagedPolicy, "AWS::IAM::ManagedPolicy", ["PolicyArn"]);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceProfile {
    pub roles: Vec<Expr>,
}
resource!(InstanceProfile, "AWS::IAM::InstanceProfile", ["Arn"]);

// ---------------------------------------------------------------- S3

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Bucket {
    pub bucket_encryption: BucketEncryption,
    pub public_access_block_configuration: PublicAccessBlock,
    pub ownership_controls: OwnershipControls,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versioning_configuration: Option<Versioning>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logging_configuration: Option<BucketLogging>,
    pub lifecycle_configuration: Lifecycle,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(
    Bucket,
    "AWS::S3::Bucket",
    ["Arn", "DomainName", "RegionalDomainName"]
);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BucketEncryption {
    pub server_side_encryption_configuration: Vec<EncryptionRule>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptionRule {
    pub server_side_encryption_by_default: EncryptionByDefault,
}

#[derive(Debug, Serialize)]
pub struct EncryptionByDefault {
    #[serde(rename = "SSEAlgorithm")]
    pub sse_algorithm: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub block_public_policy: bool,
    pub ignore_public_acls: bool,
    pub restrict_public_buckets: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OwnershipControls {
    pub rules: Vec<OwnershipRule>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OwnershipRule {
    pub object_ownership: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Versioning {
    pub status: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BucketLogging {
    pub destination_bucket_name: Expr,
    pub log_file_prefix: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Lifecycle {
    pub rules: Vec<LifecycleRule>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LifecycleRule {
    pub id: &'static str,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_in_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noncurrent_version_expiration: Option<NoncurrentVersionExpiration>,
    pub abort_incomplete_multipart_upload: AbortIncompleteMultipartUpload,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NoncurrentVersionExpiration {
    pub noncurrent_days: u32,
    pub newer_noncurrent_versions: u32,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AbortIncompleteMultipartUpload {
    pub days_after_initiation: u32,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FlowLog {
    pub resource_id: Expr,
    pub resource_type: &'static str,
    pub traffic_type: &'static str,
    pub log_destination_type: &'static str,
    pub log_destination: Expr,
    pub max_aggregation_interval: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(FlowLog, "AWS::EC2::FlowLog", ["Id"]);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BucketPolicy {
    pub bucket: Expr,
    pub policy_document: PolicyDocument,
}
resource!(BucketPolicy, "AWS::S3::BucketPolicy", []);

// ---------------------------------------------------------------- Load balancing

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyValue {
    pub key: &'static str,
    pub value: Expr,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoadBalancer {
    pub r#type: &'static str,
    pub scheme: &'static str,
    pub ip_address_type: &'static str,
    pub subnets: Vec<Expr>,
    pub security_groups: Vec<Expr>,
    /// Elements may be `Fn::If` with `AWS::NoValue`, hence `Expr`.
    pub load_balancer_attributes: Vec<Expr>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(
    LoadBalancer,
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    [
        "DNSName",
        "LoadBalancerFullName",
        "LoadBalancerName",
        "LoadBalancerArn",
        "CanonicalHostedZoneID"
    ]
);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetGroup {
    pub vpc_id: Expr,
    pub protocol: &'static str,
    pub port: u16,
    pub target_type: &'static str,
    pub health_check_enabled: bool,
    pub health_check_protocol: &'static str,
    pub health_check_path: &'static str,
    pub health_check_interval_seconds: u16,
    pub health_check_timeout_seconds: u16,
    pub healthy_threshold_count: u16,
    pub unhealthy_threshold_count: u16,
    pub matcher: Matcher,
    pub target_group_attributes: Vec<KeyValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(
    TargetGroup,
    "AWS::ElasticLoadBalancingV2::TargetGroup",
    [
        "TargetGroupArn",
        "TargetGroupFullName",
        "TargetGroupName",
        "LoadBalancerArns"
    ]
);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Matcher {
    pub http_code: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Listener {
    pub load_balancer_arn: Expr,
    pub port: u16,
    pub protocol: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssl_policy: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<Certificate>,
    /// An `Expr` so that one listener can switch its action on a condition.
    pub default_actions: Expr,
}
resource!(
    Listener,
    "AWS::ElasticLoadBalancingV2::Listener",
    ["ListenerArn"]
);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Certificate {
    pub certificate_arn: Expr,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Action {
    pub r#type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward_config: Option<ForwardConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_config: Option<RedirectConfig>,
}

impl Action {
    pub fn to_expr(&self) -> Expr {
        Expr(serde_json::to_value(self).expect("an action serializes"))
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ForwardConfig {
    pub target_groups: Vec<WeightedTargetGroup>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WeightedTargetGroup {
    pub target_group_arn: Expr,
    pub weight: u16,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RedirectConfig {
    pub protocol: &'static str,
    pub port: &'static str,
    pub status_code: &'static str,
}

// ---------------------------------------------------------------- WAF

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WebAcl {
    pub scope: &'static str,
    pub description: &'static str,
    pub default_action: WafAction,
    pub visibility_config: VisibilityConfig,
    pub rules: Vec<WafRule>,
}
resource!(
    WebAcl,
    "AWS::WAFv2::WebACL",
    ["Arn", "Id", "LabelNamespace"]
);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VisibilityConfig {
    pub sampled_requests_enabled: bool,
    pub cloud_watch_metrics_enabled: bool,
    pub metric_name: String,
}

impl VisibilityConfig {
    pub fn on(metric_name: &str) -> VisibilityConfig {
        VisibilityConfig {
            sampled_requests_enabled: true,
            cloud_watch_metrics_enabled: true,
            metric_name: metric_name.to_owned(),
        }
    }
}

/// `{"Allow": {}}` or `{"Block": {}}`.
#[derive(Debug, Serialize)]
pub enum WafAction {
    Allow {},
    Block {},
}

/// A managed rule group's override: `{"None": {}}` keeps the group's own actions.
#[derive(Debug, Serialize)]
pub enum OverrideAction {
    None {},
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WafRule {
    pub name: String,
    pub priority: u16,
    pub statement: WafStatement,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<WafAction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_action: Option<OverrideAction>,
    pub visibility_config: VisibilityConfig,
}

#[derive(Debug, Serialize)]
pub enum WafStatement {
    ManagedRuleGroupStatement {
        #[serde(rename = "VendorName")]
        vendor_name: &'static str,
        #[serde(rename = "Name")]
        name: &'static str,
    },
    RateBasedStatement {
        #[serde(rename = "Limit")]
        limit: Expr,
        #[serde(rename = "AggregateKeyType")]
        aggregate_key_type: &'static str,
    },
}

#[derive(Debug, Serialize)]
pub struct WebAclAssociation {
    #[serde(rename = "ResourceArn")]
    pub resource_arn: Expr,
    #[serde(rename = "WebACLArn")]
    pub web_acl_arn: Expr,
}
resource!(WebAclAssociation, "AWS::WAFv2::WebACLAssociation", []);

// ---------------------------------------------------------------- Compute

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
    pub iam_instance_profile: IamInstanceProfile,
    pub metadata_options: MetadataOptions,
    pub block_device_mappings: Vec<BlockDeviceMapping>,
    pub network_interfaces: Vec<NetworkInterface>,
    pub user_data: Expr,
    pub tag_specifications: Vec<TagSpecification>,
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
