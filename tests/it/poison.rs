//! Poison messages: text Postgres cannot store (NUL), and parts past what a webhook may carry.
//! The group is paged anyway: the text is repaired or cut, recorded, and never answered 503 (a
//! retry for ever) or 4xx (a page lost).

use serde_json::json;

use crate::actions::paged;
use crate::support::{TestDb, TestServer, alert, settings, webhook};

const S1: &str = "2026-11-25T18:50:00Z";

#[tokio::test]
async fn a_nul_anywhere_is_replaced_and_the_whole_group_is_stored() {
    let db = TestDb::new().await;
    let server = TestServer::start(settings(&db.url)).await;
    let clean = alert("web-1", "critical", "firing", S1, None);
    let mut poison = alert("web-2\u{0}", "critical", "firing", S1, None);
    poison["labels"]["evil\u{0}name"] = json!("x");
    poison["annotations"]["summary"] = json!("disk \u{0} full");
    poison["generatorURL"] = json!("http://prom/graph?\u{0}");
    let mut body: serde_json::Value = serde_json::from_str(&webhook(vec![clean, poison])).unwrap();
    body["groupKey"] = json!("{}:{alertname=\"HighErrorRate\u{0}\"}");
    body["externalURL"] = json!("http://am\u{0}:9093");
    body["commonAnnotations"] = json!({"summary": "\u{0}"});

    let (status, answer) = server.post(body.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(db.count("alerts where status = 'firing'").await, 2);
    assert_eq!(db.incidents().await.len(), 1);
    let labels: Vec<String> = sqlx::query_scalar("select labels::text from alerts order by 1")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert!(
        labels
            .iter()
            .any(|l| l.contains("web-2\u{FFFD}") && l.contains("evil\u{FFFD}name")),
        "{labels:?}"
    );
    let (_, metrics) = server.get("/metrics").await;
    assert!(
        metrics.contains(
            r#"alertrouter_webhook_repairs_total{integration="am",reason="nul_replaced"} 7"#
        ),
        "{metrics}"
    );
    // A re-send of the same message is the same group, not a second incident.
    assert_eq!(server.post(body.to_string()).await.0, 200);
    assert_eq!(db.incidents().await.len(), 1);
}

#[tokio::test]
async fn over_limit_parts_are_cut_and_the_group_still_pages() {
    let db = TestDb::new().await;
    let server = TestServer::start(settings(&db.url)).await;
    let mut a = alert("web-1", "critical", "firing", S1, None);
    for i in 0..400 {
        a["labels"][format!("l{i:03}")] = json!("v");
    }
    a["labels"]["huge"] = json!("v".repeat(100_000));
    a["annotations"]["description"] = json!("d".repeat(1 << 20));
    a["generatorURL"] = json!(format!("http://prom/{}", "q".repeat(20_000)));
    let mut body: serde_json::Value = serde_json::from_str(&webhook(vec![a])).unwrap();
    // Longer than a Postgres index entry: it used to be refused by the unique index (503).
    body["groupKey"] = json!(format!("{{}}:{{job=\"{}\"}}", "j".repeat(8_000)));

    let (status, answer) = server.post(body.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(db.incidents().await.len(), 1);
    let (labels, url): (i64, String) = sqlx::query_as(
        "select (select count(*) from jsonb_object_keys(labels)), generator_url from alerts",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((labels, url.as_str()), (256, ""));
    let (_, metrics) = server.get("/metrics").await;
    for reason in ["dropped_labels", "dropped_urls", "group_key_digested"] {
        assert!(
            metrics.contains(&format!(
                r#"alertrouter_webhook_repairs_total{{integration="am",reason="{reason}"}}"#
            )),
            "{reason}: {metrics}"
        );
    }
    assert_eq!(server.post(body.to_string()).await.0, 200);
    assert_eq!(db.incidents().await.len(), 1, "the digested key is stable");
}

#[tokio::test]
async fn the_api_answers_data_postgres_cannot_store_with_422_not_503() {
    let p = paged().await;
    let token = crate::support::token(&p.server, "alice", "sre", &[]);
    let before = p.db.dump().await;
    let (status, body) = p
        .server
        .act(
            &token,
            "INC-1",
            json!({"action": "note", "text": "root cause:\u{0} a bad deploy"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("22P05"), "{body}");
    assert_eq!(p.db.dump().await, before, "nothing changed");
}
