use super::*;
use crate::decision::{CanaryState, Decision, Status, Weights};
use judge::Calibration;

fn state(step: usize) -> CanaryState {
    CanaryState {
        status: Status::Running,
        step,
        step_started_at: 1_700_000_000,
        bake_started_at: 1_700_000_000,
        bake_skipped: false,
        canary_started_at: 1_699_999_000,
        version: 7,
        reason: None,
    }
}

fn one_of_each() -> Vec<Record> {
    let discarded = Decision::Promote {
        step: 2,
        weights: Weights {
            stable: 50,
            canary: 50,
        },
    };
    let entries = [
        (
            PROMOTION,
            Entry::Judgement(Box::new(Judgement {
                release: Some("1.2.0".into()),
                decision: Decision::Hold {
                    reason: "insufficient data".into(),
                },
                state_before: Some(state(1)),
                weights_before: Weights {
                    stable: 75,
                    canary: 25,
                },
                statistics: None,
                inputs: Inputs {
                    periods_read: 12,
                    baseline_ms: Some(41.5),
                    calibration: Some(Calibration {
                        stable_ms: 40.0,
                        until: 1_700_000_180,
                    }),
                    canary_healthy_targets: 2,
                },
            })),
        ),
        (
            ROLLBACK,
            Entry::RolledBack(RolledBack {
                reason: "alarm alb-canary-v2-5xx entered ALARM".into(),
                alarm: Some("alb-canary-v2-5xx".into()),
                weights_before: Some(Weights {
                    stable: 90,
                    canary: 10,
                }),
                ..RolledBack::default()
            }),
        ),
        (
            OPERATOR,
            Entry::RolledBack(RolledBack {
                reason: "aborted by an operator".into(),
                release: Some("1.2.0".into()),
                weights_before: Some(Weights {
                    stable: 90,
                    canary: 10,
                }),
                ..RolledBack::default()
            }),
        ),
        (
            PROMOTION,
            Entry::Repeated(Box::new(Entry::RolledBack(RolledBack {
                reason: SCHEDULE_AFTER_ROLLBACK.into(),
                ..RolledBack::default()
            }))),
        ),
        (
            PROMOTION,
            Entry::RollbackEnforced(RollbackEnforced {
                reason: "a rollback was recorded meanwhile".into(),
                promotion_discarded: discarded.clone(),
                record_result: Some("conflict".into()),
            }),
        ),
        (
            PROMOTION,
            Entry::PromotionUndone(PromotionUndone {
                reason: "another writer changed the state".into(),
                promotion_discarded: discarded,
                status: Status::Paused,
                step: 1,
            }),
        ),
        (
            ROLLBACK,
            Entry::AlarmWhileIdle(AlarmWhileIdle {
                reason: "alarm while idle".into(),
                alarm: "alb-canary-v2-latency".into(),
                status: Status::Idle,
                canary_version: Some("1.1.0".into()),
            }),
        ),
        (
            OPERATOR,
            Entry::Operator(Operator {
                command: Command::SkipBake,
                release: Some("1.2.0".into()),
                state_before: Position {
                    status: Status::Running,
                    step: 1,
                },
                state_after: Position {
                    status: Status::Running,
                    step: 1,
                },
            }),
        ),
        (
            OPERATOR,
            Entry::ReleaseStarted(ReleaseStarted {
                reason: "release 1.3.0 started".into(),
                release: "1.3.0".into(),
                superseded: Some("1.2.0".into()),
                stable_version: Some("1.1.0".into()),
                canary_refresh: "refresh-1".into(),
            }),
        ),
        (
            PROMOTION,
            Entry::Released(Released {
                reason: "the stable fleet serves it".into(),
                release: "1.3.0".into(),
                weights_before: Weights {
                    stable: 0,
                    canary: 100,
                },
                stable_healthy_targets: 2,
            }),
        ),
        (
            PROMOTION,
            Entry::StableMoveFailed(StableMoveFailed {
                reason: "the refresh failed".into(),
                release: "1.3.0".into(),
            }),
        ),
    ];
    entries
        .into_iter()
        .enumerate()
        .map(|(i, (function, entry))| Record::new(function, 1_700_000_000 + i as i64, entry))
        .collect()
}

#[test]
fn every_kind_reads_back_as_it_was_written() {
    let records = one_of_each();
    let kinds: std::collections::BTreeSet<_> = records.iter().map(Record::kind).collect();
    assert_eq!(
        kinds.len(),
        records.len() - 1,
        "roll_back is written twice: {kinds:?}"
    );
    // What a rollback on a rolled-back canary records: the judge's or another's rollback.
    let repeats = records.iter().filter_map(|r| {
        let rollback = match &r.entry {
            Entry::RolledBack(_) => r.entry.clone(),
            Entry::Judgement(j) => Entry::Judgement(Box::new(Judgement {
                decision: Decision::RollBack {
                    reason: "canary fails".into(),
                },
                ..(**j).clone()
            })),
            _ => return None,
        };
        Some(Record::new(
            &r.function,
            r.at,
            Entry::Repeated(Box::new(rollback)),
        ))
    });
    let repeats: Vec<Record> = repeats.collect();
    assert_eq!(repeats.len(), 3);
    for record in records.into_iter().chain(repeats) {
        let text = record.to_json().to_string();
        let read =
            Record::from_json(record.kind(), &text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(read, record, "{text}");
    }
}

#[test]
fn every_record_keeps_the_shape_logs_and_notifications_are_read_by() {
    for record in one_of_each() {
        let json = record.to_json();
        assert_eq!(json["function"], record.function.as_str());
        assert_eq!(json["at"], record.at);
        let kind = match &record.entry {
            Entry::Repeated(inner) => inner.kind(),
            _ => record.kind(),
        };
        assert_eq!(json["decision"]["decision"], kind, "{json}");
        if let Some(reason) = record.reason()
            && !matches!(record.entry, Entry::Judgement(_))
        {
            assert_eq!(json["decision"]["reason"], reason.as_str(), "{json}");
        }
    }
}

#[test]
fn records_written_by_earlier_versions_still_read() {
    // A judgement from before the period was a plan setting, an operator's skipped bake from
    // before it was named, and a rollback by an operator: as those versions wrote them.
    let judgement = r#"{"function":"promote","at":1700000000,"release":"1.0.0",
        "decision":{"decision":"hold","reason":"insufficient data"},
        "state_before":{"status":"running","step":0,"step_started_at":1,"bake_started_at":1,
                        "canary_started_at":1,"version":3,"reason":null},
        "weights_before":{"v1":90,"v2":10},
        "statistics":{"closed_minutes":4,"step_v2_requests":10,"min_requests":100,
          "errors":{"method":"sequential","v1_requests":90,"v1_errors":0,"v2_requests":10,
                    "v2_errors":0,"reject":false},
          "latency":{"method":"sequential","statistic":"p99","threshold_ms":1500.0,
                     "v1_requests":90,"v1_slow":0,"v2_requests":10,"v2_slow":0,"reject":false}},
        "inputs":{"minutes_read":5,"baseline_ms":null,"calibration":null,"v2_healthy_targets":0}}"#;
    let read = Record::from_json("hold", judgement).unwrap();
    let statistics = read.statistics().expect("statistics");
    assert_eq!(
        (statistics.closed_periods, statistics.period_seconds),
        (4, 60)
    );
    let Entry::Judgement(j) = &read.entry else {
        panic!("{read:?}")
    };
    assert_eq!(j.inputs.periods_read, 5);
    // Before the roles were named stable and canary, they were V1 and V2.
    assert_eq!(
        j.weights_before,
        Weights {
            stable: 90,
            canary: 10
        }
    );
    assert_eq!(statistics.step_canary_requests, 10);
    let (errors, latency) = (&statistics.errors, &statistics.latency);
    assert_eq!((errors.stable_requests, errors.canary_requests), (90, 10));
    assert_eq!((latency.stable_requests, latency.canary_requests), (90, 10));

    let skipped = r#"{"function":"canaryctl","at":5,"decision":{"decision":"promote"},
        "release":"1.0.0","state_before":{"status":"running","step":1},
        "state_after":{"status":"running","step":1}}"#;
    let read = Record::from_json("promote", skipped).unwrap();
    assert!(matches!(&read.entry, Entry::Operator(o) if o.command == Command::SkipBake));
    assert_eq!(read.kind(), "skip_bake");

    let abort = r#"{"function":"canaryctl","at":5,"release":"1.0.0",
        "decision":{"decision":"roll_back","reason":"aborted"},"weights_before":{"v1":90,"v2":10}}"#;
    let read = Record::from_json("roll_back", abort).unwrap();
    assert_eq!(read.reason().as_deref(), Some("aborted"));
    assert!(matches!(&read.entry, Entry::RolledBack(r)
        if r.weights_before == Some(Weights { stable: 90, canary: 10 })));
    assert!(matches!(&read.entry, Entry::RolledBack(r) if r.release.as_deref() == Some("1.0.0")));

    let idle = r#"{"function":"rollback","at":5,"alarm":"x","status":"rolled_back",
        "decision":{"decision":"unhealthy_while_idle","reason":"alarm x entered ALARM"}}"#;
    let read = Record::from_json("unhealthy_while_idle", idle).unwrap();
    assert!(matches!(&read.entry, Entry::AlarmWhileIdle(a) if a.alarm == "x"));
    assert_eq!(read.kind(), "alarm_while_idle");
    assert_eq!(read.reason().as_deref(), Some("alarm x entered ALARM"));

    let settled = r#"{"function":"promote","at":5,"decision":{"decision":"roll_back_repeat",
        "reason":"the schedule still ran after the rollback: disabled now"}}"#;
    let read = Record::from_json("roll_back_repeat", settled).unwrap();
    assert!(
        matches!(&read.entry, Entry::Repeated(inner) if matches!(**inner, Entry::RolledBack(_)))
    );
    assert_eq!(read.reason().as_deref(), Some(SCHEDULE_AFTER_ROLLBACK));
}

#[test]
fn what_does_not_read_as_its_kind_is_kept_as_text_with_why() {
    for (kind, text) in [
        (
            "hold",
            r#"{"function":"promote","at":1,"decision":{"decision":"hold","reason":"x"}}"#,
        ),
        ("promote", r#"{"set_up": 1}"#),
        ("launch", r#"{"function":"promote","at":1,"decision":{}}"#),
        ("hold", "not json"),
    ] {
        let item = Item::read(kind, text);
        let err = item.record.as_ref().expect_err(text);
        assert_eq!(err.text, text);
        assert!(!err.error.is_empty());
        assert!(item.line().contains(text), "{}", item.line());
        assert_eq!(item.at(), None);
    }
    let err = Record::from_json("launch", r#"{"function":"promote","at":1,"decision":{}}"#);
    assert_eq!(
        err.unwrap_err(),
        "no record kind `launch` written by `promote`"
    );
}

#[test]
fn a_summary_says_who_what_and_why() {
    let lines: Vec<String> = one_of_each().iter().map(Record::summary).collect();
    assert_eq!(
        lines[0],
        "by promotion — at step 2 (running), weights stable 75 / canary 25: insufficient data"
    );
    assert_eq!(
        lines[1],
        "by rollback — alarm alb-canary-v2-5xx: alarm alb-canary-v2-5xx entered ALARM"
    );
    assert_eq!(
        lines[3],
        "by promotion — repeated (): the schedule still ran after the rollback: disabled now"
    );
    assert_eq!(lines[7], "by canaryctl — running step 2 -> running step 2");
    assert_eq!(
        lines[8],
        "by canaryctl — 1.3.0 (aborts 1.2.0): release 1.3.0 started"
    );
}
