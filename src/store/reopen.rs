//! What a reopen within the window writes besides its plan: kept out of the single statement
//! every webhook runs (`ingest::apply_plan`), since reopens are rare.

use chrono::{DateTime, Utc};

/// What a reopen within the window adds, in the same transaction as its plan: the pages its
/// resolution cancelled are sent after all (unless it was acknowledged), the Slack messages and
/// webhooks that showed it hear of the reopen (PagerDuty where it heard of the resolution), and
/// webhooks hear of flapping. Kept out of `apply_plan`'s statement, which runs for every webhook.
pub async fn apply_resume(
    tx: &mut sqlx::PgConnection,
    incident: uuid::Uuid,
    reopen: &crate::core::ingest::Reopen,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "with reinstated as (
            update outbox o set status = 'pending', last_error = null
            from incidents i
            where i.id = $1 and o.incident_id = $1
                and o.status = 'cancelled' and o.last_error = 'cancelled: resolved'
                and o.payload->>'kind' = 'page' and i.acknowledged_at is null
                and (o.payload->>'generation')::int = i.chain_generation
        ), reopened_notices as (
            insert into outbox (incident_id, dedup_key, channel, recipient, payload, created_at, due_at)
            select distinct on (o.channel, o.recipient) $1,
                o.incident_id || ':reopened:' || $2::text || ':' || o.recipient || ':' || o.channel,
                o.channel, o.recipient,
                jsonb_build_object('kind', 'reopened', 'incident_id', $1::text,
                    'recipient', o.recipient, 'channel', o.channel,
                    'detail', jsonb_build_object('count', $3::int, 'window_minutes', $4::int,
                        'flapping', $5::bool)),
                $2, $2
            from outbox o
            where o.incident_id = $1
                and ((o.channel in ('slack', 'webhook') and o.payload->>'kind' = 'page'
                        and o.status = 'sent')
                    -- A resolution still queued goes first (order per destination).
                    or (o.channel = 'pagerduty' and o.payload->>'kind' = 'resolved'
                        and o.status in ('sent', 'pending')))
            on conflict (dedup_key) do nothing
            returning channel, recipient
        ), flapping_notices as (
            -- Reads the reopen notices, so their rows are written first (order per destination).
            insert into outbox (incident_id, dedup_key, channel, recipient, payload, created_at, due_at)
            select $1, $1 || ':flapping:' || $2::text || ':' || r.recipient || ':webhook',
                'webhook', r.recipient,
                jsonb_build_object('kind', 'flapping', 'incident_id', $1::text,
                    'recipient', r.recipient, 'channel', 'webhook',
                    'detail', jsonb_build_object('count', $3::int, 'window_minutes', $4::int)),
                $2, $2
            from reopened_notices r
            where r.channel = 'webhook' and $5
            on conflict (dedup_key) do nothing
        )
        select pg_notify($6, '')",
    )
    .bind(incident)
    .bind(now)
    .bind(reopen.times.len() as i32)
    .bind(reopen.within.num_minutes() as i32)
    .bind(reopen.starts_flapping)
    .bind(super::outbox::OUTBOX_CHANNEL)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
