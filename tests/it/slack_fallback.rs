//! A page is never lost to formatting: when Slack refuses a message's blocks, it goes again as
//! plain text, and that is counted.

use std::sync::{Arc, Mutex};

use alertrouter::metrics::Metrics;
use axum::extract::Path;
use serde_json::{Value, json};

use crate::escalation::{dispatcher_for, open_and_fire, slack_at, start_with};
use crate::support::TestDb;

/// A Slack that refuses every message carrying blocks, as it does a block it cannot parse.
async fn picky_slack(calls: Arc<Mutex<Vec<(String, Value)>>>) -> String {
    let app = axum::Router::new().route(
        "/api/{method}",
        axum::routing::post(move |Path(method): Path<String>, body: String| {
            let calls = calls.clone();
            async move {
                let body: Value = serde_json::from_str(&body).unwrap_or_default();
                let answer = if body["blocks"].is_array() {
                    json!({"ok": false, "error": "invalid_blocks", "errors": ["invalid additional property: x"]})
                } else if body["text"].as_str().is_some_and(|t| !t.is_empty()) {
                    json!({"ok": true, "channel": "C0ALERTS", "ts": "1700000000.000001"})
                } else {
                    json!({"ok": false, "error": "no_text"})
                };
                calls.lock().unwrap().push((method, body));
                axum::Json(answer)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn refused_blocks_are_sent_again_as_plain_text() {
    let db = TestDb::new().await;
    let calls = Arc::new(Mutex::new(Vec::new()));
    let url = picky_slack(calls.clone()).await;
    let server = start_with(&db, |c| {
        c.policies.users.get_mut("alice").unwrap().slack_id = Some("U0ALICE".into());
    })
    .await;
    let metrics = Arc::new(Metrics::new());
    let dispatcher = dispatcher_for(&server, metrics.clone(), slack_at(url));
    open_and_fire(&server, &metrics).await;
    dispatcher.run_once().await.unwrap();

    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls[0].1["blocks"].is_array());
    assert!(calls[1].1["blocks"].is_null());
    assert!(
        calls[1].1["text"]
            .as_str()
            .unwrap()
            .contains("HighErrorRate")
            || calls[1].1["text"].as_str().unwrap().contains("INC-"),
        "{:?}",
        calls[1].1
    );
    let status: String = sqlx::query_scalar("select status from outbox where channel = 'slack'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(status, "sent");
    assert!(
        metrics
            .encode()
            .contains(r#"alertrouter_delivery_plain_text_fallbacks_total{channel="slack"} 1"#),
        "{}",
        metrics.encode()
    );
}
