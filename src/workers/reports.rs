//! Drafting reports when they fall due (a resolution plus `reports.delay`, so the resolution's
//! own notifications are in them): the timer workers build each draft from the incident's rows,
//! store it, and write its delivery — a thread reply where Slack shows the incident, an e-mail to
//! everyone who was paged or acted — in one transaction.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::core::IncidentRef;
use crate::core::notification::{Notice, NoticeKind, OutboxRows};
use crate::live::Reloadable;
use crate::reports::{Locale, Report, build};
use crate::store::read::IncidentDetail;
use crate::store::reports as store;

/// How long a worker may take over one batch of drafts before another takes them over.
const LEASE: TimeDelta = TimeDelta::seconds(60);

/// The report of `incident` as it stands at `now`, in `locale` (else its route's, else the
/// configured one); `None` if there is no such incident.
pub async fn current(
    pool: &PgPool,
    incident: IncidentRef,
    live: &Reloadable,
    locale: Option<Locale>,
    now: DateTime<Utc>,
) -> Result<Option<(IncidentDetail, Report)>, sqlx::Error> {
    let (settings, policies) = (&live.reports, &live.policies);
    let Some(detail) = crate::store::read::incident_detail(pool, incident).await? else {
        return Ok(None);
    };
    let mut conn = pool.acquire().await?;
    let facts = store::facts(&mut conn, detail.incident.id).await?;
    let tz = detail
        .incident
        .team
        .as_ref()
        .and_then(|t| policies.teams.get(t))
        .and_then(|t| t.time_zone)
        .unwrap_or(settings.time_zone);
    let route = live.routes.find(&detail.incident.route);
    let locale = locale
        .or(route.and_then(|r| r.report_locale))
        .unwrap_or(settings.locale);
    let report = build(&detail, &facts, locale, tz, now);
    Ok(Some((detail, report)))
}

/// Drafts and sends up to `limit` due reports; returns how many were drafted.
pub async fn draft_due(
    pool: &PgPool,
    live: &Reloadable,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<usize, sqlx::Error> {
    let lease = now + LEASE;
    let due = store::claim_due(pool, now, lease, limit).await?;
    let mut drafted = 0;
    for id in due {
        match draft(pool, live, id, now, lease).await {
            Ok(true) => drafted += 1,
            Ok(false) => {}
            // The lease runs out and this or another worker tries again.
            Err(e) => tracing::warn!(incident = %id, error = %e, "report draft not committed"),
        }
    }
    Ok(drafted)
}

async fn draft(
    pool: &PgPool,
    live: &Reloadable,
    id: Uuid,
    now: DateTime<Utc>,
    lease: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let (settings, policies) = (&live.reports, &live.policies);
    let Some((detail, report)) = current(pool, IncidentRef::Id(id), live, None, now).await? else {
        return Ok(false);
    };
    let mut tx = pool.begin().await?;
    let resolved_at = match detail.incident.resolved_at {
        Some(at) if detail.incident.status == "resolved" => at,
        // Reopened before its draft was due: the next resolution schedules it again.
        _ => {
            store::release(&mut tx, id, lease).await?;
            tx.commit().await?;
            return Ok(false);
        }
    };
    let markdown = settings.templates.markdown(&report);
    store::save_draft(&mut tx, id, &markdown, report.locale, now, Some(lease)).await?;
    let subject = if report.locale == Locale::ZhCn.as_str() {
        format!("事故报告 {}：{}", report.id, report.title)
    } else {
        format!("Incident report {}: {}", report.id, report.title)
    };
    let notice = Notice {
        incident: id,
        kind: NoticeKind::Report,
        at: resolved_at,
        actor: None,
        detail: json!({"report_id": report.id, "subject": subject, "markdown": markdown}),
    };
    let shown = crate::store::shown(&mut tx, id).await?;
    let people: Vec<String> = store::people(&mut tx, id)
        .await?
        .into_iter()
        .filter(|name| policies.users.get(name).is_some_and(|u| u.email.is_some()))
        .collect();
    let mut rows = OutboxRows::default();
    rows.report(&notice, &shown, &people);
    crate::store::enqueue(&mut tx, id, now, &rows).await?;
    tx.commit().await?;
    tracing::info!(incident = %id, report = %report.id, recipients = rows.len(), "report drafted");
    Ok(true)
}

/// `alertrouter report incident`: the draft of `incident` now, as Markdown (`md`) or JSON.
pub async fn incident_command(
    settings: &crate::config::Settings,
    incident: &str,
    locale: Option<&str>,
    format: &str,
) -> Result<String, String> {
    let json = match format {
        "md" => false,
        "json" => true,
        other => return Err(format!("--format {other:?} is not md or json")),
    };
    let locale = crate::service::monthly::locale_arg(locale)?;
    let pool = crate::store::pool(&settings.database).map_err(|e| e.to_string())?;
    let reference: IncidentRef = incident.parse()?;
    let live = Reloadable::from_settings(settings);
    let found = current(&pool, reference, &live, locale, Utc::now())
        .await
        .map_err(|e| format!("database: {e}"))?;
    let Some((_, report)) = found else {
        return Err(format!("no incident {incident}"));
    };
    if json {
        let mut text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        text.push('\n');
        return Ok(text);
    }
    Ok(settings.reports.templates.markdown(&report))
}
