//! Muted and inhibited incidents are recorded and page no one; when the mute ends or the
//! inhibiting alert resolves while they still fire, paging starts.

use std::sync::Arc;

use alertrouter::metrics::Metrics;
use alertrouter::routing::matcher::parse_matchers;
use alertrouter::routing::suppress::{InhibitRule, MaintenanceWindow};
use chrono::TimeDelta;

use crate::escalation::{start_with, worker};
use crate::support::{TestDb, alert, grouped, t0, webhook};

const S1: &str = "2026-11-25T18:50:00Z";

async fn pages(db: &TestDb) -> i64 {
    db.count("outbox").await
}

async fn events(db: &TestDb) -> Vec<String> {
    sqlx::query_scalar(
        "select kind from incident_events where kind in ('suppressed', 'unsuppressed', 'escalated') order by id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_maintenance_window_holds_paging_until_it_ends() {
    let db = TestDb::new().await;
    let server = start_with(&db, |c| {
        c.suppressions.maintenance.push(MaintenanceWindow {
            name: "web-deploy".into(),
            start: t0() - TimeDelta::hours(1),
            end: t0() + TimeDelta::minutes(10),
            matchers: parse_matchers(r#"service="web""#).unwrap(),
        });
    })
    .await;
    let w = worker(&server, Arc::new(Metrics::new()), 100);
    server
        .post(webhook(vec![alert(
            "web-1", "critical", "firing", S1, None,
        )]))
        .await;
    assert_eq!(w.run_once().await.unwrap(), 1);
    assert_eq!(pages(&db).await, 0, "muted: recorded, nobody paged");
    assert_eq!(events(&db).await, ["suppressed"]);
    server.clock.advance(TimeDelta::minutes(9));
    assert_eq!(w.run_once().await.unwrap(), 0, "held until the window ends");
    server.clock.advance(TimeDelta::minutes(1));
    assert_eq!(w.run_once().await.unwrap(), 1);
    assert_eq!(
        pages(&db).await,
        3,
        "still firing when the window ended: paging starts"
    );
    assert_eq!(
        events(&db).await,
        ["suppressed", "unsuppressed", "escalated"]
    );
    // The chain runs from the end of the window: the second step is due 5 minutes later.
    server.clock.advance(TimeDelta::minutes(5));
    assert_eq!(w.run_once().await.unwrap(), 1);
    assert_eq!(pages(&db).await, 6);
}

#[tokio::test]
async fn an_inhibited_incident_pages_when_its_source_resolves() {
    let db = TestDb::new().await;
    let server = start_with(&db, |c| {
        c.suppressions.inhibit_rules.push(InhibitRule {
            source: parse_matchers(r#"severity="critical""#).unwrap(),
            target: parse_matchers(r#"severity="warning""#).unwrap(),
            equal: vec!["service".into()],
        });
    })
    .await;
    let w = worker(&server, Arc::new(Metrics::new()), 100);
    let group = |key: &str, a: serde_json::Value| grouped(key, vec![a]);
    server
        .post(group(
            "crit",
            alert("web-1", "critical", "firing", S1, None),
        ))
        .await;
    server
        .post(group("warn", alert("web-2", "warning", "firing", S1, None)))
        .await;
    assert_eq!(w.run_once().await.unwrap(), 2);
    let paged: Vec<String> = sqlx::query_scalar(
        "select distinct i.group_key from outbox o join incidents i on i.id = o.incident_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        paged,
        ["crit"],
        "the warning is inhibited by the critical alert of its service"
    );

    // The source resolves while the warning still fires: the warning pages at the next check.
    server
        .post(group(
            "crit",
            alert(
                "web-1",
                "critical",
                "resolved",
                S1,
                Some("2026-11-25T19:00:10Z"),
            ),
        ))
        .await;
    server.clock.advance(TimeDelta::seconds(30));
    assert_eq!(w.run_once().await.unwrap(), 1);
    let paged: i64 = db
        .count("outbox o join incidents i on i.id = o.incident_id where i.group_key = 'warn' and o.status = 'pending'")
        .await;
    assert_eq!(paged, 3);
}
