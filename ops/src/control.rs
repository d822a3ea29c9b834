//! `pause`, `resume`, `promote` and `abort`: operator actions on the recorded state, written the
//! way the functions respect it (conditional on the state's version, so a concurrent promotion
//! run and an operator cannot both win), each with its own history item.

use controller::machine::{self, Event};
use controller::{listener, rollback, state};
use serde_json::json;

use crate::settings::{Options, Target};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// The promotion function holds until `resume`.
    Pause,
    /// Continue from the recorded step; the bake of that step starts again.
    Resume,
    /// Skip the rest of this step's bake: the next run may promote (if V2 is healthy).
    Promote,
    /// Immediate rollback of the release in progress: V2 weight 0, recorded, schedule disabled,
    /// notified. Refused while idle with V2 already at 0: there is nothing to abort.
    Abort,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Promote => "promote",
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
        if !in_progress && listener::read(&clients.elbv2, config).await?.weights.v2 == 0 {
            return Err(
                "cannot abort: no release is in progress and V2 has no traffic; nothing changed"
                    .into(),
            );
        }
        let reason = "aborted by an operator".to_owned();
        let before = rollback::write_stable(clients, config).await?;
        let history = json!({
            "function": "canaryctl",
            "at": now,
            "release": recorded.and_then(|r| r.release.version),
            "decision": { "decision": "roll_back", "reason": reason },
            "weights_before": before,
        });
        rollback::after_write(clients, config, &reason, now, "canaryctl", &history).await?;
        return Ok(format!(
            "aborted: V2 weight 0 (was {before}), rolled back, schedule disabled"
        ));
    }
    let current = recorded.ok_or(
        "no release is recorded yet: `cargo xtask release VERSION` starts one; nothing changed",
    )?;
    let event = match action {
        Action::Pause => Event::Pause {
            reason: "paused by an operator".into(),
        },
        Action::Resume => Event::Resume,
        Action::Promote => Event::SkipBake,
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
    let record = json!({
        "function": "canaryctl",
        "at": now,
        "decision": { "decision": action.name() },
        "release": current.release.version,
        "state_before": { "status": status.as_str(), "step": current.canary.step },
        "state_after": { "status": next.canary.status.as_str(), "step": next.canary.step },
    });
    // The state and its history item: all or nothing, so a command that dies half-way and is
    // run again neither loses nor doubles the decision.
    state::Batch::new()
        .replace(config, Some(&current), &next, now)?
        .history(config, now * 1000, action.name(), &record)?
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
