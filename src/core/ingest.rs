//! What a webhook changes: which incident its alerts join, what opens, reopens and resolves.
//!
//! `decide` is pure. The shell loads a [`GroupSnapshot`], calls it, and commits the [`Plan`] it
//! returns in one transaction; `None` means the message carried nothing new and nothing is written.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use super::{IncidentStatus, Severity};
use crate::alertmanager::{Alert, AlertStatus, Fingerprint};

mod snapshot;
pub use self::snapshot::{GroupSnapshot, IncidentSnapshot, KnownAlert};

/// The knobs of ingest that come from config.
#[derive(Clone, Debug)]
pub struct IngestPolicy {
    /// A group that fires again within this long of resolving reopens its incident.
    pub reopen_window: TimeDelta,
    /// This many reopens within `flapping_window` mark an incident flapping (0: never).
    pub flapping_reopens: u32,
    pub flapping_window: TimeDelta,
    /// The severity of alerts without a known `severity` label.
    pub default_severity: Severity,
}

/// The kinds of entries in an incident's timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Opened,
    Reopened,
    AlertFired,
    AlertResolved,
    SeverityChanged,
    Resolved,
    /// Reopened often enough within the flapping window to be called flapping.
    Flapping,
}

impl EventKind {
    /// The kind as the database spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Opened => "opened",
            EventKind::Reopened => "reopened",
            EventKind::AlertFired => "alert_fired",
            EventKind::AlertResolved => "alert_resolved",
            EventKind::SeverityChanged => "severity_changed",
            EventKind::Resolved => "resolved",
            EventKind::Flapping => "flapping",
        }
    }
}

/// One timeline entry to append.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub incident_id: Uuid,
    pub kind: EventKind,
    pub fingerprint: Option<Fingerprint>,
    /// The payload's own time (`startsAt`, `endsAt`); the shell adds the time received.
    pub occurred_at: DateTime<Utc>,
    /// The incident's severity after the event, where it matters.
    pub severity: Option<Severity>,
}

/// The incident row to insert or update.
#[derive(Clone, Debug, PartialEq)]
pub struct IncidentWrite {
    pub id: Uuid,
    pub is_new: bool,
    pub status: IncidentStatus,
    pub severity: Severity,
    /// Earliest `startsAt` of the alerts that opened it (only written when new).
    pub started_at: DateTime<Utc>,
    /// When the resolution was received; `None` while open.
    pub resolved_at: Option<DateTime<Utc>>,
    /// The latest `endsAt` of the alerts that resolved it; `None` while open.
    pub ended_at: Option<DateTime<Utc>>,
    /// Set when this message reopens it.
    pub reopen: Option<Reopen>,
}

/// A reopen within the window, and what it says about flapping.
#[derive(Clone, Debug, PartialEq)]
pub struct Reopen {
    /// The reopen times within the flapping window, this one last.
    pub times: Vec<DateTime<Utc>>,
    /// This reopen is the one that makes the incident flapping.
    pub starts_flapping: bool,
    /// The flapping window `times` covers.
    pub within: TimeDelta,
}

/// The reopen at `now` of an incident that was reopened at `before`.
fn reopen(
    before: &[DateTime<Utc>],
    flapping: bool,
    policy: &IngestPolicy,
    now: DateTime<Utc>,
) -> Reopen {
    let mut times: Vec<DateTime<Utc>> = before
        .iter()
        .copied()
        .filter(|t| now.signed_duration_since(*t) <= policy.flapping_window)
        .collect();
    times.push(now);
    let starts_flapping =
        !flapping && policy.flapping_reopens > 0 && times.len() >= policy.flapping_reopens as usize;
    Reopen {
        times,
        starts_flapping,
        within: policy.flapping_window,
    }
}

/// An alert occurrence to insert, or to mark resolved.
#[derive(Clone, Debug)]
pub struct AlertWrite<'a> {
    pub incident_id: Uuid,
    pub alert: &'a Alert,
    pub severity: Severity,
}

/// Everything one message changes, to be committed together.
#[derive(Clone, Debug)]
pub struct Plan<'a> {
    pub incident: IncidentWrite,
    pub alerts: Vec<AlertWrite<'a>>,
    pub events: Vec<Event>,
}

/// Decides what a message changes. `new_id` names the incident if one has to be opened.
///
/// Rules: an occurrence is (fingerprint, startsAt) and only moves firing → resolved, so a firing
/// report of a known occurrence is old news; an alert absent from a message has not resolved. An
/// occurrence first heard of as already resolved (it fired and resolved between two flushes, or
/// its firing message was lost) is recorded, so that a late copy of its firing message is
/// recognized as old news instead of opening an incident nothing would ever resolve.
pub fn decide<'a>(
    snapshot: &GroupSnapshot,
    alerts: &[&'a Alert],
    policy: &IngestPolicy,
    now: DateTime<Utc>,
    new_id: Uuid,
) -> Option<Plan<'a>> {
    let known: HashMap<(Fingerprint, DateTime<Utc>), &KnownAlert> = snapshot
        .alerts
        .iter()
        .map(|k| ((k.fingerprint, k.starts_at), k))
        .collect();

    // One entry per occurrence; if a message lists one twice, "resolved" is the newer news.
    let mut latest: BTreeMap<(DateTime<Utc>, Fingerprint), &'a Alert> = BTreeMap::new();
    for &alert in alerts {
        let slot = latest
            .entry((alert.starts_at, alert.fingerprint))
            .or_insert(alert);
        if alert.status == AlertStatus::Resolved {
            *slot = alert;
        }
    }

    let mut fired = Vec::new();
    let mut resolved = Vec::new();
    let mut late = Vec::new();
    for (&(starts_at, fingerprint), &alert) in &latest {
        match (alert.status, known.get(&(fingerprint, starts_at))) {
            (AlertStatus::Firing, None) => fired.push(alert),
            (AlertStatus::Resolved, Some(k)) if k.firing => resolved.push((alert, *k)),
            (AlertStatus::Resolved, None) => late.push(alert),
            _ => {}
        }
    }
    if fired.is_empty() && resolved.is_empty() && late.is_empty() {
        return None;
    }

    let current = snapshot.incident.as_ref();
    let reopenable = |i: &IncidentSnapshot| {
        i.resolved_at
            .is_some_and(|at| now.signed_duration_since(at) <= policy.reopen_window)
    };
    let (incident_id, opening) = match current {
        Some(i) if i.status == IncidentStatus::Open => (i.id, None),
        Some(i) if !fired.is_empty() && reopenable(i) => (i.id, Some(EventKind::Reopened)),
        // Only resolutions: they belong to the latest incident, which does not reopen.
        Some(i) if fired.is_empty() => (i.id, None),
        _ => (new_id, Some(EventKind::Opened)),
    };
    let is_new = opening == Some(EventKind::Opened);
    let previous = current.filter(|i| i.id == incident_id);
    let reopened = match (opening, previous) {
        (Some(EventKind::Reopened), Some(p)) => Some(reopen(&p.reopens, p.flapping, policy, now)),
        _ => None,
    };

    let severity_of = |a: &Alert| Severity::of_labels(&a.labels, policy.default_severity);
    let resolving: Vec<(Fingerprint, DateTime<Utc>)> = resolved
        .iter()
        .map(|(a, _)| (a.fingerprint, a.starts_at))
        .collect();
    let still_firing = snapshot.alerts.iter().filter(|k| {
        k.firing
            && k.incident_id == incident_id
            && !resolving.contains(&(k.fingerprint, k.starts_at))
    });
    let severity_now = still_firing
        .map(|k| k.severity)
        .chain(fired.iter().map(|a| severity_of(a)))
        .max();

    let mut events = Vec::new();
    let mut writes = Vec::new();
    let mut event = |kind, fingerprint, occurred_at, severity| {
        events.push(Event {
            incident_id,
            kind,
            fingerprint,
            occurred_at,
            severity,
        })
    };
    let first_start = match opening {
        Some(EventKind::Reopened) => fired.iter().map(|a| a.starts_at).min(),
        _ => fired.iter().chain(&late).map(|a| a.starts_at).min(),
    };
    if let (Some(kind), Some(at)) = (opening, first_start) {
        let opened_severity = severity_now.or_else(|| late.iter().map(|a| severity_of(a)).max());
        event(kind, None, at, opened_severity);
        if reopened.as_ref().is_some_and(|r| r.starts_flapping) {
            event(EventKind::Flapping, None, at, opened_severity);
        }
    }
    for &alert in &fired {
        writes.push(AlertWrite {
            incident_id,
            alert,
            severity: severity_of(alert),
        });
        event(
            EventKind::AlertFired,
            Some(alert.fingerprint),
            alert.starts_at,
            Some(severity_of(alert)),
        );
    }
    for &alert in &late {
        writes.push(AlertWrite {
            incident_id,
            alert,
            severity: severity_of(alert),
        });
        let sev = Some(severity_of(alert));
        event(
            EventKind::AlertFired,
            Some(alert.fingerprint),
            alert.starts_at,
            sev,
        );
        event(
            EventKind::AlertResolved,
            Some(alert.fingerprint),
            alert.ends_at.unwrap_or(now),
            sev,
        );
    }
    for &(alert, known) in &resolved {
        writes.push(AlertWrite {
            incident_id: known.incident_id,
            alert,
            severity: known.severity,
        });
        events.push(Event {
            incident_id: known.incident_id,
            kind: EventKind::AlertResolved,
            fingerprint: Some(alert.fingerprint),
            occurred_at: alert.ends_at.unwrap_or(now),
            severity: Some(known.severity),
        });
    }

    let incident = match (severity_now, previous) {
        (Some(severity), _) => {
            if previous.is_some_and(|p| !is_new && p.severity != severity) {
                // The change happened with the newest alert that fired or resolved.
                let at = fired
                    .iter()
                    .map(|a| a.starts_at)
                    .chain(resolved.iter().map(|(a, _)| a.ends_at.unwrap_or(now)))
                    .max()
                    .unwrap_or(now);
                events.push(Event {
                    incident_id,
                    kind: EventKind::SeverityChanged,
                    fingerprint: None,
                    occurred_at: at,
                    severity: Some(severity),
                });
            }
            IncidentWrite {
                id: incident_id,
                is_new,
                status: IncidentStatus::Open,
                severity,
                started_at: first_start.unwrap_or(now),
                resolved_at: None,
                ended_at: None,
                reopen: reopened,
            }
        }
        // Late reports for an incident that had already resolved: it stays as it was.
        (None, Some(p)) if p.status == IncidentStatus::Resolved => IncidentWrite {
            id: incident_id,
            is_new: false,
            status: IncidentStatus::Resolved,
            severity: p.severity,
            started_at: now,
            resolved_at: p.resolved_at,
            ended_at: p.ended_at,
            reopen: None,
        },
        // Nothing fires any more: the incident resolves, keeping its last severity.
        (None, _) => {
            let ended_at = resolved
                .iter()
                .map(|(a, _)| a.ends_at.unwrap_or(now))
                .chain(late.iter().map(|a| a.ends_at.unwrap_or(now)))
                .max()
                .unwrap_or(now);
            let severity = match previous {
                Some(p) if !is_new => p.severity,
                _ => late
                    .iter()
                    .map(|a| severity_of(a))
                    .max()
                    .unwrap_or(policy.default_severity),
            };
            events.push(Event {
                incident_id,
                kind: EventKind::Resolved,
                fingerprint: None,
                occurred_at: ended_at,
                severity: Some(severity),
            });
            IncidentWrite {
                id: incident_id,
                is_new,
                status: IncidentStatus::Resolved,
                severity,
                started_at: first_start.unwrap_or(now),
                resolved_at: Some(now),
                ended_at: Some(ended_at),
                reopen: None,
            }
        }
    };
    Some(Plan {
        incident,
        alerts: writes,
        events,
    })
}

#[cfg(test)]
mod chain_tests;
#[cfg(test)]
mod tests;
