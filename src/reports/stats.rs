//! Statistics over a period, as the API answers them and the monthly report prints them: per
//! group (service, severity, team or route) and in total.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// A spread of durations, in seconds; `count` is how many there were.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct Spread {
    pub count: i64,
    pub mean: Option<f64>,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
}

/// Incidents whose policy had a response target, and how many were answered within it
/// (acknowledged, or resolved, before it passed).
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct TargetShare {
    pub targeted: i64,
    pub met: i64,
    pub missed: i64,
    /// `met / targeted`.
    pub share_met: Option<f64>,
}

/// Pages over one channel, and how their delivery went.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct ChannelPages {
    pub channel: String,
    pub pages: i64,
    /// Sent, alone or bundled with another page.
    pub delivered: i64,
    /// Dead letters.
    pub failed: i64,
    /// `delivered / (delivered + failed)`.
    pub success: Option<f64>,
    /// From the page being written to it being sent, seconds.
    pub latency: Spread,
}

/// Pages sent, by channel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct Pages {
    pub total: i64,
    pub delivered: i64,
    pub failed: i64,
    /// Delivered outside `reports.business_hours`.
    pub outside_business_hours: i64,
    /// `delivered / (delivered + failed)`: the paging path's own availability.
    pub success: Option<f64>,
    /// From a page being written to it being sent, over every channel, seconds.
    pub latency: Spread,
    pub by_channel: Vec<ChannelPages>,
}

/// The figures of one group, or of all incidents.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct Group {
    /// The service, severity, team or route; `all` for the totals, `none` for incidents
    /// without that label.
    pub key: String,
    pub incidents: i64,
    pub alerts: i64,
    pub time_to_acknowledge: Spread,
    pub time_to_resolve: Spread,
    pub response_target: TargetShare,
    /// Escalation steps after the first page.
    pub escalations: i64,
    pub flapping: i64,
    pub pages: Pages,
}

/// An alert name that fired often.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Noisy {
    pub alertname: String,
    pub alerts: i64,
    pub incidents: i64,
}

/// Incidents opened in `[from, to)`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PeriodStats {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// `service`, `severity`, `team` or `route`; absent: no groups.
    pub group_by: Option<String>,
    pub totals: Group,
    pub groups: Vec<Group>,
    /// The ten alert names with the most alerts.
    pub noisiest: Vec<Noisy>,
}

/// What statistics may be grouped by.
pub const GROUP_BY: [&str; 4] = ["service", "severity", "team", "route"];
