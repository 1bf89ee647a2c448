//! Acting on an incident — ack, unack, resolve, escalate now, snooze, reassign, note — from any
//! source (the API, Slack, an SMS reply, an e-mail link, PagerDuty): one transaction that claims
//! the callback's [`Once`] if there is one, locks the incident, asks the core, writes its
//! decision and the audit row; then the metric and the log line.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::app::App;
use crate::core::actions::{Action, State, decide};
use crate::core::{Actor, IncidentRef, IncidentStatus};
use crate::store::actions as statements;
use crate::store::replays::Once;

/// A done action: the incident and its state after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Done {
    pub id: Uuid,
    pub number: i64,
    pub action: &'static str,
    pub after: State,
}

impl Done {
    /// The incident's short name, `INC-42`.
    pub fn incident(&self) -> String {
        format!("INC-{}", self.number)
    }
}

/// Why an action was not done.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("no such incident")]
    NotFound,
    /// Not possible in the incident's state (already acknowledged, resolved…); audited.
    #[error("INC-{number}: {reason}")]
    Refused { number: i64, reason: String },
    /// Its [`Once`] was claimed before: a spent link, a replayed callback. Nothing was done.
    #[error("already handled")]
    AlreadyHandled,
    /// Nothing was done, nothing claimed; a retry may succeed.
    #[error("the database failed")]
    Database(#[from] sqlx::Error),
}

/// Performs `action` on `incident` for `actor`; with `once`, only if that is claimed in the same
/// transaction (so a failure leaves it unclaimed for a retry).
pub async fn act(
    app: &App,
    actor: &Actor,
    incident: IncidentRef,
    action: &Action,
    once: Option<&Once>,
) -> Result<Done, ActionError> {
    let now = app.clock.now();
    let result = commit(app, actor, incident, action, once, now).await;
    let outcome = match &result {
        Ok(_) => "done",
        Err(ActionError::Refused { .. }) => "refused",
        Err(ActionError::NotFound) => "not_found",
        Err(ActionError::AlreadyHandled) => "replayed",
        Err(ActionError::Database(_)) => "failed",
    };
    app.metrics.action(actor.source, action.name(), outcome);
    match &result {
        Ok(done) => tracing::info!(incident = done.number, action = action.name(),
            actor = %actor.name, source = actor.source, "incident action"),
        Err(ActionError::Database(e)) => tracing::warn!(action = action.name(),
            source = actor.source, error = %crate::telemetry::chain(e),
            "incident action failed; nothing was done"),
        Err(e) => tracing::info!(action = action.name(), actor = %actor.name,
            source = actor.source, reason = %e, "incident action not done"),
    }
    result
}

async fn commit(
    app: &App,
    actor: &Actor,
    incident: IncidentRef,
    action: &Action,
    once: Option<&Once>,
    now: DateTime<Utc>,
) -> Result<Done, ActionError> {
    let live = app.live.get();
    let mut tx = app.pool.begin().await?;
    if let Some(once) = once
        && !once.claim(&mut tx, now).await?
    {
        return Err(ActionError::AlreadyHandled);
    }
    let Some(locked) = statements::lock(&mut tx, incident).await? else {
        return Err(ActionError::NotFound);
    };
    let (id, number) = (locked.id, locked.number);
    // On the action's own connection: who is on call for a reassign, overrides included.
    let policies = crate::store::windows::policies_in_force(&mut tx, &live.policies, now).await?;
    let detail = statements::action_detail(action);
    let decided = decide(
        &locked.before,
        action,
        &actor.name,
        locked.policy.as_ref(),
        &policies,
        now,
    );
    if let Ok(decision) = &decided {
        statements::apply(&mut tx, id, actor, decision, &detail, now).await?;
        if locked.before.status == IncidentStatus::Open
            && decision.after.status == IncidentStatus::Resolved
        {
            let delay = crate::core::escalation::delta(live.reports.delay);
            crate::store::reports::schedule(&mut tx, id, now + delay).await?;
        }
    }
    let (after, reason) = match &decided {
        Ok(d) => (Some(&d.after), ""),
        Err(refused) => (None, refused.0.as_str()),
    };
    statements::audit(
        &mut tx,
        actor,
        action,
        Some(id),
        &locked.before,
        after,
        reason,
        &detail,
        now,
    )
    .await?;
    tx.commit().await?;
    if let Ok(decision) = &decided {
        let (before, after) = (&locked.before, &decision.after);
        let since_open = (now - locked.opened_at).as_seconds_f64();
        if before.acknowledged_by.is_none() && after.acknowledged_by.is_some() {
            app.metrics
                .response
                .acknowledged(&locked.severity, since_open);
        }
        if before.status == IncidentStatus::Open && after.status == IncidentStatus::Resolved {
            app.metrics.response.resolved(&locked.severity, since_open);
        }
    }
    match decided {
        Ok(decision) => Ok(Done {
            id,
            number,
            action: action.name(),
            after: decision.after,
        }),
        Err(refused) => Err(ActionError::Refused {
            number,
            reason: refused.0,
        }),
    }
}
