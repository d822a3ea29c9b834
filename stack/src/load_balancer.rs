//! The ALB, its target groups, the live listener with the weighted forward, and the WAF.

use serde_json::json;

use crate::cfn::resources::{
    Action, Certificate, ForwardConfig, KeyValue, Listener, LoadBalancer, Matcher, OverrideAction,
    RedirectConfig, TargetGroup, VisibilityConfig, WafAction, WafRule, WafStatement, WebAcl,
    WebAclAssociation, WeightedTargetGroup, name_tag,
};
use crate::cfn::{Attributes, Expr, Fsbp, Handle, Sub, Template, Waiver};
use crate::network::Network;
use crate::parameters::{Conditions, Parameters};
use crate::security::{APP_PORT, DOCKER_HOST_PORT, Security};
use crate::storage::{ALB_LOG_PREFIX, Storage};

/// Weights written by the template: stable only. The controller owns the weights after
/// creation; a template holding a canary weight would undo a rollback on every redeploy.
pub const STABLE_WEIGHT: u16 = 100;
pub const CANARY_WEIGHT: u16 = 0;

/// Seconds a deregistering target keeps its in-flight requests: short, so a rollback is fast.
pub const DEREGISTRATION_DELAY_SECONDS: u16 = 15;
pub const HEALTH_CHECK_PATH: &str = "/health";

/// The target health checks: the fastest AWS allows where it matters (interval 5 s and both
/// thresholds 2, their minimums), so a dead target is unhealthy within interval × unhealthy
/// threshold = 10 s and back within 10 s of answering again. The timeout is the longest below the
/// interval: it does not slow the detection of a dead target (a refused connection fails at
/// once), adds at most 2 s to that of a hung one, and tolerates a `/health` (a static answer
/// from the service's own runtime, no model call) a thousand times slower than under saturation.
/// With no healthy target, an ALB keeps sending the group its weight (fail open): the health
/// checks only feed `UnHealthyHostCount`, the controller takes canary to 0.
pub const HEALTH_CHECK_INTERVAL_SECONDS: u16 = 5;
pub const HEALTH_CHECK_TIMEOUT_SECONDS: u16 = 4;
pub const HEALTHY_THRESHOLD_COUNT: u16 = 2;
pub const UNHEALTHY_THRESHOLD_COUNT: u16 = 2;

pub struct LoadBalancing {
    pub alb: Handle<LoadBalancer>,
    /// The listener holding the weighted forward: HTTPS 443 with a certificate, else HTTP 80.
    pub live_listener: Expr,
    pub target_group_stable: Handle<TargetGroup>,
    pub target_group_canary: Handle<TargetGroup>,
    pub target_group_canary_docker: Handle<TargetGroup>,
    /// ARN of the canary target group: TG-V2 on `vm`, TG-V2-Docker on `docker`.
    pub canary_target_group: Expr,
    /// `TargetGroupFullName` of the canary target group (CloudWatch's `TargetGroup` dimension).
    pub canary_target_group_full_name: Expr,
}

fn target_group(
    template: &mut Template,
    id: &str,
    network: &Network,
    port: u16,
    name: &str,
) -> Handle<TargetGroup> {
    template.add(
        id,
        TargetGroup {
            vpc_id: network.vpc.r#ref(),
            protocol: "HTTP",
            port,
            target_type: "instance",
            health_check_enabled: true,
            health_check_protocol: "HTTP",
            health_check_path: HEALTH_CHECK_PATH,
            health_check_interval_seconds: HEALTH_CHECK_INTERVAL_SECONDS,
            health_check_timeout_seconds: HEALTH_CHECK_TIMEOUT_SECONDS,
            healthy_threshold_count: HEALTHY_THRESHOLD_COUNT,
            unhealthy_threshold_count: UNHEALTHY_THRESHOLD_COUNT,
            matcher: Matcher { http_code: "200" },
            target_group_attributes: vec![KeyValue {
                key: "deregistration_delay.timeout_seconds",
                value: DEREGISTRATION_DELAY_SECONDS.to_string().into(),
            }],
            tags: name_tag(Sub::new(format!("${{AWS::StackName}}-{name}")).build()),
        },
    )
}

fn attribute(key: &'static str, value: Expr) -> Expr {
    Expr::lit(json!({ "Key": key, "Value": value }))
}

pub fn build(
    template: &mut Template,
    params: &Parameters,
    conds: &Conditions,
    network: &Network,
    security: &Security,
    storage: &Storage,
) -> LoadBalancing {
    let alb = load_balancer(template, params, conds, network, security, storage);
    let target_group_stable = target_group(template, "TargetGroupV1", network, APP_PORT, "tg-v1");
    let target_group_canary = target_group(template, "TargetGroupV2", network, APP_PORT, "tg-v2");
    let target_group_canary_docker = target_group(
        template,
        "TargetGroupV2Docker",
        network,
        DOCKER_HOST_PORT,
        "tg-v2-docker",
    );
    let canary_target_group = Expr::if_(
        &conds.canary_on_docker,
        target_group_canary_docker.r#ref(),
        target_group_canary.r#ref(),
    );
    let canary_target_group_full_name = Expr::if_(
        &conds.canary_on_docker,
        target_group_canary_docker.get_att("TargetGroupFullName"),
        target_group_canary.get_att("TargetGroupFullName"),
    );

    let live_listener = listeners(
        template,
        params,
        conds,
        &alb,
        &target_group_stable,
        &canary_target_group,
    );
    web_acl(template, params, &alb);
    LoadBalancing {
        alb,
        live_listener,
        target_group_stable,
        target_group_canary,
        target_group_canary_docker,
        canary_target_group,
        canary_target_group_full_name,
    }
}

fn load_balancer(
    template: &mut Template,
    params: &Parameters,
    conds: &Conditions,
    network: &Network,
    security: &Security,
    storage: &Storage,
) -> Handle<LoadBalancer> {
    // The gateway attachment first: an internet-facing ALB in a VPC whose gateway is not attached
    // yet fails to create. The log bucket's policy first: turning access logs on makes ELB write
    // a test object, and fails without the permission.
    template.add_with(
        "LoadBalancer",
        LoadBalancer {
            r#type: "application",
            scheme: "internet-facing",
            ip_address_type: "ipv4",
            subnets: network.public_subnets.iter().map(|s| s.r#ref()).collect(),
            security_groups: vec![security.alb_group.get_att("GroupId")],
            load_balancer_attributes: vec![
                attribute(
                    "routing.http.drop_invalid_header_fields.enabled",
                    "true".into(),
                ),
                attribute("routing.http.desync_mitigation_mode", "defensive".into()),
                attribute(
                    "deletion_protection.enabled",
                    params.alb_deletion_protection.r#ref(),
                ),
                attribute(
                    "access_logs.s3.enabled",
                    Expr::if_(&conds.has_access_logs, "true", "false"),
                ),
                Expr::if_(
                    &conds.has_access_logs,
                    attribute("access_logs.s3.bucket", storage.log_bucket.r#ref()),
                    Expr::no_value(),
                ),
                Expr::if_(
                    &conds.has_access_logs,
                    attribute("access_logs.s3.prefix", ALB_LOG_PREFIX.into()),
                    Expr::no_value(),
                ),
            ],
            tags: name_tag(Sub::new("${AWS::StackName}-alb").build()),
        },
        Attributes::new()
            .depends_on(&network.igw_attachment)
            .depends_on(&storage.log_bucket_policy)
            .waive(&[
                Waiver {
                    control: Fsbp::Waived("ELB.6"),
                    checkov: &["CKV_AWS_150"],
                    cfn_nag: &[],
                    guard: &["ELB_DELETION_PROTECTION_ENABLED"],
                    reason: "deletion protection is the AlbDeletionProtection parameter, off by default so that the stack deletes in one step",
                },
                Waiver {
                    control: Fsbp::Holds("ELB.5"),
                    checkov: &["CKV_AWS_91"],
                    cfn_nag: &[],
                    guard: &[],
                    reason: "access logs go to the log bucket by default, and checkov cannot evaluate the Fn::If on the AlbAccessLogs parameter that lets an operator turn them off",
                },
            ]),
    )
}

/// HTTP 80 (the weighted forward, or with a certificate a redirect to HTTPS) and HTTPS 443 with
/// the weighted forward; returns the live listener's ARN, the one holding the forward.
fn listeners(
    template: &mut Template,
    params: &Parameters,
    conds: &Conditions,
    alb: &Handle<LoadBalancer>,
    target_group_stable: &Handle<TargetGroup>,
    canary_target_group: &Expr,
) -> Expr {
    let weighted_forward = weighted_forward(target_group_stable, canary_target_group);
    let redirect_to_https = Action {
        r#type: "redirect",
        forward_config: None,
        redirect_config: Some(RedirectConfig {
            protocol: "HTTPS",
            port: "443",
            status_code: "HTTP_301",
        }),
    };

    let http_listener = template.add_with(
        "HttpListener",
        Listener {
            load_balancer_arn: alb.r#ref(),
            port: 80,
            protocol: "HTTP",
            ssl_policy: None,
            certificates: Vec::new(),
            default_actions: Expr::if_(
                &conds.has_certificate,
                Expr::list([redirect_to_https.to_expr()]),
                Expr::list([weighted_forward.to_expr()]),
            ),
        },
        Attributes::new().waive(&[Waiver {
            control: Fsbp::Waived("ELB.1"),
            checkov: &["CKV_AWS_2", "CKV_AWS_103"],
            cfn_nag: &["W56"],
            guard: &["ELBV2_LISTENER_PROTOCOL_RULE", "ELBV2_LISTENER_SSL_POLICY_RULE"],
            reason: "without a CertificateArn there is no HTTPS to redirect to; with one, this listener only redirects to HTTPS 443",
        }]),
    );
    let https_listener = template.add_with(
        "HttpsListener",
        Listener {
            load_balancer_arn: alb.r#ref(),
            port: 443,
            protocol: "HTTPS",
            ssl_policy: Some("ELBSecurityPolicy-TLS13-1-2-2021-06"),
            certificates: vec![Certificate {
                certificate_arn: params.certificate_arn.r#ref(),
            }],
            default_actions: Expr::list([weighted_forward.to_expr()]),
        },
        Attributes::new()
            .condition(&conds.has_certificate)
            .waive(&[Waiver {
                control: Fsbp::NoControl,
                checkov: &[],
                cfn_nag: &[],
                guard: &["ELBV2_ACM_CERTIFICATE_REQUIRED"],
                reason: "the certificate is the CertificateArn parameter, whose AllowedPattern admits only an ACM certificate's ARN, and the rule follows a Ref only to a certificate resource of the template",
            }]),
    );
    Expr::if_(
        &conds.has_certificate,
        https_listener.r#ref(),
        http_listener.r#ref(),
    )
}

/// The WAF web ACL in front of the ALB: a per-IP rate limit and AWS's managed rule groups.
fn web_acl(template: &mut Template, params: &Parameters, alb: &Handle<LoadBalancer>) {
    let managed = |priority: u16, name: &'static str| WafRule {
        name: name.to_owned(),
        priority,
        statement: WafStatement::ManagedRuleGroupStatement {
            vendor_name: "AWS",
            name,
        },
        action: None,
        override_action: Some(OverrideAction::None {}),
        visibility_config: VisibilityConfig::on(name),
    };
    let web_acl = template.add(
        "WebAcl",
        WebAcl {
            scope: "REGIONAL",
            description: "alb-canary: AWS managed rule groups and a per-IP rate limit in front of the ALB",
            default_action: WafAction::Allow {},
            visibility_config: VisibilityConfig::on("AlbCanaryWebAcl"),
            rules: vec![
                WafRule {
                    name: "RateLimitPerIp".into(),
                    priority: 0,
                    statement: WafStatement::RateBasedStatement {
                        limit: params.waf_rate_limit.r#ref(),
                        aggregate_key_type: "IP",
                    },
                    action: Some(WafAction::Block {}),
                    override_action: None,
                    visibility_config: VisibilityConfig::on("RateLimitPerIp"),
                },
                managed(1, "AWSManagedRulesCommonRuleSet"),
                managed(2, "AWSManagedRulesKnownBadInputsRuleSet"),
                managed(3, "AWSManagedRulesSQLiRuleSet"),
            ],
        },
    );
    template.add(
        "WebAclAssociation",
        WebAclAssociation {
            resource_arn: alb.r#ref(),
            web_acl_arn: web_acl.get_att("Arn"),
        },
    );
}

/// The forward the template writes: stable only (see [`STABLE_WEIGHT`]).
fn weighted_forward(
    target_group_stable: &Handle<TargetGroup>,
    canary_target_group: &Expr,
) -> Action {
    Action {
        r#type: "forward",
        forward_config: Some(ForwardConfig {
            target_groups: vec![
                WeightedTargetGroup {
                    target_group_arn: target_group_stable.r#ref(),
                    weight: STABLE_WEIGHT,
                },
                WeightedTargetGroup {
                    target_group_arn: canary_target_group.clone(),
                    weight: CANARY_WEIGHT,
                },
            ],
        }),
        redirect_config: None,
    }
}
