//! Statistics over a period, computed in SQL over incidents, their timelines and notifications:
//! one statement for the incident figures, one for the pages, one for the noisiest alert names,
//! each grouped by the asked key and in total (`grouping sets`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::config::BusinessHours;
use crate::reports::stats::{ChannelPages, Group, Noisy, Pages, PeriodStats, Spread, TargetShare};

/// What is counted: incidents opened in `[from, to)`, grouped by `group_by` (one of
/// [`crate::reports::stats::GROUP_BY`]) if given.
#[derive(Debug, Clone)]
pub struct Period<'a> {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub group_by: Option<&'a str>,
    pub hours: &'a BusinessHours,
}

/// The period's incidents and the key of each ($1 from, $2 to, $3 the grouping).
const INCIDENTS: &str = "
    inc as (
        select i.id, i.opened_at, i.resolved_at, i.flapping_since,
            extract(epoch from i.response_target)::float8 as target,
            coalesce(case $3
                when 'service' then coalesce(i.group_labels->>'service', first.labels->>'service')
                when 'team' then coalesce(i.group_labels->>'team', first.labels->>'team')
                when 'severity' then i.severity
                when 'route' then i.route
                else 'all' end, 'none') as key
        from incidents i
        left join lateral (
            select a.labels from alerts a where a.group_id = i.group_id and a.incident_id = i.id
            order by a.starts_at limit 1
        ) first on $3 in ('service', 'team')
        where i.opened_at >= $1 and i.opened_at < $2
    )";

#[derive(sqlx::FromRow)]
struct IncidentFigures {
    key: Option<String>,
    total: bool,
    incidents: i64,
    alerts: i64,
    tta_count: i64,
    tta_mean: Option<f64>,
    tta_p50: Option<f64>,
    tta_p95: Option<f64>,
    ttr_count: i64,
    ttr_mean: Option<f64>,
    ttr_p50: Option<f64>,
    ttr_p95: Option<f64>,
    targeted: i64,
    met: i64,
    missed: i64,
    escalations: i64,
    flapping: i64,
}

#[derive(sqlx::FromRow)]
struct PageFigures {
    key: Option<String>,
    total: bool,
    /// Every channel together.
    all: bool,
    channel: Option<String>,
    pages: i64,
    delivered: i64,
    failed: i64,
    outside: i64,
    latency_count: i64,
    latency_mean: Option<f64>,
    latency_p50: Option<f64>,
    latency_p95: Option<f64>,
}

fn share(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The statistics of `p`.
pub async fn period(pool: &PgPool, p: &Period<'_>) -> Result<PeriodStats, sqlx::Error> {
    let group = p.group_by.unwrap_or("");
    let figures: Vec<IncidentFigures> = sqlx::query_as(&format!(
        "with {INCIDENTS},
        ack as (
            select e.incident_id, min(e.occurred_at) as at from incident_events e
            join inc on inc.id = e.incident_id
            where e.kind in ('acknowledged', 'snoozed') group by 1
        ), timeline as (
            select e.incident_id,
                count(*) filter (where e.kind = 'response_target_missed') as missed,
                count(*) filter (where e.kind = 'escalated'
                    and (coalesce((e.detail->>'step')::int, 0) > 0
                         or coalesce((e.detail->>'loop')::int, 0) > 0)) as escalations
            from incident_events e join inc on inc.id = e.incident_id
            where e.kind in ('response_target_missed', 'escalated') group by 1
        ), alert_counts as (
            select a.incident_id, count(*) as n from alerts a
            join inc on inc.id = a.incident_id group by 1
        ), per as (
            select inc.key, inc.target, inc.flapping_since,
                extract(epoch from ack.at - inc.opened_at)::float8 as tta,
                extract(epoch from inc.resolved_at - inc.opened_at)::float8 as ttr,
                coalesce(t.missed, 0) > 0 as missed, coalesce(t.escalations, 0) as escalations,
                coalesce(ac.n, 0) as alerts
            from inc left join ack on ack.incident_id = inc.id
            left join timeline t on t.incident_id = inc.id
            left join alert_counts ac on ac.incident_id = inc.id
        )
        select key, grouping(key) = 1 as total, count(*) as incidents,
            coalesce(sum(alerts), 0)::bigint as alerts,
            count(tta) as tta_count, avg(tta) as tta_mean,
            percentile_cont(0.5) within group (order by tta) as tta_p50,
            percentile_cont(0.95) within group (order by tta) as tta_p95,
            count(ttr) as ttr_count, avg(ttr) as ttr_mean,
            percentile_cont(0.5) within group (order by ttr) as ttr_p50,
            percentile_cont(0.95) within group (order by ttr) as ttr_p95,
            count(*) filter (where target is not null) as targeted,
            count(*) filter (where target is not null and not missed
                and coalesce(tta, ttr) <= target) as met,
            count(*) filter (where target is not null and (missed
                or coalesce(tta, ttr) > target)) as missed,
            coalesce(sum(escalations), 0)::bigint as escalations,
            count(*) filter (where flapping_since is not null) as flapping
        from per group by grouping sets ((key), ()) order by total desc, key"
    ))
    .bind(p.from)
    .bind(p.to)
    .bind(group)
    .fetch_all(pool)
    .await?;
    let days: Vec<i32> = p
        .hours
        .days
        .iter()
        .map(|d| d.number_from_monday() as i32)
        .collect();
    let pages: Vec<PageFigures> = sqlx::query_as(&format!(
        "with {INCIDENTS},
        page as (
            select inc.key, o.channel, o.status, o.sent_at,
                extract(epoch from o.sent_at - o.created_at)::float8 as latency,
                o.sent_at at time zone $4 as local
            from outbox o join inc on inc.id = o.incident_id
            where o.payload->>'kind' = 'page' and o.status <> 'cancelled'
        )
        select key, grouping(key) = 1 as total, grouping(channel) = 1 as all, channel,
            count(*) as pages,
            count(*) filter (where status in ('sent', 'bundled')) as delivered,
            count(*) filter (where status = 'dead') as failed,
            count(*) filter (where status in ('sent', 'bundled') and not (
                extract(isodow from local)::int = any($5) and local::time >= $6
                and local::time < $7)) as outside,
            count(latency) filter (where status = 'sent') as latency_count,
            avg(latency) filter (where status = 'sent') as latency_mean,
            percentile_cont(0.5) within group (order by latency)
                filter (where status = 'sent') as latency_p50,
            percentile_cont(0.95) within group (order by latency)
                filter (where status = 'sent') as latency_p95
        from page group by grouping sets ((key, channel), (key), (channel), ())
        order by total desc, key, channel"
    ))
    .bind(p.from)
    .bind(p.to)
    .bind(group)
    .bind(p.hours.time_zone.name())
    .bind(&days)
    .bind(p.hours.start)
    .bind(p.hours.end)
    .fetch_all(pool)
    .await?;
    let noisiest: Vec<(String, i64, i64)> = sqlx::query_as(&format!(
        "with {INCIDENTS}
        select a.alertname, count(*), count(distinct a.incident_id) from alerts a
        join inc on inc.id = a.incident_id
        group by 1 order by 2 desc, 1 limit 10"
    ))
    .bind(p.from)
    .bind(p.to)
    .bind(group)
    .fetch_all(pool)
    .await?;

    let mut by_key: BTreeMap<Option<String>, Pages> = BTreeMap::new();
    for f in pages {
        let key = if f.total { None } else { f.key.clone() };
        let entry = by_key.entry(key).or_default();
        let latency = Spread {
            count: f.latency_count,
            mean: f.latency_mean,
            p50: f.latency_p50,
            p95: f.latency_p95,
        };
        let success = share(f.delivered, f.delivered + f.failed);
        if f.all {
            entry.total = f.pages;
            entry.delivered = f.delivered;
            entry.failed = f.failed;
            entry.outside_business_hours = f.outside;
            entry.success = success;
            entry.latency = latency;
            continue;
        }
        entry.by_channel.push(ChannelPages {
            success,
            channel: f.channel.unwrap_or_default(),
            pages: f.pages,
            delivered: f.delivered,
            failed: f.failed,
            latency,
        });
    }
    let mut totals = Group {
        key: "all".into(),
        ..Group::default()
    };
    let mut groups = Vec::new();
    for f in figures {
        let key = if f.total { None } else { f.key.clone() };
        let g = Group {
            key: key.clone().unwrap_or_else(|| "all".into()),
            incidents: f.incidents,
            alerts: f.alerts,
            time_to_acknowledge: Spread {
                count: f.tta_count,
                mean: f.tta_mean,
                p50: f.tta_p50,
                p95: f.tta_p95,
            },
            time_to_resolve: Spread {
                count: f.ttr_count,
                mean: f.ttr_mean,
                p50: f.ttr_p50,
                p95: f.ttr_p95,
            },
            response_target: TargetShare {
                targeted: f.targeted,
                met: f.met,
                missed: f.missed,
                share_met: share(f.met, f.targeted),
            },
            escalations: f.escalations,
            flapping: f.flapping,
            pages: by_key.remove(&key).unwrap_or_default(),
        };
        if f.total {
            totals = g;
        } else if p.group_by.is_some() {
            groups.push(g);
        }
    }
    Ok(PeriodStats {
        from: p.from,
        to: p.to,
        group_by: p.group_by.map(str::to_string),
        totals,
        groups,
        noisiest: noisiest
            .into_iter()
            .map(|(alertname, alerts, incidents)| Noisy {
                alertname,
                alerts,
                incidents,
            })
            .collect(),
    })
}
