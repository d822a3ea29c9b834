//! The stack's outputs: what the controller, the README's smoke test and a human need.

use crate::Stack;

pub fn add(stack: &mut Stack) {
    let lb = &stack.load_balancing;
    let outputs = [
        (
            "AlbDnsName",
            "DNS name of the ALB: http://<this>/api/v1/recommendation",
            lb.alb.get_att("DNSName"),
        ),
        (
            "LoadBalancerFullName",
            "LoadBalancer dimension of the AWS/ApplicationELB metrics",
            lb.alb.get_att("LoadBalancerFullName"),
        ),
        (
            "ListenerArn",
            "The listener holding the weighted forward (HTTPS 443 with a certificate, else HTTP 80)",
            lb.live_listener.clone(),
        ),
        (
            "TargetGroupV1Arn",
            "TG-V1: the stable fleet (model V1)",
            lb.target_group_stable.r#ref(),
        ),
        (
            "TargetGroupV2Arn",
            "TG-V2: the canary on instances (model V2)",
            lb.target_group_canary.r#ref(),
        ),
        (
            "TargetGroupV2DockerArn",
            "TG-V2-Docker: the canary on the Docker host (model V2)",
            lb.target_group_canary_docker.r#ref(),
        ),
        (
            "CanaryTargetGroupArn",
            "The canary target group in use (per CanaryPlatform)",
            lb.canary_target_group.clone(),
        ),
        (
            "ArtifactBucketName",
            "Bucket for `cargo xtask publish --bucket <this>`",
            stack.storage.artifact_bucket.r#ref(),
        ),
        ("VpcId", "The VPC", stack.network.vpc.r#ref()),
    ];
    for (id, description, value) in outputs {
        stack.template.output(id, description, value, None);
    }
}
