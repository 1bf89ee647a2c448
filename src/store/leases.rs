//! The dispatcher's leases on outbox rows: renewed while a send is in flight, given back when
//! a claimed row will not be sent, freed after a claim whose answer was lost; and the next due
//! time to wake for.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// Extends the lease of rows `worker` still holds to `until` (a send still in flight).
pub async fn extend_lease(
    pool: &PgPool,
    worker: Uuid,
    ids: &[i64],
    until: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "update outbox set lease_until = greatest(lease_until, $3)
         where id = any($2) and lease_owner = $1 and status = 'pending'",
    )
    .bind(worker)
    .bind(ids)
    .bind(until)
    .execute(pool)
    .await?
    .rows_affected())
}

/// Frees `worker`'s leases on pending rows other than `held` (rows a claim leased to it while
/// its answer was lost, which it will never send). Returns how many were freed.
pub async fn free_leases(pool: &PgPool, worker: Uuid, held: &[i64]) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "update outbox set lease_owner = null, lease_until = null
         where lease_owner = $1 and status = 'pending' and id <> all($2)",
    )
    .bind(worker)
    .bind(held)
    .execute(pool)
    .await?
    .rows_affected())
}

/// Frees `worker`'s leases on the pending rows `ids` (claimed, never sent). Returns how many.
pub async fn give_back(pool: &PgPool, worker: Uuid, ids: &[i64]) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "update outbox set lease_owner = null, lease_until = null
         where id = any($2) and lease_owner = $1 and status = 'pending'",
    )
    .bind(worker)
    .bind(ids)
    .execute(pool)
    .await?
    .rows_affected())
}

/// The earliest due time after `now` of a pending row (a retry's backoff, a rate limit's
/// deferral), for the dispatcher to wake at; `None` when no row waits for a time.
pub async fn next_due_after(
    pool: &PgPool,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar("select min(due_at) from outbox where status = 'pending' and due_at > $1")
        .bind(now)
        .fetch_one(pool)
        .await
}
