//! A fresh, migrated database per test, cloned from a template built once per test run.

use sqlx::{Connection, Executor, PgConnection, PgPool};

/// The admin URL of the throwaway cluster `scripts/test.sh` starts.
pub fn admin_url() -> String {
    std::env::var("ALERTROUTER_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "ALERTROUTER_TEST_DATABASE_URL is not set: run the suite with scripts/test.sh, \
             which starts a throwaway Postgres"
        )
    })
}

fn with_db(url: &str, db: &str) -> String {
    let base = url.rsplit_once('/').map_or(url, |(b, _)| b);
    format!("{base}/{db}")
}

/// Drops the databases of tests that started more than an hour ago (their name's UUIDv7 says
/// when): no test runs that long, and without this a developer's Postgres grows by one
/// database per test run until the disk is full.
async fn drop_stale(conn: &mut PgConnection) {
    let names: Vec<String> =
        sqlx::query_scalar("select datname from pg_database where datname like 'test\\_%'")
            .fetch_all(&mut *conn)
            .await
            .unwrap_or_default();
    let hour_ago = chrono::Utc::now().timestamp_millis() - 3_600_000;
    for name in names {
        let started = name
            .strip_prefix("test_")
            .and_then(|id| uuid::Uuid::parse_str(id).ok())
            .and_then(|id| id.get_timestamp())
            .map(|ts| {
                let (secs, nanos) = ts.to_unix();
                secs as i64 * 1000 + i64::from(nanos / 1_000_000)
            });
        if started.is_some_and(|ms| ms < hour_ago) {
            let _ = conn
                .execute(format!("drop database if exists {name} with (force)").as_str())
                .await;
        }
    }
}

/// A database of its own for one test.
pub struct TestDb {
    pub url: String,
    pub pool: PgPool,
}

impl TestDb {
    /// Creates `test_<uuid>` from the migrated template.
    pub async fn new() -> TestDb {
        let admin = admin_url();
        let template = template_name();
        let mut conn = PgConnection::connect(&admin)
            .await
            .expect("connect to test Postgres");
        // Serialize template creation across test processes.
        conn.execute("select pg_advisory_lock(727274)")
            .await
            .unwrap();
        let exists: bool =
            sqlx::query_scalar("select exists(select 1 from pg_database where datname = $1)")
                .bind(&template)
                .fetch_one(&mut conn)
                .await
                .unwrap();
        if !exists {
            let building = format!("{template}_building");
            conn.execute(format!("drop database if exists {building}").as_str())
                .await
                .unwrap();
            conn.execute(format!("create database {building}").as_str())
                .await
                .unwrap();
            let pool = PgPool::connect(&with_db(&admin, &building)).await.unwrap();
            alertrouter::store::migrate(&pool)
                .await
                .expect("migrations apply");
            pool.close().await;
            conn.execute(format!("alter database {building} rename to {template}").as_str())
                .await
                .unwrap();
        }
        drop_stale(&mut conn).await;
        conn.execute("select pg_advisory_unlock(727274)")
            .await
            .unwrap();
        let name = format!("test_{}", uuid::Uuid::now_v7().simple());
        conn.execute(format!("create database {name} template {template}").as_str())
            .await
            .unwrap();
        let url = with_db(&admin, &name);
        let pool = PgPool::connect(&url).await.unwrap();
        TestDb { url, pool }
    }

    /// Every row of the incident, notification and audit tables, as text, for "nothing changed" comparisons.
    pub async fn dump(&self) -> Vec<String> {
        let mut out = Vec::new();
        for table in [
            "incident_groups",
            "incidents",
            "alerts",
            "incident_events",
            "outbox",
            "audit_log",
            "action_links",
            "sms_opt_outs",
        ] {
            let rows: Vec<String> =
                sqlx::query_scalar(&format!("select t::text from {table} t order by 1"))
                    .fetch_all(&self.pool)
                    .await
                    .unwrap();
            out.extend(rows.into_iter().map(|r| format!("{table}: {r}")));
        }
        out
    }

    /// Counts rows of a table.
    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("select count(*) from {table}"))
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// The timeline of every incident, as `(incident number, kind, fingerprint)`, in order.
    pub async fn timeline(&self) -> Vec<(i64, String, Option<String>)> {
        sqlx::query_as(
            "select i.number, e.kind, e.fingerprint from incident_events e
             join incidents i on i.id = e.incident_id order by e.id",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }

    /// Every incident as `(number, status, severity)`.
    pub async fn incidents(&self) -> Vec<(i64, String, String)> {
        sqlx::query_as("select number, status, severity from incidents order by number")
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }
}

/// The template's name changes with the migrations, so an edited migration gets a new template.
fn template_name() -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for m in alertrouter::store::MIGRATOR.iter() {
        for b in m.checksum.iter() {
            h = (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    format!("alertrouter_tpl_{h:016x}")
}

/// A database nothing has migrated yet, as a new install or a restore meets it: its pool and
/// URL. Named as test databases are, so it is dropped with them once stale.
pub async fn empty_database() -> (PgPool, String) {
    let admin = admin_url();
    let mut conn = PgConnection::connect(&admin)
        .await
        .expect("connect to test Postgres");
    let name = format!("test_{}", uuid::Uuid::now_v7().simple());
    conn.execute(format!("create database {name}").as_str())
        .await
        .unwrap();
    let url = with_db(&admin, &name);
    (PgPool::connect(&url).await.unwrap(), url)
}
