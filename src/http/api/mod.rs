//! `/api/v1`: incidents for people and their tools, behind JWTs with roles, rate limited per
//! client address and per subject. Every route is listed once in [`ROUTES`], which the OpenAPI
//! document is generated from.

pub mod auth;
mod caller;
mod input;
pub mod jwks;
mod openapi;
mod windows;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use self::auth::Role;
use self::caller::{Admin, Authed, Developer, Sre, Viewer};
use super::error::ApiError;
use crate::app::App;
use crate::core::{Actor, IncidentRef};
use crate::service::actions::{self, Done};
use crate::store::read;

pub use self::input::parse_action;
use self::input::{cursor, page_size, query};
pub use self::openapi::{ROUTES, document};

/// The largest page a list returns.
pub const MAX_PAGE: i64 = 200;

/// The API's routes.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/api/v1/incidents", get(list))
        .route("/api/v1/incidents/{incident}", get(detail))
        .route("/api/v1/incidents/{incident}/actions", post(act))
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
        .route("/api/v1/stats", get(stats))
        .route("/api/v1/audit", get(audit))
        .route("/api/v1/dead-letters", get(dead_letters))
        .route("/api/v1/dead-letters/{id}/retry", post(retry))
        .route("/api/v1/openapi.json", get(|| async { Json(document()) }))
        .layer(DefaultBodyLimit::max(64 * 1024))
}

/// `GET /api/v1/incidents`: newest first, filtered, a page at a time.
async fn list(
    State(app): State<Arc<App>>,
    Authed { caller, .. }: Authed<Viewer>,
    uri: axum::http::Uri,
) -> Result<Json<Value>, ApiError> {
    let filter = input::list_filter(uri.query(), &caller)?;
    let (items, next) = read::list_incidents(&app.pool, &filter)
        .await
        .map_err(ApiError::from)?;
    Ok(Json(
        json!({"incidents": items, "next_cursor": next.map(|n| n.to_string())}),
    ))
}

fn incident_ref(text: &str) -> Result<IncidentRef, ApiError> {
    text.parse().map_err(ApiError::NotFound)
}

/// `GET /api/v1/incidents/{incident}` (an id, a number or INC-n).
async fn detail(
    State(app): State<Arc<App>>,
    Authed { caller, .. }: Authed<Developer>,
    Path(incident): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let found = read::incident_detail(&app.pool, incident_ref(&incident)?)
        .await
        .map_err(ApiError::from)?;
    // Another service's incident answers exactly as one that does not exist, so a developer
    // cannot learn which ids are in use.
    let not_found = || ApiError::NotFound(format!("no incident {incident}"));
    let Some((body, service)) = found else {
        return Err(not_found());
    };
    if caller.role == Role::Developer
        && !service
            .as_ref()
            .is_some_and(|s| caller.services.contains(s))
    {
        return Err(not_found());
    }
    Ok(Json(body))
}

/// An action's answer: the incident and its state after the action.
pub fn done_json(done: &Done) -> Value {
    json!({"id": done.id, "incident": done.incident(), "action": done.action,
        "status": done.after.status, "acknowledged_by": done.after.acknowledged_by,
        "snoozed_until": done.after.snoozed_until})
}

/// `POST /api/v1/incidents/{incident}/actions`.
async fn act(
    State(app): State<Arc<App>>,
    Authed { caller, client, .. }: Authed<Sre>,
    Path(incident): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let action = parse_action(&body, app.clock.now())?;
    let actor = Actor {
        name: caller.sub,
        source: "api",
        client_addr: Some(client.to_string()),
    };
    let done = actions::act(&app, &actor, incident_ref(&incident)?, &action, None).await?;
    Ok(Json(done_json(&done)))
}

/// `GET /api/v1/oncall`: who is on call now, per schedule.
async fn oncall(State(app): State<Arc<App>>, _: Authed<Sre>) -> Result<Json<Value>, ApiError> {
    let now = app.clock.now();
    let live = app.live.get();
    let policies = crate::store::windows::policies_in_force(&app.pool, &live.policies, now)
        .await
        .map_err(ApiError::from)?;
    let schedules: Vec<Value> = policies
        .schedules
        .values()
        .map(|s| json!({"schedule": s.name, "on_call": s.on_call(now)}))
        .collect();
    Ok(Json(json!({"at": now, "schedules": schedules})))
}

/// `GET /api/v1/stats`.
async fn stats(State(app): State<Arc<App>>, _: Authed<Viewer>) -> Result<Json<Value>, ApiError> {
    read::stats(&app.pool, app.clock.now())
        .await
        .map(Json)
        .map_err(ApiError::from)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    cursor: Option<String>,
    limit: Option<String>,
}

/// `GET /api/v1/audit` (admin).
async fn audit(
    State(app): State<Arc<App>>,
    _: Authed<Admin>,
    uri: axum::http::Uri,
) -> Result<Json<Value>, ApiError> {
    let q: PageQuery = query(uri.query())?;
    let (items, next) = read::audit_page(
        &app.pool,
        cursor(q.cursor.as_deref())?,
        page_size(q.limit.as_deref())?,
    )
    .await
    .map_err(ApiError::from)?;
    Ok(Json(
        json!({"entries": items, "next_cursor": next.map(|n| n.to_string())}),
    ))
}

/// `GET /api/v1/dead-letters` (admin).
async fn dead_letters(
    State(app): State<Arc<App>>,
    _: Authed<Admin>,
) -> Result<Json<Value>, ApiError> {
    let items = read::dead_letters(&app.pool, MAX_PAGE)
        .await
        .map_err(ApiError::from)?;
    Ok(Json(json!({"dead_letters": items})))
}

/// `POST /api/v1/dead-letters/{id}/retry` (admin): sent again from now, audited.
async fn retry(
    State(app): State<Arc<App>>,
    Authed { caller, client, .. }: Authed<Admin>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(json!({"retried": id})))
}
