//! Response targets are a policy's: an incident still unacknowledged when its target passes gets
//! a `response_target_missed` event, whether or not a step pages then; one acknowledged in time
//! never does.

use std::sync::Arc;
use std::time::Duration;

use alertrouter::clock::Clock;
use alertrouter::metrics::Metrics;
use chrono::{DateTime, TimeDelta, Utc};

type Time = DateTime<Utc>;

use crate::escalation::{kinds, open_and_fire, outbox, start_with, worker};
use crate::support::{TestDb, TestServer, token};

/// The test policy with a 2-minute target (its steps page at 0, 5 and 15 minutes).
async fn server(db: &TestDb) -> TestServer {
    start_with(db, |c| {
        let critical = c.policies.policies.get_mut("critical").unwrap();
        critical.response_target = Some(Duration::from_secs(120));
    })
    .await
}

async fn missed_at(db: &TestDb) -> Vec<DateTime<Utc>> {
    sqlx::query_scalar(
        "select occurred_at from incident_events where kind = 'response_target_missed'",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_target_passing_unacknowledged_is_missed_once_though_no_step_pages_then() {
    let db = TestDb::new().await;
    let server = server(&db).await;
    let metrics = Arc::new(Metrics::new());
    let opened = server.clock.now();
    open_and_fire(&server, &metrics).await;
    let w = worker(&server, metrics.clone(), 100);
    let pages = outbox(&db).await.len();

    server.clock.advance(TimeDelta::seconds(119));
    w.run_once().await.unwrap();
    assert!(missed_at(&db).await.is_empty());
    server.clock.advance(TimeDelta::seconds(1));
    assert_eq!(w.run_once().await.unwrap(), 0, "no step is due at 2 min");
    assert_eq!(missed_at(&db).await, [opened + TimeDelta::minutes(2)]);
    assert_eq!(
        outbox(&db).await.len(),
        pages,
        "a missed target pages nobody"
    );
    // Written once, however often the worker (or another replica) looks.
    server.clock.advance(TimeDelta::minutes(1));
    w.run_once().await.unwrap();
    worker(&server, metrics.clone(), 100)
        .run_once()
        .await
        .unwrap();
    assert_eq!(kinds(&db, "response_target_missed").await, 1);
    // Kept on the incident for statistics, beside the event.
    let kept: Option<DateTime<Utc>> =
        sqlx::query_scalar("select response_target_missed_at from incidents")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(kept, Some(opened + TimeDelta::minutes(2)));

    let text = metrics.encode();
    assert!(
        text.contains("alertrouter_response_targets_missed_total{severity=\"critical\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn an_acknowledgement_in_time_meets_the_target() {
    let db = TestDb::new().await;
    let server = server(&db).await;
    let metrics = Arc::new(Metrics::new());
    open_and_fire(&server, &metrics).await;
    server.clock.advance(TimeDelta::seconds(90));
    let sre = token(&server, "bob", "sre", &[]);
    let (status, body) = server
        .act(&sre, "INC-1", serde_json::json!({"action": "ack"}))
        .await;
    assert_eq!(status, 200, "{body}");
    // Taken back after the target passed: it was met when it was acknowledged.
    server.clock.advance(TimeDelta::minutes(1));
    let (status, body) = server
        .act(&sre, "INC-1", serde_json::json!({"action": "unack"}))
        .await;
    assert_eq!(status, 200, "{body}");
    worker(&server, metrics, 100).run_once().await.unwrap();
    assert!(missed_at(&db).await.is_empty());
    type Times = (Option<Time>, Option<Time>, Option<Time>);
    let (pending, first_ack, missed): Times = sqlx::query_as(
        "select response_due_at, first_acknowledged_at, response_target_missed_at from incidents",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(pending, None);
    assert_eq!(missed, None);
    assert_eq!(
        first_ack,
        Some(crate::support::t0() + TimeDelta::seconds(90)),
        "the first acknowledgement, kept through the unack"
    );
}
