//! The production loops wake by NOTIFY, and keep doing so when the LISTEN connection could not
//! be made at start or was lost: it reconnects by itself, and the poll covers the gap.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alertrouter::clock::Clock;
use alertrouter::metrics::Metrics;
use alertrouter::workers::escalation::{EscalationSettings, EscalationWorker};

use crate::escalation::start_with;
use crate::support::{TestDb, alert, grouped};

/// Outbox rows of incident `number`.
async fn rows_of(db: &TestDb, number: i64) -> i64 {
    db.count(&format!(
        "outbox o join incidents i on i.id = o.incident_id where i.number = {number}"
    ))
    .await
}

/// Waits (real time: the NOTIFY path is what is tested) until incident `number` has more than
/// `n` outbox rows; how long that took.
async fn grows_past(db: &TestDb, number: i64, n: i64, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < within {
        if rows_of(db, number).await > n {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// Waits until the worker has a LISTEN connection open again (its reconnect, observed).
async fn listening(db: &TestDb) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        let n = db
            .count("pg_stat_activity where datname = current_database() and query ilike 'listen%'")
            .await;
        if n == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the worker did not LISTEN again within 10 s");
}

async fn allow_connections(db: &TestDb, allow: bool) {
    let name = db.url.rsplit('/').next().unwrap().to_string();
    let mut admin = sqlx::PgConnection::connect(&crate::support::db::admin_url())
        .await
        .unwrap();
    sqlx::raw_sql(&format!("alter database {name} allow_connections {allow}"))
        .execute(&mut admin)
        .await
        .unwrap();
}

use sqlx::Connection;

#[tokio::test]
async fn the_timer_worker_listens_again_after_a_failed_first_connect_and_a_lost_connection() {
    let db = TestDb::new().await;
    let server = start_with(&db, |_| {}).await;
    let worker = EscalationWorker::new(
        server.app.pool.clone(),
        server.clock.clone() as Arc<dyn Clock>,
        server.app.live.clone(),
        Arc::new(Metrics::new()),
        EscalationSettings {
            // Far longer than the test: only a notification can wake it in time.
            poll: Duration::from_secs(120),
            ..EscalationSettings::default()
        },
    );
    // Refuse new connections (the pool keeps the ones it has): the worker's LISTEN cannot connect.
    allow_connections(&db, false).await;
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(worker.run(stopping));
    // Its first LISTEN is tried at once, while refused; nothing to observe until it fails, so
    // this is the one fixed wait (far longer than a refused connect takes).
    tokio::time::sleep(Duration::from_millis(300)).await;
    allow_connections(&db, true).await;
    // Within its first backoff (1 s) it listens again.
    listening(&db).await;
    // Ingest pages step 0 itself; later steps are the worker's. The worker sleeps for its poll
    // (nothing is due by the clock), the clock moves past step 1, and a new incident's NOTIFY is
    // the only thing that can wake it in time to fire it.
    let fire = |key: &str| {
        let a = alert(key, "critical", "firing", "2026-11-25T18:50:00Z", None);
        grouped(key, vec![a])
    };
    assert_eq!(server.post(fire("first")).await.0, 200);
    let step0 = rows_of(&db, 1).await;
    server.clock.advance(chrono::TimeDelta::minutes(6));
    assert_eq!(server.post(fire("second")).await.0, 200);
    let took = grows_past(&db, 1, step0, Duration::from_secs(10)).await;
    assert!(
        took.is_some(),
        "woken by NOTIFY after the failed first connect"
    );

    // The LISTEN connection is killed: it is back within its backoff, and wakes the worker.
    let killed: Vec<bool> = sqlx::query_scalar(
        "select pg_terminate_backend(pid) from pg_stat_activity
         where datname = current_database() and query ilike 'listen%'",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(killed, [true], "one LISTEN connection");
    // The killed backend may linger in pg_stat_activity for a moment: wait for it to go first.
    let started = Instant::now();
    while db
        .count("pg_stat_activity where datname = current_database() and query ilike 'listen%'")
        .await
        > 0
        && started.elapsed() < Duration::from_secs(1)
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    listening(&db).await;
    let step0 = rows_of(&db, 2).await;
    server.clock.advance(chrono::TimeDelta::minutes(6));
    assert_eq!(server.post(fire("third")).await.0, 200);
    let took = grows_past(&db, 2, step0, Duration::from_secs(10)).await;
    assert!(
        took.is_some(),
        "woken by NOTIFY after the connection was lost"
    );
    let _ = stop.send(true);
    running.await.unwrap();
}
