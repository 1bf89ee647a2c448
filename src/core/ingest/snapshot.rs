//! What the ingest decision reads: the group's state as the shell loaded it.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::alertmanager::Fingerprint;
use crate::core::{IncidentStatus, Severity};

/// What the database knows about one group, as far as one message can touch it.
#[derive(Clone, Debug, Default)]
pub struct GroupSnapshot {
    /// Optimistic-concurrency version of the group; 0 when the group has never been seen.
    pub version: i64,
    /// The group's latest incident.
    pub incident: Option<IncidentSnapshot>,
    /// Known occurrences of the message's fingerprints, and every alert still firing in the
    /// latest incident.
    pub alerts: Vec<KnownAlert>,
}

/// The part of an incident the ingest decision needs.
#[derive(Clone, Debug)]
pub struct IncidentSnapshot {
    pub id: Uuid,
    pub status: IncidentStatus,
    pub severity: Severity,
    /// When the resolution was received (server time), for the reopen window.
    pub resolved_at: Option<DateTime<Utc>>,
    /// The payload time of the resolution.
    pub ended_at: Option<DateTime<Utc>>,
    /// When it was reopened (server time), oldest first, as far back as the flapping window.
    pub reopens: Vec<DateTime<Utc>>,
    /// Already marked flapping.
    pub flapping: bool,
    /// Its escalation chain as stored (`None` in a snapshot of a group never seen).
    pub chain: Option<crate::core::escalation::StoredChain>,
}

/// One stored alert occurrence.
#[derive(Clone, Debug)]
pub struct KnownAlert {
    pub incident_id: Uuid,
    pub fingerprint: Fingerprint,
    pub starts_at: DateTime<Utc>,
    pub firing: bool,
    pub severity: Severity,
}
