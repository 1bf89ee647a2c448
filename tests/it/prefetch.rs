//! Rows claimed ahead of a busy slot: the dispatcher claims beyond its free slots so a send that
//! ends takes the next row at once. Still only queue heads (one row per destination in flight
//! or waiting, so each destination's order holds); a row that waits past half its lease, or is
//! still waiting when the dispatcher stops, goes back to the outbox unsent.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use alertrouter::clock::Clock;
use alertrouter::config::ChannelSettings;
use alertrouter::metrics::Metrics;
use alertrouter::workers::dispatcher::{DispatchSettings, Dispatcher};
use axum::Json;
use axum::extract::Path;
use axum::routing::post;
use chrono::TimeDelta;
use serde_json::Value;
use tokio::sync::Notify;

use crate::escalation::{start_with, worker};
use crate::support::{TestDb, TestServer, alert, grouped, until};

/// A receiver of webhooks `/hook/{name}` that records (name, incident number) and signals each
/// arrival; the first request hangs until `release` is notified, or with `fail_first` is
/// answered 503 at once.
#[derive(Clone, Default)]
pub struct Receiver {
    pub seen: Arc<Mutex<Vec<(String, i64)>>>,
    pub arrived: Arc<Notify>,
    pub release: Arc<Notify>,
    pub fail_first: bool,
}

impl Receiver {
    async fn start(&self) -> String {
        let me = self.clone();
        let app = axum::Router::new().route(
            "/hook/{name}",
            post(move |Path(name): Path<String>, Json(event): Json<Value>| {
                let me = me.clone();
                async move {
                    let number = event["data"]["incident"]["number"].as_i64().unwrap();
                    let first = {
                        let mut seen = me.seen.lock().unwrap();
                        seen.push((name, number));
                        seen.len() == 1
                    };
                    me.arrived.notify_one();
                    if first && me.fail_first {
                        return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                    }
                    if first {
                        me.release.notified().await;
                    }
                    axum::http::StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    pub fn seen(&self) -> Vec<(String, i64)> {
        self.seen.lock().unwrap().clone()
    }
}

/// A server whose critical policy sends to each of `hooks` at once, and `incidents` incidents
/// whose first step has fired (one outbox row per hook and incident).
pub async fn setup(db: &TestDb, rx: &Receiver, hooks: &[&str], incidents: usize) -> TestServer {
    let url = rx.start().await;
    let server = start_with(db, |c| {
        for h in hooks {
            c.policies
                .webhooks
                .insert(h.to_string(), format!("{url}/{h}"));
        }
        c.policies
            .policies
            .insert("critical".into(), crate::dispatch::webhooks_at_once(hooks));
    })
    .await;
    // One at a time, so INC-1's rows come before INC-2's in every destination's queue.
    for i in 0..incidents {
        let name = format!("g{i}");
        let a = alert(&name, "critical", "firing", "2026-11-25T18:50:00Z", None);
        assert_eq!(server.post(grouped(&name, vec![a])).await.0, 200);
        worker(&server, Arc::new(Metrics::new()), 100)
            .run_once()
            .await
            .unwrap();
    }
    server
}

/// One slot per channel and `prefetch` rows ahead of it; only NOTIFY, ended sends and due
/// times wake it within a test.
pub fn one_slot(prefetch: usize, lease: Duration) -> DispatchSettings {
    DispatchSettings {
        concurrency: 1,
        prefetch,
        lease,
        poll: Duration::from_secs(3600),
        ..DispatchSettings::default()
    }
}

fn dispatcher(server: &TestServer, prefetch: usize, lease: Duration) -> Dispatcher {
    dispatcher_with(server, Arc::new(Metrics::new()), one_slot(prefetch, lease))
}

pub fn dispatcher_with(
    server: &TestServer,
    metrics: Arc<Metrics>,
    settings: DispatchSettings,
) -> Dispatcher {
    Dispatcher::new(
        server.app.pool.clone(),
        server.clock.clone() as Arc<dyn Clock>,
        server.app.live.clone(),
        metrics,
        alertrouter::channels::Channels::new(&ChannelSettings::default()).unwrap(),
        settings,
    )
}

/// Outbox rows pending with a lease, and pending with none.
async fn pending(db: &TestDb) -> (i64, i64) {
    sqlx::query_as(
        "select count(*) filter (where lease_owner is not null),
                count(*) filter (where lease_owner is null)
         from outbox where status = 'pending'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn rows_claimed_ahead_of_a_busy_slot_are_queue_heads_sent_in_order() {
    let db = TestDb::new().await;
    let rx = Receiver::default();
    let server = setup(&db, &rx, &["a", "b", "c"], 2).await;
    let d = Arc::new(dispatcher(&server, 8, Duration::from_secs(15)));
    let first = tokio::spawn({
        let d = d.clone();
        async move { d.run_once().await.unwrap() }
    });
    rx.arrived.notified().await;
    // One slot is busy, yet each destination's head is claimed (room for 9): and only its head.
    assert_eq!(
        pending(&db).await,
        (3, 3),
        "heads claimed, rows behind them not"
    );
    rx.release.notify_one();
    assert_eq!(first.await.unwrap(), 3);
    assert_eq!(
        d.run_once().await.unwrap(),
        3,
        "the rows behind, once heads"
    );
    assert_eq!(pending(&db).await, (0, 0));
    let seen = rx.seen();
    assert_eq!(seen.len(), 6, "{seen:?}");
    for hook in ["a", "b", "c"] {
        let order: Vec<i64> = seen.iter().filter(|s| s.0 == hook).map(|s| s.1).collect();
        assert_eq!(order, [1, 2], "{hook}'s incidents in order");
    }
}

#[tokio::test]
async fn a_row_waiting_past_half_its_lease_is_given_back_unsent() {
    let db = TestDb::new().await;
    let rx = Receiver::default();
    let server = setup(&db, &rx, &["a", "b"], 1).await;
    let lease = Duration::from_millis(300);
    let d = Arc::new(dispatcher(&server, 4, lease));
    let first = tokio::spawn({
        let d = d.clone();
        async move { d.run_once().await.unwrap() }
    });
    rx.arrived.notified().await;
    assert_eq!(pending(&db).await, (2, 0));
    // The send in flight renews its own lease; the row behind it is not renewed while it waits.
    server.clock.advance(TimeDelta::seconds(10));
    rx.release.notify_one();
    assert_eq!(first.await.unwrap(), 2, "both were claimed");
    assert_eq!(rx.seen().len(), 1, "the stale one was not sent");
    assert_eq!(pending(&db).await, (0, 1), "it is back in the outbox");
    assert_eq!(dispatcher(&server, 4, lease).run_once().await.unwrap(), 1);
    assert_eq!(rx.seen().len(), 2);
    assert_eq!(pending(&db).await, (0, 0));
}

#[tokio::test]
async fn stopping_gives_back_the_rows_claimed_ahead() {
    let db = TestDb::new().await;
    let rx = Receiver::default();
    let server = setup(&db, &rx, &["a", "b", "c"], 1).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(dispatcher(&server, 4, Duration::from_secs(15)).run(stopped));
    rx.arrived.notified().await;
    assert_eq!(pending(&db).await, (3, 0));
    stop.send(true).unwrap();
    // The rows ahead go back before the dispatcher waits for the send in flight.
    until("the rows ahead were not given back", || async {
        pending(&db).await == (1, 2)
    })
    .await;
    rx.release.notify_one();
    running.await.unwrap();
    assert_eq!(rx.seen().len(), 1, "only the send in flight went out");
    assert_eq!(pending(&db).await, (0, 2));
}
