//! The DynamoDB adapter: one state item per canary (keyed by listener ARN) and one history item per
//! decision. Writes are conditional on a version number, so two runs cannot both advance a step;
//! the rollback's write is unconditional, because rollback always wins.

use crate::config::Config;
use crate::decision::{CanaryState, Status};
use crate::error::Error;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use contract::table;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};

type Item = HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn key(config: &Config, sort: &str) -> Item {
    HashMap::from([
        (table::PARTITION_KEY.to_string(), s(&config.listener_arn)),
        (table::SORT_KEY.to_string(), s(sort)),
    ])
}

/// The recorded state, or `None` before the first promotion run.
pub async fn read(ddb: &Client, config: &Config) -> Result<Option<CanaryState>, Error> {
    let out = ddb
        .get_item()
        .table_name(&config.table)
        .set_key(Some(key(config, table::STATE_SORT_KEY)))
        .consistent_read(true)
        .send()
        .await
        .map_err(Error::aws("GetItem"))?;
    out.item().map(|item| parse(config, item)).transpose()
}

fn parse(config: &Config, item: &Item) -> Result<CanaryState, Error> {
    let bad = |problem: String| Error::State {
        key: config.listener_arn.clone(),
        problem,
    };
    let text = |name: &str| -> Result<&str, Error> {
        match item.get(name) {
            Some(AttributeValue::S(v)) => Ok(v),
            other => Err(bad(format!("{name} is {other:?}, not a string"))),
        }
    };
    let number = |name: &str| -> Result<i64, Error> {
        match item.get(name) {
            Some(AttributeValue::N(v)) => v
                .parse()
                .map_err(|_| bad(format!("{name} is `{v}`, not an integer"))),
            other => Err(bad(format!("{name} is {other:?}, not a number"))),
        }
    };
    let status = text("status")?;
    let step_started_at = number("step_started_at")?;
    Ok(CanaryState {
        status: Status::parse(status)
            .ok_or_else(|| bad(format!("status `{status}` is unknown")))?,
        step: usize::try_from(number("step")?).map_err(|_| bad("step is negative".into()))?,
        step_started_at,
        // Items written before the canary's start was recorded: judge from the step's start.
        canary_started_at: number("canary_started_at").unwrap_or(step_started_at),
        version: u64::try_from(number("version")?)
            .map_err(|_| bad("version is negative".into()))?,
        reason: text("reason").ok().map(str::to_string),
    })
}

/// Writes `next` only if the item is still at `prev` (absent when `prev` is `None`).
/// `next.version` must be `prev.version + 1` (or 1); a lost race is [`Error::Conflict`].
pub async fn replace(
    ddb: &Client,
    config: &Config,
    prev: Option<&CanaryState>,
    next: &CanaryState,
    now: i64,
) -> Result<(), Error> {
    let mut item = key(config, table::STATE_SORT_KEY);
    item.insert("status".into(), s(next.status.as_str()));
    item.insert("step".into(), n(next.step));
    item.insert("step_started_at".into(), n(next.step_started_at));
    item.insert("canary_started_at".into(), n(next.canary_started_at));
    item.insert("version".into(), n(next.version));
    item.insert("updated_at".into(), n(now));
    if let Some(reason) = &next.reason {
        item.insert("reason".into(), s(reason));
    }
    let mut put = ddb
        .put_item()
        .table_name(&config.table)
        .set_item(Some(item));
    put = match prev {
        None => put
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", table::PARTITION_KEY),
        Some(p) => put
            .condition_expression("#v = :v")
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":v", n(p.version)),
    };
    match put.send().await {
        Ok(_) => Ok(()),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
        {
            Err(Error::Conflict {
                key: config.listener_arn.clone(),
                version: prev.map_or("none".into(), |p| p.version.to_string()),
            })
        }
        Err(err) => Err(Error::aws("PutItem")(err)),
    }
}

/// Records a rollback whatever the state was (creating the item if needed); returns the new state.
pub async fn record_rollback(
    ddb: &Client,
    config: &Config,
    reason: &str,
    now: i64,
) -> Result<CanaryState, Error> {
    let out = ddb
        .update_item()
        .table_name(&config.table)
        .set_key(Some(key(config, table::STATE_SORT_KEY)))
        .update_expression(
            "SET #status = :rb, #reason = :reason, updated_at = :now, \
             step = if_not_exists(step, :zero), step_started_at = if_not_exists(step_started_at, :now) \
             ADD #v :one",
        )
        .expression_attribute_names("#status", "status")
        .expression_attribute_names("#reason", "reason")
        .expression_attribute_names("#v", "version")
        .expression_attribute_values(":rb", s(Status::RolledBack.as_str()))
        .expression_attribute_values(":reason", s(reason))
        .expression_attribute_values(":now", n(now))
        .expression_attribute_values(":zero", n(0))
        .expression_attribute_values(":one", n(1))
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .map_err(Error::aws("UpdateItem"))?;
    let item = out.attributes().ok_or_else(|| Error::State {
        key: config.listener_arn.clone(),
        problem: "UpdateItem returned no attributes".into(),
    })?;
    parse(config, item)
}

/// Distinguishes history items written in the same millisecond by one process.
static SEQUENCE: AtomicU32 = AtomicU32::new(0);

/// Appends one history item: the decision and the snapshot that drove it.
pub async fn append_history(
    ddb: &Client,
    config: &Config,
    now_ms: i64,
    kind: &str,
    record: &serde_json::Value,
) -> Result<(), Error> {
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let nonce = std::process::id();
    let sort = format!("{}{now_ms:013}#{nonce}-{seq}", table::HISTORY_PREFIX);
    let mut item = key(config, &sort);
    item.insert("decision".into(), s(kind));
    item.insert("at_ms".into(), n(now_ms));
    item.insert("record".into(), s(record.to_string()));
    ddb.put_item()
        .table_name(&config.table)
        .set_item(Some(item))
        .send()
        .await
        .map_err(Error::aws("PutItem"))?;
    Ok(())
}

/// History items of this canary, oldest first: (decision kind, record JSON).
pub async fn history(
    ddb: &Client,
    config: &Config,
) -> Result<Vec<(String, serde_json::Value)>, Error> {
    let out = ddb
        .query()
        .table_name(&config.table)
        .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
        .expression_attribute_names("#pk", table::PARTITION_KEY)
        .expression_attribute_names("#sk", table::SORT_KEY)
        .expression_attribute_values(":pk", s(&config.listener_arn))
        .expression_attribute_values(":prefix", s(table::HISTORY_PREFIX))
        .consistent_read(true)
        .send()
        .await
        .map_err(Error::aws("Query"))?;
    Ok(out
        .items()
        .iter()
        .map(|item| {
            let text = |k: &str| match item.get(k) {
                Some(AttributeValue::S(v)) => v.clone(),
                _ => String::new(),
            };
            (
                text("decision"),
                serde_json::from_str(&text("record")).unwrap_or_default(),
            )
        })
        .collect())
}
