//! Concurrent dispatchers on one database never claim the same notification while its lease
//! holds. Found by the fault suite (scripts/faults.sh): two replicas under load sent about one
//! page in twelve twice, because a row leased by one dispatcher after the other's claim had
//! taken its snapshot was re-read by FOR UPDATE and taken again.

use std::collections::HashMap;

use alertrouter::store::outbox::{
    ChannelClaim, Outcome, Recorded, claim_deliveries, record_deliveries,
};
use chrono::{TimeDelta, Utc};
use uuid::Uuid;

use crate::support::db::TestDb;

const ROWS: i64 = 3000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_never_take_a_leased_row() {
    let db = TestDb::new().await;
    let incident = Uuid::now_v7();
    sqlx::query(
        "with g as (
            insert into incident_groups (integration, route, group_key, version, current_incident_id)
            values ('claims', 'claims', 'g', 1, $1) returning id
        )
        insert into incidents (id, group_id, integration, route, group_key, group_labels, status,
            severity, started_at, opened_at, updated_at)
        select $1, g.id, 'claims', 'claims', 'g', '{}', 'open', 'critical', now(), now(), now()
        from g",
    )
    .bind(incident)
    .execute(&db.pool)
    .await
    .unwrap();
    // Short queues behind many destinations, so each recorded send frees a new head that
    // every claimer sees at once.
    sqlx::query(
        "insert into outbox (incident_id, dedup_key, channel, recipient, payload, created_at, due_at)
        select $1, 'claims:' || i, 'webhook', 'webhook:w' || (i % 300),
            jsonb_build_object('kind', 'page', 'step', 0), now() - interval '1 minute',
            now() - interval '1 minute'
        from generate_series(1, $2) i order by i",
    )
    .bind(incident)
    .bind(ROWS)
    .execute(&db.pool)
    .await
    .unwrap();

    let mut workers = Vec::new();
    for w in 0..4 {
        let pool = db.pool.clone();
        workers.push(tokio::spawn(async move {
            let me = Uuid::now_v7();
            let plan = [ChannelClaim {
                channel: "webhook",
                cap: 16,
                few_destinations: w % 2 == 0,
            }];
            let (mut claimed, mut failed_records) = (Vec::new(), 0);
            for _ in 0..2000 {
                let now = Utc::now();
                let (rows, _) =
                    claim_deliveries(&pool, me, &plan, now, now + TimeDelta::minutes(5), 16)
                        .await
                        .unwrap();
                if rows.is_empty() {
                    let pending: i64 =
                        sqlx::query_scalar("select count(*) from outbox where status = 'pending'")
                            .fetch_one(&pool)
                            .await
                            .unwrap();
                    if pending == 0 {
                        break;
                    }
                    tokio::task::yield_now().await;
                    continue;
                }
                let outcomes: Vec<Outcome> = rows
                    .iter()
                    .map(|(d, _)| Outcome {
                        id: d.id,
                        result: Recorded::Sent {
                            reference: String::new(),
                        },
                        at: Utc::now(),
                    })
                    .collect();
                claimed.extend(rows.iter().map(|(d, _)| (d.id, d.redelivery)));
                // Two claimers holding the same rows deadlock here; the count shows it.
                if record_deliveries(&pool, me, &outcomes).await.is_err() {
                    failed_records += 1;
                }
            }
            (claimed, failed_records)
        }));
    }
    let mut times: HashMap<i64, usize> = HashMap::new();
    let (mut redeliveries, mut failed_records) = (0, 0);
    for w in workers {
        let (claimed, failed) = w.await.unwrap();
        failed_records += failed;
        for (id, redelivery) in claimed {
            *times.entry(id).or_default() += 1;
            redeliveries += usize::from(redelivery);
        }
    }
    let twice = times.values().filter(|n| **n > 1).count();
    assert_eq!(
        (twice, failed_records),
        (0, 0),
        "rows claimed while another claimer held them, and results that could not be stored"
    );
    assert_eq!(times.len() as i64, ROWS, "every row was claimed");
    assert_eq!(
        redeliveries, 0,
        "no lease ran out, so nothing is a redelivery"
    );
}
