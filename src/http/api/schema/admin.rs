//! The admin's answers: the audit log and dead letters.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::store::read::{AuditRow, DeadLetterRow};

/// One row of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    /// `api`, `slack`, `sms`, `email`, `pagerduty`.
    pub source: String,
    pub action: String,
    pub incident_id: Option<Uuid>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub client_addr: Option<String>,
    /// `done` or `refused`.
    pub result: String,
    pub reason: Option<String>,
    pub detail: Option<Value>,
}

impl From<AuditRow> for AuditEntryView {
    fn from(r: AuditRow) -> Self {
        AuditEntryView {
            id: r.id,
            at: r.at,
            actor: r.actor,
            source: r.source,
            action: r.action,
            incident_id: r.incident_id,
            before: r.before,
            after: r.after,
            client_addr: r.client_addr,
            result: r.result,
            reason: r.reason,
            detail: r.detail,
        }
    }
}

/// A page of the audit log, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntryView>,
    pub next_cursor: Option<String>,
}

/// A notification that could not be delivered.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetter {
    pub id: i64,
    pub incident_id: Uuid,
    pub channel: String,
    pub recipient: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<DeadLetterRow> for DeadLetter {
    fn from(r: DeadLetterRow) -> Self {
        DeadLetter {
            id: r.id,
            incident_id: r.incident_id,
            channel: r.channel,
            recipient: r.recipient,
            attempts: r.attempts,
            last_error: r.last_error,
            created_at: r.created_at,
        }
    }
}

/// Dead letters, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetters {
    pub dead_letters: Vec<DeadLetter>,
}

/// A dead letter queued again.
#[derive(Debug, Serialize, ToSchema)]
pub struct Retried {
    pub retried: i64,
}
