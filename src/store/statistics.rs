//! Statistics over a period, computed in SQL over incidents (with the facts their writers keep
//! on them beside the timeline: first acknowledgement, missed target, escalations), their alerts
//! and their pages: five statements side by side, each grouped by the asked key and in total
//! (`grouping sets`).

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
        select i.id, i.opened_at, i.resolved_at, i.flapping_since, i.escalations,
            i.first_acknowledged_at as first_ack, i.response_target_missed_at as missed_at,
            extract(epoch from i.response_target)::float8 as target,
            coalesce(case
                when $3 = 'severity' then i.severity
                when $3 = 'route' then i.route
                when $3 in ('service', 'team') then coalesce(i.group_labels->>$3,
                    (select a.labels->>$3 from alerts a
                     where a.group_id = i.group_id and a.incident_id = i.id
                     order by a.starts_at limit 1))
                else 'all' end, 'none') as key
        from incidents i
        where i.opened_at >= $1 and i.opened_at < $2
    )";

#[derive(sqlx::FromRow)]
struct IncidentFigures {
    key: Option<String>,
    total: bool,
    incidents: i64,
    tta_count: i64,
    tta_mean: Option<f64>,
    tta_p: Option<Vec<f64>>,
    ttr_count: i64,
    ttr_mean: Option<f64>,
    ttr_p: Option<Vec<f64>>,
    targeted: i64,
    met: i64,
    missed: i64,
    escalations: i64,
    flapping: i64,
}

#[derive(sqlx::FromRow)]
struct PageCounts {
    key: String,
    channel: String,
    pages: i64,
    delivered: i64,
    failed: i64,
    outside: i64,
}

#[derive(sqlx::FromRow)]
struct Latency {
    channel: Option<String>,
    count: i64,
    mean: Option<f64>,
    p: Option<Vec<f64>>,
}

fn share(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn spread(count: i64, mean: Option<f64>, p: Option<Vec<f64>>) -> Spread {
    let p = p.unwrap_or_default();
    Spread {
        count,
        mean,
        p50: p.first().copied(),
        p95: p.get(1).copied(),
    }
}

/// Each incident's times, from the facts kept on it beside its timeline.
async fn incident_figures(
    pool: &PgPool,
    p: &Period<'_>,
) -> Result<Vec<IncidentFigures>, sqlx::Error> {
    sqlx::query_as(&format!(
        "with {INCIDENTS},
        per as (
            select key, target, flapping_since, missed_at is not null as missed, escalations,
                extract(epoch from first_ack - opened_at)::float8 as tta,
                extract(epoch from resolved_at - opened_at)::float8 as ttr
            from inc
        )
        select key, grouping(key) = 1 as total, count(*) as incidents,
            count(tta) as tta_count, avg(tta) as tta_mean,
            percentile_cont(array[0.5, 0.95]) within group (order by tta) as tta_p,
            count(ttr) as ttr_count, avg(ttr) as ttr_mean,
            percentile_cont(array[0.5, 0.95]) within group (order by ttr) as ttr_p,
            count(*) filter (where target is not null) as targeted,
            count(*) filter (where target is not null and not missed
                and coalesce(tta, ttr) <= target) as met,
            count(*) filter (where target is not null and (missed
                or coalesce(tta, ttr) > target)) as missed,
            coalesce(sum(escalations), 0)::bigint as escalations,
            count(*) filter (where flapping_since is not null) as flapping
        from per group by grouping sets ((key), ())"
    ))
    .bind(p.from)
    .bind(p.to)
    .bind(p.group_by.unwrap_or(""))
    .fetch_all(pool)
    .await
}

/// Alerts per group and in total, and the ten alert names with the most.
async fn alert_figures(
    pool: &PgPool,
    p: &Period<'_>,
) -> Result<(Vec<(Option<String>, bool, i64)>, Vec<(String, i64, i64)>), sqlx::Error> {
    let counts_sql = format!(
        "with {INCIDENTS}
        select inc.key, grouping(inc.key) = 1, count(*) from alerts a
        join inc on inc.id = a.incident_id group by grouping sets ((inc.key), ())"
    );
    let counts = sqlx::query_as(&counts_sql)
        .bind(p.from)
        .bind(p.to)
        .bind(p.group_by.unwrap_or(""));
    let noisiest_sql = format!(
        "with {INCIDENTS},
        per as (
            select a.alertname, a.incident_id, count(*) as n from alerts a
            join inc on inc.id = a.incident_id group by 1, 2
        )
        select alertname, sum(n)::bigint, count(*) from per
        group by 1 order by 2 desc, 1 limit 10"
    );
    let noisiest = sqlx::query_as(&noisiest_sql)
        .bind(p.from)
        .bind(p.to)
        .bind("");
    tokio::try_join!(counts.fetch_all(pool), noisiest.fetch_all(pool))
}

/// Pages per group and channel, and the delivery latency per channel and in total.
async fn page_figures(
    pool: &PgPool,
    p: &Period<'_>,
) -> Result<(Vec<PageCounts>, Vec<Latency>), sqlx::Error> {
    let days: Vec<i32> = p
        .hours
        .days
        .iter()
        .map(|d| d.number_from_monday() as i32)
        .collect();
    let counts_sql = format!(
        "with {INCIDENTS},
        page as (
            select inc.key, o.channel, o.status, o.sent_at at time zone $4 as local
            from outbox o join inc on inc.id = o.incident_id
            where o.payload->>'kind' = 'page' and o.status <> 'cancelled'
        )
        select key, channel, count(*) as pages,
            count(*) filter (where status in ('sent', 'bundled')) as delivered,
            count(*) filter (where status = 'dead') as failed,
            count(*) filter (where status in ('sent', 'bundled') and not (
                extract(isodow from local)::int = any($5) and local::time >= $6
                and local::time < $7)) as outside
        from page group by key, channel"
    );
    let counts = sqlx::query_as(&counts_sql)
        .bind(p.from)
        .bind(p.to)
        .bind(p.group_by.unwrap_or(""))
        .bind(p.hours.time_zone.name())
        .bind(days)
        .bind(p.hours.start)
        .bind(p.hours.end);
    // Of the pages written in the period: no join, one scan.
    let latency = sqlx::query_as(
        "with sent as (
            select o.channel, extract(epoch from o.sent_at - o.created_at)::float8 as latency
            from outbox o
            where o.created_at >= $1 and o.created_at < $2 and o.status = 'sent'
                and o.payload->>'kind' = 'page'
        )
        select channel, count(*), avg(latency) as mean,
            percentile_cont(array[0.5, 0.95]) within group (order by latency) as p
        from sent group by grouping sets ((channel), ())",
    )
    .bind(p.from)
    .bind(p.to);
    tokio::try_join!(counts.fetch_all(pool), latency.fetch_all(pool))
}

/// The statistics of `p`: their statements run side by side, each on its own connection.
pub async fn period(pool: &PgPool, p: &Period<'_>) -> Result<PeriodStats, sqlx::Error> {
    let (figures, (alerts, noisiest), (pages, latency)) = tokio::try_join!(
        incident_figures(pool, p),
        alert_figures(pool, p),
        page_figures(pool, p)
    )?;
    let alerts_of = |key: &Option<String>| {
        alerts
            .iter()
            .find(|(k, total, _)| {
                if key.is_none() {
                    *total
                } else {
                    !*total && k == key
                }
            })
            .map_or(0, |(_, _, n)| *n)
    };
    let latency_of = |channel: Option<&str>| {
        latency
            .iter()
            .find(|l| l.channel.as_deref() == channel)
            .map(|l| spread(l.count, l.mean, l.p.clone()))
            .unwrap_or_default()
    };
    // Counted per group and channel in SQL; summed here into groups and totals (counts add
    // up, so no second pass over the pages). Latency is for the totals only.
    let mut by_key: BTreeMap<Option<String>, Pages> = BTreeMap::new();
    for f in &pages {
        for key in [Some(f.key.clone()), None] {
            let entry = by_key.entry(key.clone()).or_default();
            entry.total += f.pages;
            entry.delivered += f.delivered;
            entry.failed += f.failed;
            entry.outside_business_hours += f.outside;
            let channel = match entry.by_channel.iter_mut().find(|c| c.channel == f.channel) {
                Some(c) => c,
                None => {
                    entry.by_channel.push(ChannelPages {
                        channel: f.channel.clone(),
                        latency: if key.is_none() {
                            latency_of(Some(&f.channel))
                        } else {
                            Spread::default()
                        },
                        ..ChannelPages::default()
                    });
                    entry.by_channel.last_mut().expect("just pushed")
                }
            };
            channel.pages += f.pages;
            channel.delivered += f.delivered;
            channel.failed += f.failed;
        }
    }
    for (key, entry) in by_key.iter_mut() {
        entry.success = share(entry.delivered, entry.delivered + entry.failed);
        if key.is_none() {
            entry.latency = latency_of(None);
        }
        entry.by_channel.sort_by(|a, b| a.channel.cmp(&b.channel));
        for c in &mut entry.by_channel {
            c.success = share(c.delivered, c.delivered + c.failed);
        }
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
            alerts: alerts_of(&key),
            time_to_acknowledge: spread(f.tta_count, f.tta_mean, f.tta_p),
            time_to_resolve: spread(f.ttr_count, f.ttr_mean, f.ttr_p),
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
