//! `pause`, `resume`, `skip-bake` and `abort`: operator actions on the recorded state, written the
//! way the functions respect it (conditional on the state's version, so a concurrent promotion
//! run and an operator cannot both win), each with its own history item.

use controller::history::{Command, Entry, OPERATOR, Operator, Position, Record, RolledBack};
use controller::machine::{self, Event};
use controller::{listener, rollback, state};

use crate::settings::{Options, Target};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// The promotion function holds until `resume`.
    Pause,
    /// Continue from the recorded step; the bake of that step starts again.
    Resume,
    /// Skip the rest of this step's bake: the next run may promote (if the canary is healthy).
    SkipBake,
    /// Immediate rollback of the release in progress: canary weight 0, recorded, schedule disabled,
    /// notified. Refused while idle with canary already at 0: there is nothing to abort.
    Abort,
}

impl Action {
    /// The command's word on the command line.
    fn name(self) -> &'static str {
        match self {
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::SkipBake => "skip-bake",
            Action::Abort => "abort",
        }
    }
}

pub async fn run(action: Action, options: &Options) -> crate::Result {
    let target = crate::settings::resolve(options).await?;
    println!("{}", apply(&target, action, controller::now_secs()).await?);
    Ok(())
}

/// Applies `action` at `now`; returns what was done, or an error saying why nothing was.
pub async fn apply(target: &Target, action: Action, now: i64) -> crate::Result<String> {
    let Target { clients, config } = target;
    let recorded = state::read(&clients.dynamodb, config).await?;
    if action == Action::Abort {
        let in_progress = recorded.as_ref().is_some_and(|r| r.in_progress());
        if !in_progress && listener::read(&clients.elbv2, config).await?.weights.canary == 0 {
            return Err(
                "cannot abort: no release is in progress and the canary has no traffic; nothing changed"
                    .into(),
            );
        }
        let reason = "aborted by an operator".to_owned();
        let before = rollback::write_stable(clients, config).await?;
        let aborted = RolledBack {
            reason: reason.clone(),
            release: recorded.and_then(|r| r.release.version),
            weights_before: Some(before),
            ..RolledBack::default()
        };
        let history = Record::new(OPERATOR, now, Entry::RolledBack(aborted));
        rollback::after_write(clients, config, &reason, now, &history).await?;
        return Ok(format!(
            "aborted: canary weight 0 (was {before}), rolled back, schedule disabled"
        ));
    }
    let current = recorded.ok_or(
        "no release is recorded yet: `cargo xtask release VERSION` starts one; nothing changed",
    )?;
    let (event, command) = match action {
        Action::Pause => (
            Event::Pause {
                reason: "paused by an operator".into(),
            },
            Command::Pause,
        ),
        Action::Resume => (Event::Resume, Command::Resume),
        Action::SkipBake => (Event::SkipBake, Command::SkipBake),
        Action::Abort => unreachable!("handled above"),
    };
    let status = current.canary.status;
    let next = machine::transition(&config.plan, &current, &event, now).map_err(|refused| {
        format!(
            "cannot {} a canary that is {} ({}); nothing changed",
            action.name(),
            refused.status,
            refused.why
        )
    })?;
    let command = Operator {
        command,
        release: current.release.version.clone(),
        state_before: Position {
            status,
            step: current.canary.step,
        },
        state_after: Position {
            status: next.canary.status,
            step: next.canary.step,
        },
    };
    let record = Record::new(OPERATOR, now, Entry::Operator(command));
    // The state and its history item: all or nothing, so a command that dies half-way and is
    // run again neither loses nor doubles the decision.
    state::Batch::new()
        .replace(config, Some(&current), &next, now)?
        .history(config, now * 1000, &record)?
        .commit(&clients.dynamodb, config)
        .await?;
    Ok(match action {
        Action::Pause => format!("paused at step {}", current.canary.step + 1),
        Action::Resume => format!(
            "resumed at step {}; its bake starts again",
            current.canary.step + 1
        ),
        _ => format!(
            "step {}'s bake skipped: the next promotion run may move on",
            current.canary.step + 1
        ),
    })
}
