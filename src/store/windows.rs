//! Maintenance windows and schedule overrides made through the API; the escalation worker adds
//! the ones in force to those from config.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::core::policy::{Override, Policies};
use crate::routing::matcher::parse_matchers;
use crate::routing::suppress::MaintenanceWindow;

/// The windows in force at `now` (those whose matchers no longer parse are skipped).
pub async fn active_windows(
    db: &mut sqlx::PgConnection,
    now: DateTime<Utc>,
) -> Result<Vec<MaintenanceWindow>, sqlx::Error> {
    let rows: Vec<(String, String, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "select name, matchers, starts_at, ends_at from maintenance_windows
         where starts_at <= $1 and ends_at > $1",
    )
    .bind(now)
    .fetch_all(&mut *db)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(
            |(name, matchers, start, end)| match parse_matchers(&matchers) {
                Ok(matchers) if !matchers.is_empty() => Some(MaintenanceWindow {
                    name,
                    start,
                    end,
                    matchers,
                }),
                // Stored by an earlier version whose parser was laxer: it holds nothing, loudly.
                Ok(_) | Err(_) => {
                    tracing::error!(window = %name, matchers = %matchers,
                    "maintenance window's matchers no longer parse; it suppresses nothing");
                    None
                }
            },
        )
        .collect())
}

/// `policies` with the API's schedule overrides in force around `now` added, if there are any.
pub async fn with_overrides(
    db: &mut sqlx::PgConnection,
    policies: &Policies,
    now: DateTime<Utc>,
) -> Result<Option<Policies>, sqlx::Error> {
    let rows: Vec<(String, String, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "select schedule, username, starts_at, ends_at from schedule_overrides
         where ends_at > $1 - interval '1 day' order by id",
    )
    .bind(now)
    .fetch_all(&mut *db)
    .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut out = policies.clone();
    for (schedule, user, start, end) in rows {
        if let Some(s) = out.schedules.get_mut(&schedule) {
            s.overrides.push(Override { user, start, end });
        }
    }
    Ok(Some(out))
}

/// Who is on call is decided from these: the configured schedules with the API's overrides
/// around `now` added. The timer worker, `GET /api/v1/oncall` and every action (reassign) use it.
pub async fn policies_in_force<'p>(
    db: &mut sqlx::PgConnection,
    policies: &'p Policies,
    now: DateTime<Utc>,
) -> Result<std::borrow::Cow<'p, Policies>, sqlx::Error> {
    Ok(match with_overrides(db, policies, now).await? {
        Some(changed) => std::borrow::Cow::Owned(changed),
        None => std::borrow::Cow::Borrowed(policies),
    })
}

/// Opens a window; returns its id.
pub async fn create_window(
    db: &mut sqlx::PgConnection,
    name: &str,
    matchers: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    by: &str,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "with w as (
            insert into maintenance_windows (name, matchers, starts_at, ends_at, created_by, created_at)
            values ($1, $2, $3, $4, $5, $6) returning id
        )
        select w.id from w, (select pg_notify($7, '')) n",
    )
    .bind(name)
    .bind(matchers)
    .bind(start)
    .bind(end)
    .bind(by)
    .bind(now)
    .bind(super::escalation::ESCALATION_CHANNEL)
    .fetch_one(db)
    .await
}

/// Ends a window now (if it has not ended); false if there is no such window.
pub async fn end_window(
    db: &mut sqlx::PgConnection,
    id: i64,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let ended: Vec<bool> = sqlx::query_scalar(
        "with ended as (
            update maintenance_windows set ends_at = greatest(starts_at + interval '1 microsecond', $2)
            where id = $1 and ends_at > $2 returning id
        ), recheck as (
            -- Held incidents are looked at again now rather than at the window's old end.
            update incidents set escalation_due_at = $2
            where escalation_held_since is not null and escalation_due_at > $2
              and exists (select 1 from ended)
        )
        select true from ended, (select pg_notify($3, '')) n",
    )
    .bind(id)
    .bind(now)
    .bind(super::escalation::ESCALATION_CHANNEL)
    .fetch_all(db)
    .await?;
    Ok(!ended.is_empty())
}

/// A maintenance window.
#[derive(Debug, sqlx::FromRow)]
pub struct WindowRow {
    pub id: i64,
    pub name: String,
    pub matchers: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub created_by: String,
}

/// Windows not yet ended, soonest first.
pub async fn list_windows(
    pool: &PgPool,
    now: DateTime<Utc>,
) -> Result<Vec<WindowRow>, sqlx::Error> {
    sqlx::query_as(
        "select id, name, matchers, starts_at, ends_at, created_by
         from maintenance_windows where ends_at > $1 order by starts_at, id",
    )
    .bind(now)
    .fetch_all(pool)
    .await
}

/// Adds an override; returns its id.
pub async fn create_override(
    db: &mut sqlx::PgConnection,
    schedule: &str,
    user: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    by: &str,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "insert into schedule_overrides (schedule, username, starts_at, ends_at, created_by, created_at)
         values ($1, $2, $3, $4, $5, $6) returning id",
    )
    .bind(schedule)
    .bind(user)
    .bind(start)
    .bind(end)
    .bind(by)
    .bind(now)
    .fetch_one(db)
    .await
}

/// A schedule override made through the API.
#[derive(Debug, sqlx::FromRow)]
pub struct OverrideRow {
    pub id: i64,
    pub schedule: String,
    pub username: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub created_by: String,
}

/// Overrides not yet ended.
pub async fn list_overrides(
    pool: &PgPool,
    now: DateTime<Utc>,
) -> Result<Vec<OverrideRow>, sqlx::Error> {
    sqlx::query_as(
        "select id, schedule, username, starts_at, ends_at, created_by
         from schedule_overrides where ends_at > $1 order by starts_at, id",
    )
    .bind(now)
    .fetch_all(pool)
    .await
}
