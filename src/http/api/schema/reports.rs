//! Incident reports as the API answers them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// A report draft, as JSON (`Accept: application/json`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportView {
    /// `INC-202611251900`: the first alert's minute (UTC), `-2` for the second of that minute.
    pub report_id: String,
    /// The short id, `INC-42`.
    pub incident: String,
    /// `en` or `zh-CN`.
    pub locale: String,
    /// The draft as it stands now, with the edited sections.
    pub markdown: String,
    /// What the draft is made of: facts, alerts, timeline, times, links and free sections.
    #[schema(value_type = Object)]
    pub report: Value,
    /// When a draft was last stored (at resolution, or after an edit); absent before.
    pub generated_at: Option<DateTime<Utc>>,
    pub edited_by: Option<String>,
    pub edited_at: Option<DateTime<Utc>>,
}

/// The free sections to replace: each a string (Markdown), or null to drop the edit so notes
/// fill the section again. Keys: `description`, `root_cause`, `resolution`, `prevention`,
/// `lessons_learned`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"root_cause": "A deploy turned on a bad flag.", "lessons_learned": null}))]
pub struct SectionsBody {
    pub description: Option<String>,
    pub root_cause: Option<String>,
    pub resolution: Option<String>,
    pub prevention: Option<String>,
    pub lessons_learned: Option<String>,
}
