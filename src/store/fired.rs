//! Committing what the timer worker decided for a batch of claimed incidents: every incident's
//! fired steps (outbox rows and timeline events) and moved chain in one statement.

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::core::escalation::{Chain, FiredStep};
use crate::core::notification::{Notice, NoticeKind, OutboxRows, PageCause};

/// One incident's chain after a tick: where it moved, the steps that fired on the way, and
/// whether it left a hold.
#[derive(Debug, Clone)]
pub struct Moved {
    pub id: Uuid,
    pub chain: Chain,
    pub fired: Vec<FiredStep>,
    pub unheld: bool,
}

impl Moved {
    /// Fired a step after the first (news for the places already showing the incident).
    fn escalated(&self) -> Option<&FiredStep> {
        self.fired.iter().rfind(|f| f.step > 0 || f.repeat > 0)
    }
}

/// Writes the fired steps' outbox rows and timeline events, moves the chains, and releases the
/// leases, for every incident of `moved` in one statement. Rows already written (same incident,
/// generation, loop, step, recipient, channel) are not written again. Returns how many outbox
/// rows were new.
pub async fn record_fired_steps(
    tx: &mut sqlx::PgConnection,
    moved: &[Moved],
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    if moved.is_empty() {
        return Ok(0);
    }
    let later: Vec<Uuid> = moved
        .iter()
        .filter(|m| m.escalated().is_some())
        .map(|m| m.id)
        .collect();
    let shown = super::enqueue::shown_each(tx, &later).await?;
    let mut o_incident = Vec::new();
    let mut rows = OutboxRows::default();
    let (mut e_incident, mut kinds, mut details) = (Vec::new(), Vec::new(), Vec::new());
    for m in moved {
        let mut pages = OutboxRows::default();
        if m.unheld {
            e_incident.push(m.id);
            kinds.push("unsuppressed");
            details.push(json!({"generation": m.chain.generation}).to_string());
        }
        for f in &m.fired {
            let cause = PageCause::Step {
                generation: f.generation,
                repeat: f.repeat,
                step: f.step,
                due_at: f.due_at,
            };
            let mut paged = Vec::new();
            for page in &f.pages {
                paged.push(page.recipient.to_string());
                pages.page(m.id, &cause, page);
            }
            e_incident.push(m.id);
            kinds.push("escalated");
            details.push(
                json!({"generation": f.generation, "loop": f.repeat, "step": f.step,
                "due_at": f.due_at, "paged": paged})
                .to_string(),
            );
        }
        if let Some(last) = m.escalated() {
            let notice = Notice {
                incident: m.id,
                kind: NoticeKind::Escalated,
                at: last.due_at,
                actor: None,
                detail: json!({"generation": last.generation, "loop": last.repeat, "step": last.step}),
            };
            pages.notice(&notice, shown.get(&m.id).map_or(&[][..], Vec::as_slice));
        }
        o_incident.extend(std::iter::repeat_n(m.id, pages.keys.len()));
        rows.keys.append(&mut pages.keys);
        rows.channels.append(&mut pages.channels);
        rows.recipients.append(&mut pages.recipients);
        rows.payloads.append(&mut pages.payloads);
    }
    let written: i64 = super::named::named!(
        sqlx::query_scalar,
        "with pages as (
            select enqueue_outbox_rows(:o_incident, :now, :keys, :channels, :recipients, :payloads, :wake_dispatchers) as written
        ), timeline as (
            insert into incident_events (incident_id, kind, occurred_at, received_at, integration, detail)
            select u.incident_id, u.kind, :now, :now, 'escalation', u.detail::jsonb
            from unnest(:e_incident::uuid[], :kinds::text[], :details::text[])
                with ordinality as u(incident_id, kind, detail, n)
            order by u.n
        ), moved as (
            update incidents i set chain_repeat = u.repeat, chain_step = u.step,
                escalation_due_at = u.due_at, chain_generation = u.generation,
                chain_origin = u.origin, escalation_held_since = null,
                lease_owner = null, lease_until = null, escalations = escalations + u.later,
                -- A step that fires ends an acknowledgement's timeout or a snooze.
                acknowledged_at = case when u.fired then null else acknowledged_at end,
                acknowledged_by = case when u.fired then null else acknowledged_by end,
                snoozed_until = case when u.fired then null else snoozed_until end
            from unnest(:m_id::uuid[], :m_repeat::int[], :m_step::int[], :m_due::timestamptz[],
                :m_generation::int[], :m_origin::timestamptz[], :m_fired::bool[], :m_later::int[])
                as u(id, repeat, step, due_at, generation, origin, fired, later)
            where i.id = u.id
        )
        select written from pages",
        o_incident = &o_incident,
        now = now,
        keys = &rows.keys,
        channels = &rows.channels,
        recipients = &rows.recipients,
        payloads = &rows.payloads,
        wake_dispatchers = super::outbox::OUTBOX_CHANNEL,
        e_incident = &e_incident,
        kinds = &kinds,
        details = &details,
        m_id = moved.iter().map(|m| m.id).collect::<Vec<_>>(),
        m_repeat = moved.iter().map(|m| m.chain.repeat as i32).collect::<Vec<_>>(),
        m_step = moved.iter().map(|m| m.chain.step as i32).collect::<Vec<_>>(),
        m_due = moved.iter().map(|m| m.chain.due_at).collect::<Vec<_>>(),
        m_generation = moved.iter().map(|m| m.chain.generation).collect::<Vec<_>>(),
        m_origin = moved.iter().map(|m| m.chain.origin).collect::<Vec<_>>(),
        m_fired = moved.iter().map(|m| !m.fired.is_empty()).collect::<Vec<_>>(),
        m_later = moved
            .iter()
            .map(|m| m.fired.iter().filter(|f| f.step > 0 || f.repeat > 0).count() as i32)
            .collect::<Vec<_>>(),
    )
    .fetch_one(&mut *tx)
    .await?;
    Ok(written as u64)
}
