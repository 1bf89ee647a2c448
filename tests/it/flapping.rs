//! A group that flaps within the reopen window: its chain resumes (nobody is paged again), Slack
//! messages are edited with a reply per reopen, PagerDuty is triggered again only where it had
//! heard of the resolution, and the third reopen within the flapping window marks it flapping.

use std::sync::Arc;

use alertrouter::metrics::Metrics;
use chrono::TimeDelta;

use crate::escalation::{kinds, start_with, worker};
use crate::support::{TestDb, alert, token, webhook};

async fn rows(db: &TestDb) -> Vec<(String, String, String)> {
    sqlx::query_as("select channel, payload->>'kind', status from outbox order by id")
        .fetch_all(&db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_flapping_group_pages_once_and_is_marked_flapping() {
    let db = TestDb::new().await;
    let server = start_with(&db, |_| {}).await;
    let w = worker(&server, Arc::new(Metrics::new()), 100);
    let fire = |minute: i64| {
        let starts = format!("2026-11-25T19:{minute:02}:00Z");
        webhook(vec![alert("web-1", "critical", "firing", &starts, None)])
    };
    let resolve = |minute: i64| {
        let starts = format!("2026-11-25T19:{minute:02}:00Z");
        let ends = format!("2026-11-25T19:{minute:02}:30Z");
        webhook(vec![alert(
            "web-1",
            "critical",
            "resolved",
            &starts,
            Some(&ends),
        )])
    };

    server.post(fire(0)).await;
    assert_eq!(w.run_once().await.unwrap(), 1);
    // The step's pages were delivered (as the dispatcher records it).
    sqlx::query("update outbox set status = 'sent'")
        .execute(&db.pool)
        .await
        .unwrap();
    let first = rows(&db).await;
    assert_eq!(first.len(), 3, "slack, sms, pagerduty: {first:?}");

    // Four flaps within ninety seconds.
    for n in 1..=4 {
        server.clock.advance(TimeDelta::seconds(10));
        let (status, _) = server.post(resolve(n - 1)).await;
        assert_eq!(status, 200);
        server.clock.advance(TimeDelta::seconds(10));
        let (status, _) = server.post(fire(n)).await;
        assert_eq!(status, 200);
        assert_eq!(
            w.run_once().await.unwrap(),
            0,
            "nothing due after reopen {n}"
        );
    }

    let all = rows(&db).await;
    let count = |channel: &str, kind: &str| {
        all.iter()
            .filter(|(c, k, _)| c == channel && k == kind)
            .count()
    };
    // Nobody was paged again.
    for channel in ["slack", "sms", "pagerduty"] {
        assert_eq!(count(channel, "page"), 1, "{channel}: {all:?}");
    }
    // One Slack edit and reply per reopen; SMS hears nothing of the flaps.
    assert_eq!(count("slack", "reopened"), 4, "{all:?}");
    assert_eq!(count("sms", "reopened"), 0);
    // PagerDuty heard of each resolution (queued ones go out first, in order), so each
    // reopen triggers it again.
    assert_eq!(count("pagerduty", "resolved"), 4, "{all:?}");
    assert_eq!(count("pagerduty", "reopened"), 4, "{all:?}");
    assert_eq!(kinds(&db, "reopened").await, 4);
    assert_eq!(kinds(&db, "flapping").await, 1, "the third reopen marks it");

    // The API and the metric show it.
    let admin = token(&server, "ops", "admin", &[]);
    let (status, list) = server.api("GET", "/api/v1/incidents", &admin, None).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["incidents"][0]["flapping"], true, "{list}");
    let (_, metrics) = server.get("/metrics").await;
    assert!(
        metrics.contains(r#"alertrouter_incidents_open{severity="critical",flapping="true"} 1"#),
        "{metrics}"
    );

    // Resolved for good, then firing again after the window: a new incident pages as before.
    server.post(resolve(4)).await;
    server.clock.advance(TimeDelta::minutes(6));
    server.post(fire(20)).await;
    assert_eq!(w.run_once().await.unwrap(), 1);
    assert_eq!(db.count("incidents").await, 2);
    let pages = rows(&db)
        .await
        .into_iter()
        .filter(|(_, k, _)| k == "page")
        .count();
    assert_eq!(pages, 6);
}
