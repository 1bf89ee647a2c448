//! Incident report drafts: scheduled when an incident resolves, drafted by the timer workers
//! when due, edited through the API.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::core::IncidentRef;

/// Schedules `incident`'s draft for `due` (its resolution plus `reports.delay`): on the first
/// resolution it gets its report id, on a later one (it reopened) the same draft is redone.
pub async fn schedule(
    tx: &mut sqlx::PgConnection,
    incident: Uuid,
    due: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let base: Option<String> = sqlx::query_scalar(
        "select 'INC-' || to_char(started_at at time zone 'UTC', 'YYYYMMDDHH24MI')
         from incidents where id = $1",
    )
    .bind(incident)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(base) = base else { return Ok(()) };
    let redone = sqlx::query(
        "update incident_reports set due_at = $2, resolutions = resolutions + 1
         where incident_id = $1",
    )
    .bind(incident)
    .bind(due)
    .execute(&mut *tx)
    .await?;
    if redone.rows_affected() > 0 {
        return Ok(());
    }
    // The minute's next suffix: its counter row is locked until this commits, so incidents of
    // one minute take theirs one at a time; other minutes do not wait. A suffix already in use
    // (given by a replica of the previous release, which counted) is passed over.
    for _ in 0..SUFFIX_TRIES {
        let inserted = sqlx::query(
            "with next as (
                insert into report_ids (base, taken) values ($2, 1)
                on conflict (base) do update set taken = report_ids.taken + 1
                returning case when taken = 1 then $2 else $2 || '-' || taken end as report_id
            )
            insert into incident_reports (incident_id, report_id, due_at)
            select $1, next.report_id, $3 from next
            where not exists (select 1 from incident_reports r where r.report_id = next.report_id)
            on conflict (incident_id) do update
                set due_at = excluded.due_at, resolutions = incident_reports.resolutions + 1",
        )
        .bind(incident)
        .bind(&base)
        .bind(due)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() > 0 {
            return Ok(());
        }
    }
    Err(sqlx::Error::Protocol(format!(
        "no free report id for {base} in {SUFFIX_TRIES} tries"
    )))
}

/// How many suffixes in use one report id may pass over.
const SUFFIX_TRIES: usize = 100;

/// Leases up to `limit` drafts due by `now` until `lease_until` (another worker redoes one whose
/// lease runs out); returns their incidents and the lease each holds.
pub async fn claim_due(
    pool: &sqlx::PgPool,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "update incident_reports set due_at = $2
         where incident_id in (
            select incident_id from incident_reports where due_at <= $1
            order by due_at limit $3 for update skip locked)
         returning incident_id",
    )
    .bind(now)
    .bind(lease_until)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// What is stored of an incident's report.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReportRow {
    pub incident_id: Uuid,
    pub report_id: String,
    pub sections: Value,
    pub edited_by: Option<String>,
    pub edited_at: Option<DateTime<Utc>>,
    pub markdown: Option<String>,
    pub locale: Option<String>,
    pub generated_at: Option<DateTime<Utc>>,
    pub resolutions: i32,
}

/// The report row of `incident`, if it has resolved once.
pub async fn find(
    db: &mut sqlx::PgConnection,
    incident: Uuid,
) -> Result<Option<ReportRow>, sqlx::Error> {
    sqlx::query_as(
        "select incident_id, report_id, sections, edited_by, edited_at, markdown, locale,
                generated_at, resolutions
         from incident_reports where incident_id = $1",
    )
    .bind(incident)
    .fetch_optional(db)
    .await
}

/// Stores a generated draft; ends the lease `lease` if it is still this worker's.
pub async fn save_draft(
    tx: &mut sqlx::PgConnection,
    incident: Uuid,
    markdown: &str,
    locale: &str,
    now: DateTime<Utc>,
    lease: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update incident_reports set markdown = $2, locale = $3, generated_at = $4,
            due_at = case when due_at = $5 then null else due_at end
         where incident_id = $1",
    )
    .bind(incident)
    .bind(markdown)
    .bind(locale)
    .bind(now)
    .bind(lease)
    .execute(tx)
    .await?;
    Ok(())
}

/// Replaces the free sections named in `edits` (a null removes the edit, so notes fill the
/// section again), recording who and when, in the timeline too. Locks the row; `None` when the
/// incident has no report yet.
pub async fn edit_sections(
    tx: &mut sqlx::PgConnection,
    incident: Uuid,
    edits: &Value,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Option<ReportRow>, sqlx::Error> {
    let row: Option<ReportRow> = sqlx::query_as(
        "update incident_reports
            set sections = jsonb_strip_nulls(sections || $2), edited_by = $3, edited_at = $4
         where incident_id = $1
         returning incident_id, report_id, sections, edited_by, edited_at, markdown, locale,
                generated_at, resolutions",
    )
    .bind(incident)
    .bind(edits)
    .bind(by)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    if row.is_some() {
        let keys: Vec<&String> = edits
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        sqlx::query(
            "insert into incident_events (incident_id, kind, occurred_at, received_at, integration, detail)
             values ($1, 'report_edited', $2, $2, 'action', jsonb_build_object('actor', $3::text, 'sections', $4::text[]))",
        )
        .bind(incident)
        .bind(now)
        .bind(by)
        .bind(keys)
        .execute(&mut *tx)
        .await?;
    }
    Ok(row)
}

/// The incident an incident reference (a report id too) names, if any.
pub async fn incident_id(
    db: &mut sqlx::PgConnection,
    incident: IncidentRef,
) -> Result<Option<Uuid>, sqlx::Error> {
    let (id, number, report) = incident.columns();
    sqlx::query_scalar(
        "select id from incidents where id = $1 or number = $2
            or id = (select incident_id from incident_reports where report_id = $3)",
    )
    .bind(id)
    .bind(number)
    .bind(report)
    .fetch_optional(db)
    .await
}

/// Gives up the lease on a draft that is not to be made now (its incident reopened).
pub async fn release(
    tx: &mut sqlx::PgConnection,
    incident: Uuid,
    lease: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("update incident_reports set due_at = null where incident_id = $1 and due_at = $2")
        .bind(incident)
        .bind(lease)
        .execute(tx)
        .await?;
    Ok(())
}

/// What a report needs besides the incident's rows: its report id and edited sections, the
/// first alert's start, the policy and its response target, the Alertmanager's URL.
pub async fn facts(
    db: &mut sqlx::PgConnection,
    incident: Uuid,
) -> Result<crate::reports::Facts, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        started_at: DateTime<Utc>,
        policy: Option<String>,
        target_secs: Option<f64>,
        external_url: Option<String>,
    }
    let row: Option<Row> = sqlx::query_as(
        "select started_at, policy, extract(epoch from response_target)::float8 as target_secs,
                external_url
         from incidents where id = $1",
    )
    .bind(incident)
    .fetch_optional(&mut *db)
    .await?;
    let Some(row) = row else {
        return Ok(Default::default());
    };
    let report = find(&mut *db, incident).await?;
    let sections = report
        .as_ref()
        .and_then(|r| r.sections.as_object())
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    Ok(crate::reports::Facts {
        report_id: report.map(|r| r.report_id),
        started_at: row.started_at,
        policy: row.policy,
        response_target: row
            .target_secs
            .map(|s| chrono::TimeDelta::seconds(s as i64)),
        external_url: row.external_url,
        sections,
    })
}

/// Everyone who was sent one of `incident`'s pages or acted on it, by name.
pub async fn people(
    tx: &mut sqlx::PgConnection,
    incident: Uuid,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "select name from (
            select substr(recipient, 6) as name, min(id) as seen from outbox
            where incident_id = $1 and recipient like 'user:%' and payload->>'kind' = 'page'
                and status in ('sent', 'bundled')
            group by 1
            union all
            select detail->>'actor', min(id) + 1000000000000 from incident_events
            where incident_id = $1 and integration = 'action' and detail ? 'actor'
            group by 1
        ) p group by name order by min(seen)",
    )
    .bind(incident)
    .fetch_all(tx)
    .await
}
