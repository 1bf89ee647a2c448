//! `alertrouter simulate` and `alertrouter oncall`: dry runs of routing, paging and schedules,
//! rendered as text. Nothing here touches the database.

use std::fmt::Write;

use chrono::{DateTime, TimeDelta, Utc};

use crate::alertmanager::{Alert, AlertStatus, LabelSet, parse_webhook};
use crate::config::Settings;
use crate::core::plan::{Recipient, paging_plan};

/// (route id, incident key).
type IncidentKey = (String, String);
/// The alerts an incident would hold, and its route's policy.
type OnRoute = (Vec<String>, Option<String>);

/// Routes a webhook body and prints, per incident it would join, the route, key, policy and the
/// whole paging plan from `at`.
pub fn simulate(settings: &Settings, payload: &[u8], at: DateTime<Utc>) -> Result<String, String> {
    let webhook = parse_webhook(payload).map_err(|e| format!("payload: {e}"))?;
    let firing: Vec<&Alert> = webhook
        .alerts
        .iter()
        .filter(|a| a.status == AlertStatus::Firing)
        .collect();
    // Offline, the only possible inhibitors are the payload's own firing alerts.
    let sources: Vec<LabelSet> = firing.iter().map(|a| a.labels.clone()).collect();
    // (route id, incident key) -> alert names, in first-seen order: the routes of a `continue`
    // chain come out in tree order, as `amtool config routes test` lists them.
    let mut incidents: Vec<(IncidentKey, OnRoute)> = Vec::new();
    for alert in &webhook.alerts {
        for route in settings.routes.resolve(&alert.labels) {
            let id = (route.id.clone(), route.group_key(alert, &webhook.group_key));
            let at = match incidents.iter().position(|(k, _)| *k == id) {
                Some(at) => at,
                None => {
                    incidents.push((id, (Vec::new(), route.policy.clone())));
                    incidents.len() - 1
                }
            };
            let entry = &mut incidents[at].1;
            entry.0.push(format!(
                "{} {} ({})",
                alert.alertname(),
                alert.fingerprint,
                alert.status.as_str()
            ));
        }
    }
    let mut out = String::new();
    for ((route, key), (alerts, policy)) in &incidents {
        let _ = writeln!(out, "incident on route {route:?}");
        let _ = writeln!(out, "  key:         {key}");
        let _ = writeln!(out, "  alerts:      {}", alerts.join(", "));
        let route_ref = settings.routes.find(route);
        let on_route: Vec<LabelSet> = firing
            .iter()
            .filter(|a| {
                settings
                    .routes
                    .resolve(&a.labels)
                    .iter()
                    .any(|r| r.id == *route)
            })
            .map(|a| a.labels.clone())
            .collect();
        match settings
            .suppressions
            .check(at, route_ref, &on_route, &sources)
        {
            Some(q) => {
                let until = q
                    .until
                    .map_or("until that ends (checked every 30 s)".to_string(), |u| {
                        format!("until {}", u.to_rfc3339())
                    });
                let _ = writeln!(
                    out,
                    "  suppressed:  {}: recorded, nobody paged {until}",
                    q.reason
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "  suppressed:  no (not muted, not in maintenance, not inhibited)"
                );
            }
        }
        let Some(name) = policy else {
            let _ = writeln!(out, "  policy:      none: recorded, nobody is paged");
            continue;
        };
        let Some(policy) = settings.policies.policies.get(name) else {
            let _ = writeln!(out, "  policy:      {name:?} is not defined");
            continue;
        };
        let _ = writeln!(out, "  policy:      {name} (repeat {})", policy.repeat);
        if let Some(target) = policy.response_target {
            let missed = crate::core::escalation::later(
                at,
                chrono::TimeDelta::from_std(target).unwrap_or(chrono::TimeDelta::MAX),
            );
            let _ = writeln!(
                out,
                "  response target: {}, missed at {} if nobody acknowledges",
                human(chrono::TimeDelta::from_std(target).unwrap_or(chrono::TimeDelta::MAX))
                    .trim_start_matches('+'),
                missed.to_rfc3339()
            );
        }
        let _ = writeln!(
            out,
            "  paging plan if nobody acknowledges, from {}:",
            at.to_rfc3339()
        );
        for page in paging_plan(policy, &settings.policies, at) {
            let offset = page.at.signed_duration_since(at);
            let who = match &page.recipient {
                Recipient::User(u) => format!("user {u}"),
                Recipient::SlackChannel(c) => format!("slack channel {c}"),
                Recipient::PagerDuty(s) => format!("pagerduty service {s}"),
                Recipient::Webhook(w) => format!("webhook {w}"),
                Recipient::NobodyOnCall(s) => format!("NOBODY (schedule {s} has no one on call)"),
            };
            let channels: Vec<&str> = page.channels.iter().map(|c| c.as_str()).collect();
            let _ = writeln!(
                out,
                "    {:>7}  {}  loop {} step {}  {who} by {}  ({})",
                human(offset),
                page.at.to_rfc3339(),
                page.repeat + 1,
                page.step + 1,
                channels.join(" + "),
                page.via_target,
            );
        }
    }
    Ok(out)
}

/// Who is on call at `at` in one schedule or all of them, and until when.
pub fn oncall(
    settings: &Settings,
    schedule: Option<&str>,
    at: DateTime<Utc>,
) -> Result<String, String> {
    let schedules = &settings.policies.schedules;
    let selected: Vec<_> = match schedule {
        Some(name) => vec![schedules.get(name).ok_or_else(|| {
            format!(
                "no schedule {name:?} (have: {})",
                schedules.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })?],
        None => schedules.values().collect(),
    };
    let mut out = String::new();
    for s in selected {
        let who = s.on_call(at).unwrap_or("nobody");
        let until = s
            .handoffs(at + TimeDelta::seconds(1), at + TimeDelta::days(366))
            .into_iter()
            .find(|t| s.on_call(*t) != s.on_call(at))
            .map_or("no change within a year".to_string(), |t| {
                format!("until {}", t.to_rfc3339())
            });
        let _ = writeln!(out, "{}: {who} ({until}, {})", s.name, s.time_zone);
    }
    Ok(out)
}

fn human(d: TimeDelta) -> String {
    let secs = d.num_seconds();
    match secs {
        s if s % 3600 == 0 && s > 0 => format!("+{}h", s / 3600),
        s if s % 60 == 0 && s > 0 => format!("+{}m", s / 60),
        s => format!("+{s}s"),
    }
}
