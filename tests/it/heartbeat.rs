//! The dead man's switch: Alertmanager's Watchdog keeps arriving, or alertrouter pages about its
//! absence through the normal policy, once however many replicas notice, and resolves it when
//! the heartbeat returns.

use alertrouter::config::{Heartbeat, Settings};
use alertrouter::routing::matcher::parse_matchers;
use alertrouter::workers::heartbeat::check_once;
use chrono::TimeDelta;
use serde_json::json;

use crate::escalation::start_with;
use crate::support::{TestDb, TestServer, alert, grouped};

fn with_heartbeat(settings: &mut Settings) {
    settings.integrations[0].heartbeat = Some(Heartbeat {
        matchers: parse_matchers(r#"alertname="Watchdog""#).unwrap(),
        missing_after: std::time::Duration::from_secs(600),
    });
}

/// The Watchdog as Alertmanager re-sends it: the same message every time.
fn watchdog() -> serde_json::Value {
    json!({
        "status": "firing",
        "labels": {"alertname": "Watchdog", "severity": "none"},
        "annotations": {"summary": "always firing"},
        "startsAt": "2026-11-25T00:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
    })
}

/// (alertname of the first alert, status) of every incident, oldest first.
async fn incidents(db: &TestDb) -> Vec<(String, String)> {
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    sqlx::query_as(
        "select coalesce((select a.alertname from alerts a where a.incident_id = i.id limit 1), ''),
                i.status
         from incidents i order by i.opened_at",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
}

fn advance(servers: &[&TestServer], by: TimeDelta) {
    for s in servers {
        s.clock.advance(by);
    }
}

#[tokio::test]
async fn a_missing_heartbeat_pages_once_across_replicas_and_resolves_when_it_returns() {
    let db = TestDb::new().await;
    let a = start_with(&db, with_heartbeat).await;
    let b = start_with(&db, with_heartbeat).await;
    check_once(&a.app).await.unwrap(); // watching begins

    // The Watchdog is recorded, never an incident; an alert beside it in one webhook is.
    let (status, body) = a
        .post(grouped("{}:{alertname=\"Watchdog\"}", vec![watchdog()]))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(incidents(&db).await.is_empty());
    let mixed = vec![
        watchdog(),
        alert("web-1", "critical", "firing", "2026-11-25T18:50:00Z", None),
    ];
    assert_eq!(a.post(grouped("mixed", mixed)).await.0, 200);
    assert_eq!(
        incidents(&db).await,
        vec![("HighErrorRate".into(), "open".into())]
    );

    // Nine minutes without one: nothing yet.
    advance(&[&a, &b], TimeDelta::minutes(9));
    check_once(&a.app).await.unwrap();
    check_once(&b.app).await.unwrap();
    assert_eq!(incidents(&db).await.len(), 1);
    const MISSING: &str = "alertrouter_heartbeat_missing{integration=\"am\"}";
    const SEEN: &str = "alertrouter_heartbeat_last_seen_timestamp_seconds{integration=\"am\"}";
    assert_eq!(a.metric(MISSING), 0.0);
    let watchdog_at = a.metric(SEEN);
    assert_eq!(
        watchdog_at,
        (a.clock_now() - TimeDelta::minutes(9)).timestamp() as f64
    );

    // Past ten minutes: both replicas notice, one incident opens and escalates.
    advance(&[&a, &b], TimeDelta::minutes(2));
    check_once(&a.app).await.unwrap();
    check_once(&b.app).await.unwrap();
    check_once(&a.app).await.unwrap();
    assert_eq!(a.metric(MISSING), 1.0);
    assert_eq!(b.metric(MISSING), 1.0);
    assert_eq!(a.metric(SEEN), watchdog_at);
    let all = incidents(&db).await;
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(
        all[1],
        ("AlertrouterHeartbeatMissing".into(), "open".into())
    );
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let (severity, due, labels): (
        String,
        Option<chrono::DateTime<chrono::Utc>>,
        serde_json::Value,
    ) = sqlx::query_as(
        "select severity, escalation_due_at, group_labels from incidents
             where group_key = 'alertrouter/heartbeat/am'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(severity, "critical");
    assert!(
        due.is_some(),
        "the incident escalates by the route's policy"
    );
    assert_eq!(labels["integration"], "am");
    let opened: i64 = sqlx::query_scalar(
        "select count(*) from incident_events e join incidents i on i.id = e.incident_id
         where i.group_key = 'alertrouter/heartbeat/am' and e.kind = 'opened'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(opened, 1);

    // The heartbeat returns: the incident resolves, by whichever replica looks first.
    assert_eq!(
        a.post(grouped("{}:{alertname=\"Watchdog\"}", vec![watchdog()]))
            .await
            .0,
        200
    );
    check_once(&b.app).await.unwrap();
    check_once(&a.app).await.unwrap();
    assert_eq!(a.metric(MISSING), 0.0);
    assert!(a.metric(SEEN) > watchdog_at);
    let all = incidents(&db).await;
    assert_eq!(
        all[1],
        ("AlertrouterHeartbeatMissing".into(), "resolved".into()),
        "{all:?}"
    );

    // And goes missing again later: paged again.
    advance(&[&a, &b], TimeDelta::minutes(11));
    check_once(&a.app).await.unwrap();
    let open = incidents(&db)
        .await
        .into_iter()
        .filter(|(n, s)| n == "AlertrouterHeartbeatMissing" && s == "open")
        .count();
    assert_eq!(open, 1);
}

#[tokio::test]
async fn a_heartbeat_that_never_comes_is_missed_too() {
    let db = TestDb::new().await;
    let a = start_with(&db, with_heartbeat).await;
    check_once(&a.app).await.unwrap();
    a.clock
        .advance(TimeDelta::minutes(10) + TimeDelta::seconds(1));
    check_once(&a.app).await.unwrap();
    assert_eq!(
        incidents(&db).await,
        vec![("AlertrouterHeartbeatMissing".into(), "open".into())]
    );
}
