//! Deleting what is past its retention, a batch at a time: each batch is its own short
//! statement that skips rows other workers hold.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// What a batch deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// Audit rows older than the cutoff.
    Audit,
    /// Notifications finished (sent, dead, cancelled, bundled) and created before the cutoff.
    Notifications,
}

/// Deletes up to `batch` rows of `what` older than `cutoff`; returns how many.
pub async fn delete_expired(
    pool: &PgPool,
    what: Expired,
    cutoff: DateTime<Utc>,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let sql = match what {
        Expired::Audit => {
            "delete from audit_log where id in (
                select id from audit_log where at < $1 order by id limit $2 for update skip locked)"
        }
        Expired::Notifications => {
            "delete from outbox where id in (
                select id from outbox where status <> 'pending' and created_at < $1
                limit $2 for update skip locked)"
        }
    };
    Ok(sqlx::query(sql)
        .bind(cutoff)
        .bind(batch)
        .execute(pool)
        .await?
        .rows_affected())
}
