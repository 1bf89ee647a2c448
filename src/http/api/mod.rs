//! `/api/v1`: incidents for people and their tools, behind JWTs with roles, rate limited per
//! client address and per subject. Each handler returns a type of [`schema`] and carries its
//! `#[utoipa::path]`; the OpenAPI document is generated from them ([`document`]).

pub mod auth;
mod caller;
pub(crate) mod input;
pub mod jwks;
mod openapi;
mod reload;
mod reports;
pub mod schema;
mod stats;
mod windows;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use self::auth::Role;
use self::caller::{Admin, Authed, Developer, Sre, Viewer};
use self::schema::{
    ActionDone, AuditPage, DeadLetters, ErrorBody, IncidentDetail, IncidentPage, OnCall, OnCallNow,
    Retried,
};
use super::error::ApiError;
use crate::app::App;
use crate::core::{Actor, IncidentRef};
use crate::service::actions;
use crate::store::read;

pub use self::input::parse_action;
use self::input::{ActionBody, ListQuery, cursor, page_size, query};
pub use self::openapi::document;

/// The largest page a list returns.
pub const MAX_PAGE: i64 = 200;

/// The API's routes.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/api/v1/incidents", get(list))
        .route("/api/v1/incidents/{incident}", get(detail))
        .route("/api/v1/incidents/{incident}/actions", post(act))
        .route(
            "/api/v1/incidents/{incident}/report",
            get(reports::get_report).put(reports::edit_report),
        )
        .route("/api/v1/oncall", get(oncall))
        .route(
            "/api/v1/maintenance",
            get(windows::list_windows).post(windows::open_window),
        )
        .route("/api/v1/maintenance/{id}/end", post(windows::end_window))
        .route(
            "/api/v1/schedule-overrides",
            get(windows::list_overrides).post(windows::add_override),
        )
        .route("/api/v1/stats", get(stats::stats))
        .route("/api/v1/reports/monthly", get(reports::monthly_report))
        .route("/api/v1/audit", get(audit))
        .route("/api/v1/dead-letters", get(dead_letters))
        .route("/api/v1/dead-letters/{id}/retry", post(retry))
        .route("/api/v1/admin/reload", post(reload::reload))
        .route("/api/v1/openapi.json", get(openapi::serve))
        .layer(DefaultBodyLimit::max(64 * 1024))
}

/// Incidents, newest first, filtered, a page at a time (a developer sees its services' only).
#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents", operation_id = "listIncidents",
    params(ListQuery), security(("bearer" = ["viewer"])),
    responses((status = 200, body = IncidentPage),
        (status = 422, description = "A filter is not valid", body = ErrorBody)))]
async fn list(
    State(app): State<Arc<App>>,
    Authed { caller, .. }: Authed<Viewer>,
    uri: axum::http::Uri,
) -> Result<Json<IncidentPage>, ApiError> {
    let filter = input::list_filter(uri.query(), &caller)?;
    let (rows, next) = read::list_incidents(&app.pool, &filter)
        .await
        .map_err(ApiError::from)?;
    Ok(Json(IncidentPage {
        incidents: rows.into_iter().map(Into::into).collect(),
        next_cursor: next.map(|n| n.to_string()),
    }))
}

/// Whether `caller` may see `incident`: a developer sees its services' only.
fn visible(caller: &auth::Caller, incident: &read::IncidentRow) -> bool {
    caller.role != Role::Developer
        || incident
            .service
            .as_ref()
            .is_some_and(|s| caller.services.contains(s))
}

fn incident_ref(text: &str) -> Result<IncidentRef, ApiError> {
    text.parse().map_err(ApiError::NotFound)
}

/// One incident: alerts, labels, annotations, timeline, notifications and their delivery.
#[utoipa::path(get, path = "/api/v1/incidents/{incident}", tag = "incidents",
    operation_id = "getIncident", security(("bearer" = ["developer"])),
    params(("incident" = String, Path, description = "An id, a number or INC-n")),
    responses((status = 200, body = IncidentDetail),
        (status = 404, description = "No such incident (or another service's)", body = ErrorBody)))]
async fn detail(
    State(app): State<Arc<App>>,
    Authed { caller, .. }: Authed<Developer>,
    Path(incident): Path<String>,
) -> Result<Json<IncidentDetail>, ApiError> {
    let found = read::incident_detail(&app.pool, incident_ref(&incident)?)
        .await
        .map_err(ApiError::from)?;
    // Another service's incident answers exactly as one that does not exist, so a developer
    // cannot learn which ids are in use.
    let not_found = || ApiError::NotFound(format!("no incident {incident}"));
    let Some(found) = found else {
        return Err(not_found());
    };
    if !visible(&caller, &found.incident) {
        return Err(not_found());
    }
    Ok(Json(IncidentDetail {
        summary: found.incident.into(),
        alerts: found.alerts.into_iter().map(Into::into).collect(),
        timeline: found.timeline.into_iter().map(Into::into).collect(),
        notifications: found.notifications.into_iter().map(Into::into).collect(),
    }))
}

/// Acknowledge, unacknowledge, resolve, escalate now, snooze, reassign or add a note.
#[utoipa::path(post, path = "/api/v1/incidents/{incident}/actions", tag = "incidents",
    operation_id = "actOnIncident", security(("bearer" = ["sre"])), request_body = ActionBody,
    params(("incident" = String, Path, description = "An id, a number or INC-n")),
    responses((status = 200, body = ActionDone),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 409, description = "Not possible in the incident's state", body = ErrorBody),
        (status = 422, description = "The action is not valid", body = ErrorBody)))]
async fn act(
    State(app): State<Arc<App>>,
    Authed { caller, client, .. }: Authed<Sre>,
    Path(incident): Path<String>,
    body: Bytes,
) -> Result<Json<ActionDone>, ApiError> {
    let action = parse_action(&body, app.clock.now())?;
    let actor = Actor {
        name: caller.sub,
        source: "api",
        client_addr: Some(client.to_string()),
    };
    let done = actions::act(&app, &actor, incident_ref(&incident)?, &action, None).await?;
    Ok(Json(ActionDone {
        id: done.id,
        incident: done.incident(),
        action: done.action.to_string(),
        status: done.after.status.into(),
        acknowledged_by: done.after.acknowledged_by,
        snoozed_until: done.after.snoozed_until,
    }))
}

/// Who is on call now, per schedule (overrides made through the API included).
#[utoipa::path(get, path = "/api/v1/oncall", tag = "schedules", operation_id = "whoIsOnCall",
    security(("bearer" = ["sre"])), responses((status = 200, body = OnCallNow)))]
async fn oncall(State(app): State<Arc<App>>, _: Authed<Sre>) -> Result<Json<OnCallNow>, ApiError> {
    let now = app.clock.now();
    let live = app.live.get();
    let mut conn = app.pool.acquire().await?;
    let policies = crate::store::windows::policies_in_force(&mut conn, &live.policies, now).await?;
    let schedules = policies
        .schedules
        .values()
        .map(|s| OnCall {
            schedule: s.name.clone(),
            on_call: s.on_call(now).map(str::to_string),
        })
        .collect();
    Ok(Json(OnCallNow { at: now, schedules }))
}

/// A page of a list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    /// `next_cursor` of the page before.
    cursor: Option<String>,
    /// Rows per page (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    limit: Option<String>,
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "admin", operation_id = "listAudit",
    params(PageQuery), security(("bearer" = ["admin"])),
    responses((status = 200, body = AuditPage),
        (status = 422, description = "cursor or limit is not valid", body = ErrorBody)))]
async fn audit(
    State(app): State<Arc<App>>,
    _: Authed<Admin>,
    uri: axum::http::Uri,
) -> Result<Json<AuditPage>, ApiError> {
    let q: PageQuery = query(uri.query())?;
    let (rows, next) = read::audit_page(
        &app.pool,
        cursor(q.cursor.as_deref())?,
        page_size(q.limit.as_deref())?,
    )
    .await
    .map_err(ApiError::from)?;
    Ok(Json(AuditPage {
        entries: rows.into_iter().map(Into::into).collect(),
        next_cursor: next.map(|n| n.to_string()),
    }))
}

/// Notifications that could not be delivered, newest first.
#[utoipa::path(get, path = "/api/v1/dead-letters", tag = "admin", operation_id = "listDeadLetters",
    security(("bearer" = ["admin"])), responses((status = 200, body = DeadLetters)))]
async fn dead_letters(
    State(app): State<Arc<App>>,
    _: Authed<Admin>,
) -> Result<Json<DeadLetters>, ApiError> {
    let rows = read::dead_letters(&app.pool, MAX_PAGE).await?;
    Ok(Json(DeadLetters {
        dead_letters: rows.into_iter().map(Into::into).collect(),
    }))
}

/// Send a dead letter again, from now; audited.
#[utoipa::path(post, path = "/api/v1/dead-letters/{id}/retry", tag = "admin",
    operation_id = "retryDeadLetter", security(("bearer" = ["admin"])),
    params(("id" = i64, Path, description = "The dead letter's id")),
    responses((status = 200, body = Retried),
        (status = 404, description = "No such dead letter", body = ErrorBody)))]
async fn retry(
    State(app): State<Arc<App>>,
    Authed { caller, client, .. }: Authed<Admin>,
    Path(id): Path<String>,
) -> Result<Json<Retried>, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no dead letter {id:?}")))?;
    let now = app.clock.now();
    let mut tx = app.pool.begin().await.map_err(ApiError::from)?;
    if !read::retry_dead_letter(&mut tx, id, now)
        .await
        .map_err(ApiError::from)?
    {
        return Err(ApiError::NotFound(format!("no dead letter {id}")));
    }
    let ip = client.to_string();
    let detail = json!({"outbox_id": id});
    windows::commit_audited(&app, tx, &caller.sub, &ip, "retry_dead_letter", detail).await?;
    Ok(Json(Retried { retried: id }))
}
