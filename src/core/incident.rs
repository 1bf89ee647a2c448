//! What names an incident, its status, and who acts on it.

use serde::Serialize;
use uuid::Uuid;

/// Whether an incident still needs attention.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
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

/// Who acts, from where.
#[derive(Debug, Clone)]
pub struct Actor {
    /// A person's name, or an identity from the source (`slack:U123`, a token's `sub`).
    pub name: String,
    /// slack, api, sms, email, pagerduty.
    pub source: &'static str,
    pub client_addr: Option<String>,
}

/// An incident by its id or its number (INC-42).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentRef {
    Id(Uuid),
    Number(i64),
}

impl std::str::FromStr for IncidentRef {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let digits = s
            .strip_prefix("INC-")
            .or_else(|| s.strip_prefix("inc-"))
            .unwrap_or(s);
        if let Ok(n) = digits.parse::<i64>() {
            return Ok(IncidentRef::Number(n));
        }
        Uuid::parse_str(s)
            .map(IncidentRef::Id)
            .map_err(|_| format!("{s:?} is neither an incident number nor an id"))
    }
}
