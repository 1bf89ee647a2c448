//! What the monthly report adds to a period's statistics: incidents per day by severity, the
//! weeks' counts and response times, and the incidents that missed their response target (from
//! the facts kept on each incident: first acknowledgement, missed target).

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use sqlx::PgPool;

use crate::reports::monthly::{Day, Missed, Week};

/// Incidents opened per local day of `[from, to)` and severity.
pub async fn days(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    tz: Tz,
) -> Result<Vec<Day>, sqlx::Error> {
    let rows: Vec<(NaiveDate, i64, i64, i64)> = sqlx::query_as(
        "select (opened_at at time zone $3)::date,
            count(*) filter (where severity = 'critical'),
            count(*) filter (where severity = 'warning'),
            count(*) filter (where severity = 'info')
         from incidents where opened_at >= $1 and opened_at < $2 group by 1 order by 1",
    )
    .bind(from)
    .bind(to)
    .bind(tz.name())
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(date, critical, warning, info)| Day {
            date,
            critical,
            warning,
            info,
        })
        .collect())
}

/// Per local week (Monday first) of `[from, to)`: incidents, and mean times to acknowledge and
/// to resolve in seconds.
pub async fn weeks(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    tz: Tz,
) -> Result<Vec<Week>, sqlx::Error> {
    let rows: Vec<(NaiveDate, i64, Option<f64>, Option<f64>)> = sqlx::query_as(
        "select date_trunc('week', opened_at at time zone $3)::date, count(*),
            avg(extract(epoch from first_acknowledged_at - opened_at))::float8,
            avg(extract(epoch from resolved_at - opened_at))::float8
        from incidents where opened_at >= $1 and opened_at < $2 group by 1 order by 1",
    )
    .bind(from)
    .bind(to)
    .bind(tz.name())
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(start, incidents, mtta, mttr)| Week {
            start,
            incidents,
            mtta,
            mttr,
        })
        .collect())
}

/// Up to `limit` incidents of `[from, to)` that missed their response target, oldest first.
pub async fn missed(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: i64,
) -> Result<(Vec<Missed>, i64), sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        number: i64,
        report_id: Option<String>,
        severity: String,
        title: String,
        opened_at: DateTime<Utc>,
        target_secs: Option<f64>,
        tta_secs: Option<f64>,
        total: i64,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "with missed as (
            select i.id, i.number, i.severity, i.group_id, i.opened_at,
                extract(epoch from i.response_target)::float8 as target_secs,
                extract(epoch from i.first_acknowledged_at - i.opened_at)::float8 as tta_secs
            from incidents i
            where i.opened_at >= $1 and i.opened_at < $2
                and i.response_target_missed_at is not null
        )
        select m.number, r.report_id, m.severity, coalesce(first.title, 'alert') as title,
            m.opened_at, m.target_secs, m.tta_secs, count(*) over () as total
        from missed m
        left join incident_reports r on r.incident_id = m.id
        left join lateral (
            select coalesce(a.annotations->>'summary', a.alertname) as title from alerts a
            where a.group_id = m.group_id and a.incident_id = m.id order by a.starts_at limit 1
        ) first on true
        order by m.opened_at limit $3",
    )
    .bind(from)
    .bind(to)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let total = rows.first().map_or(0, |r| r.total);
    let list = rows
        .into_iter()
        .map(|r| Missed {
            incident: r.report_id.unwrap_or_else(|| format!("INC-{}", r.number)),
            alias: format!("INC-{}", r.number),
            severity: r.severity,
            title: r.title,
            opened_at: r.opened_at,
            target_secs: r.target_secs,
            acknowledged_after_secs: r.tta_secs,
        })
        .collect();
    Ok((list, total))
}
