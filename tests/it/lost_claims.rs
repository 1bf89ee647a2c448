//! A dispatcher's claim that committed while its answer was lost (Postgres killed or failed over
//! between the commit and the reply) leaves rows leased to it that it never sends. Found by
//! scripts/faults.sh failover, where pages due during the switch left 15 s (one lease) after the
//! promotion. Once Postgres answers again the dispatcher frees them at once, and only them: a
//! row whose send is in flight stays its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use alertrouter::metrics::Metrics;
use axum::extract::Path;
use axum::routing::post;
use tokio::sync::Notify;

use crate::escalation::{dispatcher_for, start_with, worker};
use crate::support::{TestDb, TestServer, alert, grouped};

/// Calls per hook; the first call to `slow` waits for `release` (and says it `arrived`).
#[derive(Default)]
struct Hooks {
    slow: AtomicUsize,
    fast: AtomicUsize,
    arrived: Notify,
    release: Notify,
}

async fn receiver(hooks: Arc<Hooks>) -> String {
    let app = axum::Router::new().route(
        "/{hook}",
        post(move |Path(hook): Path<String>| {
            let hooks = hooks.clone();
            async move {
                if hook == "slow" {
                    if hooks.slow.fetch_add(1, Ordering::SeqCst) == 0 {
                        hooks.arrived.notify_one();
                        hooks.release.notified().await;
                    }
                } else {
                    hooks.fast.fetch_add(1, Ordering::SeqCst);
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

async fn open(server: &TestServer, metrics: &Arc<Metrics>, group: &str) {
    let a = alert(group, "critical", "firing", "2026-11-25T18:50:00Z", None);
    assert_eq!(server.post(grouped(group, vec![a])).await.0, 200);
    let fired = worker(server, metrics.clone(), 100).run_once().await;
    assert_eq!(fired.unwrap(), 1);
}

async fn statement_fails_as_if_postgres_went_away(db: &TestDb, fails: bool) {
    let sql = if fails {
        "create function gone() returns trigger language plpgsql as $$
         begin raise exception 'connection lost' using errcode = '08006'; end $$;
         create trigger gone before update on outbox for each statement execute function gone();"
    } else {
        "drop trigger gone on outbox; drop function gone();"
    };
    sqlx::raw_sql(sql).execute(&db.pool).await.unwrap();
}

#[tokio::test]
async fn rows_a_claim_leased_while_its_answer_was_lost_are_sent_at_once() {
    let db = TestDb::new().await;
    let hooks = Arc::new(Hooks::default());
    let url = receiver(hooks.clone()).await;
    let server = start_with(&db, |c| {
        for hook in ["slow", "fast"] {
            c.policies
                .webhooks
                .insert(hook.into(), format!("{url}/{hook}"));
        }
        let policy = crate::dispatch::webhooks_at_once(&["slow", "fast"]);
        c.policies.policies.insert("critical".into(), policy);
    })
    .await;
    let metrics = Arc::new(Metrics::new());
    let d = Arc::new(dispatcher_for(&server, metrics.clone(), Default::default()));
    let other = dispatcher_for(&server, metrics.clone(), Default::default());

    // INC-1: its `fast` page goes out, its `slow` one stays in flight.
    open(&server, &metrics, "a").await;
    let sending = tokio::spawn({
        let d = d.clone();
        async move { d.run_once().await.unwrap() }
    });
    tokio::time::timeout(Duration::from_secs(10), hooks.arrived.notified())
        .await
        .expect("the slow send starts");
    // INC-2: a claim by `d` leases its `fast` page, then Postgres goes away before the answer
    // comes: `d` never learns of it. (Its `slow` page waits behind INC-1's.)
    open(&server, &metrics, "b").await;
    sqlx::query(
        "update outbox set lease_owner = $1, lease_until = $2
         where status = 'pending' and recipient like '%fast' and lease_owner is null",
    )
    .bind(d.id)
    .bind(server.clock_now() + chrono::TimeDelta::seconds(15))
    .execute(&db.pool)
    .await
    .unwrap();
    statement_fails_as_if_postgres_went_away(&db, true).await;
    assert!(d.run_once().await.is_err(), "the claim fails");
    statement_fails_as_if_postgres_went_away(&db, false).await;

    // Back: the lost row goes out at once; the row in flight is not freed for anyone.
    assert_eq!(d.run_once().await.unwrap(), 1, "INC-2's fast page");
    assert_eq!(hooks.fast.load(Ordering::SeqCst), 2);
    assert_eq!(
        other.run_once().await.unwrap(),
        0,
        "the slow send is still d's"
    );
    hooks.release.notify_one();
    sending.await.unwrap();
    assert_eq!(
        d.run_once().await.unwrap(),
        1,
        "INC-2's slow page, after INC-1's"
    );
    assert_eq!(hooks.slow.load(Ordering::SeqCst), 2, "each slow page once");
    let pending = db.count("outbox where status <> 'sent'").await;
    assert_eq!(pending, 0);
}
