//! When we cannot commit, Alertmanager must retry: 503 with Retry-After, quickly, never 4xx.

use std::time::{Duration, Instant};

use sqlx::Connection;

use crate::support::{TestDb, TestServer, alert, settings, webhook};

const S1: &str = "2026-11-25T18:50:00Z";

fn assert_503(status: u16, body: &serde_json::Value, elapsed: Duration) {
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "unavailable");
    assert!(
        elapsed < Duration::from_secs(8),
        "took {elapsed:?}, Alertmanager gives up at 10 s"
    );
}

#[tokio::test]
async fn a_closed_database_port_is_answered_503_with_retry_after() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server =
        TestServer::start(settings(&format!("postgres://postgres@127.0.0.1:{port}/x"))).await;
    let started = Instant::now();
    let response = server
        .http
        .post(format!("{}/hooks/alertmanager", server.base))
        .bearer_auth(crate::support::TOKEN)
        .header("content-type", "application/json")
        .body(webhook(vec![alert(
            "web-1", "critical", "firing", S1, None,
        )]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["retry-after"], "5");
    let (status, body) = crate::support::server::read(response).await;
    assert_503(status, &body, started.elapsed());
    assert_eq!(server.get("/readyz").await.0, 503);
    assert_eq!(server.get("/healthz").await.0, 200);
    assert!(
        server
            .get("/metrics")
            .await
            .1
            .contains(r#"outcome="unavailable"} 1"#)
    );
}

#[tokio::test]
async fn an_exhausted_pool_is_answered_503_and_the_retry_lands_once() {
    let db = TestDb::new().await;
    let mut config = settings(&db.url);
    config.database.max_connections = 1;
    let server = TestServer::start(config).await;
    let hook = webhook(vec![alert("web-1", "critical", "firing", S1, None)]);

    let held = server.app.pool.acquire().await.unwrap();
    let started = Instant::now();
    let (status, body) = server.post(hook.clone()).await;
    assert_503(status, &body, started.elapsed());
    assert_eq!(db.count("incidents").await, 0);

    drop(held);
    let (status, body) = server.post(hook).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("accepted")));
    assert_eq!(db.count("incidents").await, 1);
}

#[tokio::test]
async fn a_database_too_slow_to_commit_is_answered_503_in_bounded_time() {
    let db = TestDb::new().await;
    let mut config = settings(&db.url);
    config.ingest.request_timeout = Duration::from_secs(1);
    let server = TestServer::start(config).await;
    let hook = webhook(vec![alert("web-1", "critical", "firing", S1, None)]);

    // Another session holds the table: the write cannot proceed.
    let mut blocker = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let mut tx = blocker.begin().await.unwrap();
    sqlx::query("lock table incident_groups in access exclusive mode")
        .execute(&mut *tx)
        .await
        .unwrap();
    let started = Instant::now();
    let (status, body) = server.post(hook.clone()).await;
    assert_503(status, &body, started.elapsed());
    tx.rollback().await.unwrap();

    // Alertmanager's retry lands, and the row count is that of one delivery.
    let (status, _) = server.post(hook.clone()).await;
    assert_eq!(status, 200);
    server.post(hook).await;
    assert_eq!(db.count("incidents").await, 1);
    assert_eq!(db.count("incident_events").await, 2);
}
