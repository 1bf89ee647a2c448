//! What a report says, built from an incident's rows: its facts, alerts, timeline, times, links
//! and free sections. Serialized, it is what a template sees and what the API's JSON form is.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::Value;

use super::phrases::{source, span};
use super::timeline::{alerts, timeline};
use super::{Locale, SECTIONS, from_notes};
use crate::store::read::IncidentDetail;

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

pub(super) fn stamp(at: DateTime<Utc>, tz: Tz) -> Stamp {
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

pub(super) fn text<'a>(v: &'a Option<Value>, key: &str) -> &'a str {
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
