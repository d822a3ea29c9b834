//! The load balancer: the internet-facing ALB, its three target groups and their health checks,
//! the listeners (HTTP, or HTTPS with a redirect) with the controller's weights, and the WAF.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::addresses::CERT;
use crate::eval::{Eval, get_att, r#ref};

#[test]
fn alb_is_internet_facing_in_both_public_subnets_and_drops_invalid_headers() {
    let eval = Eval::defaults();
    let albs = eval.resources("AWS::ElasticLoadBalancingV2::LoadBalancer");
    assert_eq!(albs.len(), 1);
    let alb = &albs[0].1;
    assert_eq!(alb["Scheme"], "internet-facing");
    assert_eq!(
        alb["Subnets"],
        json!([r#ref("PublicSubnet1"), r#ref("PublicSubnet2")])
    );
    assert_eq!(
        alb["SecurityGroups"],
        json!([get_att("AlbSecurityGroup", "GroupId")])
    );
    let attrs = |alb: &Value| -> Vec<(String, String)> {
        alb["LoadBalancerAttributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["Key"].as_str().unwrap().into(),
                    a["Value"]
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| a["Value"].to_string()),
                )
            })
            .collect()
    };
    let defaults = attrs(alb);
    assert!(defaults.contains(&(
        "routing.http.drop_invalid_header_fields.enabled".into(),
        "true".into()
    )));
    assert!(defaults.contains(&("deletion_protection.enabled".into(), "false".into())));
    assert!(defaults.contains(&("access_logs.s3.enabled".into(), "true".into())));
    let unlogged = Eval::new(&[
        ("AlbAccessLogs", "disabled"),
        ("AlbDeletionProtection", "true"),
    ]);
    let unlogged = attrs(&unlogged.resource("LoadBalancer"));
    assert!(unlogged.contains(&("access_logs.s3.enabled".into(), "false".into())));
    assert!(!unlogged.iter().any(|(k, _)| k == "access_logs.s3.bucket"));
    assert!(unlogged.contains(&("deletion_protection.enabled".into(), "true".into())));
}

#[test]
fn three_target_groups_check_health_on_slash_health() {
    let eval = Eval::defaults();
    let groups = eval.resources("AWS::ElasticLoadBalancingV2::TargetGroup");
    assert_eq!(groups.len(), 3);
    for (id, port) in [
        ("TargetGroupV1", 8000),
        ("TargetGroupV2", 8000),
        ("TargetGroupV2Docker", 80),
    ] {
        let tg = eval.resource(id);
        assert_eq!(tg["Port"], port, "{id}");
        assert_eq!(tg["Protocol"], "HTTP");
        assert_eq!(tg["HealthCheckPath"], "/health", "{id}");
        assert_eq!(tg["Matcher"]["HttpCode"], "200");
        // The fastest checks AWS allows (interval 5–300 s, thresholds 2–10): a dead target is
        // unhealthy within interval × unhealthy threshold = 10 s; the timeout (2 s to less than
        // the interval) the most tolerant of a slow `/health`.
        let n = |key: &str| tg[key].as_u64().unwrap_or_else(|| panic!("{id}: {key}"));
        assert_eq!(n("HealthCheckIntervalSeconds"), 5, "{id}");
        assert_eq!(
            (n("UnhealthyThresholdCount"), n("HealthyThresholdCount")),
            (2, 2),
            "{id}"
        );
        assert_eq!(n("HealthCheckTimeoutSeconds"), 4, "{id}");
        assert!(
            n("HealthCheckIntervalSeconds") * n("UnhealthyThresholdCount") <= 10,
            "{id}"
        );
        assert_eq!(tg["VpcId"], r#ref("Vpc"));
        let delay = tg["TargetGroupAttributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["Key"] == "deregistration_delay.timeout_seconds")
            .expect("a deregistration delay")["Value"]
            .as_str()
            .unwrap()
            .parse::<u32>()
            .unwrap();
        assert!(
            delay <= 30,
            "{id}: short deregistration delay for fast rollback, got {delay}"
        );
    }
}

/// (target group logical ID, weight) of a listener's forward action.
fn forward_weights(listener: &Value) -> Vec<(String, u64)> {
    let actions = listener["DefaultActions"].as_array().unwrap();
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0]["Type"], "forward");
    actions[0]["ForwardConfig"]["TargetGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tg| {
            (
                tg["TargetGroupArn"]["Ref"].as_str().unwrap().to_owned(),
                tg["Weight"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn listener_is_stable_only_and_forwards_to_the_canary_group_of_the_platform() {
    for (platform, canary) in [("vm", "TargetGroupV2"), ("docker", "TargetGroupV2Docker")] {
        let eval = Eval::new(&[("CanaryPlatform", platform)]);
        let listeners = eval.resources("AWS::ElasticLoadBalancingV2::Listener");
        assert_eq!(listeners.len(), 1, "HTTP only without a certificate");
        let http = eval.resource("HttpListener");
        assert_eq!(http["Port"], 80);
        assert_eq!(http["LoadBalancerArn"], r#ref("LoadBalancer"));
        assert_eq!(
            forward_weights(&http),
            vec![("TargetGroupV1".to_owned(), 100), (canary.to_owned(), 0)],
            "CanaryPlatform={platform}: stable 100, canary 0; the controller owns the weights"
        );
    }
}

#[test]
fn with_a_certificate_443_holds_the_forward_and_80_redirects() {
    let eval = Eval::new(&[("CertificateArn", CERT)]);
    let http = eval.resource("HttpListener");
    let action = &http["DefaultActions"][0];
    assert_eq!(action["Type"], "redirect");
    assert_eq!(action["RedirectConfig"]["Protocol"], "HTTPS");
    assert_eq!(action["RedirectConfig"]["Port"], "443");
    let https = eval.resource("HttpsListener");
    assert_eq!(https["Port"], 443);
    assert_eq!(https["Protocol"], "HTTPS");
    assert_eq!(https["Certificates"][0]["CertificateArn"], CERT);
    assert_eq!(
        forward_weights(&https),
        vec![
            ("TargetGroupV1".to_owned(), 100),
            ("TargetGroupV2".to_owned(), 0)
        ]
    );
    let outputs = &eval.template()["Outputs"];
    assert_eq!(
        eval.value(&outputs["ListenerArn"]["Value"]),
        r#ref("HttpsListener")
    );
    assert_eq!(
        Eval::defaults().value(&outputs["ListenerArn"]["Value"]),
        r#ref("HttpListener")
    );
}

#[test]
fn waf_guards_the_alb_with_managed_rules_and_a_rate_limit() {
    let eval = Eval::new(&[("WafRateLimit", "500")]);
    let acls = eval.resources("AWS::WAFv2::WebACL");
    assert_eq!(acls.len(), 1);
    let acl = &acls[0].1;
    assert_eq!(acl["Scope"], "REGIONAL");
    assert_eq!(acl["VisibilityConfig"]["CloudWatchMetricsEnabled"], true);
    let rules = acl["Rules"].as_array().unwrap();
    let managed: BTreeSet<&str> = rules
        .iter()
        .filter_map(|r| r["Statement"]["ManagedRuleGroupStatement"]["Name"].as_str())
        .collect();
    assert_eq!(
        managed,
        BTreeSet::from([
            "AWSManagedRulesCommonRuleSet",
            "AWSManagedRulesSQLiRuleSet",
            "AWSManagedRulesKnownBadInputsRuleSet"
        ])
    );
    let rate = rules
        .iter()
        .find(|r| !r["Statement"]["RateBasedStatement"].is_null())
        .expect("a rate-based rule");
    assert_eq!(rate["Statement"]["RateBasedStatement"]["Limit"], "500");
    assert_eq!(rate["Action"], json!({ "Block": {} }));
    let priorities: BTreeSet<u64> = rules
        .iter()
        .map(|r| r["Priority"].as_u64().unwrap())
        .collect();
    assert_eq!(priorities.len(), rules.len(), "distinct priorities");
    for r in rules {
        assert_eq!(r["VisibilityConfig"]["CloudWatchMetricsEnabled"], true);
    }
    let assoc = eval.resources("AWS::WAFv2::WebACLAssociation");
    assert_eq!(assoc.len(), 1);
    assert_eq!(assoc[0].1["ResourceArn"], r#ref("LoadBalancer"));
    assert_eq!(assoc[0].1["WebACLArn"], get_att("WebAcl", "Arn"));
}
