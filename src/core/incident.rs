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
    /// Its report's id, `INC-202611251900` (the first alert's minute, UTC), `-2` when it was the
    /// second of that minute.
    Report {
        minute: i64,
        suffix: Option<u32>,
    },
}

impl IncidentRef {
    /// As the store matches it: (id, number, report id), one of them set.
    pub fn columns(self) -> (Option<Uuid>, Option<i64>, Option<String>) {
        match self {
            IncidentRef::Id(id) => (Some(id), None, None),
            IncidentRef::Number(n) => (None, Some(n), None),
            IncidentRef::Report { minute, suffix } => {
                let suffix = suffix.map(|n| format!("-{n}")).unwrap_or_default();
                (None, None, Some(format!("INC-{minute:012}{suffix}")))
            }
        }
    }
}

impl std::str::FromStr for IncidentRef {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let digits = s
            .strip_prefix("INC-")
            .or_else(|| s.strip_prefix("inc-"))
            .unwrap_or(s);
        // A report id: twelve digits of a minute, perhaps a suffix.
        let (minute, suffix) = digits.split_once('-').unwrap_or((digits, ""));
        if minute.len() == 12 && minute.bytes().all(|b| b.is_ascii_digit()) {
            let suffix = match suffix {
                "" => None,
                s => Some(s.parse::<u32>().map_err(|_| {
                    format!("{s:?} is not a report id's suffix (INC-YYYYMMDDHHMM-2)")
                })?),
            };
            if let Ok(minute) = minute.parse() {
                return Ok(IncidentRef::Report { minute, suffix });
            }
        }
        if let Ok(n) = digits.parse::<i64>() {
            return Ok(IncidentRef::Number(n));
        }
        Uuid::parse_str(s)
            .map(IncidentRef::Id)
            .map_err(|_| format!("{s:?} is neither an incident number nor an id"))
    }
}

#[cfg(test)]
mod tests {
    use super::IncidentRef;

    #[test]
    fn numbers_ids_and_report_ids_parse() {
        let r = |s: &str| s.parse::<IncidentRef>();
        assert_eq!(r("INC-42"), Ok(IncidentRef::Number(42)));
        assert_eq!(r("42"), Ok(IncidentRef::Number(42)));
        assert_eq!(
            r("INC-202611251900").map(|r| r.columns().2),
            Ok(Some("INC-202611251900".into()))
        );
        assert_eq!(
            r("inc-202611251900-3").map(|r| r.columns().2),
            Ok(Some("INC-202611251900-3".into()))
        );
        assert!(r("INC-202611251900-x").unwrap_err().contains("suffix"));
        assert!(r("INC-4x").unwrap_err().contains("neither"));
        let id = uuid::Uuid::nil();
        assert_eq!(r(&id.to_string()), Ok(IncidentRef::Id(id)));
    }
}
