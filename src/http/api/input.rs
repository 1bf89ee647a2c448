//! What a request to the API may say: list filters and actions, read into typed values with a
//! 422 naming the field for anything else. Nothing here can panic, whatever the input (see the
//! property tests).

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::MAX_PAGE;
use super::auth::{Caller, Role};
use super::schema::{ActionName, Severity, Status};
use crate::core::actions::Action;
use crate::http::ApiError;
use crate::store::read::IncidentFilter;

/// Filters of the incident list; all optional.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    #[param(value_type = Option<Status>)]
    status: Option<String>,
    #[param(value_type = Option<Severity>)]
    severity: Option<String>,
    /// The `service` label (of the group, else of its first alert).
    service: Option<String>,
    /// The `team` label.
    team: Option<String>,
    /// Opened at or after.
    #[param(value_type = Option<DateTime<Utc>>)]
    since: Option<String>,
    /// Opened before.
    #[param(value_type = Option<DateTime<Utc>>)]
    until: Option<String>,
    /// `next_cursor` of the page before.
    cursor: Option<String>,
    /// Incidents per page (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    limit: Option<String>,
}

pub(super) fn time(name: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    value
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    ApiError::Unprocessable(format!("{name}: {v:?} is not an RFC 3339 time"))
                })
        })
        .transpose()
}

pub(super) fn one_of(
    name: &str,
    value: Option<String>,
    allowed: &[&str],
) -> Result<Option<String>, ApiError> {
    match value {
        Some(v) if !allowed.contains(&v.as_str()) => Err(ApiError::Unprocessable(format!(
            "{name}: {v:?} is not one of {}",
            allowed.join(", ")
        ))),
        v => Ok(v),
    }
}

pub(super) fn page_size(limit: Option<&str>) -> Result<i64, ApiError> {
    let Some(text) = limit else {
        return Ok(50);
    };
    match text.parse::<i64>() {
        Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        _ => Err(ApiError::Unprocessable(format!(
            "limit: {text:?} is not a number from 1 to {MAX_PAGE}"
        ))),
    }
}

pub(super) fn cursor(text: Option<&str>) -> Result<Option<i64>, ApiError> {
    text.map(|c| {
        c.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
            ApiError::Unprocessable(format!("cursor: {c:?} is not a cursor from this API"))
        })
    })
    .transpose()
}

pub(super) fn query<T: serde::de::DeserializeOwned + Default>(
    raw: Option<&str>,
) -> Result<T, ApiError> {
    match raw {
        None | Some("") => Ok(T::default()),
        Some(q) => serde_urlencoded::from_str(q)
            .map_err(|e| ApiError::Unprocessable(format!("query: {e}"))),
    }
}

/// An action on an incident.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ActionBody {
    #[schema(value_type = ActionName)]
    action: String,
    /// snooze: until when, or `for` a duration.
    #[schema(value_type = Option<DateTime<Utc>>)]
    until: Option<String>,
    /// snooze: how long (`1h`).
    #[serde(rename = "for")]
    #[schema(rename = "for")]
    for_: Option<String>,
    /// reassign: `user:NAME` or `schedule:NAME`.
    to: Option<String>,
    /// note: its text.
    #[schema(max_length = 4000)]
    text: Option<String>,
}

/// Reads an action from JSON, as the API and the tests spell it.
pub fn parse_action(body: &[u8], now: DateTime<Utc>) -> Result<Action, ApiError> {
    let b: ActionBody =
        serde_json::from_slice(body).map_err(|e| ApiError::Unprocessable(format!("body: {e}")))?;
    let need = |field: Option<String>, name: &str| {
        field.ok_or_else(|| ApiError::Unprocessable(format!("{} needs {name}", b.action)))
    };
    Ok(match b.action.as_str() {
        "ack" => Action::Ack,
        "unack" => Action::Unack,
        "resolve" => Action::Resolve,
        "escalate" => Action::Escalate,
        "snooze" => {
            let until = match (b.until.as_deref(), b.for_.as_deref()) {
                (Some(t), None) => time("until", Some(t))?.unwrap_or(now),
                (None, Some(d)) => {
                    let d = crate::config::parse_duration(d)
                        .map_err(|e| ApiError::Unprocessable(format!("for: {e}")))?;
                    chrono::TimeDelta::from_std(d)
                        .ok()
                        .and_then(|d| now.checked_add_signed(d))
                        .ok_or_else(|| ApiError::Unprocessable("for: too long".into()))?
                }
                _ => return Err(ApiError::Unprocessable("snooze needs until or for".into())),
            };
            Action::Snooze { until }
        }
        "reassign" => {
            let to = need(b.to.clone(), "to")?;
            let target = to
                .parse()
                .ok()
                .filter(|t| {
                    matches!(
                        t,
                        crate::core::policy::Target::User(_)
                            | crate::core::policy::Target::Schedule(_)
                    )
                })
                .ok_or_else(|| {
                    ApiError::Unprocessable(format!("to: {to:?} is not user:NAME or schedule:NAME"))
                })?;
            Action::Reassign { target }
        }
        "note" => {
            let text = need(b.text.clone(), "text")?;
            if text.chars().count() > 4000 {
                return Err(ApiError::Unprocessable(
                    "text: at most 4000 characters".into(),
                ));
            }
            Action::Note { text }
        }
        other => {
            return Err(ApiError::Unprocessable(format!(
                "action: {other:?} is not ack, unack, resolve, escalate, snooze, reassign or note"
            )));
        }
    })
}

/// The filter of `GET /api/v1/incidents?…` for `caller` (a developer sees their services only).
pub(super) fn list_filter(raw: Option<&str>, caller: &Caller) -> Result<IncidentFilter, ApiError> {
    let q: ListQuery = query(raw)?;
    Ok(IncidentFilter {
        status: one_of("status", q.status, &["open", "resolved"])?,
        severity: one_of("severity", q.severity, &["critical", "warning", "info"])?,
        service: q.service,
        team: q.team,
        since: time("since", q.since.as_deref())?,
        until: time("until", q.until.as_deref())?,
        services: (caller.role == Role::Developer).then(|| caller.services.clone()),
        before: cursor(q.cursor.as_deref())?,
        limit: page_size(q.limit.as_deref())?,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-25T19:00:00Z".parse().unwrap()
    }

    #[test]
    fn overflowing_snoozes_are_refused_not_a_panic() {
        for body in [
            r#"{"action":"snooze","for":"10000000000w"}"#,
            r#"{"action":"snooze","for":"18446744073709551615ms"}"#,
            r#"{"action":"snooze","until":"+262142-12-31T23:59:59Z"}"#,
        ] {
            assert!(
                matches!(
                    parse_action(body.as_bytes(), now()),
                    Err(ApiError::Unprocessable(_))
                ),
                "{body}"
            );
        }
    }

    fn field() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[0-9]{1,25}[a-z]{0,3}",
            "[+-]?[0-9]{1,6}-[0-9]{2}-[0-9]{2}T[0-9:]{8}(Z|[+-][0-9]{2}:[0-9]{2})",
            Just("ack".to_string()),
            Just("snooze".to_string()),
            Just("reassign".to_string()),
            Just("note".to_string()),
        ]
    }

    proptest! {
        #[test]
        fn no_action_body_panics(
            action in field(), until in proptest::option::of(field()),
            for_ in proptest::option::of(field()), to in proptest::option::of(field()),
            text in proptest::option::of(field()), raw in any::<Vec<u8>>(),
        ) {
            let body = serde_json::json!({"action": action, "until": until, "for": for_, "to": to, "text": text});
            let _ = parse_action(body.to_string().as_bytes(), now());
            let _ = parse_action(&raw, now());
        }

        #[test]
        fn no_list_query_panics(
            keys in proptest::collection::vec(
                prop_oneof![Just("status"), Just("severity"), Just("since"), Just("until"),
                    Just("cursor"), Just("limit"), Just("service"), Just("x")], 0..6),
            values in proptest::collection::vec(field(), 6),
            raw in any::<String>(),
        ) {
            let caller = Caller { sub: "a".into(), role: Role::Developer, services: vec![] };
            let q = serde_urlencoded::to_string(
                keys.iter().zip(&values).collect::<Vec<_>>()).unwrap();
            let _ = list_filter(Some(&q), &caller);
            let _ = list_filter(Some(&raw), &caller);
        }
    }
}
