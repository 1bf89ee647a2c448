//! A report's alerts and timeline: large groups listed in part and counted by label value,
//! events and notifications merged by time and put in words.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use super::Locale;
use super::model::{AlertLine, Alerts, Entry, Facts, LabelCount, ValueCount, stamp, text};
use super::phrases::{Said, delivery, say, span};
use crate::store::read::{EventRow, IncidentDetail};

/// Alerts listed one by one; the rest are counted by label value.
const LISTED_ALERTS: usize = 20;
/// Alert events and notifications listed in the timeline; the rest are counted.
const LISTED_ALERT_EVENTS: usize = 10;
const LISTED_NOTIFICATIONS: usize = 50;

pub(super) fn alerts(d: &IncidentDetail, tz: Tz) -> Alerts {
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
pub(super) fn timeline(d: &IncidentDetail, facts: &Facts, locale: Locale, tz: Tz) -> Vec<Entry> {
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
