//! The notification contract in the database: one rule of who hears about a change, whatever
//! made it (an action or Alertmanager), and dedup keys that stay what they were.

use std::sync::Arc;

use alertrouter::core::notification::postgres_text;
use alertrouter::metrics::Metrics;
use chrono::{DateTime, TimeDelta, Utc};

use crate::escalation::{open_and_fire, start_with, worker};
use crate::support::{TestDb, alert, token, webhook};

const S1: &str = "2026-11-25T18:50:00Z";

/// Notice keys were formatted by SQL before (`$at::text`); the Rust format must print every time
/// as Postgres does on the pool's connections.
#[tokio::test]
async fn notice_keys_print_times_as_postgres_does() {
    let db = TestDb::new().await;
    let base: DateTime<Utc> = "2026-11-25T19:00:00Z".parse().unwrap();
    let mut times = vec![base];
    for i in 0..400i64 {
        // Whole seconds, round and odd fractions, down to a microsecond and below it.
        let nanos = (i * 7_919_993 + i * i * 131) % 1_000_000_000;
        times.push(base + TimeDelta::seconds(i * 86_401) + TimeDelta::nanoseconds(nanos));
        times.push(base + TimeDelta::milliseconds(i * 10));
    }
    let printed: Vec<String> =
        sqlx::query_scalar("select t::text from unnest($1::timestamptz[]) as t")
            .bind(&times)
            .fetch_all(&db.pool)
            .await
            .unwrap();
    for (t, p) in times.iter().zip(&printed) {
        assert_eq!(&postgres_text(*t), p, "{t:?}");
    }
}

async fn notices(db: &TestDb, kind: &str) -> Vec<(String, String)> {
    sqlx::query_as("select recipient, channel from outbox where payload->>'kind' = $1 order by id")
        .bind(kind)
        .fetch_all(&db.pool)
        .await
        .unwrap()
}

/// Alice is paged on Slack, SMS and PagerDuty; Slack and SMS were sent, PagerDuty is still
/// queued. Escalate-now (which keeps the queue), an ack (which empties it) and a resolution from
/// Alertmanager are heard at the same place: the Slack message, the one place that shows the
/// incident. SMS pages stand alone; the queued PagerDuty page is rendered when it is sent.
#[tokio::test]
async fn every_change_is_heard_where_the_incident_is_shown_and_nowhere_else() {
    let db = TestDb::new().await;
    let server = start_with(&db, |_| {}).await;
    let metrics = Arc::new(Metrics::new());
    open_and_fire(&server, &metrics).await;
    sqlx::query("update outbox set status = 'sent' where channel in ('slack', 'sms')")
        .execute(&db.pool)
        .await
        .unwrap();
    let sre = token(&server, "bob", "sre", &[]);
    for action in ["escalate", "ack"] {
        let (status, body) = server
            .act(&sre, "INC-1", serde_json::json!({"action": action}))
            .await;
        assert_eq!(status, 200, "{action}: {body}");
        server.clock.advance(TimeDelta::seconds(1));
    }
    let (status, body) = server
        .post(webhook(vec![alert(
            "web-1",
            "critical",
            "resolved",
            S1,
            Some("2026-11-25T18:55:00Z"),
        )]))
        .await;
    assert_eq!(status, 200, "{body}");
    let slack = vec![("user:alice".to_string(), "slack".to_string())];
    for kind in ["escalated", "acknowledged", "resolved"] {
        assert_eq!(notices(&db, kind).await, slack, "{kind}");
    }
}

/// The shipped critical policy pages alice (Slack, SMS, PagerDuty) at 0 and 5 minutes, and carol
/// by SMS at 15. A step that falls due is news like an escalate-now, for the places that show the
/// incident — except those it pages itself, which hear of it through their page.
#[tokio::test]
async fn a_later_step_is_news_where_the_incident_is_shown_but_not_where_it_pages() {
    let db = TestDb::new().await;
    let server = start_with(&db, |_| {}).await;
    let metrics = Arc::new(Metrics::new());
    open_and_fire(&server, &metrics).await;
    let sent = || async {
        sqlx::query("update outbox set status = 'sent' where status = 'pending'")
            .execute(&db.pool)
            .await
            .unwrap();
    };
    sent().await;
    assert!(
        notices(&db, "escalated").await.is_empty(),
        "the first page is no escalation"
    );
    server.clock.advance(TimeDelta::minutes(5));
    assert_eq!(
        worker(&server, metrics.clone(), 100)
            .run_once()
            .await
            .unwrap(),
        1
    );
    assert!(
        notices(&db, "escalated").await.is_empty(),
        "step 2 pages alice's Slack and PagerDuty again: they hear of it through those pages"
    );
    sent().await;
    server.clock.advance(TimeDelta::minutes(10));
    assert_eq!(
        worker(&server, metrics.clone(), 100)
            .run_once()
            .await
            .unwrap(),
        1
    );
    let mut heard = notices(&db, "escalated").await;
    heard.sort();
    assert_eq!(
        heard,
        [
            ("user:alice".to_string(), "pagerduty".to_string()),
            ("user:alice".to_string(), "slack".to_string()),
        ]
    );
}
