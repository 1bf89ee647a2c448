//! What the outbox carries — pages and notices — and the contract around it: why each row exists,
//! its dedup key, its payload, and who hears about a change to an incident. Pure; the store
//! writes the rows ([`OutboxRows`]) through its one writer.
//!
//! A dedup key is unique in the outbox, so the same row is written once however often the
//! decision is replayed. Every key is made by [`key`], and its format must stay byte for byte, or
//! rows written before an upgrade would be written again after it.

use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::plan::{PlannedPage, Recipient};
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
        let to = self.page.recipient.to_string();
        let cause = match self.cause {
            PageCause::Step {
                generation,
                repeat,
                step,
                ..
            } => format!("{generation}:{repeat}:{step}"),
            PageCause::Reassigned { at, .. } => format!("reassign:{}", at.timestamp_micros()),
        };
        key(self.incident, &cause, &to, self.channel)
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

/// News about an incident for the places that already show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    Acknowledged,
    Unacknowledged,
    Resolved,
    Escalated,
    Snoozed,
    Reassigned,
    Reopened,
    Flapping,
    /// The incident's report draft, after it resolved.
    Report,
}

impl NoticeKind {
    /// The payload's `kind`, as the channels read it.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Acknowledged => "acknowledged",
            NoticeKind::Unacknowledged => "unacknowledged",
            NoticeKind::Resolved => "resolved",
            NoticeKind::Escalated => "escalated",
            NoticeKind::Snoozed => "snoozed",
            NoticeKind::Reassigned => "reassigned",
            NoticeKind::Reopened => "reopened",
            NoticeKind::Flapping => "flapping",
            NoticeKind::Report => "report",
        }
    }

    /// The channels that show this news. Slack edits its message, PagerDuty updates its
    /// incident, a webhook receives an event; e-mail and SMS pages stand alone. Only webhooks
    /// hear of flapping (Slack and PagerDuty hear of the reopen itself).
    fn heard_on(self, channel: Channel) -> bool {
        match (self, channel) {
            (NoticeKind::Flapping, c) => c == Channel::Webhook,
            // A thread reply under the incident's message (e-mail goes to people, see `report`).
            (NoticeKind::Report, c) => c == Channel::Slack,
            (_, c) => matches!(c, Channel::Slack | Channel::PagerDuty | Channel::Webhook),
        }
    }
}

impl fmt::Display for NoticeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A place that was sent one of the incident's pages: a channel and a recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub channel: Channel,
    pub recipient: Recipient,
}

/// The one rule of who hears about a change: every destination `shown` the incident (one of its
/// pages was sent there) on a channel that shows that kind of news, once each. A page still
/// queued hears nothing: it is rendered when it is sent, so it shows the incident as it is then
/// (or it was cancelled by the change).
pub fn audience(kind: NoticeKind, shown: &[Destination]) -> Vec<&Destination> {
    let mut heard: Vec<&Destination> = Vec::new();
    for d in shown.iter().filter(|d| kind.heard_on(d.channel)) {
        if !heard.contains(&d) {
            heard.push(d);
        }
    }
    heard
}

/// A change to an incident that its audience hears about.
#[derive(Debug, Clone)]
pub struct Notice<'a> {
    pub incident: Uuid,
    pub kind: NoticeKind,
    pub at: DateTime<Utc>,
    /// Who made the change and from where (actions), if someone did.
    pub actor: Option<(&'a str, &'a str)>,
    /// What the channels show besides the kind (`{"count": 3}`), or `Value::Null`.
    pub detail: Value,
}

impl Notice<'_> {
    /// The outbox's unique key: incident, kind and time, recipient, channel.
    pub fn dedup_key(&self, to: &Destination) -> String {
        let cause = format!("{}:{}", self.kind, postgres_text(self.at));
        key(self.incident, &cause, &to.recipient.to_string(), to.channel)
    }

    /// The row's payload, as the channels read it.
    pub fn payload(&self, to: &Destination) -> Value {
        let mut p = json!({
            "kind": self.kind.as_str(),
            "incident_id": self.incident.to_string(),
            "recipient": to.recipient.to_string(),
            "channel": to.channel.as_str(),
        });
        if let Some((actor, source)) = self.actor {
            p["actor"] = json!(actor);
            p["source"] = json!(source);
        }
        if !self.detail.is_null() {
            p["detail"] = self.detail.clone();
        }
        p
    }
}

/// The one format of a dedup key.
fn key(incident: Uuid, cause: &str, recipient: &str, channel: Channel) -> String {
    format!("{incident}:{cause}:{recipient}:{}", channel.as_str())
}

/// A time as Postgres prints a `timestamptz` in UTC (`2026-11-25 19:00:00.25+00`): notice keys
/// were formatted by SQL before, and must stay the same.
pub fn postgres_text(at: DateTime<Utc>) -> String {
    let micros = at.timestamp_subsec_micros();
    let mut s = at.format("%Y-%m-%d %H:%M:%S").to_string();
    if micros != 0 {
        let fraction = format!("{micros:06}");
        s.push('.');
        s.push_str(fraction.trim_end_matches('0'));
    }
    s.push_str("+00");
    s
}

/// Outbox rows as parallel columns, in the order they are written (order per destination is
/// the order of writing), for the store's one writer.
#[derive(Debug, Default)]
pub struct OutboxRows {
    pub keys: Vec<String>,
    pub channels: Vec<String>,
    pub recipients: Vec<String>,
    pub payloads: Vec<String>,
    /// Where the pages among these go.
    paged: Vec<Destination>,
}

impl OutboxRows {
    /// Adds every channel of `page` for `cause`.
    pub fn page(&mut self, incident: Uuid, cause: &PageCause<'_>, page: &PlannedPage) {
        for channel in &page.channels {
            let p = Page {
                incident,
                cause,
                page,
                channel: *channel,
            };
            let recipient = page.recipient.to_string();
            self.push(p.dedup_key(), *channel, recipient, p.payload());
            self.paged.push(Destination {
                channel: *channel,
                recipient: page.recipient.clone(),
            });
        }
    }

    /// Adds `notice` for its audience among `shown`, except where a row of these already goes
    /// (a destination paged by the same change hears of it through its page).
    pub fn notice(&mut self, notice: &Notice<'_>, shown: &[Destination]) {
        for to in audience(notice.kind, shown) {
            if self.paged.contains(to) {
                continue;
            }
            let (key, payload) = (notice.dedup_key(to), notice.payload(to));
            self.push(key, to.channel, to.recipient.to_string(), payload);
        }
    }

    /// Adds a report `notice`: to the Slack messages among `shown`, and by e-mail to each of
    /// `people` (everyone paged or who acted, with an address), once each.
    pub fn report(&mut self, notice: &Notice<'_>, shown: &[Destination], people: &[String]) {
        self.notice(notice, shown);
        let mut mailed: Vec<&String> = Vec::new();
        for person in people {
            if mailed.contains(&person) {
                continue;
            }
            mailed.push(person);
            let to = Destination {
                channel: Channel::Email,
                recipient: Recipient::User(person.clone()),
            };
            self.push(
                notice.dedup_key(&to),
                to.channel,
                to.recipient.to_string(),
                notice.payload(&to),
            );
        }
    }

    fn push(&mut self, key: String, channel: Channel, recipient: String, payload: Value) {
        self.keys.push(key);
        self.channels.push(channel.as_str().to_string());
        self.recipients.push(recipient);
        self.payloads.push(payload.to_string());
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }
}

#[cfg(test)]
mod tests;
