//! Huge groups: Alertmanager never retries a 4xx, so a body refused as too large is a page lost
//! for good. The default limit takes a 10,000-alert group; a larger body is refused loudly.

use std::time::Duration;

use serde_json::json;

use crate::support::{TestDb, TestServer, alert, settings, webhook};

const S1: &str = "2026-11-25T18:50:00Z";

/// A 10,000-alert group with labels and annotations the size of real ones (~1.3 KiB each).
fn huge(status: &str) -> String {
    let alerts = (0..10_000)
        .map(|i| {
            let ends = (status == "resolved").then_some("2026-11-25T19:10:00Z");
            let mut a = alert(
                &format!("web-{i:05}.prod.example.com:9100"),
                "critical",
                status,
                S1,
                ends,
            );
            a["labels"]["pod"] = json!(format!("web-7d9f8c6b5-{i:05}"));
            a["labels"]["namespace"] = json!("production");
            a["labels"]["job"] = json!("kubernetes-pods");
            a["annotations"]["description"] = json!("x".repeat(900));
            a
        })
        .collect();
    webhook(alerts)
}

#[tokio::test]
async fn a_ten_thousand_alert_group_opens_and_resolves_its_incident() {
    let db = TestDb::new().await;
    let mut config = settings(&db.url);
    config.ingest.request_timeout = Duration::from_secs(9);
    let server = TestServer::start(config).await;

    let body = huge("firing");
    assert!(body.len() > 10 << 20, "{} bytes", body.len());
    let (status, answer) = server.post(body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(db.count("alerts where status = 'firing'").await, 10_000);
    assert_eq!(
        db.incidents().await,
        [(1, "open".into(), "critical".into())]
    );

    let (status, answer) = server.post(huge("resolved")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        db.incidents().await,
        [(1, "resolved".into(), "critical".into())]
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_loudly_and_counted() {
    let db = TestDb::new().await;
    let mut config = settings(&db.url);
    config.ingest.max_body_bytes = 4 << 20;
    let server = TestServer::start(config).await;

    let (status, answer) = server.post(huge("firing")).await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["error"], "payload too large", "{answer}");
    assert_eq!(db.count("alerts").await, 0);
    let (_, metrics) = server.get("/metrics").await;
    assert!(
        metrics.contains(
            r#"alertrouter_webhook_bodies_refused_total{integration="am",reason="too_large"} 1"#
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_at_once() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let db = TestDb::new().await;
    let server = TestServer::start(settings(&db.url)).await;
    let mut s = tokio::net::TcpStream::connect(server.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let head = format!(
        "POST /hooks/alertmanager HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 10737418240\r\n\r\n{{",
        crate::support::TOKEN
    );
    s.write_all(head.as_bytes()).await.unwrap();
    // Not a byte more is sent: the answer must not wait for the 10 GiB, nor for the deadline.
    let mut answer = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(1), s.read(&mut answer))
        .await
        .expect("answered before the request deadline")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}
