//! The canary's CloudWatch dashboard: stable against canary, the weight, the alarms.

use serde_json::{Value, json};

use crate::cfn::Expr;
use crate::cfn::serverless::dashboard_json;
use crate::load_balancer::LoadBalancing;

use super::AlarmKind;

/// Stable against canary side by side: traffic, 5XX rate, latency p50/p99, the canary weight the
/// functions publish, and the alarms' states.
pub(super) fn dashboard_body(lb: &LoadBalancing) -> Expr {
    let ns = contract::alb_metric::NAMESPACE;
    let per_tg = |metric: &str, stat: &str, tg: &str, label: &str| json!([ns, metric, "LoadBalancer", "${Alb}", "TargetGroup", tg, { "stat": stat, "label": label }]);
    // The error rate the judge and the alarms use: target 5XX and connection errors.
    let rate = |id: &str, tg: &str, label: &str| {
        vec![
            json!([ns, contract::alb_metric::TARGET_5XX, "LoadBalancer", "${Alb}", "TargetGroup", tg,
                   { "stat": "Sum", "id": format!("{id}e"), "visible": false }]),
            json!([ns, contract::alb_metric::TARGET_CONNECTION_ERRORS, "LoadBalancer", "${Alb}", "TargetGroup", tg,
                   { "stat": "Sum", "id": format!("{id}c"), "visible": false }]),
            json!([ns, contract::alb_metric::REQUEST_COUNT, "LoadBalancer", "${Alb}", "TargetGroup", tg,
                   { "stat": "Sum", "id": format!("{id}r"), "visible": false }]),
            json!([{ "expression": format!("IF({id}r > 0, 100 * (FILL({id}e, 0) + FILL({id}c, 0)) / {id}r, 0)"), "label": label }]),
        ]
    };
    let widget = |x: u32, y: u32, title: &str, metrics: Vec<Value>| {
        json!({
            "type": "metric", "x": x, "y": y, "width": 12, "height": 6,
            "properties": { "title": title, "region": "${AWS::Region}", "view": "timeSeries",
                            "period": 60, "metrics": metrics }
        })
    };
    // The dashboard is one JSON text: it cannot leave out an alarm whose condition is false.
    let alarms: Vec<Value> = AlarmKind::ALL
        .iter()
        .filter(|kind| !kind.needs_target_signal())
        .map(|kind| json!(format!("arn:${{AWS::Partition}}:cloudwatch:${{AWS::Region}}:${{AWS::AccountId}}:alarm:${{AWS::StackName}}-{}", kind.suffix())))
        .collect();
    let body = json!({
        "widgets": [
            widget(0, 0, "Requests per minute: stable vs canary", vec![
                per_tg(contract::alb_metric::REQUEST_COUNT, "Sum", "${TargetGroupV1}", "stable"),
                per_tg(contract::alb_metric::REQUEST_COUNT, "Sum", "${CanaryTargetGroup}", "canary"),
            ]),
            widget(12, 0, "Error rate (%, 5XX and connection errors): stable vs canary",
                rate("stable", "${TargetGroupV1}", "stable").into_iter().chain(rate("canary", "${CanaryTargetGroup}", "canary")).collect()),
            widget(0, 6, "Target response time p50 / p99 (s)", vec![
                per_tg(contract::alb_metric::RESPONSE_TIME, "p50", "${TargetGroupV1}", "stable p50"),
                per_tg(contract::alb_metric::RESPONSE_TIME, "p99", "${TargetGroupV1}", "stable p99"),
                per_tg(contract::alb_metric::RESPONSE_TIME, "p50", "${CanaryTargetGroup}", "canary p50"),
                per_tg(contract::alb_metric::RESPONSE_TIME, "p99", "${CanaryTargetGroup}", "canary p99"),
            ]),
            widget(12, 6, "Canary weight (% of traffic to the canary)", vec![
                json!([contract::metric::NAMESPACE, contract::metric::CANARY_WEIGHT,
                       contract::metric::DIMENSION, "${Alb}", { "stat": "Maximum", "label": "canary weight" }]),
            ]),
            {
                "type": "alarm", "x": 0, "y": 12, "width": 24, "height": 3,
                "properties": { "title": "Rollback alarms on the canary", "alarms": alarms }
            }
        ]
    });
    Expr(json!({
        "Fn::Sub": [
            dashboard_json(&body),
            {
                "Alb": lb.alb.get_att("LoadBalancerFullName").as_json(),
                "TargetGroupV1": lb.target_group_stable.get_att("TargetGroupFullName").as_json(),
                "CanaryTargetGroup": lb.canary_target_group_full_name.as_json(),
            }
        ]
    }))
}
