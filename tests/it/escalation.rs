//! The escalation engine against Postgres: steps fire once, on the injected clock, across
//! several engines on one database, and a dead engine's leases are taken over.

use std::sync::Arc;
use std::time::Duration;

use alertrouter::clock::Clock;
use alertrouter::core::policy::{
    Channel, EscalationPolicy, Layer, Policies, Schedule, Step, Target, User,
};
use alertrouter::metrics::Metrics;
use alertrouter::routing::tree::Route;
use alertrouter::workers::escalation::{EscalationSettings, EscalationWorker};
use chrono::{NaiveDateTime, TimeDelta};

use crate::support::{TestDb, TestServer, alert, grouped, settings, webhook};

const S1: &str = "2026-11-25T18:50:00Z";

fn user(name: &str) -> User {
    User {
        name: name.into(),
        slack_id: None,
        email: None,
        phone: None,
        time_zone: None,
        contact: vec![Channel::Email],
    }
}

/// The shipped critical policy, on a one-person schedule.
pub fn sre_policies() -> Policies {
    let mut p = Policies::default();
    for u in ["alice", "carol"] {
        p.users.insert(u.into(), user(u));
    }
    p.schedules.insert(
        "primary".into(),
        Schedule {
            name: "primary".into(),
            time_zone: chrono_tz::UTC,
            layers: vec![Layer {
                members: vec!["alice".into()],
                shift: Duration::from_secs(7 * 86400),
                handoff: NaiveDateTime::parse_from_str("2026-01-05T09:00", "%Y-%m-%dT%H:%M")
                    .unwrap(),
            }],
            overrides: vec![],
        },
    );
    let step = |minutes: u64, target: Target, via: Vec<Channel>| Step {
        delay: Duration::from_secs(minutes * 60),
        targets: vec![target],
        via,
    };
    let all = vec![Channel::Slack, Channel::Sms, Channel::PagerDuty];
    p.policies.insert(
        "critical".into(),
        EscalationPolicy {
            name: "critical".into(),
            steps: vec![
                step(0, Target::Schedule("primary".into()), all.clone()),
                step(5, Target::Schedule("primary".into()), all),
                step(15, Target::User("carol".into()), vec![Channel::Sms]),
            ],
            repeat: 0,
            ack_timeout: None,
            response_target: Some(Duration::from_secs(300)),
        },
    );
    p
}

async fn start(db: &TestDb) -> TestServer {
    start_with(db, |_| {}).await
}

/// A server whose root route pages by the shipped critical policy, adjusted by `configure`.
pub async fn start_with(
    db: &TestDb,
    configure: impl FnOnce(&mut alertrouter::config::Settings),
) -> TestServer {
    let mut config = settings(&db.url);
    let mut root = Route::default_root();
    root.policy = Some("critical".into());
    config.routes = root;
    config.policies = sre_policies();
    configure(&mut config);
    TestServer::start(config).await
}

pub fn worker(server: &TestServer, metrics: Arc<Metrics>, batch: i64) -> EscalationWorker {
    EscalationWorker::new(
        server.app.pool.clone(),
        server.clock.clone() as Arc<dyn Clock>,
        server.app.live.clone(),
        metrics,
        EscalationSettings {
            batch,
            ..EscalationSettings::default()
        },
    )
}

/// A dispatcher on the test server's clock and config, with these channels.
pub fn dispatcher_for(
    server: &TestServer,
    metrics: Arc<Metrics>,
    channels: alertrouter::config::ChannelSettings,
) -> alertrouter::workers::dispatcher::Dispatcher {
    alertrouter::workers::dispatcher::Dispatcher::new(
        server.app.pool.clone(),
        server.clock.clone() as Arc<dyn Clock>,
        server.app.live.clone(),
        metrics,
        alertrouter::channels::Channels::new(&channels).unwrap(),
        alertrouter::workers::dispatcher::DispatchSettings::default(),
    )
}

pub async fn outbox(db: &TestDb) -> Vec<(String, String, String)> {
    sqlx::query_as("select recipient, channel, status from outbox order by id")
        .fetch_all(&db.pool)
        .await
        .unwrap()
}

/// Posts the critical `web-1` alert (INC-1) and fires its first step.
pub async fn open_and_fire(server: &TestServer, metrics: &Arc<Metrics>) {
    let (status, body) = server
        .post(webhook(vec![alert(
            "web-1", "critical", "firing", S1, None,
        )]))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        worker(server, metrics.clone(), 100)
            .run_once()
            .await
            .unwrap(),
        1
    );
}

/// Channel settings for the fake Slack at `url` (token `xoxb-test`).
pub fn slack_at(url: String) -> alertrouter::config::ChannelSettings {
    alertrouter::config::ChannelSettings {
        slack_url: url,
        slack_token: Some(secrecy::SecretString::from("xoxb-test".to_string())),
        ..alertrouter::config::ChannelSettings::default()
    }
}

pub async fn kinds(db: &TestDb, kind: &str) -> i64 {
    db.count(&format!("incident_events where kind = '{kind}'"))
        .await
}

#[tokio::test]
async fn steps_fire_on_time_once_and_resolve_cancels_what_is_pending() {
    let db = TestDb::new().await;
    let server = start(&db).await;
    let w = worker(&server, Arc::new(Metrics::new()), 100);

    server
        .post(webhook(vec![alert(
            "web-1", "critical", "firing", S1, None,
        )]))
        .await;
    assert_eq!(w.run_once().await.unwrap(), 1);
    let pages = outbox(&db).await;
    let want: Vec<(String, String, String)> = ["slack", "sms", "pagerduty"]
        .iter()
        .map(|c| {
            (
                "user:alice".to_string(),
                c.to_string(),
                "pending".to_string(),
            )
        })
        .collect();
    assert_eq!(pages, want);
    // Nothing more until the next step is due, however often the worker looks.
    assert_eq!(w.run_once().await.unwrap(), 0);
    server.clock.advance(TimeDelta::seconds(299));
    assert_eq!(w.run_once().await.unwrap(), 0);
    server.clock.advance(TimeDelta::seconds(1));
    assert_eq!(w.run_once().await.unwrap(), 1);
    assert_eq!(outbox(&db).await.len(), 6);
    assert_eq!(kinds(&db, "response_target_missed").await, 1);
    let escalations: i32 = sqlx::query_scalar("select escalations from incidents")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        escalations, 1,
        "the step after the first page, kept for statistics"
    );

    // Resolved before the manager's step: it never fires, and unsent pages are cancelled.
    server.clock.advance(TimeDelta::minutes(1));
    server
        .post(webhook(vec![alert(
            "web-1",
            "critical",
            "resolved",
            S1,
            Some("2026-11-25T19:05:30Z"),
        )]))
        .await;
    server.clock.advance(TimeDelta::minutes(20));
    assert_eq!(w.run_once().await.unwrap(), 0);
    let pages = outbox(&db).await;
    assert_eq!(pages.len(), 6);
    assert!(
        pages.iter().all(|(_, _, status)| status == "cancelled"),
        "{pages:?}"
    );
    assert_eq!(kinds(&db, "escalated").await, 2);

    // Reopened within the window: the chain resumes as though it had stayed open. The pages
    // its resolution cancelled go out after all, nothing that fired fires again, and the
    // manager's step keeps its time from the first opening (15 min).
    server
        .clock
        .set(crate::support::t0() + TimeDelta::minutes(8));
    server
        .post(webhook(vec![alert(
            "web-1",
            "critical",
            "firing",
            "2026-11-25T19:07:00Z",
            None,
        )]))
        .await;
    assert_eq!(w.run_once().await.unwrap(), 0);
    let pages = outbox(&db).await;
    assert_eq!(pages.len(), 6);
    assert!(
        pages.iter().all(|(_, _, status)| status == "pending"),
        "{pages:?}"
    );
    server
        .clock
        .set(crate::support::t0() + TimeDelta::minutes(15));
    assert_eq!(w.run_once().await.unwrap(), 1);
    let pages = outbox(&db).await;
    assert_eq!(pages.len(), 7);
    assert_eq!(
        pages[6],
        ("user:carol".into(), "sms".into(), "pending".into())
    );
    assert_eq!(kinds(&db, "escalated").await, 3);
    assert_eq!(kinds(&db, "reopened").await, 1);
}

#[tokio::test]
async fn three_engines_fire_a_thousand_incidents_once_and_take_over_a_dead_ones_leases() {
    let db = TestDb::new().await;
    let server = start(&db).await;
    // 1,000 incidents opened in the same minute.
    for chunk in 0..50 {
        let posts = (0..20).map(|i| {
            let n = chunk * 20 + i;
            server.post(grouped(
                &format!("{{}}:{{instance=\"i-{n}\"}}"),
                vec![alert(&format!("i-{n}"), "critical", "firing", S1, None)],
            ))
        });
        for (status, body) in futures_join(posts).await {
            assert_eq!(status, 200, "{body}");
        }
    }
    assert_eq!(db.count("incidents").await, 1000);

    let metrics = Arc::new(Metrics::new());
    let engines: Vec<EscalationWorker> = (0..3)
        .map(|_| worker(&server, metrics.clone(), 50))
        .collect();
    // One engine claims a batch and dies without firing it.
    assert_eq!(engines[0].claim_only().await.unwrap(), 50);
    let drain = |live: &'static [usize]| {
        let engines = &engines;
        async move {
            let runs = live
                .iter()
                .map(|&i| async move { while engines[i].run_once().await.unwrap() > 0 {} });
            futures_join(runs).await;
        }
    };
    drain(&[1, 2]).await;
    assert_eq!(
        kinds(&db, "escalated").await,
        950,
        "the dead engine's 50 wait for their lease"
    );
    server.clock.advance(TimeDelta::seconds(16));
    drain(&[1, 2]).await;
    assert_eq!(kinds(&db, "escalated").await, 1000);
    assert_eq!(db.count("outbox").await, 3000);
    assert!(
        metrics
            .encode()
            .contains("alertrouter_escalation_lease_takeovers_total 50")
    );

    // The next step, due in the same minute for all: all three engines, each step once.
    server.clock.advance(TimeDelta::minutes(5));
    drain(&[0, 1, 2]).await;
    assert_eq!(kinds(&db, "escalated").await, 2000);
    assert_eq!(db.count("outbox").await, 6000);
    let per_incident: Vec<i64> = sqlx::query_scalar(
        "select count(*) from incident_events where kind = 'escalated' group by incident_id having count(*) <> 2",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(
        per_incident.is_empty(),
        "some incident fired a step twice or not at all"
    );
}

/// Runs futures concurrently on this task and collects their outputs in order.
async fn futures_join<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let handles: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut slots: Vec<Option<F::Output>> = handles.iter().map(|_| None).collect();
    let mut pending: Vec<(usize, std::pin::Pin<Box<F>>)> =
        handles.into_iter().enumerate().collect();
    std::future::poll_fn(|cx| {
        pending.retain_mut(|(i, f)| match f.as_mut().poll(cx) {
            std::task::Poll::Ready(out) => {
                slots[*i] = Some(out);
                false
            }
            std::task::Poll::Pending => true,
        });
        if pending.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    slots.into_iter().map(|s| s.unwrap()).collect()
}

#[tokio::test]
async fn an_acknowledged_incident_pages_no_one_more() {
    let db = TestDb::new().await;
    let server = start(&db).await;
    let w = worker(&server, Arc::new(Metrics::new()), 100);
    server
        .post(webhook(vec![alert(
            "web-1", "critical", "firing", S1, None,
        )]))
        .await;
    w.run_once().await.unwrap();
    let id: uuid::Uuid = sqlx::query_scalar("select id from incidents")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    use alertrouter::core::actions::Action;
    use alertrouter::core::{Actor, IncidentRef};
    use alertrouter::service::actions::{ActionError, act};
    server.clock.advance(TimeDelta::minutes(2));
    let ack = |name: &str| {
        let actor = Actor {
            name: name.into(),
            source: "api",
            client_addr: None,
        };
        let app = server.app.clone();
        async move { act(&app, &actor, IncidentRef::Id(id), &Action::Ack, None).await }
    };
    assert!(ack("alice").await.is_ok());
    assert!(matches!(ack("bob").await, Err(ActionError::Refused { .. })));
    server.clock.advance(TimeDelta::hours(1));
    assert_eq!(w.run_once().await.unwrap(), 0);
    assert_eq!(outbox(&db).await.len(), 3, "only the first step's pages");
    assert_eq!(kinds(&db, "acknowledged").await, 1);
}

/// A worker whose firing failed because Postgres could not be reached fires the incident on its
/// next round, not a lease later (found by scripts/faults.sh, where such steps fired 15 s late
/// after Postgres came back); any other failure waits out the lease (tests/it/batches.rs), so an
/// incident failing the same way every time is not retried in a loop.
#[tokio::test]
async fn a_worker_fires_again_at_once_what_postgres_going_away_kept_it_from_firing() {
    let db = TestDb::new().await;
    let server = start(&db).await;
    let metrics = Arc::new(Metrics::new());
    let (w, other) = (
        worker(&server, metrics.clone(), 100),
        worker(&server, metrics, 100),
    );
    server
        .post(webhook(vec![alert(
            "web-1", "critical", "firing", S1, None,
        )]))
        .await;
    // Firing fails with a connection failure's SQLSTATE, as when Postgres goes away.
    sqlx::raw_sql(
        "create function gone() returns trigger language plpgsql as $$
         begin raise exception 'connection lost' using errcode = '08006'; end $$;
         create trigger gone before update on incidents for each row
         when (old.lease_owner is not null and new.lease_owner is null)
         execute function gone();",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    assert_eq!(w.run_once().await.unwrap(), 1);
    assert_eq!(outbox(&db).await.len(), 0, "nothing fired");
    sqlx::raw_sql("drop trigger gone on incidents")
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        other.run_once().await.unwrap(),
        0,
        "another worker waits for the lease"
    );
    assert_eq!(w.run_once().await.unwrap(), 1, "its own, at once");
    assert_eq!(outbox(&db).await.len(), 3, "the first step's pages, once");
    assert_eq!(kinds(&db, "escalated").await, 1, "one step fired");
}

/// A claim that committed but whose answer was lost when Postgres went away leaves incidents
/// leased to a worker that does not know it holds them: once Postgres is back its next claim
/// takes its own leases again, rather than leaving them a lease late (scripts/faults.sh
/// failover, where such steps fired 15 s after the promotion).
#[tokio::test]
async fn a_worker_takes_again_at_once_what_a_claim_with_a_lost_answer_leased_to_it() {
    let db = TestDb::new().await;
    let server = start(&db).await;
    let metrics = Arc::new(Metrics::new());
    let (w, other) = (
        worker(&server, metrics.clone(), 1),
        worker(&server, metrics, 1),
    );
    for key in ["{}:{a}", "{}:{b}"] {
        let alerts = vec![alert("web-1", "critical", "firing", S1, None)];
        server.post(grouped(key, alerts)).await;
    }
    // The claim that committed, its answer lost.
    assert_eq!(w.claim_only().await.unwrap(), 1);
    // The claim after it fails the way it does while Postgres is away.
    sqlx::raw_sql(
        "create function gone() returns trigger language plpgsql as $$
         begin raise exception 'connection lost' using errcode = '08006'; end $$;
         create trigger gone before update on incidents for each row
         when (old.lease_owner is null and new.lease_owner is not null)
         execute function gone();",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    assert!(w.run_once().await.is_err(), "the claim fails");
    sqlx::raw_sql("drop trigger gone on incidents")
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(other.run_once().await.unwrap(), 1, "the free one");
    assert_eq!(
        other.run_once().await.unwrap(),
        0,
        "not the one leased to w"
    );
    assert_eq!(w.run_once().await.unwrap(), 1, "w's own, at once");
    assert_eq!(kinds(&db, "escalated").await, 2, "each step once");
    assert_eq!(
        outbox(&db).await.len(),
        6,
        "both incidents' first pages, once"
    );
}
