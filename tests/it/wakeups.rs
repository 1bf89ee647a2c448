//! What wakes the dispatcher: NOTIFY for new rows, ended sends for the rows behind them, and
//! the due time of a row that waits for one (a retry's backoff, a rate limit's deferral). Idle,
//! it does not claim; the poll (an hour here) is only the net.

use std::sync::Arc;
use std::time::Duration;

use alertrouter::metrics::Metrics;
use alertrouter::workers::dispatcher::DispatchSettings;
use chrono::TimeDelta;

use crate::escalation::worker;
use crate::prefetch::{Receiver, dispatcher_with, one_slot, setup};
use crate::support::{TestDb, alert, grouped, until};

/// Outbox rows sent, and the attempts of the one row.
async fn sent_and_attempts(db: &TestDb) -> (i64, i32) {
    sqlx::query_as("select count(*) filter (where status = 'sent'), max(attempts) from outbox")
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_idle_dispatcher_claims_only_when_woken() {
    let db = TestDb::new().await;
    let rx = Receiver::default();
    rx.release.notify_one(); // no send hangs
    let server = setup(&db, &rx, &["a"], 0).await;
    let metrics = Arc::new(Metrics::new());
    let claims = || {
        crate::support::server::sample(
            &metrics.encode(),
            "alertrouter_delivery_claim_batch_size_count",
        )
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(
        dispatcher_with(
            &server,
            metrics.clone(),
            one_slot(4, Duration::from_secs(15)),
        )
        .run(stopped),
    );
    until("the first round never claimed", || async {
        claims() >= 1.0
    })
    .await;
    // A new page: NOTIFY wakes the dispatcher, which sends it.
    let a = alert("g", "critical", "firing", "2026-11-25T18:50:00Z", None);
    assert_eq!(server.post(grouped("g", vec![a])).await.0, 200);
    worker(&server, Arc::new(Metrics::new()), 100)
        .run_once()
        .await
        .unwrap();
    rx.arrived.notified().await;
    until("the page was not recorded as sent", || async {
        sent_and_attempts(&db).await.0 == 1
    })
    .await;
    // The first round, the one NOTIFY woke, the one after the send ended: an idle dispatcher
    // does not claim in a loop.
    assert!(claims() <= 4.0, "{} claims", claims());
    stop.send(true).unwrap();
    running.await.unwrap();
}

#[tokio::test]
async fn a_retry_is_sent_when_its_backoff_ends_not_at_the_next_poll() {
    let db = TestDb::new().await;
    let rx = Receiver {
        fail_first: true,
        ..Receiver::default()
    };
    let server = setup(&db, &rx, &["a"], 1).await;
    let settings = DispatchSettings {
        backoff: Duration::from_millis(100),
        ..one_slot(4, Duration::from_secs(15))
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running =
        tokio::spawn(dispatcher_with(&server, Arc::new(Metrics::new()), settings).run(stopped));
    rx.arrived.notified().await; // answered 503
    until("the failure was not recorded as a retry", || async {
        sent_and_attempts(&db).await == (0, 1)
    })
    .await;
    // Past the backoff (100 ms, jitter at most 1.2×) by the clock.
    server.clock.advance(TimeDelta::seconds(1));
    if tokio::time::timeout(Duration::from_secs(5), rx.arrived.notified())
        .await
        .is_err()
    {
        let row: (
            String,
            chrono::DateTime<chrono::Utc>,
            Option<chrono::DateTime<chrono::Utc>>,
            i32,
        ) = sqlx::query_as("select status, due_at, lease_until, attempts from outbox")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        panic!(
            "the retry waited for the hourly poll: {row:?}, clock {}",
            server.clock_now()
        );
    }
    until("the retry was not recorded as sent", || async {
        sent_and_attempts(&db).await.0 == 1
    })
    .await;
    assert_eq!(rx.seen().len(), 2);
    stop.send(true).unwrap();
    running.await.unwrap();
}
