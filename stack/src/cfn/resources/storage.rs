//! S3 buckets, their policies, and the VPC flow log that writes into one.

use serde::Serialize;

use super::iam::PolicyDocument;
use super::{Tag, resource};
use crate::cfn::Expr;

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
