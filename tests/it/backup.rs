//! `alertrouter export` / `import`: every table round-trips (an export of the restored database
//! is the same file), the restored system goes on where the old one stopped, and a bad file or
//! a database in use changes nothing.

use std::collections::BTreeSet;
use std::sync::Arc;

use alertrouter::backup::{export, import};
use alertrouter::config::ChannelSettings;
use alertrouter::metrics::Metrics;
use alertrouter::store::backup::TABLES;
use chrono::TimeDelta;
use serde_json::json;

use crate::escalation::{dispatcher_for, open_and_fire, start_with};
use crate::support::{TestDb, TestServer, alert, grouped, token, webhook};

/// A database with rows in every table, made by the service where it can be driven from here.
async fn busy(db: &TestDb) -> TestServer {
    let server = start_with(db, |_| {}).await;
    let metrics = Arc::new(Metrics::new());
    open_and_fire(&server, &metrics).await;
    let channels = ChannelSettings {
        log: ["slack", "sms", "pagerduty"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ..ChannelSettings::default()
    };
    dispatcher_for(&server, metrics.clone(), channels)
        .run_once()
        .await
        .unwrap();
    let sre = token(&server, "bob", "sre", &[]);
    let (status, body) = server.act(&sre, "INC-1", json!({"action": "ack"})).await;
    assert_eq!(status, 200, "{body}");
    let end = (server.clock_now() + TimeDelta::hours(1)).to_rfc3339();
    for (path, body) in [
        (
            "/api/v1/maintenance",
            json!({"name": "db upgrade", "matchers": "{service=\"db\"}", "for": "1h"}),
        ),
        (
            "/api/v1/schedule-overrides",
            json!({"schedule": "primary", "user": "carol", "end": end}),
        ),
    ] {
        let (status, answer) = server.api("POST", path, &sre, Some(body)).await;
        assert_eq!(status, 201, "{path}: {answer}");
    }
    // A second incident, resolved, with a report whose root cause was written by hand.
    let firing = alert("db-1", "warning", "firing", "2026-11-25T18:50:00Z", None);
    let mut resolved = alert(
        "db-1",
        "warning",
        "resolved",
        "2026-11-25T18:50:00Z",
        Some("2026-11-25T19:10:00Z"),
    );
    resolved["labels"]["service"] = json!("db");
    let mut firing = firing;
    firing["labels"]["service"] = json!("db");
    for alerts in [vec![firing], vec![resolved]] {
        let (status, body) = server.post(grouped("db", alerts)).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = server
        .api(
            "PUT",
            "/api/v1/incidents/INC-2/report",
            &sre,
            Some(json!({"root_cause": "A full disk."})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // What only the providers' callbacks and the heartbeat write.
    sqlx::raw_sql(
        "insert into slack_messages (incident_id, target, channel, ts)
            select id, 'C0SRE', 'C0SRE', '1700000000.000100' from incidents where number = 1;
         insert into action_links (nonce, incident_id, action, recipient, expires_at)
            select 'n-1', id, 'ack', 'alice@example.com', now() + interval '1 day'
            from incidents where number = 1;
         insert into sms_opt_outs (phone, at) values ('+15550100', now());
         insert into disabled_webhooks (name, url, disabled_at, reason)
            values ('chatops', 'https://hooks.example.com/x', now(), 'HTTP 410');
         insert into seen_callbacks (source, key, expires_at)
            values ('slack', 'sig-1', now() + interval '5 minutes');
         insert into heartbeats (integration, last_seen_at) values ('am', now());",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    for (table, _) in TABLES {
        assert!(
            db.count(table).await > 0,
            "{table} is empty: the test misses it"
        );
    }
    server
}

async fn export_of(db: &TestDb) -> Vec<String> {
    let mut out = Vec::new();
    export(&db.pool, &mut out, chrono::Utc::now())
        .await
        .unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn an_export_restores_whole_and_the_restored_system_goes_on() {
    let old = TestDb::new().await;
    let server = busy(&old).await;
    let lines = export_of(&old).await;
    let header: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(header["format"], "alertrouter-export");
    assert_eq!(
        header["schema"],
        alertrouter::build_info::SCHEMA.parse::<i64>().unwrap()
    );

    let new = TestDb::new().await;
    let file = lines.join("\n") + "\n";
    let summary = import(&new.pool, file.as_bytes()).await.unwrap();
    assert_eq!(summary.total() as usize, lines.len() - 2);
    assert!(summary.skipped_columns.is_empty());
    // Same rows, same values, same order: the restored database exports the same file.
    assert_eq!(export_of(&new).await[1..], lines[1..]);

    // A second import finds it in use and changes nothing.
    let error = import(&new.pool, file.as_bytes()).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("not empty (table incident_groups"),
        "{error}"
    );

    // The restored system: the same group is the same incident; a new one takes the next
    // number; identities go on past the imported ones.
    drop(server);
    let restored = start_with(&new, |_| {}).await;
    let (status, body) = restored
        .post(webhook(vec![alert(
            "web-1",
            "critical",
            "firing",
            "2026-11-25T18:58:00Z",
            None,
        )]))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(new.count("incidents").await, 2);
    let mut other = alert("web-9", "critical", "firing", "2026-11-25T19:20:00Z", None);
    other["labels"]["service"] = json!("web-9");
    assert_eq!(restored.post(grouped("web-9", vec![other])).await.0, 200);
    let numbers: Vec<i64> = sqlx::query_scalar("select number from incidents order by number")
        .fetch_all(&new.pool)
        .await
        .unwrap();
    assert_eq!(numbers, [1, 2, 3]);
    let sre = token(&restored, "bob", "sre", &[]);
    let (status, _) = restored
        .api(
            "POST",
            "/api/v1/maintenance",
            &sre,
            Some(json!({"name": "later", "matchers": "{service=\"x\"}", "for": "1h"})),
        )
        .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn a_truncated_or_foreign_file_is_refused_and_writes_nothing() {
    let old = TestDb::new().await;
    let _server = busy(&old).await;
    let lines = export_of(&old).await;
    let new = TestDb::new().await;
    let cases: Vec<(String, &str)> = vec![
        // Cut before its end line (a disk filled up, a copy stopped).
        (
            lines[..lines.len() - 1].join("\n"),
            "ends before its end line",
        ),
        // A row lost (the last heartbeat's).
        (
            [&lines[..lines.len() - 2], &lines[lines.len() - 1..]]
                .concat()
                .join("\n"),
            "the end line counts",
        ),
        (
            lines[0].replace("\"schema\":", "\"schema\":9") + "\n" + &lines[1..].join("\n"),
            "at least as new",
        ),
        (
            "{\"rows\": []}".into(),
            "line 1: not an alertrouter export header",
        ),
        (
            format!("{}\n{{\"table\":\"pg_authid\",\"row\":{{}}}}", lines[0]),
            "line 2: unknown table \"pg_authid\"",
        ),
        (
            format!("{}\n{}\n{}", lines[0], lines[lines.len() - 2], lines[1]),
            "out of order",
        ),
        (String::new(), "the file is empty"),
    ];
    for (file, wanted) in cases {
        let error = import(&new.pool, file.as_bytes()).await.unwrap_err();
        assert!(error.to_string().contains(wanted), "{wanted:?}: {error}");
        for (table, _) in TABLES {
            assert_eq!(new.count(table).await, 0, "{wanted:?} wrote into {table}");
        }
    }
}

#[tokio::test]
async fn every_table_is_exported_in_its_primary_key_order() {
    let db = TestDb::new().await;
    let tables: BTreeSet<String> = sqlx::query_scalar(
        "select table_name::text from information_schema.tables
         where table_schema = current_schema() and table_name <> '_sqlx_migrations'",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    let exported: BTreeSet<String> = TABLES.iter().map(|(t, _)| t.to_string()).collect();
    assert_eq!(
        exported, tables,
        "a table is missing from the export, or gone"
    );
    for (table, order) in TABLES {
        let key: String = sqlx::query_scalar(
            "select string_agg(a.attname, ', ' order by k.n) from pg_index i
             cross join unnest(i.indkey) with ordinality as k(attnum, n)
             join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
             where i.indrelid = $1::regclass and i.indisprimary",
        )
        .bind(table)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        // incidents are ordered by their number, as unique as their id and readable.
        if *table != "incidents" {
            assert_eq!(&key, order, "{table}");
        }
    }
}

/// Runs the binary with the shipped config on `url`; its exit status and output.
fn cli(url: &str, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_alertrouter"))
        .args(args)
        .arg("--config")
        .arg(crate::binary::shipped_config())
        .env("DATABASE_URL", url)
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

#[tokio::test]
async fn the_cli_exports_to_a_file_and_imports_into_a_database_it_migrates() {
    let old = TestDb::new().await;
    let _server = busy(&old).await;
    let dir = std::env::temp_dir().join(format!("backup-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("state.jsonl");
    let path = file.to_str().unwrap();
    let (ok, _, stderr) = cli(&old.url, &["export", "--output", path]);
    assert!(ok, "{stderr}");
    assert!(stderr.starts_with("exported "), "{stderr}");
    assert!(!dir.join("state.jsonl.partial").exists());
    let (ok, stdout, _) = cli(&old.url, &["export"]);
    assert!(ok);
    assert_eq!(
        stdout.lines().count(),
        std::fs::read_to_string(&file).unwrap().lines().count()
    );

    // A database nothing has touched yet: import migrates it first.
    let (_, url) = crate::support::db::empty_database().await;
    let (ok, stdout, stderr) = cli(&url, &["import", path]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.starts_with("imported ") && stdout.contains("incidents 2"),
        "{stdout}"
    );
    let (ok, _, stderr) = cli(&url, &["import", path]);
    assert!(!ok);
    assert!(stderr.contains("not empty"), "{stderr}");
    let (ok, _, stderr) = cli(&url, &["import", "/nonexistent/state.jsonl"]);
    assert!(!ok);
    assert!(
        stderr.contains("/nonexistent/state.jsonl: No such file"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
