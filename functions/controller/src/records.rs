//! Reading history and release records back, a DynamoDB page at a time (a page stops at 1 MB, so
//! a long history is many pages), and writing the record each release keeps: version, start,
//! each step with its time, outcome and reason.

use crate::config::Config;
use crate::error::Error;
use crate::state::{Item, expires_at, key, n, s};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use canary::history::Item as HistoryItem;
use contract::table;
use serde::Serialize;

/// One release, as its record says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReleaseRecord {
    pub version: String,
    pub started_at: i64,
    /// (step index, canary percent, epoch seconds) for each step entered.
    pub steps: Vec<(u64, u64, i64)>,
    /// `in_progress`, `released`, `rolled_back`.
    pub outcome: String,
    pub reason: Option<String>,
    pub ended_at: Option<i64>,
}

/// Items of this canary whose sort key lies in `from..=to`, in sort-key order (`newest_first`
/// reverses it), at most `limit` of them; every page is read until the limit or the end.
async fn query(
    ddb: &Client,
    config: &Config,
    from: &str,
    to: &str,
    newest_first: bool,
    limit: Option<usize>,
) -> Result<Vec<Item>, Error> {
    let mut items = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let mut q = ddb
            .query()
            .table_name(&config.table)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
            .expression_attribute_names("#pk", table::PARTITION_KEY)
            .expression_attribute_names("#sk", table::SORT_KEY)
            .expression_attribute_values(":pk", s(&config.listener_arn))
            .expression_attribute_values(":from", s(from))
            .expression_attribute_values(":to", s(to))
            .scan_index_forward(!newest_first)
            .consistent_read(true)
            .set_exclusive_start_key(start.take());
        if let Some(limit) = limit {
            let left = limit.saturating_sub(items.len());
            q = q.limit(i32::try_from(left).unwrap_or(i32::MAX));
        }
        let out = q.send().await.map_err(Error::aws)?;
        items.extend(out.items().iter().cloned());
        start = out.last_evaluated_key().cloned();
        if start.is_none() || limit.is_some_and(|l| items.len() >= l) {
            return Ok(items);
        }
    }
}

fn text(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

fn number(item: &Item, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}

fn decision(item: &Item) -> HistoryItem {
    HistoryItem::read(
        &text(item, "decision").unwrap_or_default(),
        &text(item, "record").unwrap_or_default(),
    )
}

/// The sort key bounds of the history items written between two times (epoch milliseconds).
fn history_range(from_ms: i64, to_ms: i64) -> (String, String) {
    let prefix = table::HISTORY_PREFIX;
    (
        format!("{prefix}{:013}", from_ms.max(0)),
        format!("{prefix}{:013}~", to_ms.max(0)),
    )
}

/// Every history item of this canary, oldest first, read as its record.
pub async fn history(ddb: &Client, config: &Config) -> Result<Vec<HistoryItem>, Error> {
    history_between(ddb, config, 0, i64::MAX / 1_000_000).await
}

/// History items written between `from_ms` and `to_ms` (inclusive), oldest first.
pub async fn history_between(
    ddb: &Client,
    config: &Config,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<HistoryItem>, Error> {
    let (from, to) = history_range(from_ms, to_ms);
    let items = query(ddb, config, &from, &to, false, None).await?;
    Ok(items.iter().map(decision).collect())
}

/// The `count` newest history items, newest first, however long the history is.
pub async fn latest_history(
    ddb: &Client,
    config: &Config,
    count: usize,
) -> Result<Vec<HistoryItem>, Error> {
    let (from, to) = history_range(0, i64::MAX / 1_000_000);
    let items = query(ddb, config, &from, &to, true, Some(count)).await?;
    Ok(items.iter().map(decision).collect())
}

/// Every release record, oldest first.
pub async fn releases(ddb: &Client, config: &Config) -> Result<Vec<ReleaseRecord>, Error> {
    let prefix = table::RELEASE_PREFIX;
    let items = query(ddb, config, prefix, &format!("{prefix}~"), false, None).await?;
    Ok(items
        .iter()
        .map(|item| ReleaseRecord {
            version: text(item, "version").unwrap_or_default(),
            started_at: number(item, "started_at").unwrap_or_default(),
            steps: match item.get("steps") {
                Some(AttributeValue::L(entries)) => entries
                    .iter()
                    .filter_map(|e| match e {
                        AttributeValue::M(m) => Some((
                            number(m, "step")?.try_into().ok()?,
                            number(m, "percent")?.try_into().ok()?,
                            number(m, "at")?,
                        )),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            },
            outcome: text(item, "outcome").unwrap_or_default(),
            reason: text(item, "reason"),
            ended_at: number(item, "ended_at"),
        })
        .collect())
}

/// The release records' writes, in a state change's transaction ([`crate::state::Batch`]).
impl crate::state::Batch {
    /// Opens the record of a release started at `now`; its sort key is returned with the batch.
    pub fn open(
        self,
        config: &Config,
        version: &str,
        now: i64,
    ) -> Result<(crate::state::Batch, String), Error> {
        use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
        let sort = format!("{}{:013}#{version}", table::RELEASE_PREFIX, now * 1000);
        let mut item = key(config, &sort);
        item.insert("version".into(), s(version));
        item.insert("started_at".into(), n(now));
        item.insert("steps".into(), AttributeValue::L(Vec::new()));
        item.insert("outcome".into(), s("in_progress"));
        let put = Put::builder()
            .table_name(&config.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#sk)")
            .expression_attribute_names("#sk", table::SORT_KEY);
        let put = crate::state::built("the release record", put.build())?;
        Ok((
            self.push(TransactWriteItem::builder().put(put).build()),
            sort,
        ))
    }

    /// Adds a step to a release's record.
    pub fn step(
        self,
        config: &Config,
        record: &str,
        step: usize,
        percent: u8,
        now: i64,
    ) -> Result<crate::state::Batch, Error> {
        use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
        let entry = AttributeValue::M(
            [
                ("step".to_string(), n(step)),
                ("percent".to_string(), n(percent)),
                ("at".to_string(), n(now)),
            ]
            .into(),
        );
        let update = Update::builder()
            .table_name(&config.table)
            .set_key(Some(key(config, record)))
            .update_expression("SET steps = list_append(if_not_exists(steps, :empty), :entry)")
            .condition_expression("attribute_exists(#sk)")
            .expression_attribute_names("#sk", table::SORT_KEY)
            .expression_attribute_values(":empty", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":entry", AttributeValue::L(vec![entry]));
        let update = crate::state::built("the release record's step", update.build())?;
        Ok(self.push(TransactWriteItem::builder().update(update).build()))
    }

    /// Closes a release's record with its outcome; from then on it expires like history.
    pub fn close(
        self,
        config: &Config,
        record: &str,
        outcome: &str,
        reason: &str,
        now: i64,
    ) -> Result<crate::state::Batch, Error> {
        use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
        let update = Update::builder()
            .table_name(&config.table)
            .set_key(Some(key(config, record)))
            .update_expression("SET outcome = :o, reason = :r, ended_at = :now, #ttl = :ttl")
            .condition_expression("attribute_exists(#sk)")
            .expression_attribute_names("#sk", table::SORT_KEY)
            .expression_attribute_names("#ttl", table::TTL_ATTRIBUTE)
            .expression_attribute_values(":o", s(outcome))
            .expression_attribute_values(":r", s(reason))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":ttl", n(expires_at(config, now)));
        let update = crate::state::built("the release record's end", update.build())?;
        Ok(self.push(TransactWriteItem::builder().update(update).build()))
    }
}
