//! An operator's command racing the promotion run: the run split into its stages (read and
//! decide, write the listener, record, enforce a rollback), the command taken before, between or
//! after them, so that the run's conditional state write can lose to the command's. Then what
//! comes next (the command run again if it failed, the schedule's next run) and the invariants.

use crate::explore::{self, Phase, World};
use canaryctl::control::{self, Action};
use controller::decision::{Decision, Status, Weights};
use controller::promotion::{self, Prepared};
use controller::{Outcome, listener, schedule, state};

/// The promotion run's stages; the command goes before stage `at` (`STAGES`: after the last).
pub const STAGES: usize = 4;

/// The promotion 10 → 25 % with `action` taken before its stage `at`: the problems found after
/// recovery (none: the operator's command took effect or was refused, and the canary is sound).
pub async fn race(action: Action, at: usize) -> Vec<String> {
    let env = &alb_canary_tests::controller_env::Env::start().await;
    let world = explore::setup(env, Phase::FirstStepBaked, explore::t0()).await;
    let World {
        clients,
        canary,
        now,
        ..
    } = &world;
    let config = &canary.config;
    let ops = explore::operator(clients, canary);
    let mut command = None;
    let mut decided = None;
    let mut recorded: Option<Result<Outcome, controller::Error>> = None;
    for stage in 0..=STAGES {
        if stage == at {
            command = Some(control::apply(&ops, action, *now).await);
        }
        if stage == 0 {
            match promotion::prepare(clients, config, *now).await {
                Ok(Prepared::Decided(d)) => decided = Some(d),
                Ok(Prepared::Idle(_)) => {}
                Err(err) => return vec![format!("the run's read failed: {err}")],
            }
            continue;
        }
        let Some(d) = &decided else { continue };
        match stage {
            1 => {
                if let Err(err) = promotion::write(clients, config, d).await {
                    return vec![format!("the run's listener write failed: {err}")];
                }
            }
            2 => recorded = Some(promotion::record(clients, config, d).await),
            3 => {
                if let Some(r) = recorded.take() {
                    // A lost race is the run's error (a conflict); what matters is the world.
                    let _ = promotion::enforce(clients, config, d, r).await;
                }
            }
            _ => {}
        }
    }
    let mut problems = Vec::new();
    // Taken after the run's read, the command races a promotion; before it, the run sees it.
    if at > 0
        && !matches!(
            decided.as_ref().map(|d| &d.decision),
            Some(Decision::Promote { .. })
        )
    {
        problems.push(format!(
            "the run did not decide the promotion it was set up for: {:?}",
            decided.map(|d| d.decision)
        ));
    }
    // The operator runs a failed command again; a refused one stays refused.
    if let Some(Err(err)) = &command
        && !err.to_string().contains("refused")
    {
        command = Some(control::apply(&ops, action, now + 30).await);
    }
    if schedule::is_enabled(&clients.scheduler, config)
        .await
        .expect("schedule readable")
    {
        let _ = promotion::handle_promotion_at(
            clients,
            config,
            alb_canary_tests::controller_env::fixture("schedule-event.json"),
            now + 60,
        )
        .await;
    }
    let rec = state::read(&clients.dynamodb, config)
        .await
        .expect("state readable")
        .expect("state recorded");
    let weights = listener::read(&clients.elbv2, config)
        .await
        .expect("listener readable")
        .weights;
    let plan = &config.plan;
    let at_step = |step: usize| {
        plan.steps
            .get(step)
            .map_or(Weights::STABLE_ONLY, |p| Weights::for_percent(*p))
    };
    let drift = rec
        .canary
        .reason
        .as_deref()
        .is_some_and(|r| r.starts_with("drift"));
    let took = matches!(command, Some(Ok(_)));
    let status = rec.canary.status;
    if action == Action::Abort && (weights.canary != 0 || status != Status::RolledBack) {
        problems.push(format!(
            "aborted ({command:?}): the state is {} with the listener at {weights}",
            status.as_str()
        ));
    }
    if action == Action::Pause && took && status != Status::Paused {
        problems.push(format!("paused: the state is {}", status.as_str()));
    }
    if !took && action != Action::Abort {
        problems.push(format!("the command was not taken: {command:?}"));
    }
    let expected = match rec.canary.status {
        Status::Running | Status::Paused => at_step(rec.canary.step),
        Status::Complete => Weights::for_percent(100),
        _ => Weights::STABLE_ONLY,
    };
    if weights != expected && !drift {
        problems.push(format!(
            "state {} at step {} and listener {weights} disagree, and no drift is reported",
            rec.canary.status.as_str(),
            rec.canary.step
        ));
    }
    problems
}
