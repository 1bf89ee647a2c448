//! `POST /api/v1/admin/reload` in process: the senders are rebuilt with the new credentials
//! (a webhook signed with the rotated secret), settings that need a restart are named, a refused
//! config changes nothing, and only an admin may reload.

use std::sync::{Arc, Mutex};

use alertrouter::clock::Clock;
use alertrouter::config::Settings;
use alertrouter::metrics::Metrics;
use secrecy::SecretString;

use crate::dispatch::{Fake, SECRET, webhooks_at_once};
use crate::escalation::{dispatcher_for, outbox, start_with, worker};
use crate::support::{TestDb, alert, grouped, token};

/// What the next reload reads.
type Next = Arc<Mutex<Result<Settings, String>>>;

#[tokio::test]
async fn a_reload_rotates_the_delivery_secret_names_what_needs_a_restart_and_refuses_a_broken_config()
 {
    let db = TestDb::new().await;
    let fake = Fake::default();
    let url = fake.start().await;
    // The running config signs with a secret the receiver does not know.
    let wrong = "whsec_d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==";
    let server = start_with(&db, |c| {
        c.policies.webhooks.insert("remediation".into(), url);
        c.policies
            .policies
            .insert("critical".into(), webhooks_at_once(&["remediation"]));
        c.channels.webhook_secret = Some(SecretString::from(wrong.to_string()));
    })
    .await;
    *fake.clock.lock().unwrap() = Some(server.clock.clone() as Arc<dyn Clock>);
    let metrics = Arc::new(Metrics::new());
    let dispatcher = dispatcher_for(
        &server,
        metrics.clone(),
        server.app.settings.channels.clone(),
    );
    server.app.reload_senders_of(dispatcher.channels());
    let next: Next = Arc::new(Mutex::new(Ok(server.app.settings.clone())));
    let reads = next.clone();
    server
        .app
        .set_config_loader(Box::new(move || reads.lock().unwrap().clone()));
    let admin = token(&server, "root", "admin", &[]);
    let sre = token(&server, "sam", "sre", &[]);

    // The rotated secret: the receiver's.
    let mut rotated = server.app.settings.clone();
    rotated.channels.webhook_secret = Some(SecretString::from(SECRET.to_string()));
    *next.lock().unwrap() = Ok(rotated.clone());
    let (status, body) = server.api("POST", "/api/v1/admin/reload", &sre, None).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = server
        .api("POST", "/api/v1/admin/reload", &admin, None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["needs_restart"], serde_json::json!([]), "{body}");
    assert!(
        body["config"]
            .as_str()
            .unwrap()
            .contains("2 integration(s)"),
        "{body}"
    );

    let (status, body) = server
        .post(grouped(
            "a",
            vec![alert(
                "a",
                "critical",
                "firing",
                "2026-11-25T18:50:00Z",
                None,
            )],
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    worker(&server, metrics.clone(), 100)
        .run_once()
        .await
        .unwrap();
    assert_eq!(dispatcher.run_once().await.unwrap(), 1);
    assert_eq!(
        fake.received.lock().unwrap().len(),
        1,
        "signed with the rotated secret, accepted"
    );
    assert_eq!(outbox(&db).await[0].2, "sent");

    // A change that only a restart applies is named, and the rest still swaps.
    let mut moved = rotated.clone();
    moved.listen = "127.0.0.1:1".parse().unwrap();
    moved.api.retention = std::time::Duration::from_secs(86400);
    *next.lock().unwrap() = Ok(moved);
    let (status, body) = server
        .api("POST", "/api/v1/admin/reload", &admin, None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["needs_restart"],
        serde_json::json!(["listen", "api.retention"]),
        "{body}"
    );

    // A config that does not validate: 422 with why, the metric says so, the audit log has
    // both, and the running config stays (the admin's token still works).
    *next.lock().unwrap() = Err("config error: routes/r.yaml:2: route.policy: unknown".into());
    let (status, body) = server
        .api("POST", "/api/v1/admin/reload", &admin, None)
        .await;
    assert_eq!(status, 422, "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("running config stays") && detail.contains("routes/r.yaml:2"),
        "{body}"
    );
    let (_, text) = server.get("/metrics").await;
    assert!(
        text.contains("alertrouter_config_last_reload_successful 0"),
        "{text}"
    );
    let results: Vec<(String, Option<String>)> = sqlx::query_as(
        "select result, reason from audit_log where action = 'reload_config' order by id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(results.len(), 3, "{results:?}");
    assert_eq!(results[2].0, "refused");
    assert!(results[2].1.as_deref().unwrap().contains("r.yaml:2"));
    let (status, _) = server.api("GET", "/api/v1/audit", &admin, None).await;
    assert_eq!(status, 200);
}
