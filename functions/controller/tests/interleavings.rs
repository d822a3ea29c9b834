//! Rollback always wins: a promotion run and a rollback run, split into their stages, are driven
//! through every interleaving against the emulator; canary ends at 0 after every one.

use alb_canary_tests::controller_env::{Canary, Env, fixture, test_plan};
use controller::decision::{Decision, Status, Weights};
use controller::history::{Entry, ROLLBACK, Record, RolledBack};
use controller::promotion::{self, Decided, Prepared};
use controller::{Error, Outcome, rollback};

const PROMOTION_STAGES: usize = 4; // prepare, write, record, enforce
const ROLLBACK_STAGES: usize = 3; // write canary = 0, record, confirm

/// Every order of the two runs' stages that keeps each run's own order ('P' or 'R' per stage).
fn interleavings() -> Vec<Vec<char>> {
    fn go(p: usize, r: usize, prefix: &mut Vec<char>, out: &mut Vec<Vec<char>>) {
        if p == 0 && r == 0 {
            out.push(prefix.clone());
            return;
        }
        for (left, c) in [(p, 'P'), (r, 'R')] {
            if left > 0 {
                prefix.push(c);
                if c == 'P' {
                    go(p - 1, r, prefix, out);
                } else {
                    go(p, r - 1, prefix, out);
                }
                prefix.pop();
            }
        }
    }
    let mut out = Vec::new();
    go(PROMOTION_STAGES, ROLLBACK_STAGES, &mut Vec::new(), &mut out);
    out
}

enum Promotion {
    NotStarted,
    Prepared(Decided),
    Written(Decided),
    Recorded(Decided, Result<Outcome, Error>),
    Done(Result<Outcome, Error>),
}

/// Runs one interleaving on `canary`; `now` is the promotion's clock.
/// Returns what the promotion decided and how it ended.
async fn run(
    env: &Env,
    canary: &Canary,
    order: &[char],
    now: i64,
) -> (Option<Decision>, Option<Result<Outcome, Error>>) {
    let (clients, config) = (&env.clients, &canary.config);
    let mut p = Promotion::NotStarted;
    let mut r = 0;
    let mut decided = None;
    let reason = "alarm alb-canary-canary-error-rate entered ALARM (interleaving test)";
    let rolled_back = RolledBack {
        reason: reason.into(),
        alarm: Some("alb-canary-canary-error-rate".into()),
        ..RolledBack::default()
    };
    let history = Record::new(ROLLBACK, now, Entry::RolledBack(rolled_back));
    for step in order {
        if *step == 'R' {
            match r {
                0 => {
                    rollback::write_stable(clients, config).await.unwrap();
                }
                1 => {
                    rollback::record(clients, config, reason, now, &history)
                        .await
                        .unwrap();
                }
                _ => rollback::confirm(clients, config).await.unwrap(),
            }
            r += 1;
            continue;
        }
        p = match p {
            Promotion::NotStarted => {
                match promotion::prepare(clients, config, now).await.unwrap() {
                    Prepared::Idle(status) => Promotion::Done(Ok(Outcome::Idle { status })),
                    Prepared::Decided(d) => {
                        decided = Some(d.decision.clone());
                        Promotion::Prepared(d)
                    }
                }
            }
            Promotion::Prepared(d) => {
                promotion::write(clients, config, &d).await.unwrap();
                Promotion::Written(d)
            }
            Promotion::Written(d) => {
                let recorded = promotion::record(clients, config, &d).await;
                Promotion::Recorded(d, recorded)
            }
            Promotion::Recorded(d, recorded) => {
                Promotion::Done(promotion::enforce(clients, config, &d, recorded).await)
            }
            done @ Promotion::Done(_) => done,
        };
    }
    match p {
        Promotion::Done(result) => (decided, Some(result)),
        _ => (decided, None),
    }
}

async fn check_all(mid_canary: bool) {
    let env = Env::start().await;
    let t0 = controller::now_secs() - 3600;
    let orders = interleavings();
    assert_eq!(orders.len(), 35);
    let (mut promotions_raced, mut rollbacks_enforced) = (0, 0);
    for order in &orders {
        let canary = env.canary(test_plan()).await;
        let c = &canary.config;
        let mut now = t0;
        if mid_canary {
            // Running at step 1 (25 %), baked and healthy: the promotion wants 50 %.
            // The stable version's baseline fixes T before the canary, so the first bake ends on time.
            env.put_baseline(&c.stable_tg_arn, t0).await;
            for _ in 0..2 {
                promotion::handle_promotion_at(
                    &env.clients,
                    c,
                    fixture("schedule-event.json"),
                    now,
                )
                .await
                .unwrap();
                env.put_minute(&c.stable_tg_arn, now + 30, 900.0, 0.0, 0.020)
                    .await;
                env.put_minute(&c.canary_tg_arn, now + 30, 100.0, 0.0, 0.070)
                    .await;
                now += 361;
            }
            assert_eq!(env.weights(&canary).await, Weights::for_percent(25));
        }
        let (decided, ended) = run(&env, &canary, order, now).await;
        promotions_raced += usize::from(matches!(decided, Some(Decision::Promote { .. })));
        rollbacks_enforced += usize::from(matches!(ended, Some(Ok(Outcome::RollbackWon { .. }))));
        let order: String = order.iter().collect();
        let weights = env.weights(&canary).await;
        assert_eq!(
            weights.canary, 0,
            "{order}: canary has traffic after the rollback: {weights}"
        );
        let state = env.state(&canary).await.unwrap();
        assert_eq!(state.status, Status::RolledBack, "{order}: {state:?}");
    }
    // The runs that matter are those where the promotion decided to give canary more traffic.
    assert!(
        promotions_raced >= 10,
        "only {promotions_raced} interleavings raced a promotion"
    );
    // Some interleavings are saved by the promotion itself re-reading the state after its write.
    assert!(
        rollbacks_enforced >= 1,
        "the promotion never had to enforce the rollback"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_wins_over_a_starting_canary_in_every_interleaving() {
    check_all(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_wins_over_a_step_promotion_in_every_interleaving() {
    check_all(true).await;
}

#[test]
fn the_interleavings_are_all_distinct_and_complete() {
    let orders = interleavings();
    let unique: std::collections::BTreeSet<String> =
        orders.iter().map(|o| o.iter().collect()).collect();
    assert_eq!(unique.len(), 35); // 7! / (4! 3!)
    assert!(unique.contains("PPPPRRR") && unique.contains("RRRPPPP") && unique.contains("PRPRPRP"));
}
