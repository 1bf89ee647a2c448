//! `/api/v1/maintenance` and `/api/v1/schedule-overrides`: one-off maintenance windows and
//! on-call overrides, for SREs; each change is audited.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::caller::{Authed, Sre};
use super::input::time;
use super::schema::{Ended, ErrorBody, Override, Overrides, Window, Windows};
use crate::app::App;
use crate::http::error::ApiError;
use crate::store::actions::{AuditEntry, record_audit};
use crate::store::windows;

fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::Unprocessable(format!("body: {e}")))
}

/// A start and an end (given, or `for` a duration from the start): in order, not over, and at
/// most 30 days apart.
fn span(
    start: Option<&str>,
    end: Option<&str>,
    for_: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let start = time("start", start)?.unwrap_or(now);
    let end = match (end, for_) {
        (Some(end), None) => time("end", Some(end))?.unwrap_or(now),
        (None, Some(d)) => crate::config::parse_duration(d)
            .ok()
            .and_then(|d| TimeDelta::from_std(d).ok())
            .and_then(|d| start.checked_add_signed(d))
            .ok_or_else(|| {
                ApiError::Unprocessable(format!("for: {d:?} is not a duration like 2h"))
            })?,
        _ => return Err(ApiError::Unprocessable("give end or for".into())),
    };
    if end <= start || end <= now {
        return Err(ApiError::Unprocessable(
            "end must be after start and in the future".into(),
        ));
    }
    if end - start > TimeDelta::days(30) {
        return Err(ApiError::Unprocessable("at most 30 days".into()));
    }
    Ok((start, end))
}

/// Writes the audit row of a change in the change's own transaction `tx`, and commits both.
pub(super) async fn commit_audited(
    app: &App,
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    who: &str,
    client: &str,
    action: &str,
    detail: Value,
) -> Result<(), ApiError> {
    let entry = AuditEntry {
        actor: who,
        source: "api",
        action,
        incident: None,
        before: None,
        after: None,
        client_addr: Some(client),
        refused: None,
        detail: Some(detail),
    };
    record_audit(&mut *tx, entry, app.clock.now())
        .await
        .map_err(ApiError::from)?;
    tx.commit().await.map_err(ApiError::from)
}

/// A one-off maintenance window.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct WindowBody {
    name: String,
    /// Alertmanager matchers, e.g. `{service="web", env="prod"}`.
    matchers: String,
    /// Default now.
    #[schema(value_type = Option<DateTime<Utc>>)]
    start: Option<String>,
    /// This, or `for`.
    #[schema(value_type = Option<DateTime<Utc>>)]
    end: Option<String>,
    /// Instead of `end`: how long from the start (`2h`).
    #[serde(rename = "for")]
    #[schema(rename = "for")]
    for_: Option<String>,
}

/// Open a one-off maintenance window: alerts it matches page no one while it lasts.
#[utoipa::path(post, path = "/api/v1/maintenance", tag = "maintenance",
    operation_id = "openMaintenanceWindow", security(("bearer" = ["sre"])), request_body = WindowBody,
    responses((status = 201, description = "Opened", body = Window),
        (status = 422, description = "The window is not valid", body = ErrorBody)))]
pub async fn open_window(
    State(app): State<Arc<App>>,
    Authed {
        caller: who,
        client,
        ..
    }: Authed<Sre>,
    bytes: Bytes,
) -> Result<(StatusCode, Json<Window>), ApiError> {
    let b: WindowBody = body(&bytes)?;
    let matchers = crate::routing::matcher::parse_matchers(&b.matchers)
        .map_err(|e| ApiError::Unprocessable(format!("matchers: {e}")))?;
    if matchers.is_empty() || b.name.trim().is_empty() {
        return Err(ApiError::Unprocessable(
            "a window needs a name and at least one matcher".into(),
        ));
    }
    let now = app.clock.now();
    let (start, end) = span(b.start.as_deref(), b.end.as_deref(), b.for_.as_deref(), now)?;
    // The window and its audit row commit together, or neither does.
    let mut tx = app.pool.begin().await.map_err(ApiError::from)?;
    let id = windows::create_window(&mut tx, &b.name, &b.matchers, start, end, &who.sub, now)
        .await
        .map_err(ApiError::from)?;
    let window = Window {
        id,
        name: b.name,
        matchers: b.matchers,
        start,
        end,
        created_by: None,
    };
    let ip = client.to_string();
    let detail = serde_json::to_value(&window).unwrap_or_default();
    commit_audited(&app, tx, &who.sub, &ip, "open_maintenance", detail).await?;
    Ok((StatusCode::CREATED, Json(window)))
}

/// End a maintenance window now.
#[utoipa::path(post, path = "/api/v1/maintenance/{id}/end", tag = "maintenance",
    operation_id = "endMaintenanceWindow", security(("bearer" = ["sre"])),
    params(("id" = i64, Path, description = "The window's id")),
    responses((status = 200, body = Ended),
        (status = 404, description = "No open window with this id", body = ErrorBody)))]
pub async fn end_window(
    State(app): State<Arc<App>>,
    Authed {
        caller: who,
        client,
        ..
    }: Authed<Sre>,
    Path(id): Path<String>,
) -> Result<Json<Ended>, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no window {id:?}")))?;
    let mut tx = app.pool.begin().await.map_err(ApiError::from)?;
    if !windows::end_window(&mut tx, id, app.clock.now())
        .await
        .map_err(ApiError::from)?
    {
        return Err(ApiError::NotFound(format!("no open window {id}")));
    }
    let ip = client.to_string();
    commit_audited(
        &app,
        tx,
        &who.sub,
        &ip,
        "end_maintenance",
        json!({"id": id}),
    )
    .await?;
    Ok(Json(Ended { ended: id }))
}

/// Maintenance windows not yet over, soonest first.
#[utoipa::path(get, path = "/api/v1/maintenance", tag = "maintenance",
    operation_id = "listMaintenanceWindows", security(("bearer" = ["sre"])),
    responses((status = 200, body = Windows)))]
pub async fn list_windows(
    State(app): State<Arc<App>>,
    _: Authed<Sre>,
) -> Result<Json<Windows>, ApiError> {
    let rows = windows::list_windows(&app.pool, app.clock.now()).await?;
    Ok(Json(Windows {
        windows: rows.into_iter().map(Into::into).collect(),
    }))
}

/// Someone on call for a schedule for a while.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct OverrideBody {
    schedule: String,
    /// A person of `policies/`.
    user: String,
    /// Default now.
    #[schema(value_type = Option<DateTime<Utc>>)]
    start: Option<String>,
    /// This, or `for`.
    #[schema(value_type = Option<DateTime<Utc>>)]
    end: Option<String>,
    /// Instead of `end`: how long from the start (`8h`).
    #[serde(rename = "for")]
    #[schema(rename = "for")]
    for_: Option<String>,
}

/// Put someone on call for a schedule for a while.
#[utoipa::path(post, path = "/api/v1/schedule-overrides", tag = "schedules",
    operation_id = "addScheduleOverride", security(("bearer" = ["sre"])), request_body = OverrideBody,
    responses((status = 201, description = "Added", body = Override),
        (status = 422, description = "The override is not valid", body = ErrorBody)))]
pub async fn add_override(
    State(app): State<Arc<App>>,
    Authed {
        caller: who,
        client,
        ..
    }: Authed<Sre>,
    bytes: Bytes,
) -> Result<(StatusCode, Json<Override>), ApiError> {
    let b: OverrideBody = body(&bytes)?;
    let live = app.live.get();
    if !live.policies.schedules.contains_key(&b.schedule) {
        return Err(ApiError::Unprocessable(format!(
            "schedule: no schedule {:?}",
            b.schedule
        )));
    }
    if !live.policies.users.contains_key(&b.user) {
        return Err(ApiError::Unprocessable(format!(
            "user: no person {:?}",
            b.user
        )));
    }
    let now = app.clock.now();
    let (start, end) = span(b.start.as_deref(), b.end.as_deref(), b.for_.as_deref(), now)?;
    let mut tx = app.pool.begin().await.map_err(ApiError::from)?;
    let id = windows::create_override(&mut tx, &b.schedule, &b.user, start, end, &who.sub, now)
        .await
        .map_err(ApiError::from)?;
    let added = Override {
        id,
        schedule: b.schedule,
        user: b.user,
        start,
        end,
        created_by: None,
    };
    let ip = client.to_string();
    let detail = serde_json::to_value(&added).unwrap_or_default();
    commit_audited(&app, tx, &who.sub, &ip, "override_schedule", detail).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

/// Schedule overrides not yet over, soonest first.
#[utoipa::path(get, path = "/api/v1/schedule-overrides", tag = "schedules",
    operation_id = "listScheduleOverrides", security(("bearer" = ["sre"])),
    responses((status = 200, body = Overrides)))]
pub async fn list_overrides(
    State(app): State<Arc<App>>,
    _: Authed<Sre>,
) -> Result<Json<Overrides>, ApiError> {
    let rows = windows::list_overrides(&app.pool, app.clock.now()).await?;
    Ok(Json(Overrides {
        overrides: rows.into_iter().map(Into::into).collect(),
    }))
}
