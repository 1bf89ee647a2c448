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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowBody {
    name: String,
    /// Alertmanager matchers, e.g. `{service="web", env="prod"}`.
    matchers: String,
    start: Option<String>,
    end: Option<String>,
    /// Instead of `end`: how long from the start (`2h`).
    #[serde(rename = "for")]
    for_: Option<String>,
}

/// `POST /api/v1/maintenance`.
pub async fn open_window(
    State(app): State<Arc<App>>,
    Authed {
        caller: who,
        client,
        ..
    }: Authed<Sre>,
    bytes: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
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
    let detail =
        json!({"id": id, "name": b.name, "matchers": b.matchers, "start": start, "end": end});
    let ip = client.to_string();
    commit_audited(&app, tx, &who.sub, &ip, "open_maintenance", detail.clone()).await?;
    Ok((StatusCode::CREATED, Json(detail)))
}

/// `POST /api/v1/maintenance/{id}/end`.
pub async fn end_window(
    State(app): State<Arc<App>>,
    Authed {
        caller: who,
        client,
        ..
    }: Authed<Sre>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(json!({"ended": id})))
}

/// `GET /api/v1/maintenance`: windows not yet over.
pub async fn list_windows(
    State(app): State<Arc<App>>,
    _: Authed<Sre>,
) -> Result<Json<Value>, ApiError> {
    let items = windows::list_windows(&app.pool, app.clock.now())
        .await
        .map_err(ApiError::from)?;
    Ok(Json(json!({"windows": items})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideBody {
    schedule: String,
    user: String,
    start: Option<String>,
    end: Option<String>,
    /// Instead of `end`: how long from the start (`2h`).
    #[serde(rename = "for")]
    for_: Option<String>,
}

/// `POST /api/v1/schedule-overrides`.
pub async fn add_override(
    State(app): State<Arc<App>>,
    Authed {
        caller: who,
        client,
        ..
    }: Authed<Sre>,
    bytes: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
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
    let detail =
        json!({"id": id, "schedule": b.schedule, "user": b.user, "start": start, "end": end});
    let ip = client.to_string();
    commit_audited(&app, tx, &who.sub, &ip, "override_schedule", detail.clone()).await?;
    Ok((StatusCode::CREATED, Json(detail)))
}

/// `GET /api/v1/schedule-overrides`: overrides not yet over.
pub async fn list_overrides(
    State(app): State<Arc<App>>,
    _: Authed<Sre>,
) -> Result<Json<Value>, ApiError> {
    let items = windows::list_overrides(&app.pool, app.clock.now())
        .await
        .map_err(ApiError::from)?;
    Ok(Json(json!({"overrides": items})))
}
