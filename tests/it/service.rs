//! Health, readiness, metrics, request ids and graceful shutdown.

use crate::support::{TestDb, TestServer, alert, settings, webhook};

#[tokio::test]
async fn health_ready_and_metrics() {
    let db = TestDb::new().await;
    let server = TestServer::start(settings(&db.url)).await;
    assert_eq!(server.get("/healthz").await.0, 200);
    let (status, body) = server.get("/readyz").await;
    assert_eq!(status, 200, "{body}");

    server
        .post(webhook(vec![alert(
            "web-1",
            "critical",
            "firing",
            "2026-11-25T18:50:00Z",
            None,
        )]))
        .await;
    server
        .post(webhook(vec![alert(
            "web-1",
            "critical",
            "firing",
            "2026-11-25T18:50:00Z",
            None,
        )]))
        .await;
    let (status, text) = server.get("/metrics").await;
    assert_eq!(status, 200);
    for line in [
        r#"alertrouter_webhooks_total{integration="am",outcome="accepted"} 1"#,
        r#"alertrouter_webhooks_total{integration="am",outcome="no_change"} 1"#,
        r#"alertrouter_alerts_ingested_total{integration="am"} 2"#,
        r#"alertrouter_incidents_open{severity="critical",flapping="false"} 1"#,
        r#"alertrouter_incidents_open{severity="warning",flapping="false"} 0"#,
        "alertrouter_ingest_duration_seconds_count 2",
        "alertrouter_ingest_dedup_cache_hits_total 1",
        "alertrouter_db_pool_max_connections 8",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let db = TestDb::new().await;
    let server = TestServer::start(settings(&db.url)).await;
    let response = server
        .http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(id.len(), 36, "{id}");
    let response = server
        .http
        .get(format!("{}/healthz", server.base))
        .header("x-request-id", "mine-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "mine-42");
}

#[tokio::test]
async fn shutdown_finishes_cleanly() {
    let db = TestDb::new().await;
    let server = TestServer::start(settings(&db.url)).await;
    assert_eq!(server.get("/healthz").await.0, 200);
    let base = server.base.clone();
    server
        .shutdown()
        .await
        .expect("serve returns Ok after a graceful shutdown");
    assert!(
        reqwest::get(format!("{base}/healthz")).await.is_err(),
        "still accepting"
    );
}
