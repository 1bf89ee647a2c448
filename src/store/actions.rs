//! The statements of an action (`service::actions` runs them in one transaction): lock the
//! incident, write what the core decided (state, timeline, cancelled pages, notices, new pages)
//! and the audit row.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::core::IncidentStatus;
use crate::core::actions::{Action, Decision, State};
use crate::core::escalation::PolicySnapshot;
use crate::core::notification::{Notice, OutboxRows, PageCause};
use crate::core::policy::EscalationPolicy;
use crate::core::{Actor, IncidentRef};

#[derive(sqlx::FromRow)]
struct LockedRow {
    id: Uuid,
    number: i64,
    severity: String,
    opened_at: DateTime<Utc>,
    status: String,
    acknowledged_by: Option<String>,
    snoozed_until: Option<DateTime<Utc>>,
    policy_snapshot: Option<Value>,
    #[sqlx(flatten)]
    chain: super::chain::ChainColumns,
}

/// The incident, locked for the rest of the transaction: racing actions queue here, so each
/// sees the state the previous one left.
pub struct Locked {
    pub id: Uuid,
    pub number: i64,
    pub severity: String,
    pub opened_at: DateTime<Utc>,
    pub before: State,
    /// The policy its chain runs by; `None` if it has none or the stored one is unusable.
    pub policy: Option<EscalationPolicy>,
}

/// Locks `incident`; `None` if there is no such incident.
pub async fn lock(
    tx: &mut sqlx::PgConnection,
    incident: IncidentRef,
) -> Result<Option<Locked>, sqlx::Error> {
    let (id, number, report) = incident.columns();
    let row: Option<LockedRow> = sqlx::query_as(
        "select id, number, severity, opened_at, status, acknowledged_by, snoozed_until,
                policy_snapshot,
                chain_generation, chain_origin, chain_repeat, chain_step, escalation_due_at
         from incidents where id = $1 or number = $2
            or id = (select incident_id from incident_reports where report_id = $3)
         for update",
    )
    .bind(id)
    .bind(number)
    .bind(report)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let status = IncidentStatus::from_db(&row.status)
        .ok_or_else(|| sqlx::Error::Protocol(format!("unexpected status {:?}", row.status)))?;
    let before = State {
        chain: row.chain.chain(),
        status,
        acknowledged_by: row.acknowledged_by,
        snoozed_until: row.snoozed_until,
    };
    let policy: Option<EscalationPolicy> = match row.policy_snapshot {
        None => None,
        Some(v) => match serde_json::from_value::<PolicySnapshot>(v)
            .map_err(|e| e.to_string())
            .and_then(|s| EscalationPolicy::try_from(&s))
        {
            Ok(p) => Some(p),
            Err(why) => {
                // Not silent: the timer worker falls back to the route's policy for the chain.
                tracing::error!(incident = row.number, reason = %why,
                    "the incident's stored policy is unusable; acting on it without one");
                None
            }
        },
    };
    Ok(Some(Locked {
        id: row.id,
        number: row.number,
        severity: row.severity,
        opened_at: row.opened_at,
        before,
        policy,
    }))
}

/// What the timeline and the audit log keep of an action besides its name.
pub fn action_detail(action: &Action) -> Value {
    match action {
        Action::Snooze { until } => json!({"until": until}),
        Action::Reassign { target } => json!({"to": target.to_string()}),
        Action::Note { text } => json!({"text": text}),
        _ => json!({}),
    }
}

/// Writes the decision: incident, timeline, cancelled pages, notices, new pages, wake-ups.
pub async fn apply(
    tx: &mut sqlx::PgConnection,
    id: Uuid,
    actor: &Actor,
    d: &Decision,
    detail: &Value,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let a = &d.after;
    let mut event = detail.clone();
    event["actor"] = json!(actor.name);
    event["source"] = json!(actor.source);
    let mut pages = OutboxRows::default();
    let cause = PageCause::Reassigned {
        at: now,
        by: &actor.name,
    };
    for page in &d.pages {
        pages.page(id, &cause, page);
    }
    super::named::named!(
        sqlx::query,
        "with changed as (
            update incidents set status = :status,
                resolved_at = case when :status = 'resolved' and status = 'open' then :now else resolved_at end,
                resolved_by = case when :status = 'resolved' and status = 'open' then :actor else resolved_by end,
                acknowledged_by = :acknowledged_by,
                acknowledged_at = case when :acknowledged_by is null then null else coalesce(acknowledged_at, :now) end,
                first_acknowledged_at = coalesce(first_acknowledged_at,
                    case when :acknowledged_by is not null then :now end),
                response_due_at = case when :acknowledged_by is null and :status = 'open' then response_due_at end,
                snoozed_until = :snoozed_until, chain_origin = :origin, escalation_due_at = :due_at,
                lease_owner = null, lease_until = null, updated_at = :now
            where id = :incident
        ), timeline as (
            insert into incident_events (incident_id, kind, occurred_at, received_at, integration, detail)
            values (:incident, :event, :now, :now, 'action', :detail)
        ), cancelled as (
            update outbox set status = 'cancelled'
            where incident_id = :incident and status = 'pending' and payload->>'kind' = 'page' and :cancel_pending
            returning id
        )
        select pg_notify(:wake_timers, '')",
        incident = id,
        status = a.status.as_str(),
        now = now,
        actor = &actor.name,
        acknowledged_by = &a.acknowledged_by,
        snoozed_until = a.snoozed_until,
        origin = a.chain.origin,
        due_at = a.chain.due_at,
        event = d.event,
        detail = &event,
        cancel_pending = d.cancel_pending,
        wake_timers = super::escalation::ESCALATION_CHANNEL,
    )
    .execute(&mut *tx)
    .await?;
    let notices: Vec<Notice> = d
        .notice
        .map(|kind| Notice {
            incident: id,
            kind,
            at: now,
            actor: Some((&actor.name, actor.source)),
            detail: event.clone(),
        })
        .into_iter()
        .collect();
    super::notify(tx, id, now, &notices, pages).await?;
    Ok(())
}

/// One audit row; `after` is `None` and `reason` says why when the action was refused.
#[allow(clippy::too_many_arguments)]
pub async fn audit(
    tx: &mut sqlx::PgConnection,
    actor: &Actor,
    action: &Action,
    incident: Option<Uuid>,
    before: &State,
    after: Option<&State>,
    reason: &str,
    detail: &Value,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    record_audit(
        &mut *tx,
        AuditEntry {
            actor: &actor.name,
            source: actor.source,
            action: action.name(),
            incident,
            before: serde_json::to_value(before).ok(),
            after: after.and_then(|a| serde_json::to_value(a).ok()),
            client_addr: actor.client_addr.as_deref(),
            refused: after.is_none().then_some(reason),
            detail: Some(detail.clone()),
        },
        now,
    )
    .await
}

/// One row of the audit log.
pub struct AuditEntry<'a> {
    pub actor: &'a str,
    pub source: &'a str,
    pub action: &'a str,
    pub incident: Option<Uuid>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub client_addr: Option<&'a str>,
    /// Why it was refused; `None` when it was done.
    pub refused: Option<&'a str>,
    pub detail: Option<Value>,
}

/// Writes an audit row (also for actions that are not about one incident: a dead letter
/// retried, a maintenance window opened).
pub async fn record_audit<'c, E: sqlx::PgExecutor<'c>>(
    db: E,
    e: AuditEntry<'_>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into audit_log (at, actor, source, action, incident_id, before, after, client_addr,
            result, reason, detail)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(now)
    .bind(e.actor)
    .bind(e.source)
    .bind(e.action)
    .bind(e.incident)
    .bind(e.before)
    .bind(e.after)
    .bind(e.client_addr)
    .bind(if e.refused.is_some() {
        "refused"
    } else {
        "done"
    })
    .bind(e.refused)
    .bind(e.detail)
    .execute(db)
    .await?;
    Ok(())
}

/// The incident number of an e-mail link's incident and whether the link was used; `None` if
/// the incident is gone.
pub async fn link_state(
    pool: &PgPool,
    incident: Uuid,
    nonce: &str,
) -> Result<Option<(i64, bool)>, sqlx::Error> {
    sqlx::query_as(
        "select number, exists (select 1 from action_links where nonce = $2)
         from incidents where id = $1",
    )
    .bind(incident)
    .bind(nonce)
    .fetch_optional(pool)
    .await
}
