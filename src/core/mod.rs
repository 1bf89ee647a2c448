//! The pure incident core: every decision, no I/O and no clock (`now` is always an argument).

pub mod actions;
pub mod escalation;
pub mod ingest;
pub mod notification;
pub mod plan;
pub mod policy;
mod severity;

pub use severity::Severity;

/// Whether an incident still needs attention.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncidentStatus {
    Open,
    Resolved,
}

impl IncidentStatus {
    /// The status as the database spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Open => "open",
            IncidentStatus::Resolved => "resolved",
        }
    }

    /// Reads the database spelling back; anything unknown is a bug in a migration.
    pub fn from_db(s: &str) -> Option<Self> {
        match s {
            "open" => Some(IncidentStatus::Open),
            "resolved" => Some(IncidentStatus::Resolved),
            _ => None,
        }
    }
}
