//! What is remembered about a destination besides its queue: the Slack message that shows an
//! incident there, a phone number's STOP, and what Twilio said of an SMS it was sent.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// Stores what Twilio said of the SMS with this SID; false if no such SMS was sent.
pub async fn record_receipt(
    pool: &PgPool,
    sid: &str,
    status: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update outbox set provider_status = $2, provider_status_at = $3
         where channel = 'sms' and provider_ref = $1 and provider_ref is not null",
    )
    .bind(sid)
    .bind(status)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Records that `phone` replied STOP (`stop`), or START again.
pub async fn set_opt_out(
    pool: &PgPool,
    phone: &str,
    stop: bool,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let sql = if stop {
        "insert into sms_opt_outs (phone, at) values ($1, $2) on conflict (phone) do nothing"
    } else {
        "delete from sms_opt_outs where phone = $1 and $2::timestamptz is not null"
    };
    sqlx::query(sql).bind(phone).bind(now).execute(pool).await?;
    Ok(())
}

/// Whether `phone` replied STOP.
pub async fn opted_out(pool: &PgPool, phone: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("select exists (select 1 from sms_opt_outs where phone = $1)")
        .bind(phone)
        .fetch_one(pool)
        .await
}

/// The Slack message already showing an incident at `target`, as (channel, ts).
pub async fn slack_message(
    pool: &PgPool,
    incident_id: Uuid,
    target: &str,
) -> Result<Option<(String, String)>, sqlx::Error> {
    sqlx::query_as("select channel, ts from slack_messages where incident_id = $1 and target = $2")
        .bind(incident_id)
        .bind(target)
        .fetch_optional(pool)
        .await
}

/// Remembers where the incident's Slack message is, so later changes edit it.
pub async fn remember_slack_message(
    pool: &PgPool,
    incident_id: Uuid,
    target: &str,
    channel: &str,
    ts: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into slack_messages (incident_id, target, channel, ts) values ($1, $2, $3, $4)
         on conflict (incident_id, target) do nothing",
    )
    .bind(incident_id)
    .bind(target)
    .bind(channel)
    .bind(ts)
    .execute(pool)
    .await?;
    Ok(())
}
