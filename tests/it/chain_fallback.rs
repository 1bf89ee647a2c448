//! A chain never stops silently: an incident whose stored policy cannot be read goes on with
//! its route's current policy, logged at error and counted.

use std::sync::Arc;

use alertrouter::metrics::Metrics;

use crate::escalation::{outbox, start_with, worker};
use crate::support::{TestDb, alert, webhook};

#[tokio::test]
async fn an_unreadable_policy_snapshot_falls_back_to_the_routes_policy() {
    let db = TestDb::new().await;
    let server = start_with(&db, |_| {}).await;
    let metrics = Arc::new(Metrics::new());
    let w = worker(&server, metrics.clone(), 100);
    let (status, body) = server
        .post(webhook(vec![alert(
            "web-1",
            "critical",
            "firing",
            "2026-11-25T18:50:00Z",
            None,
        )]))
        .await;
    assert_eq!(status, 200, "{body}");
    // Written by an older version, or edited by hand: it no longer parses.
    sqlx::query("update incidents set policy_snapshot = '{\"steps\": \"soon\"}'")
        .execute(&db.pool)
        .await
        .unwrap();

    assert_eq!(w.run_once().await.unwrap(), 1);
    let pages = outbox(&db).await;
    assert_eq!(pages.len(), 3, "step 0 of the route's policy: {pages:?}");
    assert!(
        metrics.encode().contains(
            r#"alertrouter_escalation_chain_fallbacks_total{reason="unreadable_snapshot"} 1"#
        ),
        "{}",
        metrics.encode()
    );
    // And the chain goes on: the next step is due.
    let due: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("select escalation_due_at from incidents")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(due.is_some());
}
