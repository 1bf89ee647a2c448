//! `/api/v1`: incidents for people and their tools, behind JWTs with roles, rate limited per
//! client address and per subject. Every route is listed once in [`ROUTES`], which the OpenAPI
//! document is generated from.

pub mod auth;
mod input;
pub mod jwks;
mod openapi;
mod windows;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use self::auth::{Caller, Role, authenticate};
use super::client::client_ip;
use super::error::ApiError;
use crate::app::App;
use crate::core::actions::Action;
use crate::store::actions::{Actor, IncidentRef, Outcome, perform};
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

/// Authenticates, then limits: a request without a valid token counts against its client
/// address (so guessing is slow), one with a valid token against its subject only (so nobody
/// can lock a valid token out by flooding from its address); then checks the role.
async fn caller(
    app: &App,
    headers: &HeaderMap,
    addr: SocketAddr,
    at_least: Role,
) -> Result<Caller, ApiError> {
    let retry = |wait: std::time::Duration| ApiError::TooManyRequests(wait.as_secs() + 1);
    let now = app.clock.now().timestamp();
    let jwt = &app.settings.api.jwt;
    let authenticated = match authenticate(jwt, &app.jwks.keys(), headers, now) {
        // A key we have not seen: the JWKS may have rotated since we fetched it.
        Err(e) if e.starts_with("unknown key") && app.jwks.refresh_for_unknown().await => {
            authenticate(jwt, &app.jwks.keys(), headers, now)
        }
        other => other,
    };
    let caller = match authenticated {
        Ok(caller) => caller,
        Err(why) => {
            let client = client_ip(addr, headers, &app.settings.api.trusted_proxies);
            app.api_limits
                .check("client", &client.to_string())
                .map_err(retry)?;
            return Err(ApiError::Unauthorized(why));
        }
    };
    app.api_limits
        .check("subject", &caller.sub)
        .map_err(retry)?;
    if caller.role < at_least {
        return Err(ApiError::Forbidden(format!(
            "role {} may not do this (needs {} or above)",
            caller.role.as_str(),
            at_least.as_str()
        )));
    }
    Ok(caller)
}

/// `GET /api/v1/incidents`: newest first, filtered, a page at a time.
async fn list(
    State(app): State<Arc<App>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Result<Json<Value>, ApiError> {
    let caller = caller(&app, &headers, addr, Role::Viewer).await?;
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
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(incident): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let caller = caller(&app, &headers, addr, Role::Developer).await?;
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

/// Runs an action and answers as the API does: 200 with the new state, 404, or 409 with why.
pub async fn run_action(
    app: &App,
    actor: &Actor,
    incident: IncidentRef,
    action: &Action,
) -> Result<Value, ApiError> {
    run_action_once(app, actor, incident, action, None).await
}

/// The same, done only if `once` has not been claimed before (410 Gone if it has).
pub async fn run_action_once(
    app: &App,
    actor: &Actor,
    incident: IncidentRef,
    action: &Action,
    once: Option<&crate::store::replays::Once>,
) -> Result<Value, ApiError> {
    let live = app.live.get();
    let policies =
        crate::store::windows::policies_in_force(&app.pool, &live.policies, app.clock.now())
            .await
            .map_err(ApiError::from)?;
    let outcome = perform(
        &app.pool,
        &policies,
        actor,
        incident,
        action,
        once,
        app.clock.now(),
    )
    .await
    .map_err(ApiError::from)?;
    match outcome {
        Outcome::Done { id, number, after } => {
            app.metrics.action(actor.source, action.name(), "done");
            tracing::info!(incident = number, action = action.name(), actor = %actor.name, source = actor.source, "incident action");
            Ok(
                json!({"id": id, "incident": format!("INC-{number}"), "action": action.name(),
                      "status": after.status, "acknowledged_by": after.acknowledged_by,
                      "snoozed_until": after.snoozed_until}),
            )
        }
        Outcome::Refused { number, reason } => {
            app.metrics.action(actor.source, action.name(), "refused");
            Err(ApiError::Conflict(format!("INC-{number}: {reason}")))
        }
        Outcome::NotFound => Err(ApiError::NotFound("no such incident".into())),
        Outcome::AlreadyHandled => Err(ApiError::Gone("already handled".into())),
    }
}

/// `POST /api/v1/incidents/{incident}/actions`.
async fn act(
    State(app): State<Arc<App>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(incident): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let caller = caller(&app, &headers, addr, Role::Sre).await?;
    let action = parse_action(&body, app.clock.now())?;
    let actor = Actor {
        name: caller.sub,
        source: "api",
        client_addr: Some(client_ip(addr, &headers, &app.settings.api.trusted_proxies).to_string()),
    };
    run_action(&app, &actor, incident_ref(&incident)?, &action)
        .await
        .map(Json)
}

/// `GET /api/v1/oncall`: who is on call now, per schedule.
async fn oncall(
    State(app): State<Arc<App>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    caller(&app, &headers, addr, Role::Sre).await?;
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
async fn stats(
    State(app): State<Arc<App>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    caller(&app, &headers, addr, Role::Viewer).await?;
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
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Result<Json<Value>, ApiError> {
    caller(&app, &headers, addr, Role::Admin).await?;
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
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    caller(&app, &headers, addr, Role::Admin).await?;
    let items = read::dead_letters(&app.pool, MAX_PAGE)
        .await
        .map_err(ApiError::from)?;
    Ok(Json(json!({"dead_letters": items})))
}

/// `POST /api/v1/dead-letters/{id}/retry` (admin): sent again from now, audited.
async fn retry(
    State(app): State<Arc<App>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let caller = caller(&app, &headers, addr, Role::Admin).await?;
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
    let ip = windows::client(&app, addr, &headers);
    let detail = json!({"outbox_id": id});
    windows::commit_audited(&app, tx, &caller.sub, &ip, "retry_dead_letter", detail).await?;
    Ok(Json(json!({"retried": id})))
}
