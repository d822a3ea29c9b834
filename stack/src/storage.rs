//! The artifact bucket (the recommender binary) and the S3 gateway endpoint the instances use.

use serde_json::json;

use crate::cfn::resources::{
    Bucket, BucketEncryption, BucketPolicy, EncryptionByDefault, EncryptionRule, OwnershipControls,
    OwnershipRule, PolicyDocument, Principal, PublicAccessBlock, Statement, Versioning,
    VpcEndpoint,
};
use crate::cfn::{Attributes, Handle, Sub, Template};
use crate::network::Network;

pub struct Storage {
    pub artifact_bucket: Handle<Bucket>,
    pub s3_endpoint: Handle<VpcEndpoint>,
}

pub fn build(template: &mut Template, network: &Network) -> Storage {
    // Retained on stack deletion: it holds the published binaries, and CloudFormation cannot
    // delete a bucket that is not empty anyway.
    let artifact_bucket = template.add_with(
        "ArtifactBucket",
        Bucket {
            bucket_encryption: BucketEncryption {
                server_side_encryption_configuration: vec![EncryptionRule {
                    server_side_encryption_by_default: EncryptionByDefault {
                        sse_algorithm: "AES256",
                    },
                }],
            },
            public_access_block_configuration: PublicAccessBlock {
                block_public_acls: true,
                block_public_policy: true,
                ignore_public_acls: true,
                restrict_public_buckets: true,
            },
            ownership_controls: OwnershipControls {
                rules: vec![OwnershipRule {
                    object_ownership: "BucketOwnerEnforced",
                }],
            },
            versioning_configuration: Versioning { status: "Enabled" },
            tags: Vec::new(),
        },
        Attributes::new().retain(),
    );
    let bucket_arn = artifact_bucket.get_att("Arn");
    let objects_arn = Sub::new("${ArtifactBucket.Arn}/*")
        .var(&artifact_bucket)
        .build();

    template.add(
        "ArtifactBucketPolicy",
        BucketPolicy {
            bucket: artifact_bucket.r#ref(),
            policy_document: PolicyDocument::new(vec![Statement {
                sid: Some("DenyInsecureTransport"),
                effect: "Deny",
                principal: Some(Principal::Anyone("*")),
                action: vec!["s3:*"],
                resource: vec![bucket_arn.clone(), objects_arn.clone()],
                condition: Some(json!({ "Bool": { "aws:SecureTransport": "false" } })),
            }]),
        },
    );

    // The endpoint's policy admits only reads of the artifact bucket: the instances need nothing
    // else from S3 (apt and snap go through NAT), and a compromised instance cannot use the
    // endpoint to push data to other buckets.
    let s3_endpoint = template.add(
        "S3GatewayEndpoint",
        VpcEndpoint {
            vpc_id: network.vpc.r#ref(),
            service_name: Sub::new("com.amazonaws.${AWS::Region}.s3").build(),
            vpc_endpoint_type: "Gateway",
            route_table_ids: network
                .private_route_tables
                .iter()
                .map(|t| t.r#ref())
                .collect(),
            policy_document: PolicyDocument::new(vec![Statement {
                sid: Some("ReadArtifactBucketOnly"),
                effect: "Allow",
                principal: Some(Principal::Anyone("*")),
                action: vec!["s3:GetObject", "s3:ListBucket"],
                resource: vec![bucket_arn, objects_arn],
                condition: None,
            }]),
        },
    );

    Storage {
        artifact_bucket,
        s3_endpoint,
    }
}
