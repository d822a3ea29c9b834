//! The controller's part of the stack, tested against its intent: the functions get every setting
//! the controller reads, the alarms on the canary invoke the rollback (and may), the roles grant each
//! mutating action on one resource only, and the deployed canary runs by itself.

use serde_json::{Value, json};
use stack::controller::{AlarmKind, Architecture, FunctionKind};

use crate::eval::{Eval, get_att};

fn resource<'a>(eval: &'a Eval, id: &str) -> &'a Value {
    let r = &eval.template()["Resources"][id];
    assert!(!r.is_null(), "no resource {id}");
    r
}

fn of_type<'a>(eval: &'a Eval, kind: &str) -> Vec<(&'a String, &'a Value)> {
    eval.template()["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect()
}

fn function_id(kind: FunctionKind) -> &'static str {
    match kind {
        FunctionKind::Promotion => "PromotionFunction",
        FunctionKind::Rollback => "RollbackFunction",
    }
}

#[test]
fn two_functions_on_provided_al2023_with_the_bundles_synth_builds() {
    let eval = Eval::defaults();
    assert_eq!(of_type(&eval, "AWS::Lambda::Function").len(), 2);
    for kind in FunctionKind::ALL {
        let props = &resource(&eval, function_id(kind))["Properties"];
        assert_eq!(props["Runtime"], "provided.al2023");
        assert_eq!(props["Handler"], "bootstrap");
        assert_eq!(props["Architectures"], json!(["x86_64"]));
        assert_eq!(
            props["Code"],
            format!("../build/lambda/{}/bootstrap.zip", kind.binary())
        );
        // The bundle path is relative to the template, and the bundle is what xtask builds.
        let template_dir = std::path::Path::new(stack::TEMPLATE_PATH).parent().unwrap();
        let bundle = template_dir.join(props["Code"].as_str().unwrap());
        assert!(bundle.ends_with(format!("build/lambda/{}/bootstrap.zip", kind.binary())));
    }
    let arm = stack::synthesize(&stack::Options {
        architecture: Architecture::Arm64,
    })
    .to_json();
    assert_eq!(
        arm["Resources"]["PromotionFunction"]["Properties"]["Architectures"],
        json!(["arm64"])
    );
}

#[test]
fn functions_get_every_setting_the_controller_reads() {
    let eval = Eval::defaults();
    let listener = eval.template()["Outputs"]["ListenerArn"]["Value"].clone();
    let canary_tg = eval.template()["Outputs"]["CanaryTargetGroupArn"]["Value"].clone();
    for kind in FunctionKind::ALL {
        let vars = &resource(&eval, function_id(kind))["Properties"]["Environment"]["Variables"];
        let required = [
            contract::env::LISTENER_ARN,
            contract::env::STABLE_TARGET_GROUP_ARN,
            contract::env::CANARY_TARGET_GROUP_ARN,
            contract::env::LOAD_BALANCER_DIMENSION,
            contract::env::STATE_TABLE,
            contract::env::SCHEDULE_NAME,
            contract::env::TOPIC_ARN,
            contract::env::PLAN,
            contract::env::ROLLBACK_ALARMS,
            contract::env::HISTORY_DAYS,
            contract::env::ARTIFACT_BUCKET,
            contract::env::ARTIFACT_PREFIX,
            contract::env::STABLE_FLEET,
            contract::env::CANARY_FLEET,
            contract::env::TARGET_SIGNAL,
        ];
        for name in required {
            assert!(!vars[name].is_null(), "{kind:?} lacks {name}");
        }
        // The listener and canary group the functions move are the ones the stack forwards with.
        assert_eq!(vars[contract::env::LISTENER_ARN], listener);
        assert_eq!(vars[contract::env::CANARY_TARGET_GROUP_ARN], canary_tg);
        assert_eq!(
            vars[contract::env::STATE_TABLE],
            json!({ "Ref": "CanaryStateTable" })
        );
        assert_eq!(vars[contract::env::PLAN], json!({ "Ref": "CanaryPlan" }));
        assert_eq!(
            vars[contract::env::HISTORY_DAYS],
            json!({ "Ref": "HistoryRetentionDays" })
        );
        assert_eq!(
            vars[contract::env::STABLE_FLEET],
            json!({ "Ref": "AutoScalingGroupV1" })
        );
        assert_eq!(
            vars[contract::env::TARGET_SIGNAL],
            json!({ "Ref": "TargetSignal" })
        );
        // The canary fleet follows the platform, like the canary target group.
        assert_eq!(
            vars[contract::env::CANARY_FLEET],
            json!({ "Fn::If": ["CanaryOnDocker", { "Ref": "AutoScalingGroupDockerHost" }, { "Ref": "AutoScalingGroupV2" }] })
        );
    }
    // The default plan parameter is a plan the controller accepts.
    let plan = eval.template()["Parameters"]["CanaryPlan"]["Default"]
        .as_str()
        .unwrap();
    assert_eq!(
        contract::Plan::from_json(plan).unwrap(),
        contract::Plan::default()
    );
}

#[test]
fn every_canary_alarm_invokes_the_rollback_and_may_do_so() {
    for (signal, expected) in [("disabled", 3), ("enabled", AlarmKind::ALL.len())] {
        let eval = Eval::new(&[("TargetSignal", signal)]);
        let rollback = eval.resource("RollbackFunction");
        let listed =
            &rollback["Environment"]["Variables"][contract::env::ROLLBACK_ALARMS]["Fn::Join"][1];
        // The canary alarms that exist; the dead-letter queue's only notifies (below).
        let alarms: Vec<_> = eval
            .resources("AWS::CloudWatch::Alarm")
            .into_iter()
            .filter(|(id, _)| id != "ControllerDeadLetterAlarm")
            .collect();
        assert_eq!(alarms.len(), expected, "TargetSignal={signal}");
        assert_eq!(
            listed.as_array().unwrap().len(),
            expected,
            "TargetSignal={signal}: the rollback acts on the alarms that exist, and only on them"
        );
        let permissions = eval.resources("AWS::Lambda::Permission");
        for (id, props) in &alarms {
            assert!(
                props["AlarmActions"]
                    .as_array()
                    .unwrap()
                    .contains(&get_att("RollbackFunction", "Arn")),
                "{id} does not invoke the rollback"
            );
            assert!(
                props["AlarmActions"]
                    .as_array()
                    .unwrap()
                    .contains(&json!({ "Ref": "CanaryTopic" }))
            );
            assert_eq!(props["TreatMissingData"], "notBreaching", "{id}");
            assert!(
                listed.as_array().unwrap().contains(&props["AlarmName"]),
                "{id}'s name is not in the rollback function's alarm list"
            );
            let own: Vec<_> = permissions
                .iter()
                .filter(|(_, p)| p["SourceArn"] == get_att(id, "Arn"))
                .collect();
            assert_eq!(own.len(), 1, "{id} has no invoke permission of its own");
            let permission = &own[0].1;
            assert_eq!(
                permission["Principal"],
                "lambda.alarms.cloudwatch.amazonaws.com"
            );
            assert_eq!(
                permission["SourceAccount"],
                json!({ "Ref": "AWS::AccountId" })
            );
            assert_eq!(
                permission["FunctionName"],
                get_att("RollbackFunction", "Arn")
            );
        }
    }
}

#[test]
fn a_message_in_the_dead_letter_queue_notifies_the_topic_and_invokes_nothing() {
    let eval = Eval::defaults();
    let alarm = &resource(&eval, "ControllerDeadLetterAlarm")["Properties"];
    assert_eq!(alarm["Namespace"], "AWS/SQS");
    assert_eq!(alarm["MetricName"], "ApproximateNumberOfMessagesVisible");
    assert_eq!(
        alarm["Dimensions"],
        json!([{"Name": "QueueName", "Value": get_att("ControllerDeadLetterQueue", "QueueName")}])
    );
    assert_eq!(alarm["Statistic"], "Maximum");
    assert_eq!(alarm["ComparisonOperator"], "GreaterThanOrEqualToThreshold");
    assert_eq!(alarm["Threshold"], 1);
    assert_eq!(alarm["EvaluationPeriods"], 1);
    assert_eq!(alarm["AlarmActions"], json!([{ "Ref": "CanaryTopic" }]));
    assert_eq!(alarm["TreatMissingData"], "notBreaching");
    // Both functions' failed invocations land in that queue.
    let configs = of_type(&eval, "AWS::Lambda::EventInvokeConfig");
    assert!(!configs.is_empty());
    for (id, config) in configs {
        assert_eq!(
            config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"],
            get_att("ControllerDeadLetterQueue", "Arn"),
            "{id}"
        );
    }
}

#[test]
fn alarms_watch_the_canary_group_error_rate_latency_and_health() {
    let eval = Eval::defaults();
    let canary_dims = |dims: &Value| {
        assert!(
            dims.as_array()
                .unwrap()
                .iter()
                .any(|d| d["Name"] == "TargetGroup" && d["Value"]["Fn::If"][0] == "CanaryOnDocker")
        );
    };
    let rate = &resource(&eval, "CanaryErrorRateAlarm")["Properties"];
    let metrics = rate["Metrics"].as_array().unwrap();
    let expression = metrics.iter().find(|m| m["ReturnData"] == true).unwrap();
    // Fires only once the canary served the minimum requests (a parameter), counting connection errors
    // with the 5XX.
    assert_eq!(
        expression["Expression"]["Fn::Sub"],
        "IF(requests >= ${CanaryAlarmMinRequests}, \
         100 * (FILL(errors, 0) + FILL(connection_errors, 0)) / requests, 0)"
    );
    let min = &eval.template()["Parameters"]["CanaryAlarmMinRequests"];
    assert_eq!(
        (min["Type"].as_str(), min["Default"].as_str()),
        (Some("Number"), Some("50"))
    );
    for id in ["errors", "connection_errors", "requests"] {
        let m = metrics.iter().find(|m| m["Id"] == id).unwrap();
        assert_eq!(m["MetricStat"]["Stat"], "Sum");
        canary_dims(&m["MetricStat"]["Metric"]["Dimensions"]);
    }
    assert_eq!(
        rate["Threshold"],
        json!({ "Ref": "CanaryErrorRateThresholdPercent" })
    );

    let latency = &resource(&eval, "CanaryLatencyAlarm")["Properties"];
    assert_eq!(latency["MetricName"], "TargetResponseTime");
    assert_eq!(latency["ExtendedStatistic"], "p99");
    assert_eq!(
        latency["Threshold"],
        json!({ "Ref": "CanaryLatencyThresholdSeconds" })
    );
    canary_dims(&latency["Dimensions"]);

    // Unhealthy canary targets count only while the canary serves traffic: an idle or deploying
    // canary fleet at weight 0 never fires it.
    let unhealthy = &resource(&eval, "CanaryUnhealthyHostsAlarm")["Properties"];
    assert_eq!(unhealthy["ComparisonOperator"], "GreaterThanThreshold");
    assert_eq!(unhealthy["Threshold"], 0);
    let metrics = unhealthy["Metrics"].as_array().unwrap();
    let returned: Vec<&Value> = metrics.iter().filter(|m| m["ReturnData"] == true).collect();
    assert_eq!(returned.len(), 1);
    assert_eq!(returned[0]["Expression"], "IF(requests > 0, unhealthy, 0)");
    for (id, metric, stat) in [
        ("unhealthy", "UnHealthyHostCount", "Maximum"),
        ("requests", "RequestCount", "Sum"),
    ] {
        let m = metrics.iter().find(|m| m["Id"] == id).unwrap();
        assert_eq!(m["MetricStat"]["Metric"]["MetricName"], metric);
        assert_eq!(m["MetricStat"]["Stat"], stat);
        canary_dims(&m["MetricStat"]["Metric"]["Dimensions"]);
    }

    for id in [
        "CanaryErrorRateAlarm",
        "CanaryLatencyAlarm",
        "CanaryUnhealthyHostsAlarm",
    ] {
        let props = &resource(&eval, id)["Properties"];
        assert_eq!(
            props["EvaluationPeriods"],
            json!({ "Ref": "CanaryAlarmEvaluationPeriods" })
        );
    }
}

/// (action, resources) of every Allow statement of a role's inline policies.
fn grants(role: &Value) -> Vec<(String, Vec<Value>)> {
    let mut out = Vec::new();
    for policy in role["Properties"]["Policies"].as_array().unwrap() {
        for statement in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
            assert_eq!(statement["Effect"], "Allow");
            for action in statement["Action"].as_array().unwrap() {
                out.push((
                    action.as_str().unwrap().to_owned(),
                    statement["Resource"].as_array().unwrap().clone(),
                ));
            }
        }
    }
    out
}

#[test]
fn function_roles_grant_each_mutation_on_one_resource() {
    let eval = Eval::defaults();
    let listener = eval.template()["Outputs"]["ListenerArn"]["Value"].clone();
    for kind in FunctionKind::ALL {
        let role_id = format!("{}Role", function_id(kind));
        let grants = grants(resource(&eval, &role_id));
        let on = |action: &str| -> Vec<Value> {
            grants
                .iter()
                .filter(|(a, _)| a == action)
                .flat_map(|(_, r)| r.clone())
                .collect()
        };
        assert_eq!(
            on("elasticloadbalancing:ModifyListener"),
            vec![listener.clone()]
        );
        for action in [
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:GetItem",
            "dynamodb:Query",
        ] {
            assert_eq!(
                on(action),
                vec![get_att("CanaryStateTable", "Arn")],
                "{action}"
            );
        }
        assert_eq!(on("sns:Publish"), vec![json!({ "Ref": "CanaryTopic" })]);
        // The schedule's own ARN: `…:schedule/default/` then exactly the schedule's name.
        let schedule = on("scheduler:UpdateSchedule");
        assert_eq!(schedule.len(), 1);
        let parts = schedule[0]["Fn::Join"][1].as_array().unwrap();
        assert_eq!(parts[parts.len() - 2], ":schedule/default/");
        assert_eq!(
            parts[parts.len() - 1],
            resource(&eval, "PromotionSchedule")["Properties"]["Name"]
        );
        assert_eq!(
            on("logs:PutLogEvents"),
            vec![get_att(&format!("{}LogGroup", function_id(kind)), "Arn")]
        );
        // `*` only where IAM has no resource type: reads.
        for (action, resources) in &grants {
            if resources.contains(&json!("*")) {
                let verb = action.split(':').nth(1).unwrap();
                assert!(
                    verb.starts_with("Describe") || verb.starts_with("Get"),
                    "{role_id} grants {action} on *"
                );
            }
        }
        // Fleets move by their pointer objects and an instance refresh of their own groups.
        let pointers = on("s3:PutObject");
        assert_eq!(pointers.len(), 1);
        assert_eq!(
            pointers[0]["Fn::Sub"],
            "${ArtifactBucket.Arn}/${ArtifactPrefix}/fleets/*"
        );
        let refreshed = on("autoscaling:StartInstanceRefresh");
        assert_eq!(refreshed.len(), 2);
        assert!(
            refreshed[0]["Fn::Sub"]
                .as_str()
                .unwrap()
                .ends_with(":autoScalingGroupName/${AutoScalingGroupV1}")
        );
        assert_eq!(refreshed[1]["Fn::If"][0], "CanaryOnDocker");
        // Rollback switches stickiness off inside the listener's forward action (ModifyListener):
        // no target-group attribute write is granted.
        assert!(on("elasticloadbalancing:ModifyTargetGroupAttributes").is_empty());
    }
}

#[test]
fn the_schedule_invokes_the_promotion_and_failures_are_kept() {
    let eval = Eval::defaults();
    let schedule = &resource(&eval, "PromotionSchedule")["Properties"];
    assert_eq!(schedule["State"], "ENABLED");
    assert_eq!(
        schedule["ScheduleExpression"],
        json!({ "Fn::Sub": "rate(${PromotionRateMinutes} minutes)" })
    );
    assert_eq!(
        schedule["Target"]["Arn"],
        get_att("PromotionFunction", "Arn")
    );
    assert_eq!(
        schedule["Target"]["RoleArn"],
        get_att("PromotionScheduleRole", "Arn")
    );
    assert!(eval.template()["Parameters"]["PromotionRateMinutes"]["MinValue"] == 1);
    // The schedule's role may invoke the promotion function's own ARN, and nothing else.
    assert!(
        grants(resource(&eval, "PromotionScheduleRole"))
            .iter()
            .all(|(a, _)| !a.starts_with("lambda:"))
    );
    let invoke = &resource(&eval, "PromotionScheduleInvokePolicy")["Properties"];
    assert_eq!(invoke["Roles"], json!([{ "Ref": "PromotionScheduleRole" }]));
    assert_eq!(
        invoke["PolicyDocument"]["Statement"],
        json!([{ "Effect": "Allow", "Action": ["lambda:InvokeFunction"],
                 "Resource": [get_att("PromotionFunction", "Arn")] }])
    );
    assert_eq!(
        resource(&eval, "PromotionSchedule")["DependsOn"],
        json!(["PromotionScheduleInvokePolicy"])
    );
    for kind in FunctionKind::ALL {
        let config = &resource(&eval, &format!("{}AsyncFailures", function_id(kind)))["Properties"];
        assert_eq!(config["FunctionName"], json!({ "Ref": function_id(kind) }));
        assert_eq!(
            config["DestinationConfig"]["OnFailure"]["Destination"],
            get_att("ControllerDeadLetterQueue", "Arn")
        );
        let log_group = &resource(&eval, &format!("{}LogGroup", function_id(kind)))["Properties"];
        assert_eq!(
            log_group["RetentionInDays"],
            json!({ "Ref": "LogRetentionDays" })
        );
    }
}

#[test]
fn the_state_table_has_the_controllers_keys_and_recovery() {
    let eval = Eval::defaults();
    let table = &resource(&eval, "CanaryStateTable")["Properties"];
    assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        table["KeySchema"],
        json!([
            { "AttributeName": contract::table::PARTITION_KEY, "KeyType": "HASH" },
            { "AttributeName": contract::table::SORT_KEY, "KeyType": "RANGE" },
        ])
    );
    assert_eq!(
        table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    // History items and closed release records expire (TTL in days, a parameter).
    assert_eq!(
        table["TimeToLiveSpecification"],
        json!({ "AttributeName": contract::table::TTL_ATTRIBUTE, "Enabled": true })
    );
    let days = &eval.template()["Parameters"]["HistoryRetentionDays"];
    assert_eq!(
        (days["MinValue"].clone(), days["MaxValue"].clone()),
        (json!(1), json!(3650))
    );
    // The e-mail subscription exists only when an address is given.
    assert!(!Eval::new(&[]).condition("HasNotificationEmail"));
    assert!(
        Eval::new(&[("NotificationEmail", "ops@example.com")]).condition("HasNotificationEmail")
    );
}

#[test]
fn the_dashboard_shows_stable_against_canary_the_weight_and_the_alarms() {
    let eval = Eval::defaults();
    let body = &resource(&eval, "CanaryDashboard")["Properties"]["DashboardBody"]["Fn::Sub"];
    let text = body[0].as_str().unwrap();
    let bound = body[1].as_object().unwrap();
    for var in ["Alb", "TargetGroupV1", "CanaryTargetGroup"] {
        assert!(bound.contains_key(var), "{var} is not bound");
    }
    let parsed: Value = serde_json::from_str(text).expect("the dashboard body is JSON");
    let titles: Vec<&str> = parsed["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["properties"]["title"].as_str().unwrap())
        .collect();
    for needle in [
        "Requests",
        "Error rate",
        "p50 / p99",
        "Canary weight",
        "alarms",
    ] {
        assert!(
            titles.iter().any(|t| t.contains(needle)),
            "no widget on {needle}: {titles:?}"
        );
    }
    assert!(text.contains(contract::metric::CANARY_WEIGHT));
    // The error rate the judge and the alarms use: connection errors count.
    assert!(text.contains(contract::alb_metric::TARGET_CONNECTION_ERRORS));
    for kind in AlarmKind::ALL {
        assert_eq!(
            text.contains(kind.suffix()),
            !kind.needs_target_signal(),
            "the alarm widget lists {kind:?} only if it always exists"
        );
    }
}
