//! A send slower than the dispatcher's lease keeps its claim: no other dispatcher takes the row
//! over and sends it a second time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use alertrouter::clock::Clock;
use alertrouter::config::ChannelSettings;
use alertrouter::metrics::Metrics;
use alertrouter::workers::dispatcher::{DispatchSettings, Dispatcher};
use axum::routing::post;
use chrono::TimeDelta;

use crate::escalation::{outbox, start_with, worker};
use crate::support::{TestDb, alert, grouped};

/// A receiver whose first request hangs until `release` is notified; later ones answer at once.
async fn slow_receiver(calls: Arc<AtomicUsize>, release: Arc<tokio::sync::Notify>) -> String {
    let app = axum::Router::new().route(
        "/hook",
        post(move || {
            let (calls, release) = (calls.clone(), release.clone());
            async move {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    release.notified().await;
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn a_send_slower_than_the_lease_is_not_taken_over() {
    let db = TestDb::new().await;
    let (calls, release) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(tokio::sync::Notify::new()),
    );
    let url = slow_receiver(calls.clone(), release.clone()).await;
    let server = start_with(&db, |c| {
        c.policies.webhooks.insert("slow".into(), url);
        c.policies.policies.insert(
            "critical".into(),
            crate::dispatch::webhooks_at_once(&["slow"]),
        );
    })
    .await;
    let metrics = Arc::new(Metrics::new());
    let dispatcher = || {
        Dispatcher::new(
            server.app.pool.clone(),
            server.clock.clone() as Arc<dyn Clock>,
            server.app.live.clone(),
            metrics.clone(),
            alertrouter::channels::Channels::new(&ChannelSettings::default()).unwrap(),
            DispatchSettings {
                lease: Duration::from_millis(300),
                ..DispatchSettings::default()
            },
        )
    };
    let a = alert("a", "critical", "firing", "2026-11-25T18:50:00Z", None);
    assert_eq!(server.post(grouped("a", vec![a])).await.0, 200);
    worker(&server, metrics.clone(), 100)
        .run_once()
        .await
        .unwrap();

    let first = Arc::new(dispatcher());
    let sending = tokio::spawn({
        let first = first.clone();
        async move { first.run_once().await.unwrap() }
    });
    let started = Instant::now();
    while calls.load(Ordering::SeqCst) == 0 && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the send is in flight");
    // Far past the lease by the clock; the keep-alive (every lease/3) renews it meanwhile.
    server.clock.advance(TimeDelta::seconds(10));
    let now = server.clock_now();
    let started = Instant::now();
    loop {
        let until: Option<chrono::DateTime<chrono::Utc>> =
            sqlx::query_scalar("select lease_until from outbox where channel = 'webhook'")
                .fetch_one(&db.pool)
                .await
                .unwrap();
        if until.is_some_and(|u| u > now) {
            break; // renewed past the moved clock
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the lease was never renewed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let second = dispatcher();
    assert_eq!(second.run_once().await.unwrap(), 0, "the row is still held");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "sent once");

    release.notify_one();
    sending.await.unwrap();
    assert_eq!(outbox(&db).await[0].2, "sent");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
