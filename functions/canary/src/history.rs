//! The history's records: one type per kind of decision, written and read through these types by
//! the functions and `canaryctl` (a DynamoDB item holds the kind and the record's JSON).
//!
//! The JSON keeps the shape the records always had: `function`, `at` (epoch seconds), a
//! `decision` object (`{"decision": kind, "reason": ...}`, or the judge's [`Decision`]) and the
//! kind's own fields, so a table written by an earlier version still reads. A record that does
//! not read as its kind is shown as the text it is ([`Item::record`] is then an error).

use crate::decision::Decision;
use judge::Assessment;
use serde::{Deserialize, Serialize};
use serde_json::Value;

mod kinds;
use kinds::Said;
pub use kinds::{
    AlarmWhileIdle, Command, Inputs, Judgement, Operator, Position, PromotionUndone,
    ReleaseStarted, Released, RollbackEnforced, RolledBack, StableMoveFailed,
};

/// The writer of records not written by a function: the operator CLI.
pub const OPERATOR: &str = "canaryctl";
/// The promotion function's name in its records.
pub const PROMOTION: &str = "promotion";
/// The promotion function's name in records written before it was `promotion`.
const PROMOTION_EARLIER: &str = "promote";
/// The rollback function's name in its records.
pub const ROLLBACK: &str = "rollback";

/// One history record: who wrote it, when, and what it says.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// `promotion`, `rollback` or `canaryctl` (`promote` in earlier records).
    pub function: String,
    /// Epoch seconds.
    pub at: i64,
    pub entry: Entry,
}

/// What a record says, one variant per kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// The promotion function judged the canary (`hold`, `promote`, `roll_back`, `pause`,
    /// `complete`, `drift`).
    Judgement(Box<Judgement>),
    /// A rollback written by the rollback function (an alarm) or an operator (`abort`, a release
    /// that supersedes a running one).
    RolledBack(RolledBack),
    /// A rollback recorded again on a canary rolled back already (an alarm retried, a promotion
    /// run finding the schedule still on): the entry of that rollback.
    Repeated(Box<Entry>),
    /// A promotion found a rollback recorded after its own listener write, and undid the write.
    RollbackEnforced(RollbackEnforced),
    /// A promotion lost the race to record itself and put the weights back.
    PromotionUndone(PromotionUndone),
    /// A rollback alarm while no canary ran: nothing changed.
    AlarmWhileIdle(AlarmWhileIdle),
    /// An operator paused, resumed or skipped the rest of a step's bake.
    Operator(Operator),
    /// An operator started a release.
    ReleaseStarted(ReleaseStarted),
    /// The stable fleet serves the release: the stack is idle on it.
    Released(Released),
    /// The stable fleet did not take the release.
    StableMoveFailed(StableMoveFailed),
}

impl Record {
    pub fn new(function: &str, at: i64, entry: Entry) -> Record {
        Record {
            function: function.to_string(),
            at,
            entry,
        }
    }

    /// The kind the table's item names (its `decision` attribute).
    pub fn kind(&self) -> &'static str {
        self.entry.kind()
    }

    /// Why, in a sentence; `None` for an operator's command (the command is the reason).
    pub fn reason(&self) -> Option<String> {
        self.entry.reason()
    }

    /// The judge's statistics, for a judgement that has them.
    pub fn statistics(&self) -> Option<&Assessment> {
        match &self.entry {
            Entry::Judgement(j) => j.statistics.as_ref(),
            _ => None,
        }
    }

    /// The record as the table and the notifications hold it.
    pub fn to_json(&self) -> Value {
        let mut map = self.entry.body();
        map.insert("function".into(), Value::from(self.function.clone()));
        map.insert("at".into(), Value::from(self.at));
        Value::Object(map)
    }

    /// Reads a record of `kind` (the item's `decision` attribute) from its JSON text.
    pub fn from_json(kind: &str, text: &str) -> Result<Record, String> {
        let head: Head = parse(text)?;
        let entry = Entry::read(kind, &head, text)?;
        Ok(Record {
            function: head.function,
            at: head.at,
            entry,
        })
    }

    /// One line for `status` and `history`: who, what and why.
    pub fn summary(&self) -> String {
        let detail = self.entry.detail();
        let reason = self.reason().unwrap_or_default();
        let sep = if detail.is_empty() || reason.is_empty() {
            ""
        } else {
            ": "
        };
        format!("by {} — {detail}{sep}{reason}", self.function)
    }
}

/// What every record holds besides its kind's fields.
#[derive(Deserialize)]
struct Head {
    function: String,
    at: i64,
    decision: Value,
}

impl Entry {
    pub fn kind(&self) -> &'static str {
        match self {
            Entry::Judgement(j) => j.decision.kind(),
            Entry::RolledBack(_) => "roll_back",
            Entry::Repeated(_) => "roll_back_repeat",
            Entry::RollbackEnforced(_) => "rollback_enforced",
            Entry::PromotionUndone(_) => "promotion_undone",
            Entry::AlarmWhileIdle(_) => "alarm_while_idle",
            Entry::Operator(o) => o.command.kind(),
            Entry::ReleaseStarted(_) => "release",
            Entry::Released(_) => "released",
            Entry::StableMoveFailed(_) => "stable_move_failed",
        }
    }

    pub fn reason(&self) -> Option<String> {
        match self {
            Entry::Judgement(j) => Some(describe(&j.decision)),
            Entry::Repeated(inner) => inner.reason(),
            Entry::Operator(_) => None,
            Entry::RolledBack(RolledBack { reason, .. })
            | Entry::RollbackEnforced(RollbackEnforced { reason, .. })
            | Entry::PromotionUndone(PromotionUndone { reason, .. })
            | Entry::AlarmWhileIdle(AlarmWhileIdle { reason, .. })
            | Entry::ReleaseStarted(ReleaseStarted { reason, .. })
            | Entry::Released(Released { reason, .. })
            | Entry::StableMoveFailed(StableMoveFailed { reason, .. }) => Some(reason.clone()),
        }
    }

    /// The JSON object without `function` and `at`. A repeated rollback holds the rollback it
    /// repeats, as it was first written.
    fn body(&self) -> serde_json::Map<String, Value> {
        let body = match self {
            Entry::Judgement(j) => to_value(j),
            Entry::Repeated(inner) => return inner.body(),
            Entry::RolledBack(r) => to_value(r),
            Entry::RollbackEnforced(r) => to_value(r),
            Entry::PromotionUndone(r) => to_value(r),
            Entry::AlarmWhileIdle(r) => to_value(r),
            Entry::Operator(o) => to_value(o),
            Entry::ReleaseStarted(r) => to_value(r),
            Entry::Released(r) => to_value(r),
            Entry::StableMoveFailed(r) => to_value(r),
        };
        // Every body is a struct: an object.
        let mut map = match body {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        if !matches!(self, Entry::Judgement(_)) {
            let said = Said {
                decision: self.kind().to_string(),
                reason: self.reason(),
            };
            map.insert("decision".into(), to_value(&said));
        }
        map
    }

    fn read(kind: &str, head: &Head, text: &str) -> Result<Entry, String> {
        let said = || -> Result<Said, String> {
            serde_json::from_value::<Said>(head.decision.clone()).map_err(|e| e.to_string())
        };
        let reason = || said().map(|s| s.reason.unwrap_or_default());
        let by = head.function.as_str();
        let by = if by == PROMOTION_EARLIER {
            PROMOTION
        } else {
            by
        };
        Ok(match kind {
            // The promotion function's rollback is a judgement; the one it writes when the
            // schedule ran after a rollback (the repeat of one) is not.
            "roll_back" if by == PROMOTION && has_key(text, "inputs")? => {
                Entry::Judgement(Box::new(parse(text)?))
            }
            "hold" | "promote" | "pause" | "complete" | "drift" if by == PROMOTION => {
                Entry::Judgement(Box::new(parse(text)?))
            }
            "roll_back" => Entry::RolledBack(RolledBack {
                reason: reason()?,
                ..parse(text)?
            }),
            "roll_back_repeat" => {
                let repeated = said()?.decision;
                // Earlier versions named the schedule's own repeat with the item's kind.
                let repeated = if repeated == "roll_back_repeat" {
                    "roll_back"
                } else {
                    &repeated
                };
                if repeated != "roll_back" {
                    return Err(format!("a repeated rollback that repeats `{repeated}`"));
                }
                Entry::Repeated(Box::new(Entry::read(repeated, head, text)?))
            }
            "rollback_enforced" => Entry::RollbackEnforced(RollbackEnforced {
                reason: reason()?,
                ..parse(text)?
            }),
            "promotion_undone" => Entry::PromotionUndone(PromotionUndone {
                reason: reason()?,
                ..parse(text)?
            }),
            // Named `unhealthy_while_idle` before it said what it is: any alarm, no canary running.
            "alarm_while_idle" | "unhealthy_while_idle" => Entry::AlarmWhileIdle(AlarmWhileIdle {
                reason: reason()?,
                ..parse(text)?
            }),
            // Before `skip_bake` had its name, canaryctl recorded it as `promote`.
            "pause" | "resume" | "skip_bake" | "promote" if by == OPERATOR => {
                let command = match kind {
                    "pause" => Command::Pause,
                    "resume" => Command::Resume,
                    _ => Command::SkipBake,
                };
                Entry::Operator(Operator {
                    command,
                    ..parse(text)?
                })
            }
            "release" => Entry::ReleaseStarted(ReleaseStarted {
                reason: reason()?,
                ..parse(text)?
            }),
            "released" => Entry::Released(Released {
                reason: reason()?,
                ..parse(text)?
            }),
            "stable_move_failed" => Entry::StableMoveFailed(StableMoveFailed {
                reason: reason()?,
                ..parse(text)?
            }),
            other => {
                return Err(format!(
                    "no record kind `{other}` written by `{}`",
                    head.function
                ));
            }
        })
    }

    /// What the summary says besides the reason.
    fn detail(&self) -> String {
        match self {
            Entry::Judgement(j) => match &j.state_before {
                Some(s) => format!(
                    "at step {} ({}), weights {}",
                    s.step + 1,
                    s.status.as_str(),
                    j.weights_before
                ),
                None => format!("weights {}", j.weights_before),
            },
            Entry::Repeated(inner) => format!("repeated ({})", inner.detail()),
            Entry::RolledBack(r) => match (&r.alarm, &r.listener_pending) {
                (_, Some(pending)) => format!("listener write pending: {pending}"),
                (Some(alarm), None) => format!("alarm {alarm}"),
                (None, None) => r
                    .weights_before
                    .map_or(String::new(), |w| format!("weights were {w}")),
            },
            Entry::Operator(o) => format!(
                "{} step {} -> {} step {}",
                o.state_before.status.as_str(),
                o.state_before.step + 1,
                o.state_after.status.as_str(),
                o.state_after.step + 1
            ),
            Entry::ReleaseStarted(r) => match &r.superseded {
                Some(v) => format!("{} (aborts {v})", r.release),
                None => r.release.clone(),
            },
            Entry::Released(r) => format!(
                "{} on {} stable targets",
                r.release, r.stable_healthy_targets
            ),
            Entry::AlarmWhileIdle(r) => {
                format!("alarm {} while {}", r.alarm, r.status.as_str())
            }
            Entry::RollbackEnforced(r) => format!("undid {}", r.promotion_discarded.kind()),
            Entry::PromotionUndone(r) => format!(
                "undid {}; the state is {} at step {}",
                r.promotion_discarded.kind(),
                r.status.as_str(),
                r.step + 1
            ),
            Entry::StableMoveFailed(r) => r.release.clone(),
        }
    }
}

fn has_key(text: &str, key: &str) -> Result<bool, String> {
    let map: serde_json::Map<String, Value> = parse(text)?;
    Ok(map.contains_key(key))
}

/// The reason a promotion run records when it finds the schedule still on after a rollback.
pub const SCHEDULE_AFTER_ROLLBACK: &str = "the schedule still ran after the rollback: disabled now";

/// A judge's decision in words.
pub fn describe(decision: &Decision) -> String {
    match decision {
        Decision::Hold { reason } | Decision::RollBack { reason } | Decision::Pause { reason } => {
            reason.clone()
        }
        Decision::Promote { step, weights } => {
            format!("healthy and baked: to step {} ({weights})", step + 1)
        }
        Decision::Complete => "the last step baked healthy".to_string(),
        Decision::Drift { found, expected } => {
            format!("drift: listener holds {found}, the controller expected {expected}")
        }
    }
}

fn to_value<T: Serialize>(value: &T) -> Value {
    // Records hold no map with non-string keys, the one thing serde_json refuses.
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn parse<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// One history item as read from the table: its kind, and its record if it reads as one.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub kind: String,
    /// The record, or the text that did not read as its kind with why.
    pub record: Result<Record, Unreadable>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Unreadable {
    pub text: String,
    pub error: String,
}

impl Item {
    pub fn read(kind: &str, text: &str) -> Item {
        Item {
            kind: kind.to_string(),
            record: Record::from_json(kind, text).map_err(|error| Unreadable {
                text: text.to_string(),
                error,
            }),
        }
    }

    /// The record's time, when it reads.
    pub fn at(&self) -> Option<i64> {
        self.record.as_ref().ok().map(|r| r.at)
    }

    /// One line: the record's summary, or the text it holds.
    pub fn line(&self) -> String {
        match &self.record {
            Ok(r) => r.summary(),
            Err(u) => format!("(unread: {}) {}", u.error, u.text),
        }
    }
}

#[cfg(test)]
mod tests;
