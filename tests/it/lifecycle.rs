//! An incident's life: open, grow, partially and fully resolve, reopen, and a new incident after
//! the reopen window — driven by the injected clock.

use chrono::TimeDelta;

use crate::support::payload::webhook_truncated;
use crate::support::{TestDb, TestServer, alert, settings, webhook};

const S1: &str = "2026-11-25T18:50:00Z";
const S2: &str = "2026-11-25T19:03:00Z";
const S3: &str = "2026-11-25T19:20:00Z";

fn kinds(timeline: &[(i64, String, Option<String>)], from: usize) -> Vec<(i64, &str)> {
    timeline[from..]
        .iter()
        .map(|(n, k, _)| (*n, k.as_str()))
        .collect()
}

#[tokio::test]
async fn fire_resolve_reopen_and_open_anew() {
    let db = TestDb::new().await;
    let server = TestServer::start(settings(&db.url)).await;

    // Two alerts fire: one incident, at the highest severity.
    let fire = webhook(vec![
        alert("web-1", "critical", "firing", S1, None),
        alert("web-2", "warning", "firing", S1, None),
    ]);
    assert_eq!(server.post(fire.clone()).await.1["status"], "accepted");
    assert_eq!(
        db.incidents().await,
        vec![(1, "open".into(), "critical".into())]
    );
    let t = db.timeline().await;
    assert_eq!(
        kinds(&t, 0),
        vec![(1, "opened"), (1, "alert_fired"), (1, "alert_fired")]
    );

    // The critical one resolves: still open, severity falls to warning.
    server.clock.advance(TimeDelta::minutes(1));
    let partial = webhook(vec![
        alert(
            "web-1",
            "critical",
            "resolved",
            S1,
            Some("2026-11-25T19:00:30Z"),
        ),
        alert("web-2", "warning", "firing", S1, None),
    ]);
    assert_eq!(server.post(partial).await.1["status"], "accepted");
    assert_eq!(
        db.incidents().await,
        vec![(1, "open".into(), "warning".into())]
    );
    assert_eq!(
        kinds(&db.timeline().await, 3),
        vec![(1, "alert_resolved"), (1, "severity_changed")]
    );

    // A late duplicate of the first message changes nothing (web-1's occurrence has resolved).
    assert_eq!(server.post(fire).await.1["status"], "unchanged");

    // Everything resolves: the incident resolves.
    server.clock.advance(TimeDelta::minutes(1));
    let all_resolved = webhook(vec![alert(
        "web-2",
        "warning",
        "resolved",
        S1,
        Some("2026-11-25T19:01:30Z"),
    )]);
    assert_eq!(server.post(all_resolved).await.1["status"], "accepted");
    assert_eq!(
        db.incidents().await,
        vec![(1, "resolved".into(), "warning".into())]
    );
    assert_eq!(
        kinds(&db.timeline().await, 5),
        vec![(1, "alert_resolved"), (1, "resolved")]
    );
    let (resolved_at, ended_at): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as("select resolved_at, ended_at from incidents")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(resolved_at, crate::support::t0() + TimeDelta::minutes(2));
    assert_eq!(ended_at.to_rfc3339(), "2026-11-25T19:01:30+00:00");

    // Fires again 4 minutes later, within the 5-minute window: the same incident reopens.
    server.clock.advance(TimeDelta::minutes(4));
    let refire = webhook(vec![alert("web-1", "critical", "firing", S2, None)]);
    assert_eq!(server.post(refire).await.1["status"], "accepted");
    assert_eq!(
        db.incidents().await,
        vec![(1, "open".into(), "critical".into())]
    );
    assert_eq!(
        kinds(&db.timeline().await, 7),
        vec![(1, "reopened"), (1, "alert_fired"), (1, "severity_changed")]
    );

    // Resolves, and fires again 6 minutes later: a new incident.
    let resolve = webhook(vec![alert(
        "web-1",
        "critical",
        "resolved",
        S2,
        Some("2026-11-25T19:06:30Z"),
    )]);
    assert_eq!(server.post(resolve).await.1["status"], "accepted");
    server.clock.advance(TimeDelta::minutes(6));
    let later = webhook(vec![alert("web-1", "critical", "firing", S3, None)]);
    assert_eq!(server.post(later).await.1["status"], "accepted");
    assert_eq!(
        db.incidents().await,
        vec![
            (1, "resolved".into(), "critical".into()),
            (2, "open".into(), "critical".into())
        ]
    );
    assert_eq!(
        kinds(&db.timeline().await, 12),
        vec![(2, "opened"), (2, "alert_fired")]
    );

    // Both times of every event are kept: the payload's and the server's.
    let (occurred, received): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as(
            "select occurred_at, received_at from incident_events where kind = 'opened' order by id desc limit 1",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(occurred.to_rfc3339(), "2026-11-25T19:20:00+00:00");
    assert_eq!(received, crate::support::t0() + TimeDelta::minutes(12));
}

#[tokio::test]
async fn an_alert_missing_from_a_truncated_message_has_not_resolved() {
    let db = TestDb::new().await;
    let server = TestServer::start(settings(&db.url)).await;
    server
        .post(webhook(vec![
            alert("web-1", "warning", "firing", S1, None),
            alert("web-2", "warning", "firing", S1, None),
        ]))
        .await;
    // The next flush carries one new alert and says two more were left out.
    let (status, body) = server
        .post(webhook_truncated(
            vec![alert("web-3", "critical", "firing", S2, None)],
            2,
        ))
        .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("accepted")));
    let firing: i64 = sqlx::query_scalar("select count(*) from alerts where status = 'firing'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(firing, 3);
    // Severity rose with the new critical alert; one incident still.
    assert_eq!(
        db.incidents().await,
        vec![(1, "open".into(), "critical".into())]
    );
    // The same holds for a message that is not truncated: absence never resolves.
    server
        .post(webhook(vec![alert(
            "web-3", "critical", "firing", S2, None,
        )]))
        .await;
    assert_eq!(db.count("alerts where status = 'firing'").await, 3);
}

#[tokio::test]
async fn unknown_or_missing_severity_takes_the_configured_default() {
    let db = TestDb::new().await;
    let mut config = settings(&db.url);
    config.ingest.default_severity = alertrouter::core::Severity::Info;
    let server = TestServer::start(config).await;
    server
        .post(webhook(vec![alert(
            "web-1",
            "page-me-maybe",
            "firing",
            S1,
            None,
        )]))
        .await;
    assert_eq!(
        db.incidents().await,
        vec![(1, "open".into(), "info".into())]
    );
}

#[tokio::test]
async fn basic_auth_integration_is_recorded_on_what_it_sends() {
    let db = TestDb::new().await;
    let server = TestServer::start(settings(&db.url)).await;
    let response = server
        .http
        .post(format!("{}/hooks/alertmanager", server.base))
        .basic_auth("alertmanager", Some("basic-secret"))
        .header("content-type", "application/json")
        .body(webhook(vec![alert("web-1", "warning", "firing", S1, None)]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let integrations: Vec<String> =
        sqlx::query_scalar("select distinct integration from incident_events")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(integrations, vec!["am-basic".to_string()]);
    let incident: String = sqlx::query_scalar("select integration from incidents")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(incident, "am-basic");
}

#[tokio::test]
async fn a_late_firing_copy_after_its_resolution_opens_nothing() {
    let db = TestDb::new().await;
    let server = TestServer::start(settings(&db.url)).await;
    // The firing message was lost (or is still in flight from an HA peer); the resolution lands.
    let resolved = webhook(vec![alert(
        "web-1",
        "critical",
        "resolved",
        S1,
        Some("2026-11-25T18:55:00Z"),
    )]);
    assert_eq!(server.post(resolved).await.1["status"], "accepted");
    assert_eq!(
        db.incidents().await,
        vec![(1, "resolved".into(), "critical".into())]
    );
    // Then the stale firing copy arrives: old news, nothing opens, nobody would be paged.
    let stale = webhook(vec![alert("web-1", "critical", "firing", S1, None)]);
    assert_eq!(server.post(stale).await.1["status"], "unchanged");
    assert_eq!(
        db.incidents().await,
        vec![(1, "resolved".into(), "critical".into())]
    );
    let t = db.timeline().await;
    assert_eq!(
        kinds(&t, 0),
        vec![
            (1, "opened"),
            (1, "alert_fired"),
            (1, "alert_resolved"),
            (1, "resolved")
        ]
    );
}
