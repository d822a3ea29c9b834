//! The artifact bucket the instances fetch their releases from: encrypted, private, TLS only.

use crate::eval::{Eval, r#ref};

#[test]
fn artifact_bucket_is_encrypted_private_and_tls_only() {
    let eval = Eval::defaults();
    let bucket = eval.resource("ArtifactBucket");
    let sse = &bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
        ["SSEAlgorithm"];
    assert!(sse == "AES256" || sse == "aws:kms");
    for key in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(bucket["PublicAccessBlockConfiguration"][key], true, "{key}");
    }
    assert_eq!(
        bucket["OwnershipControls"]["Rules"][0]["ObjectOwnership"],
        "BucketOwnerEnforced"
    );
    let policies = eval.resources("AWS::S3::BucketPolicy");
    assert_eq!(policies.len(), 2);
    let policy = &eval.resource("ArtifactBucketPolicy");
    assert_eq!(policy["Bucket"], r#ref("ArtifactBucket"));
    let deny_plain_http = policy["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| {
            s["Effect"] == "Deny"
                // The string and the joined objects' ARN: CT.S3.PR.8 recognises no other spelling.
                && s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
                && s["Resource"][1]["Fn::Join"][1][1] == "/*"
                && s["Resource"].as_array().unwrap().len() == 2
        });
    assert!(deny_plain_http);
}
