//! The AWS Foundational Security Best Practices review of every resource type in the template:
//! each control that applies either holds (and the table names what proves it) or is waived, and
//! then every resource of that type says why in its `Metadata`, in one sentence, in the form the
//! IaC scanners read (checkov `skip`, cfn_nag `rules_to_suppress`). A resource type the table
//! does not know fails the test: a new kind of resource gets reviewed before it lands.

use serde_json::{Value, json};

enum Verdict {
    /// The control holds; the text names the test or guard rule that keeps it.
    Holds(&'static str),
    /// Deliberately not met; the resource's metadata says why.
    Waived,
    /// Waived on these resources only (their metadata says why); holds on the others.
    WaivedOn(&'static [&'static str]),
}
use Verdict::{Holds, Waived, WaivedOn};

/// Resource type → the FSBP controls that apply to it. Types with no applicable control list none.
const REVIEW: &[(&str, &[(&str, Verdict)])] = &[
    (
        "AWS::EC2::VPC",
        &[
            ("EC2.2", Waived),
            (
                "EC2.6",
                Holds("VpcFlowLog to the log bucket (structure: fsbp::the_vpc_has_flow_logs)"),
            ),
        ],
    ),
    (
        "AWS::EC2::Subnet",
        &[(
            "EC2.15",
            Holds("guard subnets.guard: no public IPs on launch"),
        )],
    ),
    (
        "AWS::EC2::NetworkAcl",
        &[(
            "EC2.21",
            Holds("guard network_firewall.guard + reachability: no admin ports"),
        )],
    ),
    (
        "AWS::EC2::NetworkAclEntry",
        &[("EC2.21", Holds("guard network_firewall.guard"))],
    ),
    (
        "AWS::EC2::SecurityGroup",
        &[
            (
                "EC2.13",
                Holds("guard security_group_no_admin_ports_from_world"),
            ),
            (
                "EC2.14",
                Holds("guard security_group_no_admin_ports_from_world"),
            ),
            (
                "EC2.18",
                Holds("structure::security_groups_hold_exactly_the_spec_rules (80/443 only)"),
            ),
            (
                "EC2.19",
                Holds("guard security_group_no_admin_ports_from_world"),
            ),
        ],
    ),
    (
        "AWS::EC2::SecurityGroupIngress",
        &[(
            "EC2.18",
            Holds("structure::security_groups_hold_exactly_the_spec_rules"),
        )],
    ),
    (
        "AWS::EC2::EIP",
        &[("EC2.12", Holds("each address is a NAT gateway's"))],
    ),
    (
        "AWS::EC2::LaunchTemplate",
        &[
            ("EC2.170", Holds("guard launch_template_imdsv2_required")),
            (
                "EC2.25",
                Holds("structure::launch_templates_require_imdsv2_… (no public IP)"),
            ),
            ("EC2.3", Holds("guard: encrypted root volumes")),
        ],
    ),
    (
        "AWS::AutoScaling::AutoScalingGroup",
        &[
            ("AutoScaling.1", Waived),
            (
                "AutoScaling.2",
                Holds("structure: both private subnets (two AZs)"),
            ),
            (
                "AutoScaling.5",
                Holds("launch templates assign no public IP"),
            ),
            ("AutoScaling.6", Waived),
            (
                "AutoScaling.9",
                Holds("launch templates, no launch configurations"),
            ),
        ],
    ),
    (
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        &[
            ("ELB.4", Holds("guard alb_drops_invalid_headers")),
            (
                "ELB.5",
                Holds("hardening::alb_access_logs_are_on_by_default_…"),
            ),
            ("ELB.6", Waived),
            (
                "ELB.12",
                Holds(
                    "routing.http.desync_mitigation_mode defensive (fsbp::the_alb_mitigates_desync)",
                ),
            ),
            ("ELB.13", Holds("structure: both public subnets (two AZs)")),
        ],
    ),
    (
        "AWS::ElasticLoadBalancingV2::Listener",
        &[("ELB.1", WaivedOn(&["HttpListener"]))],
    ),
    (
        "AWS::WAFv2::WebACL",
        &[(
            "WAF.10",
            Holds("structure::waf_guards_the_alb_with_managed_rules_and_a_rate_limit"),
        )],
    ),
    (
        "AWS::S3::Bucket",
        &[
            (
                "S3.1",
                Holds("guard s3_bucket_public_access_blocked (bucket level)"),
            ),
            ("S3.5", Holds("guard s3_bucket_tls_only")),
            ("S3.8", Holds("guard s3_bucket_public_access_blocked")),
            ("S3.9", WaivedOn(&["LogBucket"])),
            (
                "S3.12",
                Holds("BucketOwnerEnforced: ACLs off (structure::artifact_bucket_is_…)"),
            ),
            ("S3.14", WaivedOn(&["LogBucket"])),
            ("S3.17", Waived),
        ],
    ),
    (
        "AWS::S3::BucketPolicy",
        &[(
            "S3.6",
            Holds("only AWS service principals and this account's own logs are granted"),
        )],
    ),
    (
        "AWS::IAM::Role",
        &[
            (
                "IAM.1",
                Holds(
                    "guard iam.guard: no wildcard actions; the IAM proof: every grant used, minimal",
                ),
            ),
            (
                "IAM.21",
                Holds("guard iam.guard: no service-wide wildcard actions"),
            ),
        ],
    ),
    (
        "AWS::IAM::ManagedPolicy",
        &[
            (
                "IAM.1",
                Holds(
                    "the IAM proof: canaryctl's recorded calls allowed, out-of-role calls denied",
                ),
            ),
            (
                "IAM.21",
                Holds("guard iam.guard: no service-wide wildcard actions"),
            ),
        ],
    ),
    (
        "AWS::IAM::Policy",
        &[(
            "IAM.21",
            Holds("hardening::the_schedule_role_invokes_exactly_…"),
        )],
    ),
    (
        "AWS::Lambda::Function",
        &[
            (
                "Lambda.1",
                Holds("permissions name the alarm (SourceArn) and account (guard iam.guard)"),
            ),
            (
                "Lambda.2",
                Holds("controller::two_functions_on_provided_al2023_…"),
            ),
            ("Lambda.3", Waived),
        ],
    ),
    (
        "AWS::Lambda::Permission",
        &[(
            "Lambda.1",
            Holds("guard: SourceArn and SourceAccount on every permission"),
        )],
    ),
    (
        "AWS::SQS::Queue",
        &[(
            "SQS.1",
            Holds("hardening::the_dead_letter_queue_is_encrypted"),
        )],
    ),
    ("AWS::SNS::Topic", &[("SNS.1", Waived)]),
    (
        "AWS::DynamoDB::Table",
        &[
            ("DynamoDB.1", Holds("PAY_PER_REQUEST scales by itself")),
            (
                "DynamoDB.2",
                Holds("controller::the_state_table_has_the_controllers_keys_and_recovery"),
            ),
            ("DynamoDB.6", Waived),
        ],
    ),
    (
        "AWS::CloudWatch::Alarm",
        &[(
            "CloudWatch.15",
            Holds("controller::every_canary_alarm_invokes_the_rollback_…"),
        )],
    ),
    // No FSBP control applies to these types.
    ("AWS::EC2::InternetGateway", &[]),
    ("AWS::EC2::VPCGatewayAttachment", &[]),
    ("AWS::EC2::NatGateway", &[]),
    ("AWS::EC2::RouteTable", &[]),
    ("AWS::EC2::Route", &[]),
    ("AWS::EC2::SubnetRouteTableAssociation", &[]),
    ("AWS::EC2::SubnetNetworkAclAssociation", &[]),
    ("AWS::EC2::VPCEndpoint", &[]),
    ("AWS::EC2::FlowLog", &[]),
    ("AWS::ElasticLoadBalancingV2::TargetGroup", &[]),
    ("AWS::WAFv2::WebACLAssociation", &[]),
    ("AWS::IAM::InstanceProfile", &[]),
    ("AWS::Lambda::EventInvokeConfig", &[]),
    ("AWS::Logs::LogGroup", &[]),
    ("AWS::SNS::Subscription", &[]),
    ("AWS::Scheduler::Schedule", &[]),
    ("AWS::CloudWatch::Dashboard", &[]),
];

fn template() -> Value {
    stack::synthesize(&stack::Options::default()).to_json()
}

/// Every resource's waivers agree with the review, in the scanners' form, one sentence each.
fn review_findings(t: &Value) -> Vec<String> {
    let mut findings = Vec::new();
    for (id, resource) in t["Resources"].as_object().unwrap() {
        let kind = resource["Type"].as_str().unwrap();
        let Some((_, controls)) = REVIEW.iter().find(|(k, _)| *k == kind) else {
            findings.push(format!("{id}: {kind} is not in the FSBP review"));
            continue;
        };
        let metadata = &resource["Metadata"];
        let waived: Vec<(&str, &str)> = metadata["alb-canary"]["waived_controls"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|w| {
                (
                    w["control"].as_str().unwrap_or(""),
                    w["reason"].as_str().unwrap_or(""),
                )
            })
            .collect();
        for (control, verdict) in controls.iter() {
            let verdict = match verdict {
                WaivedOn(ids) if ids.contains(&id.as_str()) => &Waived,
                WaivedOn(_) => &Holds("on this resource"),
                other => other,
            };
            if let Holds(proof) = verdict
                && proof.trim().is_empty()
            {
                findings.push(format!("{id}: {control} holds by nothing named"));
            }
            let says = waived.iter().find(|(c, _)| c == control);
            match (verdict, says) {
                (Waived, None) => {
                    findings.push(format!("{id}: {control} is waived without a reason"))
                }
                (Holds(_), Some(_)) => {
                    findings.push(format!("{id}: {control} holds but is waived"))
                }
                (Waived, Some((_, reason))) => {
                    let one_sentence = !reason.is_empty()
                        && !reason.trim_end().ends_with('.')
                        && !reason.contains(". ");
                    if !one_sentence {
                        findings.push(format!(
                            "{id}: {control}'s reason is not one sentence: {reason}"
                        ));
                    }
                    // Each scanner entry: an ID, and the control and reason as its text.
                    let scanner_form = |section: &str, list: &str, text: &str| {
                        metadata[section][list]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .all(|entry| {
                                entry["id"].as_str().is_some_and(|i| !i.is_empty())
                                    && entry[text].as_str().is_some_and(|c| c.contains(": "))
                            })
                    };
                    if !scanner_form("checkov", "skip", "comment")
                        || !scanner_form("cfn_nag", "rules_to_suppress", "reason")
                    {
                        findings.push(format!("{id}: scanner metadata is malformed"));
                    }
                }
                (Holds(_), None) | (WaivedOn(_), _) => {}
            }
        }
        // A scanner waiver that says an FSBP control holds must name one the review says holds.
        let skips = metadata["checkov"]["skip"].as_array().into_iter().flatten();
        for comment in skips.filter_map(|skip| skip["comment"].as_str()) {
            let Some((control, _)) = comment.split_once(" holds: ") else {
                continue;
            };
            let holds = controls.iter().any(|(c, v)| {
                *c == control
                    && match v {
                        Holds(_) => true,
                        WaivedOn(ids) => !ids.contains(&id.as_str()),
                        Waived => false,
                    }
            });
            if !holds {
                findings.push(format!(
                    "{id}: a scanner waiver says {control} holds, which the review does not say"
                ));
            }
        }
        for (control, _) in &waived {
            let reviewed = controls.iter().any(|(c, v)| {
                c == control
                    && match v {
                        Waived => true,
                        WaivedOn(ids) => ids.contains(&id.as_str()),
                        Holds(_) => false,
                    }
            });
            if !reviewed {
                findings.push(format!(
                    "{id}: waives {control}, which the review does not waive"
                ));
            }
        }
    }
    findings
}

#[test]
fn every_applicable_fsbp_control_holds_or_says_why_not() {
    let t = template();
    assert_eq!(review_findings(&t), Vec::<String>::new());
    // The scanners see the same waivers: a checkov skip and, where cfn_nag has the rule, a suppression.
    let alb = &t["Resources"]["LoadBalancer"]["Metadata"];
    assert_eq!(alb["checkov"]["skip"][0]["id"], "CKV_AWS_150");
    assert!(
        alb["checkov"]["skip"][0]["comment"]
            .as_str()
            .unwrap()
            .starts_with("ELB.6: ")
    );
    let log_bucket = &t["Resources"]["LogBucket"]["Metadata"];
    assert_eq!(log_bucket["cfn_nag"]["rules_to_suppress"][0]["id"], "W35");

    // Mutations: a waiver dropped, a waiver without a reason's form, an unreviewed resource type.
    let mut dropped = t.clone();
    dropped["Resources"]["LoadBalancer"]
        .as_object_mut()
        .unwrap()
        .remove("Metadata");
    assert!(
        review_findings(&dropped)
            .iter()
            .any(|f| f.contains("ELB.6 is waived without a reason"))
    );
    let mut wordy = t.clone();
    wordy["Resources"]["CanaryTopic"]["Metadata"]["alb-canary"]["waived_controls"][0]["reason"] =
        json!("Costs. Also we did not bother.");
    assert!(
        review_findings(&wordy)
            .iter()
            .any(|f| f.contains("not one sentence"))
    );
    let mut misnamed = t.clone();
    misnamed["Resources"]["ControllerDeadLetterQueue"]["Metadata"]["checkov"]["skip"][0]["comment"] =
        json!("SQS.9 holds: a control the review never named.");
    assert!(
        review_findings(&misnamed)
            .iter()
            .any(|f| f.contains("says SQS.9 holds"))
    );
    let mut unreviewed = t.clone();
    unreviewed["Resources"]["Extra"] = json!({ "Type": "AWS::RDS::DBInstance", "Properties": {} });
    assert!(
        review_findings(&unreviewed)
            .iter()
            .any(|f| f.contains("not in the FSBP review"))
    );
}

#[test]
fn the_vpc_has_flow_logs_into_the_log_bucket() {
    let t = template();
    let flow = &t["Resources"]["VpcFlowLog"];
    assert_eq!(flow["Properties"]["ResourceId"], json!({ "Ref": "Vpc" }));
    assert_eq!(flow["Properties"]["LogDestinationType"], "s3");
    assert_eq!(flow["DependsOn"], json!(["LogBucketPolicy"]));
    let statements =
        t["Resources"]["LogBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"].to_string();
    assert!(statements.contains("delivery.logs.amazonaws.com"));
}

#[test]
fn the_alb_mitigates_desync() {
    let t = template();
    let attrs = t["Resources"]["LoadBalancer"]["Properties"]["LoadBalancerAttributes"].to_string();
    assert!(attrs.contains(r#"{"Key":"routing.http.desync_mitigation_mode","Value":"defensive"}"#));
}
