//! Secrets in destination URLs (a token in the query, userinfo, a Slack-style secret path)
//! never reach the API, the log or the database's error column, however the send fails.

use std::io::Write;
use std::sync::{Arc, Mutex};

use alertrouter::config::ChannelSettings;
use alertrouter::metrics::Metrics;
use chrono::TimeDelta;

use crate::escalation::{dispatcher_for, start_with, worker};
use crate::support::{TestDb, alert, grouped, token};

const SECRETS: [&str; 3] = ["hunter2", "SECRET-TOKEN-123", "T0SECRETPATH"];

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_secret_in_a_destination_url_appears_nowhere() {
    let log = Captured::default();
    let writer = log.clone();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .finish(),
    );
    let db = TestDb::new().await;
    // Nothing listens on port 9: every send fails at connect, the error naming the URL.
    let hooks = [
        ("query", "http://127.0.0.1:9/hook?token=SECRET-TOKEN-123"),
        ("userinfo", "http://deploy:hunter2@127.0.0.1:9/hook"),
        ("path", "http://127.0.0.1:9/services/T0SECRETPATH"),
    ];
    let server = start_with(&db, |c| {
        for (name, url) in hooks {
            c.policies.webhooks.insert(name.into(), url.into());
        }
        let names: Vec<&str> = hooks.iter().map(|(name, _)| *name).collect();
        c.policies
            .policies
            .insert("critical".into(), crate::dispatch::webhooks_at_once(&names));
    })
    .await;
    let metrics = Arc::new(Metrics::new());
    let dispatcher = dispatcher_for(&server, metrics.clone(), ChannelSettings::default());
    let (status, _) = server
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
    assert_eq!(status, 200);
    worker(&server, metrics.clone(), 100)
        .run_once()
        .await
        .unwrap();
    for _ in 0..12 {
        dispatcher.run_once().await.unwrap();
        server.clock.advance(TimeDelta::hours(1));
    }
    let errors: Vec<String> =
        sqlx::query_scalar("select coalesce(last_error, '') from outbox where channel = 'webhook'")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(errors.len(), 3);
    assert!(
        errors.iter().all(|e| e.contains("http://127.0.0.1:9/…")),
        "the errors still say where: {errors:?}"
    );

    let sre = token(&server, "bob", "sre", &[]);
    let admin = token(&server, "root", "admin", &[]);
    let mut seen = db.dump().await.join("\n");
    for (path, who) in [
        ("/api/v1/incidents/INC-1", &sre),
        ("/api/v1/dead-letters", &admin),
        ("/api/v1/incidents", &sre),
    ] {
        let (status, body) = server.api("GET", path, who, None).await;
        assert_eq!(status, 200, "{path}: {body}");
        seen.push_str(&body.to_string());
    }
    seen.push_str(&String::from_utf8_lossy(&log.0.lock().unwrap()));
    assert!(
        seen.contains("127.0.0.1:9"),
        "the places searched hold the sends"
    );
    for secret in SECRETS {
        assert!(!seen.contains(secret), "{secret} leaked:\n{seen}");
    }
}
