//! A record of every AWS call a test's clients make, as IAM sees it: the principal that makes it,
//! the IAM action and the resource ARN (and the condition keys IAM would add, such as
//! `iam:PassedToService` for the role an `UpdateSchedule` passes). The IAM proof
//! (`policy::iam`) evaluates these calls against the template's role policies.
//!
//! [`CallLog::recorder`] is an SDK interceptor: added to a client's configuration it records the
//! call before it is sent, from the typed input, so that what is recorded is what was asked.

use std::sync::{Arc, Mutex};

use aws_sdk_elasticloadbalancingv2::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_elasticloadbalancingv2::config::{ConfigBag, Intercept};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::Input;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use serde_json::{Value, json};

/// The region and account of every ARN the emulator hands out (moto's defaults).
pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

/// One AWS call as IAM authorizes it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Call {
    /// The logical ID of the role (or managed policy) whose permissions the caller has.
    pub principal: String,
    /// `service:Action`, as in a policy.
    pub action: String,
    /// The resource ARN, or `*` for actions without resource types.
    pub resource: String,
    /// Condition keys the request carries (JSON object of strings).
    pub context: Vec<(String, String)>,
}

impl Call {
    pub fn to_json(&self) -> Value {
        let context: serde_json::Map<String, Value> = self
            .context
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        json!({ "principal": self.principal, "action": self.action,
                "resource": self.resource, "context": context })
    }
}

/// The calls of one test, shared by the interceptors of its clients.
#[derive(Debug, Clone, Default)]
pub struct CallLog {
    calls: Arc<Mutex<Vec<Call>>>,
}

impl CallLog {
    pub fn new() -> CallLog {
        CallLog::default()
    }

    /// An interceptor that records every call of the client it is added to as `principal`'s.
    pub fn recorder(&self, principal: &str) -> Recorder {
        Recorder {
            principal: principal.to_owned(),
            log: self.clone(),
        }
    }

    /// A call made outside the SDK on `principal`'s behalf (an instance's signed `curl` at boot),
    /// recorded by the test that knows it happens.
    pub fn record(&self, principal: &str, action: &str, resource: &str) {
        self.calls
            .lock()
            .expect("the log is not poisoned")
            .push(Call {
                principal: principal.to_owned(),
                action: action.to_owned(),
                resource: resource.to_owned(),
                context: Vec::new(),
            });
    }

    /// The calls recorded so far, sorted, each once.
    pub fn calls(&self) -> Vec<Call> {
        let mut calls = self.calls.lock().expect("the log is not poisoned").clone();
        calls.sort();
        calls.dedup();
        calls
    }
}

/// Records the calls of one principal (see [`CallLog::recorder`]).
#[derive(Debug, Clone)]
pub struct Recorder {
    principal: String,
    log: CallLog,
}

fn arn(service: &str, resource: &str) -> String {
    format!("arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}")
}

/// `arn:…` stays as it is; a bare name becomes the ARN `make` builds from it.
fn arn_or(name: &str, make: impl Fn(&str) -> String) -> String {
    if name.starts_with("arn:") {
        name.to_owned()
    } else {
        make(name)
    }
}

type Grants = Vec<(&'static str, String, Vec<(String, String)>)>;

/// The (action, resource, context) IAM evaluates for one input; `None` for an input type this
/// table does not know (recorded as such, so that the proof fails until it is added).
fn grants(input: &Input) -> Option<Grants> {
    use aws_sdk_autoscaling::operation::{
        describe_instance_refreshes::DescribeInstanceRefreshesInput,
        start_instance_refresh::StartInstanceRefreshInput,
    };
    use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksInput;
    use aws_sdk_cloudwatch::operation::{
        describe_alarms::DescribeAlarmsInput, get_metric_data::GetMetricDataInput,
        put_metric_data::PutMetricDataInput,
    };
    use aws_sdk_dynamodb::operation::{
        get_item::GetItemInput, put_item::PutItemInput, query::QueryInput,
        transact_write_items::TransactWriteItemsInput, update_item::UpdateItemInput,
    };
    use aws_sdk_elasticloadbalancingv2::operation::{
        describe_listeners::DescribeListenersInput,
        describe_target_health::DescribeTargetHealthInput, modify_listener::ModifyListenerInput,
    };
    use aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationInput;
    use aws_sdk_s3::operation::{
        get_object::GetObjectInput, head_object::HeadObjectInput, put_object::PutObjectInput,
    };
    use aws_sdk_scheduler::operation::{
        get_schedule::GetScheduleInput, update_schedule::UpdateScheduleInput,
    };
    use aws_sdk_sns::operation::publish::PublishInput;

    let one = |action: &'static str, resource: String| Some(vec![(action, resource, Vec::new())]);
    let table =
        |name: Option<&str>| arn("dynamodb", &format!("table/{}", name.unwrap_or_default()));
    let schedule = |group: Option<&str>, name: Option<&str>| {
        arn(
            "scheduler",
            &format!(
                "schedule/{}/{}",
                group.unwrap_or("default"),
                name.unwrap_or_default()
            ),
        )
    };
    let object = |bucket: Option<&str>, key: Option<&str>| {
        format!(
            "arn:aws:s3:::{}/{}",
            bucket.unwrap_or_default(),
            key.unwrap_or_default()
        )
    };
    // HeadObject is authorized as s3:GetObject.
    if let Some(i) = input.downcast_ref::<HeadObjectInput>() {
        return one("s3:GetObject", object(i.bucket(), i.key()));
    }
    if let Some(i) = input.downcast_ref::<GetObjectInput>() {
        return one("s3:GetObject", object(i.bucket(), i.key()));
    }
    if let Some(i) = input.downcast_ref::<PutObjectInput>() {
        return one("s3:PutObject", object(i.bucket(), i.key()));
    }
    if let Some(i) = input.downcast_ref::<StartInstanceRefreshInput>() {
        // A group's ARN holds an id the caller never sees; IAM matches it against the policy's
        // `*`, so any fixed id stands in for it.
        return one(
            "autoscaling:StartInstanceRefresh",
            arn(
                "autoscaling",
                &format!(
                    "autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/{}",
                    i.auto_scaling_group_name().unwrap_or_default()
                ),
            ),
        );
    }
    if input
        .downcast_ref::<DescribeInstanceRefreshesInput>()
        .is_some()
    {
        return one("autoscaling:DescribeInstanceRefreshes", "*".into());
    }
    if input.downcast_ref::<DescribeListenersInput>().is_some() {
        return one("elasticloadbalancing:DescribeListeners", "*".into());
    }
    if input.downcast_ref::<DescribeTargetHealthInput>().is_some() {
        return one("elasticloadbalancing:DescribeTargetHealth", "*".into());
    }
    if let Some(i) = input.downcast_ref::<ModifyListenerInput>() {
        return one(
            "elasticloadbalancing:ModifyListener",
            i.listener_arn().unwrap_or_default().to_owned(),
        );
    }
    if input.downcast_ref::<GetMetricDataInput>().is_some() {
        return one("cloudwatch:GetMetricData", "*".into());
    }
    if input.downcast_ref::<PutMetricDataInput>().is_some() {
        return one("cloudwatch:PutMetricData", "*".into());
    }
    if let Some(i) = input.downcast_ref::<DescribeAlarmsInput>() {
        return Some(
            i.alarm_names()
                .iter()
                .map(|name| {
                    let resource = arn("cloudwatch", &format!("alarm:{name}"));
                    ("cloudwatch:DescribeAlarms", resource, Vec::new())
                })
                .collect(),
        );
    }
    if let Some(i) = input.downcast_ref::<GetItemInput>() {
        return one("dynamodb:GetItem", table(i.table_name()));
    }
    if let Some(i) = input.downcast_ref::<PutItemInput>() {
        return one("dynamodb:PutItem", table(i.table_name()));
    }
    if let Some(i) = input.downcast_ref::<UpdateItemInput>() {
        return one("dynamodb:UpdateItem", table(i.table_name()));
    }
    // A transaction is authorized item by item, as the action each item is.
    if let Some(i) = input.downcast_ref::<TransactWriteItemsInput>() {
        return Some(
            i.transact_items()
                .iter()
                .map(|item| {
                    let (action, name) = if let Some(put) = item.put() {
                        ("dynamodb:PutItem", put.table_name())
                    } else if let Some(update) = item.update() {
                        ("dynamodb:UpdateItem", update.table_name())
                    } else if let Some(delete) = item.delete() {
                        ("dynamodb:DeleteItem", delete.table_name())
                    } else {
                        let check = item.condition_check();
                        (
                            "dynamodb:ConditionCheckItem",
                            check.map_or("", |c| c.table_name()),
                        )
                    };
                    (action, table(Some(name)), Vec::new())
                })
                .collect(),
        );
    }
    if let Some(i) = input.downcast_ref::<QueryInput>() {
        return one("dynamodb:Query", table(i.table_name()));
    }
    if let Some(i) = input.downcast_ref::<PublishInput>() {
        return one("sns:Publish", i.topic_arn().unwrap_or_default().to_owned());
    }
    if let Some(i) = input.downcast_ref::<GetScheduleInput>() {
        return one("scheduler:GetSchedule", schedule(i.group_name(), i.name()));
    }
    if let Some(i) = input.downcast_ref::<UpdateScheduleInput>() {
        let mut out: Grants = vec![(
            "scheduler:UpdateSchedule",
            schedule(i.group_name(), i.name()),
            Vec::new(),
        )];
        // The schedule's target role is passed again: IAM checks iam:PassRole on it.
        if let Some(target) = i.target() {
            out.push((
                "iam:PassRole",
                target.role_arn().to_owned(),
                vec![(
                    "iam:PassedToService".into(),
                    "scheduler.amazonaws.com".into(),
                )],
            ));
        }
        return Some(out);
    }
    if let Some(i) = input.downcast_ref::<GetFunctionConfigurationInput>() {
        let name = i.function_name().unwrap_or_default();
        return one(
            "lambda:GetFunctionConfiguration",
            arn_or(name, |n| arn("lambda", &format!("function:{n}"))),
        );
    }
    if let Some(i) = input.downcast_ref::<DescribeStacksInput>() {
        let name = i.stack_name().unwrap_or_default();
        return one(
            "cloudformation:DescribeStacks",
            arn_or(name, |n| arn("cloudformation", &format!("stack/{n}/*"))),
        );
    }
    None
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "alb-canary call recorder"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let grants = grants(context.input()).unwrap_or_else(|| {
            let operation = cfg
                .load::<Metadata>()
                .map(|m| format!("{}:{}", m.service(), m.name()))
                .unwrap_or_else(|| "an unnamed operation".into());
            vec![("unrecorded", operation, Vec::new())]
        });
        let mut calls = self.log.calls.lock().expect("the log is not poisoned");
        for (action, resource, context) in grants {
            calls.push(Call {
                principal: self.principal.clone(),
                action: action.to_owned(),
                resource,
                context,
            });
        }
        Ok(())
    }
}
