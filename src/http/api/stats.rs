//! `/api/v1/stats`: open incidents now, and the statistics of a period — incidents, alerts,
//! time to acknowledge and to resolve, response targets, escalations, pages and their delivery,
//! pages outside business hours, the noisiest alert names — by group and in total.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use chrono::TimeDelta;
use serde::Deserialize;

use super::caller::{Authed, Viewer};
use super::input::{one_of, query, time};
use super::schema::{ErrorBody, StatsView};
use crate::app::App;
use crate::http::error::ApiError;
use crate::reports::stats::GROUP_BY;
use crate::store::read;
use crate::store::statistics::{Period, period};

/// The longest period asked for at once.
const MAX_DAYS: i64 = 400;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct StatsQuery {
    /// Incidents opened at or after this (default: 30 days before `to`).
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<String>,
    /// …and before this (default: now).
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<String>,
    /// `service`, `severity`, `team` or `route`.
    group_by: Option<String>,
}

/// Open incidents by severity, mean times over 30 days, and the statistics of a period.
#[utoipa::path(get, path = "/api/v1/stats", tag = "incidents", operation_id = "getStats",
    params(StatsQuery), security(("bearer" = ["viewer"])),
    responses((status = 200, body = StatsView),
        (status = 422, description = "A parameter is not valid", body = ErrorBody)))]
pub(super) async fn stats(
    State(app): State<Arc<App>>,
    _: Authed<Viewer>,
    uri: axum::http::Uri,
) -> Result<Json<StatsView>, ApiError> {
    let q: StatsQuery = query(uri.query())?;
    let now = app.clock.now();
    let to = time("to", q.to.as_deref())?.unwrap_or(now);
    let from = time("from", q.from.as_deref())?.unwrap_or(to - TimeDelta::days(30));
    if from >= to {
        return Err(ApiError::Unprocessable("from must be before to".into()));
    }
    if to - from > TimeDelta::days(MAX_DAYS) {
        return Err(ApiError::Unprocessable(format!(
            "a period of at most {MAX_DAYS} days"
        )));
    }
    let group_by = one_of("group_by", q.group_by, &GROUP_BY)?;
    let live = app.live.get();
    let asked = Period {
        from,
        to,
        group_by: group_by.as_deref(),
        hours: &live.reports.business_hours,
    };
    let figures = period(&app.pool, &asked).await?;
    let open = read::stats(&app.pool, now).await?;
    Ok(Json(StatsView::new(open, figures)))
}
