//! Delivering the outbox: claiming rows in order per destination, and recording what a send
//! came to.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::channels::{Bundled, Delivery, IncidentSummary};

/// The channel woken when outbox rows are written.
pub const OUTBOX_CHANNEL: &str = "alertrouter_outbox";

#[derive(sqlx::FromRow)]
struct Claimed {
    id: i64,
    dedup_key: String,
    channel: String,
    recipient: String,
    payload: serde_json::Value,
    attempts: i32,
    deferrals: i32,
    created_at: DateTime<Utc>,
    incident_id: Uuid,
    number: i64,
    status: String,
    severity: String,
    group_labels: serde_json::Value,
    title: Option<String>,
    alert_labels: Option<serde_json::Value>,
    annotations: Option<serde_json::Value>,
    generator_url: Option<String>,
    external_url: Option<String>,
    acknowledged_by: Option<String>,
    flapping: bool,
    was_leased: bool,
    destinations: i64,
}

/// How to claim one channel's rows: at most `cap`, and whether it has few destinations (then its
/// queue heads are found by a skip scan, one index probe per destination, which costs nothing
/// however long a queue grows; with many destinations one pass over the pending rows is cheaper).
#[derive(Debug, Clone, Copy)]
pub struct ChannelClaim<'a> {
    pub channel: &'a str,
    pub cap: i64,
    pub few_destinations: bool,
}

/// Below this many destinations with pending rows, a channel's heads are found by a skip scan.
pub const FEW_DESTINATIONS: i64 = 64;

/// Leases up to `limit` due rows, at most `cap` of each channel and at most the oldest pending row
/// per destination, so a destination's messages leave in the order they were written. Also says
/// how many destinations each channel had pending rows for (when it claimed any).
pub async fn claim_deliveries(
    pool: &PgPool,
    worker: Uuid,
    channels: &[ChannelClaim<'_>],
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> Result<(Vec<(Delivery, DateTime<Utc>)>, Vec<(String, i64)>), sqlx::Error> {
    let few: Vec<&str> = channels
        .iter()
        .filter(|c| c.few_destinations)
        .map(|c| c.channel)
        .collect();
    let many: Vec<&str> = channels
        .iter()
        .filter(|c| !c.few_destinations)
        .map(|c| c.channel)
        .collect();
    let names: Vec<&str> = channels.iter().map(|c| c.channel).collect();
    let caps: Vec<i64> = channels.iter().map(|c| c.cap).collect();
    let rows: Vec<Claimed> = sqlx::query_as(CLAIM)
        .bind(worker)
        .bind(now)
        .bind(lease_until)
        .bind(limit)
        .bind(&few)
        .bind(&many)
        .bind(&names)
        .bind(&caps)
        // Planned afresh for each claim: a plan cached while the outbox was empty would be
        // quadratic once it is not.
        .persistent(false)
        .fetch_all(pool)
        .await?;
    let mut destinations: Vec<(String, i64)> = Vec::new();
    for r in &rows {
        if !destinations.iter().any(|(c, _)| *c == r.channel) {
            destinations.push((r.channel.clone(), r.destinations));
        }
    }
    Ok((
        rows.into_iter().map(Claimed::into_delivery).collect(),
        destinations,
    ))
}

/// The claim. Queue heads (the oldest pending row per destination: only it may leave) are found
/// by a skip scan for the channels in `$5` (one index probe per destination, so a long queue
/// behind one number costs nothing) and by one pass over the pending rows for those in `$6`
/// (cheaper with thousands of destinations). Then at most `cap` due heads per channel, `$4` in
/// all, are leased, with what their messages need.
const CLAIM: &str = "with recursive skip as (
        (select channel, recipient, id, due_at, lease_until from outbox
         where status = 'pending' and channel = any($5)
         order by channel, recipient, id limit 1)
        union all
        select n.channel, n.recipient, n.id, n.due_at, n.lease_until
        from skip h cross join lateral (
            select channel, recipient, id, due_at, lease_until from outbox
            where status = 'pending' and (channel, recipient) > (h.channel, h.recipient)
            order by channel, recipient, id limit 1
        ) n
        -- Channels sort, so the walk stops after the last one asked for.
        where n.channel <= (select max(c) from unnest($5::text[]) c)
    ), heads as (
        select * from skip where channel = any($5)
        union all
        select distinct on (channel, recipient) channel, recipient, id, due_at, lease_until
        from outbox where status = 'pending' and channel = any($6)
        order by channel, recipient, id
    ), due as (
        -- The limit bounds the join below whatever the statistics say.
        select o.id, o.lease_owner is not null as was_leased from outbox o
        where o.id in (
            select r.id from (
                select h.id, h.due_at, h.channel,
                    row_number() over (partition by h.channel order by h.due_at, h.id) as rank
                from heads h
                where h.due_at <= $2 and (h.lease_until is null or h.lease_until < $2)
            ) r
            join unnest($7::text[], $8::bigint[]) as c(channel, cap) on c.channel = r.channel
            where r.rank <= c.cap
            order by r.due_at, r.id
            limit $4)
          -- Checked again on the row itself: a row another dispatcher leased and committed
          -- after this statement's snapshot is re-read by FOR UPDATE, and only these
          -- conditions (not the heads' snapshot) decide whether it is still free.
          and o.status = 'pending' and (o.lease_until is null or o.lease_until < $2)
        for update of o skip locked
    ), counts as (
        select channel, count(*) as destinations from heads group by channel
    )
    update outbox o set lease_owner = $1, lease_until = $3
    from due, counts, incidents i
    left join lateral (
        select coalesce(a.annotations->>'summary', a.alertname) as title, a.annotations, a.labels,
               a.generator_url
        -- group_id leads the alerts key, so this is an index lookup.
        from alerts a where a.group_id = i.group_id and a.incident_id = i.id
        order by a.starts_at limit 1
    ) first on true
    where o.id = due.id and i.id = o.incident_id and counts.channel = o.channel
    returning o.id, o.dedup_key, o.channel, o.recipient, o.payload, o.attempts, o.deferrals,
        o.created_at, i.id as incident_id, i.number, i.status, i.severity, i.group_labels,
        first.title, first.labels as alert_labels, first.annotations, first.generator_url, i.external_url, i.acknowledged_by,
        i.flapping_since is not null as flapping,
        due.was_leased, counts.destinations";

impl Claimed {
    fn into_delivery(self) -> (Delivery, DateTime<Utc>) {
        let row = self;
        let incident = IncidentSummary {
            id: row.incident_id,
            number: row.number,
            status: row.status,
            severity: row.severity,
            group_labels: row.group_labels,
            title: row.title.unwrap_or_else(|| "alert".into()),
            alert_labels: row.alert_labels.unwrap_or_default(),
            annotations: row.annotations.unwrap_or_default(),
            generator_url: row.generator_url.filter(|u| !u.is_empty()),
            external_url: row.external_url,
            acknowledged_by: row.acknowledged_by,
            flapping: row.flapping,
        };
        let delivery = Delivery {
            id: row.id,
            dedup_key: row.dedup_key,
            channel: row.channel,
            recipient: row.recipient,
            payload: row.payload,
            attempts: row.attempts,
            deferrals: row.deferrals,
            incident,
            redelivery: row.was_leased,
            bundled: Vec::new(),
            created_at: row.created_at,
        };
        (delivery, row.created_at)
    }
}

/// How a send ended, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    Sent {
        reference: String,
    },
    RetryAt {
        at: DateTime<Utc>,
        error: String,
    },
    Dead {
        error: String,
    },
    /// Held back by a rate limit: not an attempt, just a later turn.
    Deferred {
        at: DateTime<Utc>,
    },
}

/// One send's result to store: the row, what the send came to, and when.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub id: i64,
    pub result: Recorded,
    pub at: DateTime<Utc>,
}

/// Stores the results of sends, in one statement, for the rows whose lease this worker still
/// holds; says for each whether it was stored.
pub async fn record_deliveries(
    pool: &PgPool,
    worker: Uuid,
    outcomes: &[Outcome],
) -> Result<Vec<bool>, sqlx::Error> {
    let n = outcomes.len();
    let (mut ids, mut statuses, mut due, mut refs, mut errors, mut at, mut attempts, mut deferrals) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for o in outcomes {
        let (status, due_at, reference, error) = match &o.result {
            Recorded::Sent { reference } => ("sent", None, Some(reference.as_str()), None),
            Recorded::RetryAt { at, error } => ("pending", Some(*at), None, Some(error.as_str())),
            Recorded::Dead { error } => ("dead", None, None, Some(error.as_str())),
            Recorded::Deferred { at } => ("pending", Some(*at), None, None),
        };
        let deferred = matches!(o.result, Recorded::Deferred { .. });
        ids.push(o.id);
        statuses.push(status);
        due.push(due_at);
        refs.push(reference);
        errors.push(error);
        at.push(o.at);
        attempts.push(i32::from(!deferred));
        deferrals.push(i32::from(deferred));
    }
    let stored: Vec<i64> = sqlx::query_scalar(
        "update outbox o set status = u.status, attempts = o.attempts + u.attempt,
            deferrals = o.deferrals + u.deferral, due_at = coalesce(u.due_at, o.due_at),
            provider_ref = coalesce(u.reference, o.provider_ref),
            last_error = coalesce(u.error, o.last_error),
            sent_at = case when u.status = 'sent' then u.at else o.sent_at end,
            lease_owner = null, lease_until = null
         from unnest($2::bigint[], $3::text[], $4::timestamptz[], $5::text[], $6::text[],
                $7::timestamptz[], $8::int[], $9::int[])
            as u(id, status, due_at, reference, error, at, attempt, deferral)
         -- `any` lets the planner find the rows by their key whatever it guesses of unnest.
         where o.id = any($2) and o.id = u.id and o.lease_owner = $1
         returning o.id",
    )
    .bind(worker)
    .bind(&ids)
    .bind(&statuses)
    .bind(&due)
    .bind(&refs)
    .bind(&errors)
    .bind(&at)
    .bind(&attempts)
    .bind(&deferrals)
    // Planned for each batch: a plan cached while the outbox was small reads the whole table
    // for every batch once it is not (auto_explain in the delivery benchmark: a sequential scan
    // of 22,000 rows for each batch of results).
    .persistent(false)
    .fetch_all(pool)
    .await?;
    let stored: std::collections::HashSet<i64> = stored.into_iter().collect();
    Ok(ids.iter().map(|id| stored.contains(id)).collect())
}

/// Leases the pages waiting behind `first` for the same destination that are due by `now`, up
/// to `limit`, to go out in one message with it.
pub async fn claim_bundle(
    pool: &PgPool,
    worker: Uuid,
    first: &Delivery,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Bundled>, sqlx::Error> {
    let rows: Vec<(i64, i64, String, String)> = sqlx::query_as(
        "with b as (
            select o.id from outbox o
            where o.channel = $3 and o.recipient = $4 and o.status = 'pending' and o.id > $5
              and o.due_at <= $6 and o.payload->>'kind' = 'page'
              and (o.lease_until is null or o.lease_until < $6)
            order by o.id
            limit $7
            for update skip locked
        )
        update outbox o set lease_owner = $1, lease_until = $2
        from b, incidents i
        where o.id = b.id and i.id = o.incident_id
        returning o.id, i.number, i.severity,
            coalesce((select coalesce(a.annotations->>'summary', a.alertname) from alerts a
                      where a.group_id = i.group_id and a.incident_id = i.id
                      order by a.starts_at limit 1), 'alert')",
    )
    .bind(worker)
    .bind(lease_until)
    .bind(&first.channel)
    .bind(&first.recipient)
    .bind(first.id)
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let mut bundled: Vec<Bundled> = rows
        .into_iter()
        .map(|(id, number, severity, title)| Bundled {
            id,
            number,
            severity,
            title,
        })
        .collect();
    bundled.sort_by_key(|b| b.id);
    Ok(bundled)
}

/// Settles the pages that rode along with `into`: bundled when it was sent, else released to
/// wait for the next turn.
pub async fn settle_bundle(
    pool: &PgPool,
    worker: Uuid,
    into: i64,
    ids: &[i64],
    sent: bool,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update outbox set status = case when $4 then 'bundled' else status end,
            bundled_into = case when $4 then $3 else bundled_into end,
            sent_at = case when $4 then $5 else sent_at end,
            lease_owner = null, lease_until = null
         where id = any($2) and lease_owner = $1",
    )
    .bind(worker)
    .bind(ids)
    .bind(into)
    .bind(sent)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}
