//! What a reopen within the window writes besides its plan: kept out of the single statement
//! every webhook runs (`ingest::apply_plan`), since reopens are rare.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::core::notification::{Notice, NoticeKind};

/// What a reopen within the window adds, in the same transaction as its plan: the pages its
/// resolution cancelled are sent after all (unless it was acknowledged), and the places that
/// showed the incident hear of the reopen (webhooks of the flapping too), after what was sent
/// to them before.
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
            returning 1
        )
        select pg_notify($2, '') where exists (select 1 from reinstated)",
    )
    .bind(incident)
    .bind(super::outbox::OUTBOX_CHANNEL)
    .execute(&mut *tx)
    .await?;
    let (count, window) = (reopen.times.len(), reopen.within.num_minutes());
    let notice = |kind, detail| Notice {
        incident,
        kind,
        at: now,
        actor: None,
        detail,
    };
    let mut notices = vec![notice(
        NoticeKind::Reopened,
        json!({"count": count, "window_minutes": window, "flapping": reopen.starts_flapping}),
    )];
    if reopen.starts_flapping {
        notices.push(notice(
            NoticeKind::Flapping,
            json!({"count": count, "window_minutes": window}),
        ));
    }
    super::notify(tx, incident, now, &notices, Default::default()).await?;
    Ok(())
}
