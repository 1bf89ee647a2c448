//! Callbacks already handled: a signed request seen once is refused the second time, on every
//! replica. Where the callback acts on an incident, it is recorded by [`Once`] in the action's
//! own transaction, so a failure rolls both back and the provider's retry still gets through.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// Records `key` of `source` until `expires_at`; `false` when it was already recorded and has
/// not expired at `now` (a replay).
pub async fn first_time(
    pool: &PgPool,
    source: &str,
    key: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    claim_key(pool, source, key, now, expires_at).await
}

async fn claim_key<'c, E: sqlx::PgExecutor<'c>>(
    executor: E,
    source: &str,
    key: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "insert into seen_callbacks (source, key, expires_at) values ($1, $2, $3)
         on conflict (source, key) do update set expires_at = excluded.expires_at
             where seen_callbacks.expires_at < $4
         returning 1",
    )
    .bind(source)
    .bind(key)
    .bind(expires_at)
    .bind(now)
    .fetch_optional(executor)
    .await?;
    Ok(inserted.is_some())
}

/// When the last opening or reopening of an incident happened (by the server's clock).
pub async fn last_opened(
    pool: &PgPool,
    incident: uuid::Uuid,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "select max(received_at) from incident_events
         where incident_id = $1 and kind in ('opened', 'reopened')",
    )
    .bind(incident)
    .fetch_one(pool)
    .await
}

/// Deletes what has expired at `now`.
pub async fn prune(pool: &PgPool, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("delete from seen_callbacks where expires_at < $1")
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}

/// What makes an action happen at most once: an e-mail link spent, or a provider's callback id
/// recorded, in the same transaction as the action.
#[derive(Debug, Clone)]
pub enum Once {
    Link(crate::links::Link),
    Callback {
        source: &'static str,
        key: String,
        expires_at: DateTime<Utc>,
    },
}

impl Once {
    /// Claims it in `tx`; `false` when it was claimed before.
    pub async fn claim(
        &self,
        tx: &mut sqlx::PgConnection,
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        match self {
            Once::Link(link) => {
                let done = sqlx::query(
                    "insert into action_links (nonce, incident_id, action, recipient, expires_at, used_at)
                     values ($1, $2, 'ack', $3, to_timestamp($4), $5) on conflict (nonce) do nothing",
                )
                .bind(&link.nonce)
                .bind(link.incident)
                .bind(&link.recipient)
                .bind(link.expires as f64)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                Ok(done.rows_affected() == 1)
            }
            Once::Callback {
                source,
                key,
                expires_at,
            } => claim_key(&mut *tx, source, key, now, *expires_at).await,
        }
    }
}
