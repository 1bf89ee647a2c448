//! Pages as outbox rows: why a page exists ([`PageCause`]), its dedup key and its payload, in
//! one place for the timer worker and actions alike. A dedup key is unique in the outbox, so
//! the same page is written once however often the decision is replayed; its format must stay
//! byte for byte, or rows written before an upgrade would be written again after it.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::plan::PlannedPage;
use super::policy::Channel;

/// Why a page is sent.
#[derive(Debug, Clone)]
pub enum PageCause<'a> {
    /// A step of the escalation chain fell due.
    Step {
        generation: i32,
        repeat: u32,
        step: usize,
        due_at: DateTime<Utc>,
    },
    /// Someone reassigned the incident at `at`.
    Reassigned { at: DateTime<Utc>, by: &'a str },
}

/// One page to one recipient over one channel.
#[derive(Debug, Clone)]
pub struct Page<'a> {
    pub incident: Uuid,
    pub cause: &'a PageCause<'a>,
    pub page: &'a PlannedPage,
    pub channel: Channel,
}

impl Page<'_> {
    /// The outbox's unique key: incident, cause, recipient, channel.
    pub fn dedup_key(&self) -> String {
        let (id, to, via) = (self.incident, &self.page.recipient, self.channel.as_str());
        match self.cause {
            PageCause::Step {
                generation,
                repeat,
                step,
                ..
            } => format!("{id}:{generation}:{repeat}:{step}:{to}:{via}"),
            PageCause::Reassigned { at, .. } => {
                format!("{id}:reassign:{}:{to}:{via}", at.timestamp_micros())
            }
        }
    }

    /// The row's payload, as the channels read it.
    pub fn payload(&self) -> Value {
        let mut p = json!({
            "kind": "page",
            "incident_id": self.incident.to_string(),
            "target": self.page.via_target,
            "recipient": self.page.recipient.to_string(),
            "channel": self.channel.as_str(),
        });
        match self.cause {
            PageCause::Step {
                generation,
                repeat,
                step,
                due_at,
            } => {
                p["generation"] = json!(generation);
                p["loop"] = json!(repeat);
                p["step"] = json!(step);
                p["due_at"] = json!(due_at);
            }
            PageCause::Reassigned { by, .. } => {
                p["step"] = json!(0);
                p["reassigned_by"] = json!(by);
            }
        }
        p
    }
}

/// Pages as parallel columns, for one `unnest` insert.
#[derive(Debug, Default)]
pub struct PageColumns {
    pub keys: Vec<String>,
    pub channels: Vec<String>,
    pub recipients: Vec<String>,
    pub payloads: Vec<String>,
}

impl PageColumns {
    /// Adds every channel of `page` for `cause`.
    pub fn push(&mut self, incident: Uuid, cause: &PageCause<'_>, page: &PlannedPage) {
        for channel in &page.channels {
            let p = Page {
                incident,
                cause,
                page,
                channel: *channel,
            };
            self.keys.push(p.dedup_key());
            self.channels.push(channel.as_str().to_string());
            self.recipients.push(page.recipient.to_string());
            self.payloads.push(p.payload().to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::plan::Recipient;

    #[test]
    fn keys_keep_their_stored_format() {
        let id: Uuid = "01a23407-550f-7171-9b93-967f7c41a658".parse().unwrap();
        let page = PlannedPage {
            at: "2026-11-25T19:00:00Z".parse().unwrap(),
            repeat: 1,
            step: 2,
            recipient: Recipient::User("alice".into()),
            channels: vec![Channel::Sms],
            via_target: "schedule:primary".into(),
            response_target: false,
        };
        let step = PageCause::Step {
            generation: 3,
            repeat: 1,
            step: 2,
            due_at: page.at,
        };
        let at = page.at;
        let reassigned = PageCause::Reassigned { at, by: "bob" };
        let key = |cause| {
            Page {
                incident: id,
                cause,
                page: &page,
                channel: Channel::Sms,
            }
            .dedup_key()
        };
        assert_eq!(key(&step), format!("{id}:3:1:2:user:alice:sms"));
        assert_eq!(
            key(&reassigned),
            format!("{id}:reassign:{}:user:alice:sms", at.timestamp_micros())
        );
        let mut cols = PageColumns::default();
        cols.push(id, &reassigned, &page);
        let payload: Value = serde_json::from_str(&cols.payloads[0]).unwrap();
        assert_eq!(payload["reassigned_by"], "bob");
        assert_eq!(payload["step"], 0);
    }
}
