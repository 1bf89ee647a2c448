//! Outgoing webhooks as an automation feed: every change of an incident reaches the webhooks
//! that were paged for it as an event of its own type, resolutions from Alertmanager included.

use chrono::TimeDelta;

use crate::dispatch::{Fake, setup};
use crate::escalation::worker;
use crate::support::{TestDb, alert, token, webhook};

#[tokio::test]
async fn every_change_reaches_the_webhook_as_its_own_event_type() {
    let db = TestDb::new().await;
    let fake = Fake::default();
    let (server, dispatcher, metrics) = setup(&db, &fake).await;
    let starts = |m: i64| format!("2026-11-25T18:{m:02}:00Z");
    let fire = |m: i64| webhook(vec![alert("web-1", "critical", "firing", &starts(m), None)]);
    let resolve = |m: i64| {
        let ends = format!("2026-11-25T18:{m:02}:30Z");
        webhook(vec![alert(
            "web-1",
            "critical",
            "resolved",
            &starts(m),
            Some(&ends),
        )])
    };
    let drain = || async {
        for _ in 0..4 {
            dispatcher.run_once().await.unwrap();
            server.clock.advance(TimeDelta::seconds(1));
        }
    };

    server.post(fire(50)).await;
    worker(&server, metrics.clone(), 100)
        .run_once()
        .await
        .unwrap();
    drain().await;
    let sre = token(&server, "bob", "sre", &[]);
    let (status, body) = server
        .act(&sre, "INC-1", serde_json::json!({"action": "ack"}))
        .await;
    assert_eq!(status, 200, "{body}");
    drain().await;
    // Alertmanager resolves it, then it flaps three times within the window.
    for m in [50, 51, 52, 53] {
        server.post(resolve(m)).await;
        drain().await;
        server.post(fire(m + 1)).await;
        drain().await;
    }
    let types: Vec<String> = fake
        .received
        .lock()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        types,
        [
            "incident.opened",
            "incident.acknowledged",
            "incident.resolved",
            "incident.reopened",
            "incident.resolved",
            "incident.reopened",
            "incident.resolved",
            "incident.reopened",
            "incident.flapping",
            "incident.resolved",
            "incident.reopened",
        ]
    );
}
