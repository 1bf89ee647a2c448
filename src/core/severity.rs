//! Alert and incident severity, ordered so that the highest one wins.

use std::fmt;
use std::str::FromStr;

use crate::alertmanager::LabelSet;

/// How urgent an alert is. `Critical > Warning > Info`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 3] = [Severity::Info, Severity::Warning, Severity::Critical];

    /// The lowercase name used in labels, config and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    /// The `severity` label of an alert, or `default` when it is missing or not one we know.
    pub fn of_labels(labels: &LabelSet, default: Severity) -> Severity {
        labels
            .get("severity")
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|sev| sev.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("{s:?} is not one of critical, warning, info"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highest_wins_and_unknown_takes_the_default() {
        assert!(Severity::Critical > Severity::Warning && Severity::Warning > Severity::Info);
        let labels: LabelSet = [("severity".to_string(), "page-me".to_string())].into();
        assert_eq!(Severity::of_labels(&labels, Severity::Info), Severity::Info);
        let labels: LabelSet = [("severity".to_string(), "CRITICAL".to_string())].into();
        assert_eq!(
            Severity::of_labels(&labels, Severity::Info),
            Severity::Critical
        );
    }
}
