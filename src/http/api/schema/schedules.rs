//! Who is on call, schedule overrides and maintenance windows.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::windows::{OverrideRow, WindowRow};

/// Who is on call for one schedule.
#[derive(Debug, Serialize, ToSchema)]
pub struct OnCall {
    pub schedule: String,
    /// `null` when nobody is.
    pub on_call: Option<String>,
}

/// Who is on call now.
#[derive(Debug, Serialize, ToSchema)]
pub struct OnCallNow {
    pub at: DateTime<Utc>,
    pub schedules: Vec<OnCall>,
}

/// A maintenance window.
#[derive(Debug, Serialize, ToSchema)]
pub struct Window {
    pub id: i64,
    pub name: String,
    pub matchers: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Who opened it (absent in the answer to opening it: the caller).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

impl From<WindowRow> for Window {
    fn from(r: WindowRow) -> Self {
        Window {
            id: r.id,
            name: r.name,
            matchers: r.matchers,
            start: r.starts_at,
            end: r.ends_at,
            created_by: Some(r.created_by),
        }
    }
}

/// Maintenance windows not yet over.
#[derive(Debug, Serialize, ToSchema)]
pub struct Windows {
    pub windows: Vec<Window>,
}

/// A window ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ended {
    pub ended: i64,
}

/// A schedule override.
#[derive(Debug, Serialize, ToSchema)]
pub struct Override {
    pub id: i64,
    pub schedule: String,
    pub user: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

impl From<OverrideRow> for Override {
    fn from(r: OverrideRow) -> Self {
        Override {
            id: r.id,
            schedule: r.schedule,
            user: r.username,
            start: r.starts_at,
            end: r.ends_at,
            created_by: Some(r.created_by),
        }
    }
}

/// Schedule overrides not yet over.
#[derive(Debug, Serialize, ToSchema)]
pub struct Overrides {
    pub overrides: Vec<Override>,
}
