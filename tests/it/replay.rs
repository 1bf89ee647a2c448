//! Same news, no noise: replays and HA duplicates change nothing after the first time.

use crate::support::payload::fixture_names;
use crate::support::{TestDb, TestServer, fixture, settings};

#[tokio::test]
async fn each_fixture_ten_times_leaves_the_rows_of_once() {
    let once = TestDb::new().await;
    let server = TestServer::start(settings(&once.url)).await;
    for name in fixture_names() {
        assert_eq!(server.post(fixture(&name)).await.0, 200);
    }
    let expected = once.dump().await;
    assert!(!expected.is_empty());

    let many = TestDb::new().await;
    let server = TestServer::start(settings(&many.url)).await;
    for name in fixture_names() {
        for i in 0..10 {
            let (status, body) = server.post(fixture(&name)).await;
            assert_eq!(status, 200, "{name} #{i}: {body}");
            if i > 0 {
                assert_eq!(body["status"], "unchanged", "{name} #{i}");
            }
        }
    }
    assert_eq!(normalize(many.dump().await), normalize(expected));
}

#[tokio::test]
async fn two_replicas_interleaved_and_concurrent_make_the_rows_of_one() {
    let once = TestDb::new().await;
    let server = TestServer::start(settings(&once.url)).await;
    for name in fixture_names() {
        server.post(fixture(&name)).await;
    }
    let expected = normalize(once.dump().await);

    // Two alertrouter replicas on one database, each receiving every message from each of two
    // Alertmanager replicas, all at once per message.
    let db = TestDb::new().await;
    let a = TestServer::start(settings(&db.url)).await;
    let b = TestServer::start(settings(&db.url)).await;
    for name in fixture_names() {
        let body = fixture(&name);
        let (r1, r2, r3, r4) = tokio::join!(
            a.post(body.clone()),
            b.post(body.clone()),
            b.post(body.clone()),
            a.post(body.clone()),
        );
        for (status, json) in [r1, r2, r3, r4] {
            assert_eq!(status, 200, "{name}: {json}");
        }
    }
    assert_eq!(normalize(db.dump().await), expected);
    let conflicts = a.get("/metrics").await.1 + &b.get("/metrics").await.1;
    assert!(
        conflicts.contains("alertrouter_ingest_conflicts_total"),
        "{conflicts}"
    );
}

/// Ids, numbers and generated UUIDs differ between runs; the facts must not.
fn normalize(rows: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = rows
        .into_iter()
        .map(|row| {
            let (table, tuple) = row.split_once(": ").unwrap();
            let fields = split_tuple(tuple);
            let keep: Vec<&str> = match table {
                // (id, integration, group_key, version, current_incident_id)
                "incident_groups" => vec![fields[1], fields[2]],
                // (id, number, group_id, integration, group_key, labels, status, severity, ...)
                "incidents" => fields[3..].to_vec(),
                // (id, group_id, incident_id, fingerprint, ...)
                "alerts" => fields[3..].to_vec(),
                // (id, incident_id, kind, ...)
                "incident_events" => fields[2..].to_vec(),
                other => panic!("{other}"),
            };
            format!("{table}: {}", keep.join("|"))
        })
        .collect();
    out.sort();
    out
}

/// Splits a row's text form `(a,"b,c",d)` into fields.
fn split_tuple(tuple: &str) -> Vec<&str> {
    let inner = &tuple[1..tuple.len() - 1];
    let mut fields = Vec::new();
    let (mut start, mut quoted, mut prev_backslash) = (0, false, false);
    for (i, c) in inner.char_indices() {
        match c {
            '"' if !prev_backslash => quoted = !quoted,
            ',' if !quoted => {
                fields.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        prev_backslash = c == '\\' && !prev_backslash;
    }
    fields.push(&inner[start..]);
    fields
}
