//! Time to acknowledge and to resolve, as histograms on /metrics: observed when someone
//! acknowledges and when the incident resolves, whoever resolves it.

use std::sync::Arc;

use alertrouter::metrics::Metrics;
use chrono::TimeDelta;

use crate::escalation::{open_and_fire, start_with};
use crate::support::{TestDb, TestServer, alert, token, webhook};

async fn observed(server: &TestServer, name: &str) -> (f64, f64) {
    let (status, text) = server.get("/metrics").await;
    assert_eq!(status, 200);
    let value = |suffix: &str| {
        let prefix = format!("alertrouter_{name}_{suffix}{{severity=\"critical\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .map_or(0.0, |v| v.trim().parse().unwrap())
    };
    (value("count"), value("sum"))
}

#[tokio::test]
async fn an_ack_and_a_resolution_are_timed_from_the_opening() {
    let db = TestDb::new().await;
    let server = start_with(&db, |_| {}).await;
    open_and_fire(&server, &Arc::new(Metrics::new())).await;
    let ack = "incident_time_to_acknowledge_seconds";
    let resolve = "incident_time_to_resolve_seconds";
    assert_eq!(observed(&server, ack).await, (0.0, 0.0));

    server.clock.advance(TimeDelta::minutes(3));
    let sre = token(&server, "bob", "sre", &[]);
    let act = |action: &'static str| {
        let (server, sre) = (&server, sre.clone());
        async move {
            let body = serde_json::json!({"action": action});
            let (status, answer) = server.act(&sre, "INC-1", body).await;
            assert_eq!(status, 200, "{action}: {answer}");
        }
    };
    act("ack").await;
    assert_eq!(observed(&server, ack).await, (1.0, 180.0));
    // Taken back and given again: each acknowledgement is one observation.
    act("unack").await;
    server.clock.advance(TimeDelta::minutes(1));
    act("ack").await;
    assert_eq!(observed(&server, ack).await, (2.0, 180.0 + 240.0));

    server.clock.advance(TimeDelta::minutes(6));
    let resolved = webhook(vec![alert(
        "web-1",
        "critical",
        "resolved",
        "2026-11-25T18:50:00Z",
        Some("2026-11-25T18:59:00Z"),
    )]);
    let (status, body) = server.post(resolved).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(observed(&server, resolve).await, (1.0, 600.0));
}
