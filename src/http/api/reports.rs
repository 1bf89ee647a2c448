//! `/api/v1/incidents/{incident}/report`: an incident's report draft, as Markdown or JSON, and
//! editing its free sections.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::caller::{Authed, Developer, Sre, Viewer};
use super::input::query;
use super::schema::{ErrorBody, ReportView, SectionsBody};
use super::{incident_ref, windows};
use crate::app::App;
use crate::http::error::ApiError;
use crate::reports::{Locale, SECTIONS};
use crate::store::reports as store;

/// The longest free section accepted.
const MAX_SECTION_CHARS: usize = 20_000;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct ReportQuery {
    /// `en` or `zh-CN` (default: the configured `reports.locale`).
    locale: Option<String>,
}

/// The draft of `incident` now, if the caller may see it.
async fn draft(
    app: &App,
    caller: &super::auth::Caller,
    incident: &str,
    locale: Option<Locale>,
) -> Result<(ReportView, String), ApiError> {
    let live = app.live.get();
    let now = app.clock.now();
    let found =
        crate::workers::reports::current(&app.pool, incident_ref(incident)?, &live, locale, now)
            .await?;
    let not_found = || ApiError::NotFound(format!("no incident {incident}"));
    let Some((detail, report)) = found else {
        return Err(not_found());
    };
    if !super::visible(caller, &detail.incident) {
        return Err(not_found());
    }
    let mut conn = app.pool.acquire().await?;
    let stored = store::find(&mut conn, detail.incident.id).await?;
    let markdown = live.reports.templates.markdown(&report);
    let view = ReportView {
        report_id: report.id.clone(),
        incident: report.alias.clone(),
        locale: report.locale.to_string(),
        markdown: markdown.clone(),
        report: serde_json::to_value(&report).unwrap_or_default(),
        generated_at: stored.as_ref().and_then(|s| s.generated_at),
        edited_by: stored.as_ref().and_then(|s| s.edited_by.clone()),
        edited_at: stored.as_ref().and_then(|s| s.edited_at),
    };
    Ok((view, markdown))
}

/// Markdown unless the client asks for JSON.
fn answer(headers: &HeaderMap, view: ReportView, markdown: String) -> Response {
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    if wants_json {
        Json(view).into_response()
    } else {
        (
            [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
            markdown,
        )
            .into_response()
    }
}

/// The incident's report draft as it stands now: Markdown, or JSON with `Accept:
/// application/json`. Before the incident resolves it is a live draft.
#[utoipa::path(get, path = "/api/v1/incidents/{incident}/report", tag = "reports",
    operation_id = "getIncidentReport", security(("bearer" = ["developer"])),
    params(("incident" = String, Path, description = "An id, INC-n or a report id"), ReportQuery),
    responses((status = 200, description = "The draft",
            content((String = "text/markdown"), (ReportView = "application/json"))),
        (status = 404, description = "No such incident (or another service's)", body = ErrorBody),
        (status = 422, description = "The locale is not known", body = ErrorBody)))]
pub(super) async fn get_report(
    State(app): State<Arc<App>>,
    Authed { caller, .. }: Authed<Developer>,
    Path(incident): Path<String>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Result<Response, ApiError> {
    let q: ReportQuery = query(uri.query())?;
    let locale = q
        .locale
        .map(|l| l.parse::<Locale>())
        .transpose()
        .map_err(ApiError::Unprocessable)?;
    let (view, markdown) = draft(&app, &caller, &incident, locale).await?;
    Ok(answer(&headers, view, markdown))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct MonthlyQuery {
    /// `2026-11`, in `reports.time_zone` (default: last month).
    month: Option<String>,
    /// `en` or `zh-CN` (default: `reports.locale`).
    locale: Option<String>,
    /// `md` (default), `html` (one self-contained page with charts) or `json`.
    format: Option<String>,
}

/// A month's report: the paging path's availability, incidents by severity, response times,
/// noisy alerts, missed targets and week-over-week trends.
#[utoipa::path(get, path = "/api/v1/reports/monthly", tag = "reports",
    operation_id = "getMonthlyReport", security(("bearer" = ["viewer"])), params(MonthlyQuery),
    responses((status = 200, description = "The report",
            content((String = "text/markdown"), (String = "text/html"), (crate::reports::monthly::Monthly = "application/json"))),
        (status = 422, description = "The month, locale or format is not valid", body = ErrorBody)))]
pub(super) async fn monthly_report(
    State(app): State<Arc<App>>,
    _: Authed<Viewer>,
    uri: axum::http::Uri,
) -> Result<Response, ApiError> {
    use crate::service::monthly::{Format, MonthlyError, monthly, print};
    let q: MonthlyQuery = query(uri.query())?;
    let locale = q
        .locale
        .map(|l| l.parse::<Locale>())
        .transpose()
        .map_err(ApiError::Unprocessable)?;
    let format: Format = q
        .format
        .as_deref()
        .unwrap_or("md")
        .parse()
        .map_err(ApiError::Unprocessable)?;
    let live = app.live.get();
    let now = app.clock.now();
    let month = q
        .month
        .unwrap_or_else(|| crate::reports::monthly::last_month(now, live.reports.time_zone));
    let failed = |e: MonthlyError| match e {
        MonthlyError::Invalid(why) => ApiError::Unprocessable(why),
        MonthlyError::Database(e) => ApiError::from(e),
    };
    let report = monthly(&app.pool, &live, &month, locale, now)
        .await
        .map_err(failed)?;
    let text = print(&live, &report, format).map_err(failed)?;
    let content_type = match format {
        Format::Markdown => "text/markdown; charset=utf-8",
        Format::Html => "text/html; charset=utf-8",
        Format::Json => "application/json",
    };
    Ok(([(header::CONTENT_TYPE, content_type)], text).into_response())
}

/// The sections of `body`, checked: known keys, strings or null, not too long.
fn sections(body: &[u8]) -> Result<Value, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("body is not JSON: {e}")))?;
    let Some(object) = value.as_object() else {
        return Err(ApiError::Unprocessable(
            "body must be a JSON object of sections".into(),
        ));
    };
    if object.is_empty() {
        return Err(ApiError::Unprocessable("no section given".into()));
    }
    let keys: Vec<&str> = SECTIONS.iter().map(|s| s.key).collect();
    for (key, text) in object {
        if !keys.contains(&key.as_str()) {
            return Err(ApiError::Unprocessable(format!(
                "{key:?} is not a section ({})",
                keys.join(", ")
            )));
        }
        match text {
            Value::Null => {}
            Value::String(s) if s.chars().count() <= MAX_SECTION_CHARS => {}
            Value::String(_) => {
                return Err(ApiError::Unprocessable(format!(
                    "{key} is longer than {MAX_SECTION_CHARS} characters"
                )));
            }
            _ => {
                return Err(ApiError::Unprocessable(format!(
                    "{key} must be a string or null"
                )));
            }
        }
    }
    Ok(value)
}

/// Replace free sections of the report (kept through later regenerations); audited. The draft
/// is stored again at once and answered.
#[utoipa::path(put, path = "/api/v1/incidents/{incident}/report", tag = "reports",
    operation_id = "editIncidentReport", security(("bearer" = ["sre"])), request_body = SectionsBody,
    params(("incident" = String, Path, description = "An id, INC-n or a report id")),
    responses((status = 200, description = "The draft with the edits",
            content((String = "text/markdown"), (ReportView = "application/json"))),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 409, description = "The incident has not resolved yet: it has no report", body = ErrorBody),
        (status = 422, description = "A section is not valid", body = ErrorBody)))]
pub(super) async fn edit_report(
    State(app): State<Arc<App>>,
    Authed { caller, client, .. }: Authed<Sre>,
    Path(incident): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let edits = sections(&body)?;
    let now = app.clock.now();
    let mut tx = app.pool.begin().await?;
    let Some(id) = store::incident_id(&mut tx, incident_ref(&incident)?).await? else {
        return Err(ApiError::NotFound(format!("no incident {incident}")));
    };
    if store::edit_sections(&mut tx, id, &edits, &caller.sub, now)
        .await?
        .is_none()
    {
        return Err(ApiError::Conflict(format!(
            "{incident} has not resolved yet: its report is drafted when it does (notes starting \
             with a section's name, `root cause: …`, fill it meanwhile)"
        )));
    }
    let detail = json!({"incident_id": id, "sections": edits});
    let ip = client.to_string();
    windows::commit_audited(&app, tx, &caller.sub, &ip, "edit_report", detail).await?;
    let (view, markdown) = draft(&app, &caller, &id.to_string(), None).await?;
    let mut conn = app.pool.acquire().await?;
    store::save_draft(&mut conn, id, &markdown, &view.locale, now, None).await?;
    Ok(answer(&headers, view, markdown))
}
