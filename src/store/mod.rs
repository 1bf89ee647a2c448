//! All SQL. Functions are named after what they do; nothing here knows about HTTP.

pub mod actions;
pub mod backup;
mod chain;
pub mod destinations;
mod enqueue;
pub mod escalation;
pub mod fired;
pub mod heartbeats;
pub mod hosts;
mod ingest;
pub mod leases;
pub mod monthly;
mod named;
pub mod outbox;
mod plan_batch;
mod plan_write;
pub mod read;
mod reopen;
pub mod replays;
pub mod reports;
pub mod retention;
pub mod statistics;
mod stats;
pub mod webhooks;
pub mod windows;

use secrecy::ExposeSecret;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

pub use self::enqueue::{enqueue, notify, shown};
pub use self::ingest::{WriteOutcome, load_group, opened_at};
pub use self::plan_batch::write_plans;
pub use self::plan_write::{EscalationWrite, GroupRef, PlanRow, apply_plan};
pub use self::reopen::apply_resume;
pub use self::stats::{open_incidents_by_severity, outbox_depth};
use crate::config::DatabaseSettings;

/// The migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A lazily connecting pool: the service starts (and answers 503) while Postgres is down. A URL
/// with several hosts or a `target_session_attrs` gets a pool that follows the host that suits
/// ([`hosts`]); its follower runs on the current Tokio runtime.
pub fn pool(settings: &DatabaseSettings) -> Result<PgPool, sqlx::Error> {
    let parsed = hosts::parse(settings.url.expose_secret())
        .map_err(|e| sqlx::Error::Configuration(e.into()))?;
    let each: Vec<PgConnectOptions> = parsed
        .each
        .iter()
        .map(|o| {
            o.clone()
                .application_name("alertrouter")
                .options([
                    (
                        "statement_timeout",
                        settings.statement_timeout.as_millis().to_string(),
                    ),
                    // Every statement here is short or an aggregate over indexed rows; compiling
                    // them (Postgres' JIT, on by default) cost half a second of a one-second
                    // statistics query.
                    ("jit", "off".to_string()),
                ])
                .log_statements(tracing::log::LevelFilter::Trace)
        })
        .collect();
    let options = PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(settings.acquire_timeout)
        // A broken connection fails its query and the webhook is answered 503 and retried by
        // Alertmanager; pinging before every use would cost a round trip on the hot path.
        .test_before_acquire(false);
    if parsed.plain() {
        return Ok(options.connect_lazy_with(each[0].clone()));
    }
    let target = parsed.target;
    let moved = std::sync::Arc::new(hosts::Moved::default());
    let pool = options
        .before_acquire({
            let moved = moved.clone();
            move |_, meta| {
                // Opened on a host the pool has since left: closed, another taken.
                let keep = !moved.stale(meta.age);
                Box::pin(async move { Ok(keep) })
            }
        })
        .after_connect(move |conn, _| {
            Box::pin(async move {
                match hosts::suits(conn, target).await? {
                    true => Ok(()),
                    false => Err(hosts::unsuited(target)),
                }
            })
        })
        .connect_lazy_with(each[0].clone());
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(hosts::follow(
            pool.clone(),
            each,
            parsed.names,
            target,
            moved,
        ));
    }
    Ok(pool)
}

/// Applies pending migrations. sqlx holds a Postgres advisory lock while it migrates, so replicas
/// starting together apply each migration once. Migrations a newer release applied are left
/// alone: they only add (expand, then contract a release later), so this binary runs on that
/// schema, and a replica restarted mid-upgrade or rolled back starts.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.set_ignore_missing(true);
    migrator.run(pool).await
}

/// Whether the database answers and every embedded migration has been applied.
pub async fn ready(pool: &PgPool) -> Result<(), String> {
    let applied: Vec<i64> =
        sqlx::query_scalar("select version from _sqlx_migrations where success order by version")
            .fetch_all(pool)
            .await
            .map_err(|e| format!("database: {e}"))?;
    let missing: Vec<i64> = MIGRATOR
        .iter()
        .map(|m| m.version)
        .filter(|v| !applied.contains(v))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("migrations not applied: {missing:?}"))
    }
}

/// Whether an error says Postgres could not be reached, is going away or cannot write for now (a
/// connection error, a pool timeout, a shutdown, too many connections, a read-only server such as
/// a standby before its promotion), so the same statement may well succeed once it is back; not
/// a refusal of the statement itself.
pub fn unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| {
            // 08: connection exception; 57P01-03: shutting down / cannot connect now; 53:
            // insufficient resources (too many connections, out of memory, disk full).
            // 25006: read-only transaction.
            c.starts_with("08") || c.starts_with("57P0") || c.starts_with("53") || c == "25006"
        }),
        _ => false,
    }
}
