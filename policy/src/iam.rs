//! The offline IAM proof: every AWS call the functions and `canaryctl` made in the emulator tests
//! (`iam/calls.json`, recorded by them) is allowed by the template's policies for its principal,
//! and every call outside a principal's job (`iam/out_of_role.json`) is denied.
//!
//! The policies are the synthesized template's own, evaluated with the shared evaluator; the
//! decision is the maintained IAM policy simulator `@cloud-copilot/iam-simulate` (pinned in
//! `iam/package.json` and `iam/package-lock.json`), run with Node. The emulator's own IAM
//! enforcement would prove nothing: it ignores resources and conditions.
//!
//! Calls name resources as template expressions (`{"Ref": "HttpListener"}`), so that the calls
//! and the policies resolve to the same ARNs here, whatever ARNs the emulator handed out.

use crate::intrinsics::{EvalError, Evaluator, Physical, Pseudo, text};
use serde_json::{Map, Value, json};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The recorded calls, written by the end-to-end tests (`ALB_CANARY_RECORD_CALLS=1`).
pub const RECORDED_CALLS: &str = "calls.json";
/// Calls outside each principal's job, which must be denied.
pub const OUT_OF_ROLE_CALLS: &str = "out_of_role.json";

/// Whether a call must be allowed or denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Allowed,
    Denied,
}

/// One call to decide: who, what, on which resource (a template expression or an ARN).
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// The logical ID of an `AWS::IAM::Role` or `AWS::IAM::ManagedPolicy`.
    pub principal: String,
    pub action: String,
    pub resource: Value,
    pub context: Map<String, Value>,
    pub expect: Expect,
    /// Why the call must be denied (out-of-role calls only).
    pub why: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum IamError {
    #[error("{0}")]
    Template(#[from] EvalError),
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("the IAM simulator could not run: {0}")]
    Simulator(String),
}

/// The folder with the simulator's package files and the call lists.
pub fn folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("iam")
}

/// Reads a call list (`calls.json` or `out_of_role.json`).
pub fn read_cases(path: &Path, expect: Expect) -> Result<Vec<Case>, IamError> {
    let bad = |message: String| IamError::File {
        path: path.to_owned(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let json: Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let items = json
        .as_array()
        .ok_or_else(|| bad("not a JSON list".into()))?;
    items
        .iter()
        .map(|item| {
            let field = |name: &str| {
                item.get(name)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| bad(format!("an entry without `{name}`: {item}")))
            };
            Ok(Case {
                principal: field("principal")?,
                action: field("action")?,
                resource: item
                    .get("resource")
                    .cloned()
                    .ok_or_else(|| bad(format!("an entry without `resource`: {item}")))?,
                context: item
                    .get("context")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default(),
                expect,
                why: item.get("why").and_then(Value::as_str).map(str::to_owned),
            })
        })
        .collect()
}

/// The committed recorded calls (must be allowed) and out-of-role calls (must be denied).
pub fn committed_cases() -> Result<Vec<Case>, IamError> {
    let mut cases = read_cases(&folder().join(RECORDED_CALLS), Expect::Allowed)?;
    cases.extend(read_cases(
        &folder().join(OUT_OF_ROLE_CALLS),
        Expect::Denied,
    )?);
    Ok(cases)
}

/// One decided case.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub case: Case,
    /// The resolved resource ARN.
    pub resource: String,
    /// `Allowed`, `ImplicitlyDenied`, `ExplicitlyDenied`, or the simulator's error.
    pub decision: String,
}

impl Verdict {
    pub fn holds(&self) -> bool {
        match self.case.expect {
            Expect::Allowed => self.decision == "Allowed",
            Expect::Denied => self.decision.ends_with("Denied"),
        }
    }
}

#[derive(Debug)]
pub struct IamReport {
    pub verdicts: Vec<Verdict>,
}

impl IamReport {
    pub fn passed(&self) -> bool {
        self.verdicts.iter().all(Verdict::holds)
    }

    pub fn failures(&self) -> Vec<&Verdict> {
        self.verdicts.iter().filter(|v| !v.holds()).collect()
    }
}

impl fmt::Display for IamReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut principals: Vec<&str> = self
            .verdicts
            .iter()
            .map(|v| v.case.principal.as_str())
            .collect();
        principals.sort();
        principals.dedup();
        let count = |p: &str, e: Expect| {
            let of: Vec<&Verdict> = self
                .verdicts
                .iter()
                .filter(|v| v.case.principal == p && v.case.expect == e)
                .collect();
            (of.iter().filter(|v| v.holds()).count(), of.len())
        };
        writeln!(
            f,
            "IAM proof (@cloud-copilot/iam-simulate on the template's policies):"
        )?;
        for p in principals {
            let (allowed, recorded) = count(p, Expect::Allowed);
            let (denied, outside) = count(p, Expect::Denied);
            writeln!(
                f,
                "  {p}: {allowed}/{recorded} recorded calls allowed, {denied}/{outside} out-of-role calls denied"
            )?;
        }
        for v in self.failures() {
            let want = match v.case.expect {
                Expect::Allowed => "must be allowed",
                Expect::Denied => "must be denied",
            };
            let why = v
                .case
                .why
                .as_deref()
                .map(|w| format!(" ({w})"))
                .unwrap_or_default();
            writeln!(
                f,
                "  ✗ {} {} on {}{why} {want}: {}",
                v.case.principal, v.case.action, v.resource, v.decision
            )?;
        }
        Ok(())
    }
}

/// Plausible physical values per resource type, from the same pseudo parameters as the calls.
fn physical(evaluator: &Evaluator<'_>, id: &str, attribute: Option<&str>) -> Option<String> {
    let template = evaluator.template();
    let kind = template["Resources"].get(id)?["Type"].as_str()?;
    let p = &evaluator.pseudo;
    let arn = |service: &str, resource: &str| {
        format!(
            "arn:{}:{service}:{}:{}:{resource}",
            p.partition, p.region, p.account
        )
    };
    let generated = format!("{}-{id}-0A1B2C3D4E5F", p.stack_name);
    let property = |name: &str| {
        let value = template["Resources"][id]["Properties"].get(name)?;
        evaluator
            .value_at(
                &format!("Resources.{id}"),
                &format!("Properties.{name}"),
                value,
                &Physical::LogicalIds,
            )
            .ok()
            .map(|v| text(&v))
    };
    let lb = format!("app/{}-alb/0123456789abcdef", p.stack_name);
    Some(match (kind, attribute) {
        ("AWS::ElasticLoadBalancingV2::LoadBalancer", None | Some("LoadBalancerArn")) => {
            arn("elasticloadbalancing", &format!("loadbalancer/{lb}"))
        }
        ("AWS::ElasticLoadBalancingV2::LoadBalancer", Some("LoadBalancerFullName")) => lb,
        ("AWS::ElasticLoadBalancingV2::Listener", None | Some("ListenerArn")) => arn(
            "elasticloadbalancing",
            &format!("listener/{lb}/{:016x}", id.len() * 7919),
        ),
        ("AWS::ElasticLoadBalancingV2::TargetGroup", None | Some("TargetGroupArn")) => arn(
            "elasticloadbalancing",
            &format!("targetgroup/{id}/0123456789abcdef"),
        ),
        ("AWS::ElasticLoadBalancingV2::TargetGroup", Some("TargetGroupFullName")) => {
            format!("targetgroup/{id}/0123456789abcdef")
        }
        ("AWS::DynamoDB::Table", None) => generated,
        ("AWS::DynamoDB::Table", Some("Arn")) => arn("dynamodb", &format!("table/{generated}")),
        ("AWS::SNS::Topic", None | Some("TopicArn")) => arn("sns", &generated),
        ("AWS::SQS::Queue", Some("Arn")) => arn("sqs", &generated),
        ("AWS::SQS::Queue", None | Some("QueueUrl")) => {
            format!(
                "https://sqs.{}.amazonaws.com/{}/{generated}",
                p.region, p.account
            )
        }
        ("AWS::Lambda::Function", None) => generated,
        ("AWS::Lambda::Function", Some("Arn")) => arn("lambda", &format!("function:{generated}")),
        ("AWS::IAM::Role", None) => generated,
        ("AWS::IAM::Role", Some("Arn")) => {
            format!("arn:{}:iam::{}:role/{generated}", p.partition, p.account)
        }
        ("AWS::IAM::ManagedPolicy", None | Some("PolicyArn")) => {
            format!("arn:{}:iam::{}:policy/{generated}", p.partition, p.account)
        }
        ("AWS::Logs::LogGroup", None) => generated,
        ("AWS::Logs::LogGroup", Some("Arn")) => arn("logs", &format!("log-group:{generated}:*")),
        ("AWS::CloudWatch::Alarm", None) => property("AlarmName")?,
        ("AWS::CloudWatch::Alarm", Some("Arn")) => {
            arn("cloudwatch", &format!("alarm:{}", property("AlarmName")?))
        }
        ("AWS::Scheduler::Schedule", None) => property("Name")?,
        ("AWS::Scheduler::Schedule", Some("Arn")) => arn(
            "scheduler",
            &format!("schedule/default/{}", property("Name")?),
        ),
        ("AWS::S3::Bucket", None) => generated.to_lowercase(),
        ("AWS::S3::Bucket", Some("Arn")) => {
            format!("arn:{}:s3:::{}", p.partition, generated.to_lowercase())
        }
        (_, None) => generated,
        (_, Some(attribute)) => format!("{generated}-{attribute}"),
    })
}

/// The identity policies of a principal: a role's inline policies and the `AWS::IAM::Policy` and
/// `AWS::IAM::ManagedPolicy` resources attached to it, or a managed policy itself.
fn policies_of(
    evaluator: &Evaluator<'_>,
    principal: &str,
    values: &Physical<'_>,
) -> Result<Vec<Value>, IamError> {
    let template = evaluator.template();
    let resource = template["Resources"]
        .get(principal)
        .ok_or_else(|| IamError::File {
            path: folder(),
            message: format!("principal `{principal}` is no resource of the template"),
        })?;
    let mut documents = Vec::new();
    match resource["Type"].as_str() {
        Some("AWS::IAM::ManagedPolicy") => {
            let props = evaluator.properties(principal, values)?;
            documents.push(props["PolicyDocument"].clone());
        }
        Some("AWS::IAM::Role") => {
            let props = evaluator.properties(principal, values)?;
            for inline in props["Policies"].as_array().into_iter().flatten() {
                documents.push(inline["PolicyDocument"].clone());
            }
            for (id, other) in evaluator.resources()? {
                let attached = matches!(
                    other["Type"].as_str(),
                    Some("AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy")
                ) && other["Properties"]["Roles"]
                    .as_array()
                    .is_some_and(|roles| roles.contains(&json!({ "Ref": principal })));
                if attached {
                    documents.push(evaluator.properties(id, values)?["PolicyDocument"].clone());
                }
            }
        }
        other => {
            return Err(IamError::File {
                path: folder(),
                message: format!(
                    "principal `{principal}` is a {other:?}, not a role or managed policy"
                ),
            });
        }
    }
    Ok(documents)
}

/// Decides every case against `template` (parameter defaults) with the simulator.
pub fn prove(template: &Value, cases: &[Case]) -> Result<IamReport, IamError> {
    let evaluator = Evaluator::with_pseudo(template, &[], Pseudo::default())?;
    let lookup = |id: &str, attribute: Option<&str>| physical(&evaluator, id, attribute);
    let values = Physical::Given(&lookup);
    let mut requests = Vec::new();
    let mut resources = Vec::new();
    for (index, case) in cases.iter().enumerate() {
        let at = format!("{} case {index}", RECORDED_CALLS);
        let resource = text(&evaluator.value_at(&at, "resource", &case.resource, &values)?);
        let policies: Vec<Value> = policies_of(&evaluator, &case.principal, &values)?
            .into_iter()
            .enumerate()
            .map(|(i, policy)| json!({ "name": format!("{}-{i}", case.principal), "policy": policy }))
            .collect();
        requests.push(json!({
            "id": index,
            "principal": format!("arn:aws:iam::{}:role/{}", evaluator.pseudo.account, case.principal),
            "action": case.action,
            "resource": resource,
            "account": evaluator.pseudo.account,
            "context": case.context,
            "policies": policies,
        }));
        resources.push(resource);
    }
    let decisions = simulate(&Value::Array(requests))?;
    let verdicts = cases
        .iter()
        .zip(resources)
        .enumerate()
        .map(|(index, (case, resource))| Verdict {
            case: case.clone(),
            resource,
            decision: decisions
                .get(index)
                .cloned()
                .unwrap_or_else(|| "no decision".into()),
        })
        .collect();
    Ok(IamReport { verdicts })
}

/// Runs `iam/simulate.mjs` on the requests; one decision per request, in order.
fn simulate(requests: &Value) -> Result<Vec<String>, IamError> {
    let dir = folder();
    crate::npm::ensure_installed(
        &dir,
        "node_modules/@cloud-copilot/iam-simulate/package.json",
    )
    .map_err(IamError::Simulator)?;
    let mut child = Command::new("node")
        .arg("simulate.mjs")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            IamError::Simulator(format!("node could not start ({e}): install Node.js 20+"))
        })?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(requests.to_string().as_bytes())
        .map_err(|e| IamError::Simulator(e.to_string()))?;
    let output = child
        .wait_with_output()
        .map_err(|e| IamError::Simulator(e.to_string()))?;
    if !output.status.success() {
        return Err(IamError::Simulator(
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ));
    }
    let decisions: Vec<Value> = serde_json::from_slice(&output.stdout)
        .map_err(|e| IamError::Simulator(format!("unreadable answer: {e}")))?;
    Ok(decisions.iter().map(text).collect())
}
