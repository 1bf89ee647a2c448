//! Batching: concurrent webhooks share one commit (group commit), and one claim of the timer
//! worker fires many incidents in one transaction — and in both, one item's failure or lost
//! race never fails the others.

use std::sync::Arc;

use alertrouter::alertmanager::parse_webhook;
use alertrouter::ingest::Ingested;
use alertrouter::metrics::Metrics;
use chrono::TimeDelta;

use crate::escalation::{kinds, start_with, worker};
use crate::support::{TestDb, TestServer, alert, grouped};

const S1: &str = "2026-11-25T18:50:00Z";

/// Ingests `bodies` concurrently, straight into the ingestor (no HTTP in between, so on this
/// single-threaded test runtime every webhook is queued before a committer takes the queue).
async fn ingest_all(
    server: &TestServer,
    bodies: Vec<String>,
) -> Vec<Result<Ingested, sqlx::Error>> {
    let tasks: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let app = server.app.clone();
            tokio::spawn(async move {
                let webhook = parse_webhook(body.as_bytes()).unwrap();
                app.ingestor.ingest("am", &webhook).await
            })
        })
        .collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

fn body(group: &str) -> String {
    grouped(
        &format!("{{}}:{{instance=\"{group}\"}}"),
        vec![alert(group, "critical", "firing", S1, None)],
    )
}

#[tokio::test]
async fn concurrent_webhooks_share_commits_and_a_lost_race_or_a_failing_plan_stays_alone() {
    let db = TestDb::new().await;
    let server = start_with(&db, |_| {}).await;
    // 20 new groups, each sent twice (two Alertmanager replicas), and one group whose write
    // fails every time.
    sqlx::raw_sql(
        "create function refuse_poison() returns trigger language plpgsql as $$
         begin raise exception 'poisoned incident'; end $$;
         create trigger poison before insert on incidents for each row
         when (new.group_key like '%poison%') execute function refuse_poison();",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let mut bodies: Vec<String> = (0..40).map(|n| body(&format!("i-{}", n % 20))).collect();
    bodies.insert(7, body("poison"));
    let results = ingest_all(&server, bodies).await;

    let failed: Vec<usize> = (0..results.len())
        .filter(|&i| results[i].is_err())
        .collect();
    assert_eq!(failed, [7], "only the poisoned webhook fails: {results:?}");
    let changed = results
        .iter()
        .filter(|r| matches!(r, Ok(Ingested::Changed)))
        .count();
    assert_eq!(changed, 20, "each group is opened by one of its two copies");
    assert_eq!(db.count("incidents").await, 20);
    assert_eq!(db.count("incident_events where kind = 'opened'").await, 20);
    let commits = server.metric("alertrouter_ingest_commit_batch_size_count");
    let plans = server.metric("alertrouter_ingest_commit_batch_size_sum");
    assert!(plans >= 41.0, "every plan went through a commit: {plans}");
    // One commit for the first round, then the lost races and the poisoned plan re-decided: how
    // many rounds those take depends on when their reads come back (6 seen on a loaded machine).
    // Written one by one, it would be 41 or more.
    assert!(
        commits <= 10.0,
        "41 concurrent webhooks took {commits} commits: they were not written together"
    );
}

#[tokio::test]
async fn one_claim_fires_many_incidents_in_one_commit_and_a_failing_one_waits_alone() {
    let db = TestDb::new().await;
    let server = start_with(&db, |_| {}).await;
    let results = ingest_all(&server, (0..30).map(|n| body(&format!("i-{n}"))).collect()).await;
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    // The step that releases the lease of i-13 fails, as long as the trigger stands.
    sqlx::raw_sql(
        "create function refuse_release() returns trigger language plpgsql as $$
         begin raise exception 'poisoned incident'; end $$;
         create trigger poison before update on incidents for each row
         when (new.group_key like '%\"i-13\"%' and old.lease_owner is not null
               and new.lease_owner is null)
         execute function refuse_release();",
    )
    .execute(&db.pool)
    .await
    .unwrap();

    let metrics = Arc::new(Metrics::new());
    let engine = worker(&server, metrics.clone(), 100);
    assert_eq!(engine.run_once().await.unwrap(), 30);
    assert_eq!(
        kinds(&db, "escalated").await,
        29,
        "all but the poisoned one fired"
    );
    assert_eq!(db.count("outbox").await, 29 * 3);
    let text = metrics.encode();
    let batches: f64 = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("alertrouter_escalation_claim_batch_size_count ")?
                .parse()
                .ok()
        })
        .unwrap();
    // The claim went out in (at most) `concurrency` transactions; the failed one was fired again
    // incident by incident.
    assert!(
        batches <= 8.0 + 4.0,
        "{batches} commits for 30 incidents\n{text}"
    );

    // Its lease runs out; with the fault gone, it fires, once.
    sqlx::raw_sql("drop trigger poison on incidents")
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(engine.run_once().await.unwrap(), 0, "still leased");
    server.clock.advance(TimeDelta::seconds(16));
    assert_eq!(engine.run_once().await.unwrap(), 1);
    assert_eq!(kinds(&db, "escalated").await, 30);
    assert_eq!(db.count("outbox").await, 30 * 3);
}
