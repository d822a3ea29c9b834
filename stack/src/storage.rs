//! The artifact bucket (the recommender binary), the log bucket (ALB access logs, the artifact
//! bucket's server access logs, VPC flow logs) and the S3 gateway endpoint the instances use.

use serde_json::json;

use crate::cfn::resources::{
    AbortIncompleteMultipartUpload, Bucket, BucketEncryption, BucketLogging, BucketPolicy,
    EncryptionByDefault, EncryptionRule, FlowLog, Lifecycle, LifecycleRule,
    NoncurrentVersionExpiration, OwnershipControls, OwnershipRule, PolicyDocument, Principal,
    PublicAccessBlock, Statement, Versioning, VpcEndpoint, name_tag,
};
use crate::cfn::{Attributes, Expr, Fsbp, Handle, Sub, Template, Waiver};
use crate::network::Network;

/// Days the log bucket keeps access logs and flow logs.
pub const LOG_RETENTION_DAYS: u32 = 90;
/// Days an overwritten artifact version is kept (and at most this many newer ones are kept).
pub const NONCURRENT_ARTIFACT_DAYS: u32 = 30;
pub const NONCURRENT_ARTIFACT_VERSIONS: u32 = 3;

/// Where each kind of log lands in the log bucket.
pub const ALB_LOG_PREFIX: &str = "alb";
pub const S3_ACCESS_LOG_PREFIX: &str = "s3-access/artifact-bucket/";
pub const FLOW_LOG_PREFIX: &str = "vpc-flow";

/// Elastic Load Balancing's log-delivery account in the regions that opened before August 2022;
/// newer regions take the service principal `logdelivery.elasticloadbalancing.amazonaws.com`.
const ELB_LOG_ACCOUNTS: &[(&str, &str)] = &[
    ("us-east-1", "127311923021"),
    ("us-east-2", "033677994240"),
    ("us-west-1", "027434742980"),
    ("us-west-2", "797873946194"),
    ("af-south-1", "098369216593"),
    ("ap-east-1", "754344448648"),
    ("ap-south-1", "718504428378"),
    ("ap-northeast-1", "582318560864"),
    ("ap-northeast-2", "600734575887"),
    ("ap-northeast-3", "383597477331"),
    ("ap-southeast-1", "114774131450"),
    ("ap-southeast-2", "783225319266"),
    ("ca-central-1", "985666609251"),
    ("eu-central-1", "054676820928"),
    ("eu-west-1", "156460612806"),
    ("eu-west-2", "652711504416"),
    ("eu-west-3", "009996457667"),
    ("eu-south-1", "635631232127"),
    ("eu-north-1", "897822967062"),
    ("me-south-1", "076674570225"),
    ("sa-east-1", "507241528517"),
];

/// AWS-owned buckets SSM Agent reads on Linux (agent updates, plugins, documents and their
/// attachments, Distributor packages, Patch Manager's snapshots and command documents). Windows-
/// and macOS-only buckets are left out: every instance here runs Ubuntu.
pub const SSM_BUCKETS: &[&str] = &[
    "aws-ssm-${AWS::Region}",
    "amazon-ssm-${AWS::Region}",
    "amazon-ssm-packages-${AWS::Region}",
    "${AWS::Region}-birdwatcher-prod",
    "aws-ssm-distributor-file-${AWS::Region}",
    "aws-ssm-document-attachments-${AWS::Region}",
    "patch-baseline-snapshot-${AWS::Region}",
    "aws-patch-manager-${AWS::Region}-*",
];

pub struct Storage {
    pub artifact_bucket: Handle<Bucket>,
    pub log_bucket: Handle<Bucket>,
    /// ALB access logging checks its write permission when it is turned on: the ALB waits for it.
    pub log_bucket_policy: Handle<BucketPolicy>,
    pub s3_endpoint: Handle<VpcEndpoint>,
}

const SSE_S3: &str = "AES256";

fn private_bucket(
    versioning: Option<Versioning>,
    logging: Option<BucketLogging>,
    lifecycle: LifecycleRule,
) -> Bucket {
    Bucket {
        bucket_encryption: BucketEncryption {
            server_side_encryption_configuration: vec![EncryptionRule {
                server_side_encryption_by_default: EncryptionByDefault {
                    sse_algorithm: SSE_S3,
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
        versioning_configuration: versioning,
        logging_configuration: logging,
        lifecycle_configuration: Lifecycle {
            rules: vec![lifecycle],
        },
        tags: Vec::new(),
    }
}

fn deny_insecure_transport(bucket: &Handle<Bucket>) -> Statement {
    Statement {
        sid: Some("DenyInsecureTransport"),
        effect: "Deny",
        principal: Some(Principal::Anyone("*")),
        action: vec!["s3:*"],
        // Spelled as CT.S3.PR.8 recognises it (IAM reads every spelling alike): the objects'
        // ARN as `Fn::Join` of the bucket's `Arn` and "/*" (it follows no `Fn::Sub`), and the
        // string "false" (it compares the whole condition with the string; the boolean fails it).
        resource: vec![
            bucket.get_att("Arn"),
            Expr::join("", [bucket.get_att("Arn"), Expr::lit("/*")]),
        ],
        condition: Some(json!({ "Bool": { "aws:SecureTransport": "false" } })),
    }
}

/// `arn:…:bucket/<prefix>*`.
fn objects(bucket: &Handle<Bucket>, prefix: &str) -> Expr {
    Sub::new(format!("${{{}.Arn}}/{prefix}*", bucket.id()))
        .var(bucket)
        .build()
}

const SSE_WAIVER: Waiver = Waiver {
    control: Fsbp::Waived("S3.17"),
    checkov: &["CKV_AWS_145"],
    cfn_nag: &[],
    guard: &[],
    reason: "SSE-S3 is the encryption ALB access logs and S3 server access logs support, and nothing here needs a customer key",
};

/// Both buckets: registry rules beyond FSBP that the buckets do not meet, or meet in a way the
/// rule cannot see.
const BUCKET_WAIVERS: [Waiver; 3] = [
    Waiver {
        control: Fsbp::NoControl,
        checkov: &[],
        cfn_nag: &[],
        guard: &["S3_BUCKET_DEFAULT_LOCK_ENABLED"],
        reason: "Object Lock would hold every object version for its retention period, against the lifecycle rules that expire logs after 90 days and overwritten artifacts after 30, and releases are already immutable (publish refuses a different binary under a published version)",
    },
    Waiver {
        control: Fsbp::NoControl,
        checkov: &[],
        cfn_nag: &[],
        guard: &["S3_BUCKET_REPLICATION_ENABLED"],
        reason: "the artifacts are rebuilt from the repository by cargo xtask publish and the logs are diagnostics, so a replica bucket in a second Region would double the storage for nothing that cannot be recreated",
    },
    Waiver {
        control: Fsbp::Holds("S3.8"),
        checkov: &[],
        cfn_nag: &[],
        guard: &["S3_BUCKET_NO_PUBLIC_RW_ACL"],
        reason: "ACLs are disabled (BucketOwnerEnforced) and every public access block is on, and the rule fails any bucket that does not set the legacy AccessControl property",
    },
];

/// The bucket policies: CT.S3.PR.8 (which a governed account cannot suppress) and this registry
/// rule accept opposite spellings of the same condition; the policy keeps CT.S3.PR.8's.
const TLS_POLICY_WAIVER: Waiver = Waiver {
    control: Fsbp::Holds("S3.5"),
    checkov: &[],
    cfn_nag: &[],
    guard: &["S3_BUCKET_SSL_REQUESTS_ONLY"],
    reason: "the policy denies every request without TLS with aws:SecureTransport written as the string \"false\", the only spelling Control Tower's CT.S3.PR.8 accepts, where this rule accepts only the boolean",
};

pub fn build(template: &mut Template, network: &Network) -> Storage {
    let log_bucket = log_bucket(template);
    let artifact_bucket = artifact_bucket(template, &log_bucket);
    let elb_principal = elb_log_principal(template);
    let log_statements = log_statements(&log_bucket, &artifact_bucket, elb_principal);
    let log_bucket_policy = template.add_with(
        "LogBucketPolicy",
        BucketPolicy {
            bucket: log_bucket.r#ref(),
            policy_document: PolicyDocument::new(log_statements),
        },
        Attributes::new().waive(&[TLS_POLICY_WAIVER]),
    );

    template.add_with(
        "VpcFlowLog",
        FlowLog {
            resource_id: network.vpc.r#ref(),
            resource_type: "VPC",
            traffic_type: "ALL",
            log_destination_type: "s3",
            log_destination: Sub::new(format!("${{LogBucket.Arn}}/{FLOW_LOG_PREFIX}/"))
                .var(&log_bucket)
                .build(),
            max_aggregation_interval: 600,
            tags: name_tag(Sub::new("${AWS::StackName}-vpc-flow").build()),
        },
        Attributes::new().depends_on(&log_bucket_policy),
    );

    let s3_endpoint = s3_endpoint(template, network, &artifact_bucket);
    Storage {
        artifact_bucket,
        log_bucket,
        log_bucket_policy,
        s3_endpoint,
    }
}

/// Retained on stack deletion: it holds the audit trail, and a bucket with objects cannot be
/// deleted by CloudFormation anyway.
fn log_bucket(template: &mut Template) -> Handle<Bucket> {
    template.add_with(
        "LogBucket",
        private_bucket(
            None,
            None,
            LifecycleRule {
                id: "ExpireLogs",
                status: "Enabled",
                expiration_in_days: Some(LOG_RETENTION_DAYS),
                noncurrent_version_expiration: None,
                abort_incomplete_multipart_upload: AbortIncompleteMultipartUpload {
                    days_after_initiation: 1,
                },
            },
        ),
        Attributes::new().retain().waive(&[
            Waiver {
                control: Fsbp::Waived("S3.9"),
                checkov: &["CKV_AWS_18"],
                cfn_nag: &["W35"],
                guard: &["S3_BUCKET_LOGGING_ENABLED"],
                reason: "this is the log bucket: logging its own accesses into itself would log every log delivery",
            },
            Waiver {
                control: Fsbp::Waived("S3.14"),
                checkov: &["CKV_AWS_21"],
                cfn_nag: &[],
                guard: &["S3_BUCKET_VERSIONING_ENABLED"],
                reason: "log objects are written once and expire after the retention period, so versions would only keep deleted logs",
            },
            SSE_WAIVER,
        ])
        .waive(&BUCKET_WAIVERS),
    )
}

/// Retained on stack deletion: it holds the published binaries. TLS only.
fn artifact_bucket(template: &mut Template, log_bucket: &Handle<Bucket>) -> Handle<Bucket> {
    let artifact_bucket = template.add_with(
        "ArtifactBucket",
        private_bucket(
            Some(Versioning { status: "Enabled" }),
            Some(BucketLogging {
                destination_bucket_name: log_bucket.r#ref(),
                log_file_prefix: S3_ACCESS_LOG_PREFIX,
            }),
            LifecycleRule {
                id: "ExpireOverwrittenArtifacts",
                status: "Enabled",
                expiration_in_days: None,
                noncurrent_version_expiration: Some(NoncurrentVersionExpiration {
                    noncurrent_days: NONCURRENT_ARTIFACT_DAYS,
                    newer_noncurrent_versions: NONCURRENT_ARTIFACT_VERSIONS,
                }),
                abort_incomplete_multipart_upload: AbortIncompleteMultipartUpload {
                    days_after_initiation: 7,
                },
            },
        ),
        Attributes::new()
            .retain()
            .waive(&[SSE_WAIVER])
            .waive(&BUCKET_WAIVERS),
    );

    template.add_with(
        "ArtifactBucketPolicy",
        BucketPolicy {
            bucket: artifact_bucket.r#ref(),
            policy_document: PolicyDocument::new(vec![deny_insecure_transport(&artifact_bucket)]),
        },
        Attributes::new().waive(&[TLS_POLICY_WAIVER]),
    );
    artifact_bucket
}

/// Where the region's ELB log delivery comes from: an AWS account in the older regions, the
/// service principal in the newer ones (CloudFormation has no "key in mapping" test, hence the
/// condition listing the regions of the mapping).
fn elb_log_principal(template: &mut Template) -> Expr {
    let elb_accounts = template.mapping(
        "ElbLogDeliveryAccount",
        ELB_LOG_ACCOUNTS
            .iter()
            .map(|(region, account)| ((*region).to_owned(), json!({ "AccountId": account })))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    );
    let region_is = |region: &str| Expr::equals(Expr::pseudo("AWS::Region"), region);
    let groups: Vec<Expr> = ELB_LOG_ACCOUNTS
        .chunks(10)
        .map(|chunk| {
            if chunk.len() == 1 {
                region_is(chunk[0].0)
            } else {
                Expr::or(chunk.iter().map(|(region, _)| region_is(region)))
            }
        })
        .collect();
    let legacy_region = template.condition("ElbLogDeliveryByAccount", Expr::or(groups));
    Expr::if_(
        &legacy_region,
        Expr::lit(json!({ "AWS": Expr::join("", [
            Expr::from("arn:"),
            Expr::pseudo("AWS::Partition"),
            Expr::from(":iam::"),
            Expr::find_in_map(&elb_accounts, Expr::pseudo("AWS::Region"), "AccountId"),
            Expr::from(":root"),
        ]) })),
        Expr::lit(json!({ "Service": "logdelivery.elasticloadbalancing.amazonaws.com" })),
    )
}

/// The log bucket's policy: TLS only, and writes by the ALB's log delivery, S3's server access
/// logging of the artifact bucket and VPC flow logs, each into its own prefix.
fn log_statements(
    log_bucket: &Handle<Bucket>,
    artifact_bucket: &Handle<Bucket>,
    elb_principal: Expr,
) -> Vec<Statement> {
    let account_logs = |prefix: &str| {
        Sub::new(format!(
            "${{LogBucket.Arn}}/{prefix}/AWSLogs/${{AWS::AccountId}}/*"
        ))
        .var(log_bucket)
        .build()
    };
    let source_account = json!({ "aws:SourceAccount": Expr::pseudo("AWS::AccountId") });
    let mut log_statements = vec![deny_insecure_transport(log_bucket)];
    log_statements.push(Statement {
        sid: Some("AlbAccessLogs"),
        effect: "Allow",
        principal: Some(Principal::Chosen(elb_principal)),
        action: vec!["s3:PutObject"],
        resource: vec![account_logs(ALB_LOG_PREFIX)],
        condition: None,
    });
    log_statements.push(Statement {
        sid: Some("ArtifactBucketAccessLogs"),
        effect: "Allow",
        principal: Some(Principal::Service(vec!["logging.s3.amazonaws.com"])),
        action: vec!["s3:PutObject"],
        resource: vec![objects(log_bucket, S3_ACCESS_LOG_PREFIX)],
        condition: Some(json!({
            "ArnLike": { "aws:SourceArn": artifact_bucket.get_att("Arn") },
            "StringEquals": source_account.clone(),
        })),
    });
    log_statements.push(Statement {
        sid: Some("FlowLogsAclCheck"),
        effect: "Allow",
        principal: Some(Principal::Service(vec!["delivery.logs.amazonaws.com"])),
        action: vec!["s3:GetBucketAcl", "s3:ListBucket"],
        resource: vec![log_bucket.get_att("Arn")],
        condition: Some(json!({ "StringEquals": source_account })),
    });
    log_statements.push(Statement {
        sid: Some("FlowLogsWrite"),
        effect: "Allow",
        principal: Some(Principal::Service(vec!["delivery.logs.amazonaws.com"])),
        action: vec!["s3:PutObject"],
        resource: vec![account_logs(FLOW_LOG_PREFIX)],
        condition: Some(json!({
            "StringEquals": {
                "aws:SourceAccount": Expr::pseudo("AWS::AccountId"),
                "s3:x-amz-acl": "bucket-owner-full-control",
            },
        })),
    });
    log_statements
}

/// The endpoint admits reads of the artifact bucket and of the AWS-owned buckets Session Manager
/// and patching need, nothing else: a compromised instance cannot use it to push data to another
/// bucket.
fn s3_endpoint(
    template: &mut Template,
    network: &Network,
    artifact_bucket: &Handle<Bucket>,
) -> Handle<VpcEndpoint> {
    let ssm_objects: Vec<Expr> = SSM_BUCKETS
        .iter()
        .map(|bucket| Sub::new(format!("arn:${{AWS::Partition}}:s3:::{bucket}/*")).build())
        .collect();
    template.add(
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
            subnet_ids: Vec::new(),
            security_group_ids: Vec::new(),
            private_dns_enabled: None,
            policy_document: PolicyDocument::new(vec![
                Statement {
                    sid: Some("ReadArtifactBucketOnly"),
                    effect: "Allow",
                    principal: Some(Principal::Anyone("*")),
                    action: vec!["s3:GetObject", "s3:ListBucket"],
                    resource: vec![artifact_bucket.get_att("Arn"), objects(artifact_bucket, "")],
                    condition: None,
                },
                Statement {
                    sid: Some("SessionManagerAndPatching"),
                    effect: "Allow",
                    principal: Some(Principal::Anyone("*")),
                    action: vec!["s3:GetObject"],
                    resource: ssm_objects,
                    condition: None,
                },
            ]),
        },
    )
}
