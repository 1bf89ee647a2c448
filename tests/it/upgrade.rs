//! Rolling upgrades: the previous release (tests/upgrade/previous-release, built by
//! scripts/previous-release.sh) and this one serve side by side against one database, and the
//! SQL the previous release runs (tests/upgrade/schema-16.sql, captured from it by
//! scripts/capture-release-sql.sh) still prepares on this release's schema.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::db::empty_database;
use crate::support::{alert, grouped};

const TOKEN: &str = "upgrade-test-token";
const SECRET: &str = "upgrade-test-hs256-secret-of-32-bytes!";

/// `commit` and `schema` of tests/upgrade/previous-release.
fn previous_release() -> (String, i64) {
    let text = include_str!("../upgrade/previous-release");
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name}= in tests/upgrade/previous-release"))
            .to_string()
    };
    (field("commit"), field("schema").parse().unwrap())
}

fn previous_bin() -> PathBuf {
    let bin = std::env::var("ALERTROUTER_PREVIOUS_BIN").unwrap_or_else(|_| {
        panic!(
            "ALERTROUTER_PREVIOUS_BIN is not set: run the suite with scripts/test.sh, which \
             builds the previous release with scripts/previous-release.sh"
        )
    });
    PathBuf::from(bin)
}

/// The shipped config (log channel, shipped routes and policies) with its secrets written.
fn config_dir() -> PathBuf {
    let config = crate::binary::shipped_config();
    let dir = config.parent().unwrap().to_path_buf();
    std::fs::create_dir_all(dir.join(".data")).unwrap();
    std::fs::write(dir.join(".data/alertmanager-token"), TOKEN).unwrap();
    std::fs::write(dir.join(".data/api-secret"), SECRET).unwrap();
    dir
}

/// One `alertrouter serve` process; killed when dropped.
struct Replica {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Replica {
    /// Starts `bin` on `url` and waits (bounded) until it is ready.
    async fn start(bin: &Path, dir: &Path, url: &str) -> Replica {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(bin)
            .args(["serve", "--config", "alertrouter.yaml"])
            .current_dir(dir)
            .env("DATABASE_URL", url)
            .env("ALERTROUTER_LISTEN", format!("127.0.0.1:{port}"))
            .env("ALERTROUTER_LOG_LEVEL", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let replica = Replica {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        // An external process: poll until it is ready, bounded.
        for _ in 0..400 {
            if replica.readyz().await.0 == 200 {
                return replica;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("{} did not become ready", bin.display());
    }

    async fn readyz(&self) -> (u16, Value) {
        match self.http.get(format!("{}/readyz", self.base)).send().await {
            Ok(r) => (r.status().as_u16(), r.json().await.unwrap_or(Value::Null)),
            Err(_) => (0, Value::Null),
        }
    }

    async fn post(&self, body: String) -> u16 {
        let response = self
            .http
            .post(format!("{}/hooks/alertmanager", self.base))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        response.status().as_u16()
    }

    async fn act(&self, incident: &str, action: Value) -> (u16, Value) {
        let now = chrono::Utc::now().timestamp();
        let token = crate::support::server::mint(SECRET, "bob", "sre", &[], now);
        let response = self
            .http
            .post(format!("{}/api/v1/incidents/{incident}/actions", self.base))
            .bearer_auth(token)
            .json(&action)
            .send()
            .await
            .unwrap();
        crate::support::server::read(response).await
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (bounded) until `sql` answers true: the replicas work on their own clocks.
async fn until(pool: &PgPool, sql: &str) {
    for _ in 0..400 {
        if sqlx::query_scalar::<_, bool>(sql)
            .fetch_one(pool)
            .await
            .unwrap()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for: {sql}");
}

#[tokio::test]
async fn the_previous_release_and_this_one_serve_side_by_side() {
    let (commit, schema) = previous_release();
    let (pool, url) = empty_database().await;
    let dir = config_dir();
    // The previous release runs first and migrates; this one joins and migrates further.
    let old = Replica::start(&previous_bin(), &dir, &url).await;
    let (_, ready) = old.readyz().await;
    assert_eq!(ready["schema"], schema, "{ready}");
    assert!(commit.starts_with(&ready["commit"].as_str().unwrap()[..7]));
    let new = Replica::start(Path::new(env!("CARGO_BIN_EXE_alertrouter")), &dir, &url).await;
    let (_, ready) = new.readyz().await;
    let newest: i64 = alertrouter::build_info::SCHEMA.parse().unwrap();
    assert_eq!(ready["schema"], newest);
    assert!(newest > schema, "bump tests/upgrade/previous-release");
    let (status, ready) = old.readyz().await;
    assert_eq!(
        status, 200,
        "the previous release on the new schema: {ready}"
    );

    // Alertmanager HA: every group is sent to both replicas; two groups only to one each.
    for (i, senders) in [&[&old, &new][..], &[&new, &old], &[&old], &[&new]]
        .iter()
        .enumerate()
    {
        let mut firing = alert(
            &format!("web-{i}"),
            "critical",
            "firing",
            "2026-11-25T18:50:00Z",
            None,
        );
        firing["labels"]["service"] = json!(format!("svc-{i}"));
        let body = grouped(&format!("{{}}:{{service=\"svc-{i}\"}}"), vec![firing]);
        for replica in senders.iter() {
            assert_eq!(replica.post(body.clone()).await, 200, "group {i}");
        }
    }
    // Four incidents, each paged once on every channel of its first step, whichever release
    // fired it and whichever delivered it.
    until(&pool, "select count(*) = 4 from incidents").await;
    until(
        &pool,
        "select count(distinct incident_id) = 4 and bool_and(status in ('sent', 'bundled')) from outbox",
    )
    .await;
    let (rows, distinct): (i64, i64) = sqlx::query_as(
        "select count(*), count(distinct (incident_id, channel, recipient)) from outbox",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(rows, distinct, "a page was written twice");

    // Each release acts on what the other opened.
    let (status, body) = old.act("INC-4", json!({"action": "ack"})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = new.act("INC-3", json!({"action": "ack"})).await;
    assert_eq!(status, 200, "{body}");
    let acked: i64 =
        sqlx::query_scalar("select count(*) from incidents where acknowledged_by = 'bob'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(acked, 2);
    drop((old, new));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn this_release_starts_on_a_schema_a_newer_release_migrated() {
    let (pool, _) = empty_database().await;
    alertrouter::store::migrate(&pool).await.unwrap();
    // A migration this binary does not know, as the next release would leave it.
    sqlx::query(
        "insert into _sqlx_migrations (version, description, success, checksum, execution_time)
         values (99990101000000, 'a later release', true, '\\x00', 1)",
    )
    .execute(&pool)
    .await
    .unwrap();
    alertrouter::store::migrate(&pool).await.unwrap();
    alertrouter::store::ready(&pool).await.unwrap();
}

#[tokio::test]
async fn the_previous_releases_sql_prepares_on_this_schema() {
    let (_, schema) = previous_release();
    let (pool, _) = empty_database().await;
    alertrouter::store::migrate(&pool).await.unwrap();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/upgrade/schema-16.sql"
    ))
    .unwrap();
    assert!(
        text.lines()
            .next()
            .unwrap()
            .contains(&format!("schema {schema})")),
        "schema-16.sql is not the previous release's capture"
    );
    let mut conn = pool.acquire().await.unwrap();
    let mut prepared = 0;
    let mut failed = Vec::new();
    for chunk in text.split("\n;;\n") {
        let Some(at) = chunk.find("-- params:") else {
            continue; // the header
        };
        let (params, statement) = chunk[at + "-- params:".len()..].split_once('\n').unwrap();
        let params = params.trim();
        let types = if params.is_empty() {
            String::new()
        } else {
            format!("({params})")
        };
        // The types its client declared, so the statement is checked as the release ran it.
        let sql = format!("prepare previous_{prepared}{types} as {statement}");
        if let Err(e) = sqlx::raw_sql(&sql).execute(&mut *conn).await {
            failed.push(format!("{e}\n{statement}"));
        }
        prepared += 1;
    }
    assert!(prepared >= 40, "only {prepared} statements in the capture");
    assert!(
        failed.is_empty(),
        "the previous release's SQL no longer runs:\n{}",
        failed.join("\n\n")
    );
}
