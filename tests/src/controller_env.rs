//! The controller's handlers against the emulator, for the controller's integration tests, the
//! end-to-end tests and the handler benchmark: a real ALB, target groups, listener, state table,
//! topic, schedule and artifact bucket created in moto through the real SDK clients; instance
//! refreshes (which moto lacks) go to the harness's [`crate::refresh`] server.

use crate::Moto;
use crate::refresh::InstanceRefreshes;
use crate::requests::{self, Schedule};
use crate::stack_in_moto::LoadBalancer;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_elasticloadbalancingv2::types::{ProtocolEnum, TargetTypeEnum};
use aws_smithy_types::DateTime;
use contract::{Plan, env, table};
use controller::decision::{CanaryState, Status, Weights};
use controller::state::Recorded;
use controller::{Clients, Config};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};

pub const ALARM_5XX: &str = "alb-canary-canary-error-rate";
pub const ALARM_LATENCY: &str = "alb-canary-canary-latency";

/// One emulator with one ALB; canaries (listener + target groups) are added to it.
pub struct Env {
    pub moto: Moto,
    pub refreshes: InstanceRefreshes,
    pub artifact_bucket: String,
    pub clients: Clients,
    pub vpc_id: String,
    pub lb_arn: String,
    pub lb_dimension: String,
    pub table: String,
    pub topic_arn: String,
    pub schedule: String,
}

/// One canary: its configuration (listener and target groups) in an [`Env`].
pub struct Canary {
    pub config: Config,
    /// The settings `config` was read from: a function binary's environment for this canary.
    pub vars: Vec<(&'static str, String)>,
}

static PORTS: AtomicU32 = AtomicU32::new(8000);

impl Env {
    pub async fn start() -> Env {
        let moto = Moto::start();
        let refreshes = InstanceRefreshes::start();
        let clients = refreshes.clients(&moto.sdk_config().await);
        let artifact_bucket = "canary-artifacts".to_string();
        clients
            .s3
            .create_bucket()
            .bucket(&artifact_bucket)
            .send()
            .await
            .expect("CreateBucket");
        let lb = LoadBalancer::create(&moto, "canary-alb").await;
        let (vpc_id, lb_arn, lb_dimension) = (lb.vpc_id, lb.arn, lb.dimension);
        let table = "canary-state".to_string();
        clients
            .dynamodb
            .create_table()
            .table_name(&table)
            .attribute_definitions(attribute(table::PARTITION_KEY))
            .attribute_definitions(attribute(table::SORT_KEY))
            .key_schema(key(table::PARTITION_KEY, KeyType::Hash))
            .key_schema(key(table::SORT_KEY, KeyType::Range))
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .expect("CreateTable");
        let topic_arn = clients
            .sns
            .create_topic()
            .name("canary-events")
            .send()
            .await
            .expect("CreateTopic")
            .topic_arn()
            .unwrap()
            .to_string();
        let schedule = "canary-promotion".to_string();
        requests::create_schedule(
            &clients.scheduler,
            &Schedule {
                name: schedule.clone(),
                expression: "rate(5 minutes)".into(),
                target_arn: "arn:aws:lambda:us-east-1:123456789012:function:promotion".into(),
                role_arn: "arn:aws:iam::123456789012:role/scheduler".into(),
                input: include_str!("../fixtures/schedule-event.json").into(),
            },
        )
        .await;
        Env {
            moto,
            refreshes,
            artifact_bucket,
            clients,
            vpc_id,
            lb_arn,
            lb_dimension,
            table,
            topic_arn,
            schedule,
        }
    }

    /// A new listener forwarding stable-only to two new target groups (canary with one healthy target),
    /// with a release deploying on it: the canary fleet is on it (no refresh to wait for), so the
    /// first promotion run starts the canary.
    pub async fn canary(&self, plan: Plan) -> Canary {
        let canary = self.idle_canary(plan).await;
        let deploying = Recorded::idle().next(|r| {
            r.canary.status = Status::Deploying;
            r.release.version = Some("2.0.0".into());
            r.release.stable_version = Some("1.0.0".into());
            r.release.canary_version = Some("2.0.0".into());
        });
        controller::state::replace(&self.clients.dynamodb, &canary.config, None, &deploying, 0)
            .await
            .expect("the release is recorded");
        canary
    }

    /// A new listener forwarding stable-only to two new target groups, with nothing recorded.
    pub async fn idle_canary(&self, plan: Plan) -> Canary {
        let port = PORTS.fetch_add(1, Ordering::Relaxed);
        let stable = self.target_group(&format!("v1-{port}")).await;
        let canary = self.target_group(&format!("v2-{port}")).await;
        requests::register_ip_target(&self.clients.elbv2, &stable, "10.0.20.4").await;
        requests::register_ip_target(&self.clients.elbv2, &canary, "10.0.20.5").await;
        let listener = self
            .clients
            .elbv2
            .create_listener()
            .load_balancer_arn(&self.lb_arn)
            .protocol(ProtocolEnum::Http)
            .port(port as i32)
            .default_actions(requests::forward(&[(&stable, 100), (&canary, 0)]))
            .send()
            .await
            .expect("CreateListener");
        let listener_arn = listener.listeners()[0].listener_arn().unwrap().to_string();
        let vars: HashMap<&str, String> = HashMap::from([
            (env::LISTENER_ARN, listener_arn),
            (env::STABLE_TARGET_GROUP_ARN, stable),
            (env::CANARY_TARGET_GROUP_ARN, canary),
            (env::LOAD_BALANCER_DIMENSION, self.lb_dimension.clone()),
            (env::STATE_TABLE, self.table.clone()),
            (env::SCHEDULE_NAME, self.schedule.clone()),
            (env::TOPIC_ARN, self.topic_arn.clone()),
            (env::PLAN, plan.to_json()),
            (env::ROLLBACK_ALARMS, format!("{ALARM_5XX},{ALARM_LATENCY}")),
            (env::ARTIFACT_BUCKET, self.artifact_bucket.clone()),
            (env::ARTIFACT_PREFIX, format!("artifacts-{port}")),
            (env::STABLE_FLEET, format!("v1-fleet-{port}")),
            (env::CANARY_FLEET, format!("v2-fleet-{port}")),
            (env::TARGET_SIGNAL, env::TARGET_SIGNAL_DISABLED.into()),
        ]);
        let config = Config::from_lookup(|name| vars.get(name).cloned())
            .expect("test configuration is valid");
        let mut vars: Vec<_> = vars.into_iter().collect();
        vars.sort();
        Canary { config, vars }
    }

    pub async fn target_group(&self, name: &str) -> String {
        self.clients
            .elbv2
            .create_target_group()
            .name(name)
            .protocol(ProtocolEnum::Http)
            .port(8000)
            .vpc_id(&self.vpc_id)
            .target_type(TargetTypeEnum::Ip)
            .health_check_path("/health")
            .send()
            .await
            .expect("CreateTargetGroup")
            .target_groups()[0]
            .target_group_arn()
            .unwrap()
            .to_string()
    }

    /// Puts one minute of ALB metrics for a target group at `at` (epoch seconds).
    pub async fn put_minute(
        &self,
        tg_arn: &str,
        at: i64,
        requests: f64,
        errors_5xx: f64,
        latency_secs: f64,
    ) {
        let datum =
            |name: &str, value: f64, unit: StandardUnit| self.datum(tg_arn, at, name, value, unit);
        let mut data = vec![datum("RequestCount", requests, StandardUnit::Count)];
        if errors_5xx > 0.0 {
            data.push(datum(
                "HTTPCode_Target_5XX_Count",
                errors_5xx,
                StandardUnit::Count,
            ));
        }
        if requests > 0.0 {
            // Every request's latency, as ALB's raw data: percentiles, ranks and SampleCount
            // (the requests a baseline is taken from) see `requests` values.
            data.push(
                self.datum_of(tg_arn, at, "TargetResponseTime", StandardUnit::Seconds)
                    .values(latency_secs)
                    .counts(requests)
                    .build(),
            );
        }
        self.put_metric_data(data).await;
    }

    /// Stable (`stable_tg_arn`) alone in the hour before a canary starting at `canary_start`: 1,000 requests at 20 ms,
    /// so its p99 (the latency baseline) is 20 ms and T = max(1.5 × 20, 20 + 100) = 120 ms.
    /// Without it T would come from a calibration span, whose end depends on where the wall
    /// clock falls in CloudWatch's period grid: tests that need a fixed bake start put this.
    pub async fn put_baseline(&self, stable_tg_arn: &str, canary_start: i64) {
        self.put_minute(stable_tg_arn, canary_start - 1800, 1000.0, 0.0, 0.020)
            .await;
    }

    /// Puts one minute of `TargetConnectionErrorCount` for a target group at `at`.
    pub async fn put_connection_errors(&self, tg_arn: &str, at: i64, count: f64) {
        let datum = self.datum(
            tg_arn,
            at,
            contract::alb_metric::TARGET_CONNECTION_ERRORS,
            count,
            StandardUnit::Count,
        );
        self.put_metric_data(vec![datum]).await;
    }

    /// One ALB metric value of a target group of this environment's load balancer.
    fn datum(
        &self,
        tg_arn: &str,
        at: i64,
        name: &str,
        value: f64,
        unit: StandardUnit,
    ) -> MetricDatum {
        self.datum_of(tg_arn, at, name, unit).value(value).build()
    }

    /// An ALB metric datum of a target group at `at`, its value(s) still to be set.
    fn datum_of(
        &self,
        tg_arn: &str,
        at: i64,
        name: &str,
        unit: StandardUnit,
    ) -> aws_sdk_cloudwatch::types::builders::MetricDatumBuilder {
        let tg = controller::listener::target_group_dimension(tg_arn).unwrap();
        MetricDatum::builder()
            .metric_name(name)
            .dimensions(
                Dimension::builder()
                    .name("LoadBalancer")
                    .value(&self.lb_dimension)
                    .build(),
            )
            .dimensions(Dimension::builder().name("TargetGroup").value(tg).build())
            .timestamp(DateTime::from_secs(at))
            .unit(unit)
    }

    async fn put_metric_data(&self, data: Vec<MetricDatum>) {
        self.clients
            .cloudwatch
            .put_metric_data()
            .namespace("AWS/ApplicationELB")
            .set_metric_data(Some(data))
            .send()
            .await
            .expect("PutMetricData");
    }

    pub async fn weights(&self, canary: &Canary) -> Weights {
        controller::listener::read(&self.clients.elbv2, &canary.config)
            .await
            .expect("listener readable")
            .weights
    }

    pub async fn state(&self, canary: &Canary) -> Option<CanaryState> {
        controller::state::read(&self.clients.dynamodb, &canary.config)
            .await
            .unwrap()
            .map(|r| r.canary)
    }

    /// The kinds of the history's items, oldest first; every item must read as its record.
    pub async fn history(&self, canary: &Canary) -> Vec<String> {
        controller::state::history(&self.clients.dynamodb, &canary.config)
            .await
            .unwrap()
            .into_iter()
            .map(|item| {
                if let Err(unread) = &item.record {
                    panic!("history item {} does not read: {unread:?}", item.kind);
                }
                item.kind
            })
            .collect()
    }

    pub async fn schedule_enabled(&self, canary: &Canary) -> bool {
        controller::schedule::is_enabled(&self.clients.scheduler, &canary.config)
            .await
            .unwrap()
    }
}

fn attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .unwrap()
}

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .unwrap()
}

/// The production plan's statistics (`p99`, ranks `PR(:T)`: the harness's emulator computes them
/// over the raw values), with 300 s bakes; metrics put a minute ago count once a minute has
/// settled.
pub fn test_plan() -> Plan {
    let mut plan = Plan {
        bake_seconds: 300,
        ..Plan::default()
    };
    plan.health.settle_seconds = 60;
    plan
}

pub fn fixture(name: &str) -> serde_json::Value {
    let path = fixture_path(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A file of the shared event fixtures (`tests/fixtures/`).
pub fn fixture_path(name: &str) -> String {
    format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}
