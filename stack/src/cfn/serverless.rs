//! Typed properties of the resource types the canary controller adds: Lambda, logs, DynamoDB,
//! SNS, SQS, EventBridge Scheduler and CloudWatch. Plain CloudFormation types, as in `resources`.

use serde::Serialize;
use serde_json::Value;

use super::expr::Expr;
use super::resources::{Tag, resource};

// ---------------------------------------------------------------- Lambda

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Function {
    pub description: String,
    pub runtime: &'static str,
    pub handler: &'static str,
    pub architectures: Vec<&'static str>,
    /// A local path to the bundle zip: `sam deploy` uploads it and rewrites this property.
    pub code: String,
    pub role: Expr,
    pub memory_size: u32,
    pub timeout: u32,
    pub reserved_concurrent_executions: u32,
    pub environment: FunctionEnvironment,
    pub logging_config: LoggingConfig,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(Function, "AWS::Lambda::Function", ["Arn"]);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionEnvironment {
    pub variables: indexmap::IndexMap<&'static str, Expr>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoggingConfig {
    pub log_group: Expr,
    /// JSON: our functions already log JSON lines; the platform's own lines match them.
    pub log_format: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Permission {
    pub action: &'static str,
    pub function_name: Expr,
    pub principal: &'static str,
    pub source_account: Expr,
    pub source_arn: Expr,
}
resource!(Permission, "AWS::Lambda::Permission", []);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventInvokeConfig {
    pub function_name: Expr,
    pub qualifier: &'static str,
    pub maximum_retry_attempts: u32,
    pub maximum_event_age_in_seconds: u32,
    pub destination_config: DestinationConfig,
}
resource!(EventInvokeConfig, "AWS::Lambda::EventInvokeConfig", []);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DestinationConfig {
    pub on_failure: Destination,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Destination {
    pub destination: Expr,
}

// ---------------------------------------------------------------- Logs, queues, topics

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LogGroup {
    pub retention_in_days: Expr,
}
resource!(LogGroup, "AWS::Logs::LogGroup", ["Arn"]);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Queue {
    pub message_retention_period: u32,
    pub sqs_managed_sse_enabled: bool,
}
resource!(Queue, "AWS::SQS::Queue", ["Arn", "QueueName", "QueueUrl"]);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueuePolicy {
    pub queues: Vec<Expr>,
    pub policy_document: super::resources::PolicyDocument,
}
resource!(QueuePolicy, "AWS::SQS::QueuePolicy", []);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Topic {
    pub display_name: &'static str,
}
resource!(Topic, "AWS::SNS::Topic", ["TopicArn", "TopicName"]);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Subscription {
    pub topic_arn: Expr,
    pub protocol: &'static str,
    pub endpoint: Expr,
}
resource!(Subscription, "AWS::SNS::Subscription", []);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TopicPolicy {
    pub topics: Vec<Expr>,
    pub policy_document: super::resources::PolicyDocument,
}
resource!(TopicPolicy, "AWS::SNS::TopicPolicy", []);

// ---------------------------------------------------------------- DynamoDB

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Table {
    pub billing_mode: &'static str,
    pub attribute_definitions: Vec<AttributeDefinition>,
    pub key_schema: Vec<KeySchema>,
    pub point_in_time_recovery_specification: PointInTimeRecovery,
    #[serde(rename = "SSESpecification")]
    pub sse_specification: SseSpecification,
    pub time_to_live_specification: TimeToLive,
}
resource!(Table, "AWS::DynamoDB::Table", ["Arn", "StreamArn"]);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TimeToLive {
    pub attribute_name: &'static str,
    pub enabled: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeDefinition {
    pub attribute_name: &'static str,
    pub attribute_type: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeySchema {
    pub attribute_name: &'static str,
    pub key_type: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PointInTimeRecovery {
    pub point_in_time_recovery_enabled: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SseSpecification {
    #[serde(rename = "SSEEnabled")]
    pub sse_enabled: bool,
}

// ---------------------------------------------------------------- EventBridge Scheduler

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Schedule {
    pub name: Expr,
    pub description: &'static str,
    pub schedule_expression: Expr,
    pub state: &'static str,
    pub flexible_time_window: FlexibleTimeWindow,
    pub target: ScheduleTarget,
}
resource!(Schedule, "AWS::Scheduler::Schedule", ["Arn"]);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FlexibleTimeWindow {
    pub mode: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleTarget {
    pub arn: Expr,
    pub role_arn: Expr,
    pub input: String,
    pub retry_policy: RetryPolicy,
    pub dead_letter_config: DeadLetterConfig,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetryPolicy {
    pub maximum_retry_attempts: u32,
    pub maximum_event_age_in_seconds: u32,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeadLetterConfig {
    pub arn: Expr,
}

// ---------------------------------------------------------------- CloudWatch

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Alarm {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm_name: Option<Expr>,
    pub alarm_description: String,
    pub comparison_operator: &'static str,
    pub threshold: Expr,
    pub evaluation_periods: Expr,
    pub datapoints_to_alarm: Expr,
    /// A quiet canary publishes nothing: missing data must not breach (nor trigger a rollback).
    pub treat_missing_data: &'static str,
    pub actions_enabled: bool,
    pub alarm_actions: Vec<Expr>,
    #[serde(rename = "OKActions", skip_serializing_if = "Vec::is_empty")]
    pub ok_actions: Vec<Expr>,
    #[serde(flatten)]
    pub metric: AlarmMetric,
}
resource!(Alarm, "AWS::CloudWatch::Alarm", ["Arn"]);

/// What an alarm watches: one metric with a statistic, or a metric-math expression.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum AlarmMetric {
    Single(SingleMetric),
    Math {
        #[serde(rename = "Metrics")]
        metrics: Vec<MetricDataQuery>,
    },
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SingleMetric {
    pub namespace: &'static str,
    pub metric_name: &'static str,
    pub dimensions: Vec<Dimension>,
    pub period: Expr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statistic: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended_statistic: Option<&'static str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Dimension {
    pub name: &'static str,
    pub value: Expr,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricDataQuery {
    pub id: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression: Option<Expr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_stat: Option<MetricStat>,
    pub return_data: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricStat {
    pub metric: Metric,
    pub period: Expr,
    pub stat: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Metric {
    pub namespace: &'static str,
    pub metric_name: &'static str,
    pub dimensions: Vec<Dimension>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Dashboard {
    pub dashboard_name: Expr,
    /// `Fn::Sub` of the dashboard's JSON body.
    pub dashboard_body: Expr,
}
resource!(Dashboard, "AWS::CloudWatch::Dashboard", []);

/// Serializes a dashboard body for a `Fn::Sub`, whose `${X}` the caller binds.
pub fn dashboard_json(body: &Value) -> String {
    serde_json::to_string(body).expect("a JSON value serializes")
}
