//! `POST /api/v1/admin/reload`: what SIGHUP does, with the outcome in the answer.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::json;

use super::caller::{Admin, Authed};
use super::schema::ErrorBody;
use crate::app::App;
use crate::http::error::ApiError;
use crate::reload::Reloaded;
use crate::store::actions::{AuditEntry, record_audit};

/// Read the config files again and apply them: routes, policies, integration tokens, channel
/// and API credentials change at once; `needs_restart` names the changed settings that keep
/// their running value until a restart. A config that does not validate changes nothing (422,
/// with why). Audited.
#[utoipa::path(post, path = "/api/v1/admin/reload", tag = "admin", operation_id = "reloadConfig",
    security(("bearer" = ["admin"])),
    responses((status = 200, body = Reloaded),
        (status = 422, description = "The config does not validate; the running one stays", body = ErrorBody)))]
pub(super) async fn reload(
    State(app): State<Arc<App>>,
    Authed { caller, client, .. }: Authed<Admin>,
) -> Result<Json<Reloaded>, ApiError> {
    let reloading = app.clone();
    let outcome = tokio::task::spawn_blocking(move || reloading.reload_config())
        .await
        .unwrap_or_else(|e| Err(format!("the reload ended abnormally: {e}")));
    let client = client.to_string();
    let (refused, detail) = match &outcome {
        Ok(done) => (None, json!({"needs_restart": done.needs_restart})),
        Err(why) => (Some(why.as_str()), json!({})),
    };
    let entry = AuditEntry {
        actor: &caller.sub,
        source: "api",
        action: "reload_config",
        incident: None,
        before: None,
        after: None,
        client_addr: Some(&client),
        refused,
        detail: Some(detail),
    };
    // The reload is done (or refused) whatever the database says; the audit row is the record.
    if let Err(e) = record_audit(&app.pool, entry, app.clock.now()).await {
        tracing::warn!(error = %e, "the reload's audit row was not written");
    }
    outcome.map(Json).map_err(|why| {
        ApiError::Unprocessable(format!("config refused, the running config stays: {why}"))
    })
}
