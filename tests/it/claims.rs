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

/// One open incident for outbox rows to belong to.
async fn incident(db: &TestDb) -> Uuid {
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
    incident
}

/// Claimed in due order, a channel gives only each destination's oldest pending row, and
/// nothing of a destination whose oldest row is not due yet (its later rows wait behind it).
#[tokio::test]
async fn a_claim_in_due_order_takes_only_queue_heads() {
    let db = TestDb::new().await;
    let incident = incident(&db).await;
    // Ten destinations, five rows each, interleaved; w0's oldest row is due in an hour.
    sqlx::query(
        "insert into outbox (incident_id, dedup_key, channel, recipient, payload, created_at, due_at)
        select $1, 'heads:' || i, 'webhook', 'webhook:w' || (i % 10),
            jsonb_build_object('kind', 'page', 'step', 0), now(),
            case when i = 10 then now() + interval '1 hour' else now() - interval '1 minute' end
        from generate_series(1, 50) i order by i",
    )
    .bind(incident)
    .execute(&db.pool)
    .await
    .unwrap();
    for few_destinations in [false, true] {
        let plan = [ChannelClaim {
            channel: "webhook",
            cap: 50,
            few_destinations,
        }];
        let now = Utc::now();
        let me = Uuid::now_v7();
        let (rows, _) = claim_deliveries(&db.pool, me, &plan, now, now + TimeDelta::minutes(1), 50)
            .await
            .unwrap();
        let mut got: Vec<(String, i64)> = rows
            .iter()
            .map(|(d, _)| (d.recipient.clone(), d.id))
            .collect();
        got.sort();
        let heads: Vec<(String, i64)> = sqlx::query_as(
            "select recipient, min(id) from outbox where recipient <> 'webhook:w0'
             group by recipient order by recipient",
        )
        .fetch_all(&db.pool)
        .await
        .unwrap();
        assert_eq!(got, heads, "few_destinations: {few_destinations}");
        sqlx::query("update outbox set lease_owner = null, lease_until = null")
            .execute(&db.pool)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_never_take_a_leased_row() {
    let db = TestDb::new().await;
    let incident = incident(&db).await;
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

    // Taken after each claim and before its results are stored: a destination's next row can
    // only be claimed once its previous one is stored, so its rows' tickets rise with their ids.
    let tickets = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut workers = Vec::new();
    for w in 0..4 {
        let pool = db.pool.clone();
        let tickets = tickets.clone();
        workers.push(tokio::spawn(async move {
            let me = Uuid::now_v7();
            let plan = [ChannelClaim {
                channel: "webhook",
                cap: 16,
                few_destinations: w % 2 == 0,
            }];
            let (mut claimed, mut failed_records) = (Vec::new(), 0);
            let mut order = Vec::new();
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
                let ticket = tickets.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                order.extend(
                    rows.iter()
                        .map(|(d, _)| (d.recipient.clone(), d.id, ticket)),
                );
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
            (claimed, failed_records, order)
        }));
    }
    let mut times: HashMap<i64, usize> = HashMap::new();
    let (mut redeliveries, mut failed_records) = (0, 0);
    let mut per_destination: HashMap<String, Vec<(u64, i64)>> = HashMap::new();
    for w in workers {
        let (claimed, failed, order) = w.await.unwrap();
        failed_records += failed;
        for (recipient, id, ticket) in order {
            per_destination
                .entry(recipient)
                .or_default()
                .push((ticket, id));
        }
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
    for (destination, mut rows) in per_destination {
        rows.sort();
        let ids: Vec<i64> = rows.iter().map(|(_, id)| *id).collect();
        assert!(
            ids.is_sorted(),
            "{destination}'s rows were claimed out of order: {ids:?}"
        );
    }
    assert_eq!(
        redeliveries, 0,
        "no lease ran out, so nothing is a redelivery"
    );
}
