//! The DynamoDB adapter: one state item per canary (keyed by listener ARN), one history item per
//! decision and one record per release. State writes are conditional on a version number, so two
//! runs cannot both advance a step; the rollback's write is unconditional, because rollback always
//! wins. History items and closed release records carry a TTL; reads page through the table.

use crate::config::Config;
use crate::decision::{CanaryState, Status};
use crate::error::Error;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::AttributeValue;
use contract::table;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};

pub use crate::records::{ReleaseRecord, history, history_between, latest_history, releases};
pub use canary::history::{Item as HistoryItem, Record};
pub use canary::recorded::{Recorded, Release};

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(crate) fn key(config: &Config, sort: &str) -> Item {
    HashMap::from([
        (table::PARTITION_KEY.to_string(), s(&config.listener_arn)),
        (table::SORT_KEY.to_string(), s(sort)),
    ])
}

/// When an item written at `now` (epoch seconds) expires.
pub(crate) fn expires_at(config: &Config, now: i64) -> i64 {
    now + i64::from(config.history_days) * 86_400
}

/// The recorded state, or `None` before the first release.
pub async fn read(ddb: &Client, config: &Config) -> Result<Option<Recorded>, Error> {
    let out = ddb
        .get_item()
        .table_name(&config.table)
        .set_key(Some(key(config, table::STATE_SORT_KEY)))
        .consistent_read(true)
        .send()
        .await
        .map_err(Error::aws)?;
    out.item().map(|item| parse(config, item)).transpose()
}

fn parse(config: &Config, item: &Item) -> Result<Recorded, Error> {
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
    let optional = |name: &str| text(name).ok().map(str::to_string);
    let status = text("status")?;
    let step_started_at = number("step_started_at")?;
    Ok(Recorded {
        canary: CanaryState {
            status: Status::parse(status)
                .ok_or_else(|| bad(format!("status `{status}` is unknown")))?,
            step: usize::try_from(number("step")?).map_err(|_| bad("step is negative".into()))?,
            step_started_at,
            // Items written before the bake was recorded apart from the step: the step's start.
            bake_started_at: number("bake_started_at").unwrap_or(step_started_at),
            bake_skipped: matches!(item.get("bake_skipped"), Some(AttributeValue::Bool(true))),
            // Items written before the canary's start was recorded: judge from the step's start.
            canary_started_at: number("canary_started_at").unwrap_or(step_started_at),
            version: u64::try_from(number("version")?)
                .map_err(|_| bad("version is negative".into()))?,
            reason: optional("reason"),
        },
        release: Release {
            version: optional("release"),
            stable_version: optional("stable_version"),
            canary_version: optional("canary_version"),
            refresh_id: optional("refresh_id"),
            moved_at: number("moved_at").ok(),
            record: optional("release_record"),
            stable_back: optional("stable_back"),
        },
    })
}

/// Writes `next` only if the item is still at `prev` (absent when `prev` is `None`).
/// `next.canary.version` must be one above `prev`'s (or 1); a lost race is [`Error::Conflict`].
pub async fn replace(
    ddb: &Client,
    config: &Config,
    prev: Option<&Recorded>,
    next: &Recorded,
    now: i64,
) -> Result<(), Error> {
    let item = state_item(config, next, now);
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
            .expression_attribute_values(":v", n(p.canary.version)),
    };
    match put.send().await {
        Ok(_) => Ok(()),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
        {
            Err(conflict(config, prev))
        }
        Err(err) => Err(Error::aws(err)),
    }
}

fn conflict(config: &Config, prev: Option<&Recorded>) -> Error {
    Error::Conflict {
        key: config.listener_arn.clone(),
        version: prev.map_or("none".into(), |p| p.canary.version.to_string()),
    }
}

/// The state item `next` is written as.
fn state_item(config: &Config, next: &Recorded, now: i64) -> Item {
    let (state, release) = (&next.canary, &next.release);
    let mut item = key(config, table::STATE_SORT_KEY);
    item.insert("status".into(), s(state.status.as_str()));
    item.insert("step".into(), n(state.step));
    item.insert("step_started_at".into(), n(state.step_started_at));
    item.insert("bake_started_at".into(), n(state.bake_started_at));
    item.insert(
        "bake_skipped".into(),
        AttributeValue::Bool(state.bake_skipped),
    );
    item.insert("canary_started_at".into(), n(state.canary_started_at));
    item.insert("version".into(), n(state.version));
    item.insert("updated_at".into(), n(now));
    let optional = [
        ("reason", state.reason.as_ref()),
        ("release", release.version.as_ref()),
        ("stable_version", release.stable_version.as_ref()),
        ("canary_version", release.canary_version.as_ref()),
        ("refresh_id", release.refresh_id.as_ref()),
        ("release_record", release.record.as_ref()),
        ("stable_back", release.stable_back.as_ref()),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            item.insert(name.into(), s(value));
        }
    }
    if let Some(at) = release.moved_at {
        item.insert("moved_at".into(), n(at));
    }
    item
}

/// A state change and what is recorded with it (its history item, the release record's step,
/// opening or closing), written in one DynamoDB transaction: all or nothing. A run that dies
/// between two writes, or whose answer is lost and retried (the SDK sends the same client request
/// token, so DynamoDB applies the transaction once), can then neither record a state without its
/// decision nor a decision twice. Found by the fault exploration (`ops/tests/faults/`).
#[derive(Debug, Default)]
pub struct Batch {
    items: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
    /// The state's version a conditional state write expects (`None`: absent).
    expects: Option<Option<Recorded>>,
}

pub(crate) fn built<T>(
    what: &str,
    r: Result<T, aws_sdk_dynamodb::error::BuildError>,
) -> Result<T, Error> {
    r.map_err(|err| Error::aws_reply("DynamoDB TransactWriteItems", format_args!("{what}: {err}")))
}

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }

    /// [`replace`]: `next` only if the item is still at `prev`.
    pub fn replace(
        mut self,
        config: &Config,
        prev: Option<&Recorded>,
        next: &Recorded,
        now: i64,
    ) -> Result<Batch, Error> {
        use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
        let put = Put::builder()
            .table_name(&config.table)
            .set_item(Some(state_item(config, next, now)));
        let put = match prev {
            None => put
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", table::PARTITION_KEY),
            Some(p) => put
                .condition_expression("#v = :v")
                .expression_attribute_names("#v", "version")
                .expression_attribute_values(":v", n(p.canary.version)),
        };
        self.items.push(
            TransactWriteItem::builder()
                .put(built("the state", put.build())?)
                .build(),
        );
        self.expects = Some(prev.cloned());
        Ok(self)
    }

    /// The state rolled back whatever it was, the item created if needed (rollback always wins);
    /// the release's versions stay: the canary fleet keeps the bad version for inspection.
    /// With `stable_back`, the version the stable fleet must move back to is recorded with it.
    pub fn rollback(
        mut self,
        config: &Config,
        reason: &str,
        now: i64,
        stable_back: Option<&str>,
    ) -> Result<Batch, Error> {
        use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
        let expression = match stable_back {
            Some(_) => ROLLBACK_UPDATE.replacen("SET ", "SET stable_back = :back, ", 1),
            None => ROLLBACK_UPDATE.to_string(),
        };
        let update = Update::builder()
            .table_name(&config.table)
            .set_key(Some(key(config, table::STATE_SORT_KEY)))
            .update_expression(expression)
            .set_expression_attribute_values(
                stable_back.map(|v| HashMap::from([(":back".to_string(), s(v))])),
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#reason", "reason")
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":rb", s(Status::RolledBack.as_str()))
            .expression_attribute_values(":reason", s(reason))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1));
        self.items.push(
            TransactWriteItem::builder()
                .update(built("the rollback", update.build())?)
                .build(),
        );
        Ok(self)
    }

    /// [`append_history`]'s item.
    pub fn history(
        mut self,
        config: &Config,
        now_ms: i64,
        record: &Record,
    ) -> Result<Batch, Error> {
        use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
        let put = Put::builder()
            .table_name(&config.table)
            .set_item(Some(history_item(config, now_ms, record)));
        self.items.push(
            TransactWriteItem::builder()
                .put(built("the history item", put.build())?)
                .build(),
        );
        Ok(self)
    }

    /// A write of the release records ([`crate::records`]), in this transaction.
    pub(crate) fn push(mut self, item: aws_sdk_dynamodb::types::TransactWriteItem) -> Batch {
        self.items.push(item);
        self
    }

    /// Writes it all, or nothing: a lost race on the state is [`Error::Conflict`].
    pub async fn commit(self, ddb: &Client, config: &Config) -> Result<(), Error> {
        let out = ddb
            .transact_write_items()
            .set_transact_items(Some(self.items))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(err)
                if err.as_service_error().is_some_and(|e| match e {
                    TransactWriteItemsError::TransactionCanceledException(c) => c
                        .cancellation_reasons()
                        .iter()
                        .any(|r| r.code() == Some("ConditionalCheckFailed")),
                    _ => false,
                }) =>
            {
                Err(match &self.expects {
                    Some(prev) => conflict(config, prev.as_ref()),
                    None => Error::Conflict {
                        key: config.listener_arn.clone(),
                        version: "a release record".into(),
                    },
                })
            }
            Err(err) => Err(Error::aws(err)),
        }
    }
}

const ROLLBACK_UPDATE: &str = "SET #status = :rb, #reason = :reason, updated_at = :now, \
     step = if_not_exists(step, :zero), step_started_at = if_not_exists(step_started_at, :now) \
     ADD #v :one";

/// The stable fleet moved back: forgets the version it had to move back to.
pub async fn clear_stable_back(ddb: &Client, config: &Config) -> Result<(), Error> {
    ddb.update_item()
        .table_name(&config.table)
        .set_key(Some(key(config, table::STATE_SORT_KEY)))
        .update_expression("REMOVE stable_back")
        .send()
        .await
        .map_err(Error::aws)?;
    Ok(())
}

/// Distinguishes history items written in the same millisecond by one process.
static SEQUENCE: AtomicU32 = AtomicU32::new(0);

/// Appends one history item: the decision and the snapshot that drove it. It expires after the
/// configured number of days.
pub async fn append_history(
    ddb: &Client,
    config: &Config,
    now_ms: i64,
    record: &Record,
) -> Result<(), Error> {
    ddb.put_item()
        .table_name(&config.table)
        .set_item(Some(history_item(config, now_ms, record)))
        .send()
        .await
        .map_err(Error::aws)?;
    Ok(())
}

fn history_item(config: &Config, now_ms: i64, record: &Record) -> Item {
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let nonce = std::process::id();
    let sort = format!("{}{now_ms:013}#{nonce}-{seq}", table::HISTORY_PREFIX);
    let mut item = key(config, &sort);
    item.insert("decision".into(), s(record.kind()));
    item.insert("at_ms".into(), n(now_ms));
    item.insert("record".into(), s(record.to_json().to_string()));
    item.insert(
        table::TTL_ATTRIBUTE.into(),
        n(expires_at(config, now_ms.div_euclid(1000))),
    );
    item
}
