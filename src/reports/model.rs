//! What a report says, built from an incident's rows: its facts, alerts, timeline, times, links
//! and free sections. Serialized, it is what a template sees and what the API's JSON form is.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::Value;

use super::phrases::{Said, delivery, say, source, span};
use super::{Locale, SECTIONS, from_notes};
use crate::store::read::{EventRow, IncidentDetail};

/// Alerts listed one by one; the rest are counted by label value.
const LISTED_ALERTS: usize = 20;
/// Alert events and notifications listed in the timeline; the rest are counted.
const LISTED_ALERT_EVENTS: usize = 10;
const LISTED_NOTIFICATIONS: usize = 50;

/// What the incident row of the list view leaves out.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The report id when the incident has resolved once (`INC-202611251900`).
    pub report_id: Option<String>,
    /// The first alert's `startsAt`.
    pub started_at: DateTime<Utc>,
    pub policy: Option<String>,
    pub response_target: Option<TimeDelta>,
    pub external_url: Option<String>,
    /// Free sections people edited, by key.
    pub sections: BTreeMap<String, String>,
}

/// A time in the team's zone and in UTC.
#[derive(Debug, Clone, Serialize)]
pub struct Stamp {
    pub local: String,
    pub utc: String,
    /// `local (utc)`, or the UTC time alone when the zone is UTC.
    pub both: String,
    pub iso: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Acknowledged {
    pub at: Stamp,
    pub by: String,
    pub via: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResponseTarget {
    pub target: String,
    /// met, missed, or pending (open, not yet due).
    pub outcome: &'static str,
    pub met: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertLine {
    pub alertname: String,
    pub status: String,
    pub starts: String,
    pub labels: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ValueCount {
    pub value: String,
    pub count: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct LabelCount {
    pub label: String,
    pub values: Vec<ValueCount>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Alerts {
    pub total: usize,
    pub firing: usize,
    pub listed: Vec<AlertLine>,
    pub unlisted: usize,
    /// For a group larger than the list: alerts per value of each label that varies.
    pub counts: Vec<LabelCount>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub local: String,
    pub utc: String,
    pub kind: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub label: &'static str,
    pub url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SectionText {
    pub key: &'static str,
    pub title: &'static str,
    pub text: String,
    /// Written through the API (else filled from notes, or empty).
    pub edited: bool,
}

/// An incident report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub id: String,
    pub alias: String,
    pub locale: &'static str,
    pub time_zone: String,
    pub date: String,
    pub title: String,
    pub status: String,
    pub severity: String,
    pub service: Option<String>,
    pub team: Option<String>,
    pub route: String,
    pub policy: Option<String>,
    pub discovered: Stamp,
    pub opened: Stamp,
    pub acknowledged: Option<Acknowledged>,
    pub resolved: Option<Stamp>,
    pub resolved_by: Option<String>,
    pub duration: Option<String>,
    pub time_to_acknowledge: Option<String>,
    pub time_to_resolve: Option<String>,
    pub response_target: Option<ResponseTarget>,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub alerts: Alerts,
    pub timeline: Vec<Entry>,
    pub links: Vec<Link>,
    /// The free sections in order, and the same by key.
    pub sections: Vec<SectionText>,
    pub section: BTreeMap<&'static str, String>,
    pub reopened: usize,
    pub flapping: bool,
    pub generated: Stamp,
}

fn stamp(at: DateTime<Utc>, tz: Tz) -> Stamp {
    let local = at
        .with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string();
    let utc = at.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    Stamp {
        both: if tz == Tz::UTC {
            utc.clone()
        } else {
            format!("{local} ({utc})")
        },
        local,
        utc,
        iso: at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }
}

fn text<'a>(v: &'a Option<Value>, key: &str) -> &'a str {
    v.as_ref().and_then(|d| d[key].as_str()).unwrap_or("")
}

/// The report of `d` as it stands at `now`.
pub fn build(
    d: &IncidentDetail,
    facts: &Facts,
    locale: Locale,
    tz: Tz,
    now: DateTime<Utc>,
) -> Report {
    let i = &d.incident;
    let first = d.alerts.first();
    let annotation = |key: &str| {
        first
            .and_then(|a| a.annotations[key].as_str())
            .filter(|s| !s.trim().is_empty())
            .map(str::to_string)
    };
    let ack = d
        .timeline
        .iter()
        .find(|e| e.kind == "acknowledged" || e.kind == "snoozed");
    let acknowledged = ack.map(|e| Acknowledged {
        at: stamp(e.at, tz),
        by: text(&e.detail, "actor").to_string(),
        via: source(locale, text(&e.detail, "source")),
    });
    let missed = d
        .timeline
        .iter()
        .any(|e| e.kind == "response_target_missed");
    let response_target = facts.response_target.map(|t| {
        let in_time = |at: DateTime<Utc>| at - i.opened_at <= t;
        let outcome = match (missed, ack.map(|e| e.at), i.resolved_at) {
            (true, ..) => "missed",
            (false, Some(at), _) | (false, None, Some(at)) if in_time(at) => "met",
            (false, Some(_), _) | (false, None, Some(_)) => "missed",
            (false, None, None) if now - i.opened_at > t => "missed",
            (false, None, None) => "pending",
        };
        ResponseTarget {
            target: span(locale, t),
            outcome,
            met: outcome == "met",
        }
    });
    let notes = d
        .timeline
        .iter()
        .filter(|e| e.kind == "note")
        .map(|e| text(&e.detail, "text"));
    let mut filled = from_notes(notes);
    if let Some(description) = annotation("description") {
        filled.entry("description").or_insert(description);
    }
    let sections: Vec<SectionText> = SECTIONS
        .iter()
        .map(|s| {
            let edit = facts.sections.get(s.key);
            SectionText {
                key: s.key,
                title: if locale == Locale::En { s.en } else { s.zh },
                text: edit
                    .cloned()
                    .or_else(|| filled.get(s.key).cloned())
                    .unwrap_or_default(),
                edited: edit.is_some(),
            }
        })
        .collect();
    let mut links = Vec::new();
    for (label, url) in [
        ("Runbook", annotation("runbook_url")),
        ("Dashboard", annotation("dashboard_url")),
        ("Source", first.map(|a| a.generator_url.clone())),
        (
            "Silence",
            crate::channels::silence_url(facts.external_url.as_deref(), &i.group_labels),
        ),
    ] {
        if let Some(url) = url.filter(|u| crate::channels::slack_text::is_web_url(u)) {
            links.push(Link { label, url });
        }
    }
    Report {
        id: facts
            .report_id
            .clone()
            .unwrap_or_else(|| format!("INC-{}", facts.started_at.format("%Y%m%d%H%M"))),
        alias: format!("INC-{}", i.number),
        locale: locale.as_str(),
        time_zone: tz.name().to_string(),
        date: facts
            .started_at
            .with_timezone(&tz)
            .format("%Y-%m-%d")
            .to_string(),
        title: i.title.clone(),
        status: i.status.clone(),
        severity: i.severity.clone(),
        service: i.service.clone(),
        team: i.team.clone(),
        route: i.route.clone(),
        policy: facts.policy.clone(),
        discovered: stamp(facts.started_at, tz),
        opened: stamp(i.opened_at, tz),
        acknowledged,
        resolved: i.resolved_at.map(|at| stamp(at, tz)),
        resolved_by: i.resolved_by.clone(),
        duration: i.resolved_at.map(|at| span(locale, at - facts.started_at)),
        time_to_acknowledge: ack.map(|e| span(locale, e.at - i.opened_at)),
        time_to_resolve: i.resolved_at.map(|at| span(locale, at - i.opened_at)),
        response_target,
        summary: annotation("summary"),
        description: annotation("description"),
        alerts: alerts(d, tz),
        timeline: timeline(d, facts, locale, tz),
        links,
        section: sections.iter().map(|s| (s.key, s.text.clone())).collect(),
        sections,
        reopened: d.timeline.iter().filter(|e| e.kind == "reopened").count(),
        flapping: i.flapping_since.is_some(),
        generated: stamp(now, tz),
    }
}

fn alerts(d: &IncidentDetail, tz: Tz) -> Alerts {
    let listed = d
        .alerts
        .iter()
        .take(LISTED_ALERTS)
        .map(|a| AlertLine {
            alertname: a.alertname.clone(),
            status: a.status.clone(),
            starts: a
                .starts_at
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M:%S %Z")
                .to_string(),
            labels: a
                .labels
                .as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default(),
        })
        .collect();
    let mut counts = Vec::new();
    if d.alerts.len() > LISTED_ALERTS {
        let mut by: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
        for a in &d.alerts {
            for (k, v) in a.labels.as_object().into_iter().flatten() {
                *by.entry(k)
                    .or_default()
                    .entry(v.as_str().unwrap_or(""))
                    .or_default() += 1;
            }
        }
        for (label, values) in by {
            // A label every alert shares the value of says nothing about the spread.
            if values.len() < 2 {
                continue;
            }
            let mut values: Vec<ValueCount> = values
                .into_iter()
                .map(|(value, count)| ValueCount {
                    value: value.to_string(),
                    count,
                })
                .collect();
            values.sort_by(|a, b| b.count.cmp(&a.count).then(a.value.cmp(&b.value)));
            values.truncate(10);
            counts.push(LabelCount {
                label: label.to_string(),
                values,
            });
        }
    }
    Alerts {
        total: d.alerts.len(),
        firing: d.alerts.iter().filter(|a| a.status == "firing").count(),
        listed,
        unlisted: d.alerts.len().saturating_sub(LISTED_ALERTS),
        counts,
    }
}

/// Events and notifications, by time (events first when equal), each in words.
fn timeline(d: &IncidentDetail, facts: &Facts, locale: Locale, tz: Tz) -> Vec<Entry> {
    let names: BTreeMap<&str, &str> = d
        .alerts
        .iter()
        .map(|a| (a.fingerprint.as_str(), a.alertname.as_str()))
        .collect();
    let mut lines: Vec<(DateTime<Utc>, u8, String, String)> = Vec::new();
    let (mut fired, mut resolved, mut more_fired, mut more_resolved) = (0, 0, 0, 0);
    for e in &d.timeline {
        let name = e
            .fingerprint
            .as_deref()
            .and_then(|f| names.get(f).copied())
            .unwrap_or("");
        let said = match e.kind.as_str() {
            "alert_fired" => {
                fired += 1;
                if fired > LISTED_ALERT_EVENTS {
                    more_fired += 1;
                    continue;
                }
                Said::AlertFired(name)
            }
            "alert_resolved" => {
                resolved += 1;
                if resolved > LISTED_ALERT_EVENTS {
                    more_resolved += 1;
                    continue;
                }
                Said::AlertResolved(name)
            }
            _ => event(e, facts, locale),
        };
        lines.push((e.at, 0, e.kind.clone(), say(locale, &said)));
    }
    if more_fired + more_resolved > 0 {
        let at = d.timeline.last().map_or(facts.started_at, |e| e.at);
        let said = Said::MoreAlerts {
            fired: more_fired,
            resolved: more_resolved,
        };
        lines.push((at, 0, "more_alerts".into(), say(locale, &said)));
    }
    for n in d.notifications.iter().take(LISTED_NOTIFICATIONS) {
        let said = Said::Notified {
            to: &n.recipient,
            channel: &n.channel,
            kind: n.kind.as_deref().unwrap_or("page"),
            result: delivery(locale, &n.status, n.attempts, n.last_error.as_deref()),
        };
        let at = n.sent_at.unwrap_or(n.due_at);
        lines.push((at, 1, "notification".into(), say(locale, &said)));
    }
    if d.notifications.len() > LISTED_NOTIFICATIONS {
        let said = Said::MoreNotifications(d.notifications.len() - LISTED_NOTIFICATIONS);
        let at = d
            .notifications
            .last()
            .map_or(facts.started_at, |n| n.due_at);
        lines.push((at, 1, "more_notifications".into(), say(locale, &said)));
    }
    lines.sort_by_key(|(at, order, ..)| (*at, *order));
    lines
        .into_iter()
        .map(|(at, _, kind, text)| {
            let s = stamp(at, tz);
            Entry {
                local: s.local,
                utc: s.utc,
                kind,
                text,
            }
        })
        .collect()
}

fn event<'a>(e: &'a EventRow, facts: &Facts, locale: Locale) -> Said<'a> {
    let actor = text(&e.detail, "actor");
    let from = text(&e.detail, "source");
    match e.kind.as_str() {
        "opened" => Said::Opened,
        "reopened" => Said::Reopened,
        "flapping" => Said::Flapping,
        "severity_changed" => Said::SeverityChanged(e.severity.as_deref().unwrap_or("")),
        "escalated" => Said::Escalated {
            step: e
                .detail
                .as_ref()
                .and_then(|d| d["step"].as_u64())
                .unwrap_or(0)
                + 1,
            paged: e
                .detail
                .as_ref()
                .and_then(|d| d["paged"].as_array())
                .map(|p| {
                    p.iter()
                        .filter_map(Value::as_str)
                        .map(super::phrases::person)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default(),
        },
        "response_target_missed" => {
            let secs = e.detail.as_ref().and_then(|d| d["target_secs"].as_i64());
            let target = secs.map(TimeDelta::seconds).or(facts.response_target);
            Said::TargetMissed(target.map(|t| span(locale, t)).unwrap_or_default())
        }
        "acknowledged" => Said::Acknowledged(actor, from),
        "unacknowledged" => Said::Unacknowledged(actor, from),
        "snoozed" => Said::Snoozed(actor, from, text(&e.detail, "until").to_string()),
        "reassigned" => Said::Reassigned(actor, from, text(&e.detail, "to")),
        "note" => Said::Note(actor, from, text(&e.detail, "text")),
        "resolved" if !actor.is_empty() => Said::Resolved(Some((actor, from))),
        "resolved" => Said::Resolved(None),
        "suppressed" => Said::Suppressed(text(&e.detail, "reason")),
        "unsuppressed" => Said::Unsuppressed,
        "report_edited" => Said::ReportEdited(actor),
        other => Said::Other(other),
    }
}
