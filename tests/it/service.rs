//! Health, readiness, metrics, request ids and graceful shutdown.

use crate::support::{TestDb, TestServer, alert, settings, webhook};

#[tokio::test]
async fn health_ready_and_metrics() {
    let db = TestDb::new().await;
    let server = TestServer::start(settings(&db.url)).await;
    assert_eq!(server.get("/healthz").await.0, 200);
    let (status, body) = server.get("/readyz").await;
    assert_eq!(status, 200, "{body}");
    let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["version"], env!("CARGO_PKG_VERSION"), "{body}");
    assert_eq!(ready["commit"], alertrouter::build_info::COMMIT, "{body}");
    let newest = alertrouter::store::MIGRATOR.iter().map(|m| m.version).max();
    assert_eq!(ready["schema"].as_i64(), newest, "{body}");

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
        r#"alertrouter_outbox_pending{channel="slack"} 0"#,
        r#"alertrouter_outbox_oldest_due_seconds{channel="pagerduty"} 0.0"#,
        "alertrouter_config_last_reload_successful 1",
        &format!(
            r#"alertrouter_build_info{{version="{}",commit="{}",schema="{}"}} 1"#,
            alertrouter::build_info::VERSION,
            alertrouter::build_info::COMMIT,
            alertrouter::build_info::SCHEMA
        ),
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

#[tokio::test]
async fn readiness_turns_off_when_shutdown_begins_and_serving_goes_on_through_the_delay() {
    let db = TestDb::new().await;
    let mut settings = settings(&db.url);
    settings.server.shutdown_delay = std::time::Duration::from_secs(600);
    let mut server = TestServer::start(settings).await;
    assert_eq!(server.get("/readyz").await.0, 200);
    server.begin_shutdown();
    // The flag is set by the serving task once it sees the signal: a few requests at most.
    let mut answer = server.get("/readyz").await;
    for _ in 0..100 {
        if answer.0 == 503 {
            break;
        }
        tokio::task::yield_now().await;
        answer = server.get("/readyz").await;
    }
    assert_eq!(answer.0, 503, "{}", answer.1);
    assert!(answer.1.contains("draining"), "{}", answer.1);
    // Still serving everything else while the load balancer drains.
    assert_eq!(server.get("/healthz").await.0, 200);
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
    server.abort();
}
