//! The ingest decision, tested against an in-memory model of the store: examples, then
//! properties over random message sequences.

use std::collections::{BTreeMap, HashMap, HashSet};

use proptest::prelude::*;

use super::*;

pub(super) fn policy() -> IngestPolicy {
    IngestPolicy {
        reopen_window: TimeDelta::minutes(5),
        flapping_reopens: 3,
        flapping_window: TimeDelta::minutes(10),
        default_severity: Severity::Warning,
    }
}

pub(super) fn t(minutes: i64) -> DateTime<Utc> {
    "2026-11-25T12:00:00Z".parse::<DateTime<Utc>>().unwrap() + TimeDelta::minutes(minutes)
}

pub(super) fn alert(instance: u8, severity: &str, starts: i64, resolved_at: Option<i64>) -> Alert {
    let labels: BTreeMap<String, String> = [
        ("alertname", "X".to_string()),
        ("instance", format!("i{instance}")),
        ("severity", severity.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Alert {
        status: if resolved_at.is_some() {
            AlertStatus::Resolved
        } else {
            AlertStatus::Firing
        },
        fingerprint: Fingerprint::of_labels(&labels),
        labels,
        annotations: BTreeMap::new(),
        starts_at: t(starts),
        ends_at: resolved_at.map(t),
        generator_url: String::new(),
    }
}

/// What the store would hold for one group, applied exactly as the SQL applies a plan.
#[derive(Default)]
pub(super) struct Model {
    version: i64,
    pub(super) current: Option<Uuid>,
    pub(super) incidents: HashMap<Uuid, IncidentWrite>,
    alerts: HashMap<(Fingerprint, DateTime<Utc>), KnownAlert>,
    pub(super) events: Vec<Event>,
    reopens: HashMap<Uuid, Vec<DateTime<Utc>>>,
    flapping: HashSet<Uuid>,
}

impl Model {
    pub(super) fn snapshot(&self, message: &[Alert]) -> GroupSnapshot {
        let fps: HashSet<Fingerprint> = message.iter().map(|a| a.fingerprint).collect();
        GroupSnapshot {
            version: self.version,
            incident: self.current.map(|id| {
                let i = &self.incidents[&id];
                IncidentSnapshot {
                    id,
                    status: i.status,
                    severity: i.severity,
                    resolved_at: i.resolved_at,
                    ended_at: i.ended_at,
                    reopens: self.reopens.get(&id).cloned().unwrap_or_default(),
                    flapping: self.flapping.contains(&id),
                    chain: None,
                }
            }),
            alerts: self
                .alerts
                .values()
                .filter(|k| {
                    fps.contains(&k.fingerprint)
                        || (Some(k.incident_id) == self.current && k.firing)
                })
                .cloned()
                .collect(),
        }
    }

    pub(super) fn apply(&mut self, plan: &Plan<'_>) {
        self.version += 1;
        if let Some(r) = &plan.incident.reopen {
            self.reopens.insert(plan.incident.id, r.times.clone());
            if r.starts_flapping {
                self.flapping.insert(plan.incident.id);
            }
        }
        self.current = Some(plan.incident.id);
        let started_at = self
            .incidents
            .get(&plan.incident.id)
            .map_or(plan.incident.started_at, |i| i.started_at);
        self.incidents.insert(
            plan.incident.id,
            IncidentWrite {
                started_at,
                ..plan.incident.clone()
            },
        );
        for w in &plan.alerts {
            self.alerts.insert(
                (w.alert.fingerprint, w.alert.starts_at),
                KnownAlert {
                    incident_id: w.incident_id,
                    fingerprint: w.alert.fingerprint,
                    starts_at: w.alert.starts_at,
                    firing: w.alert.status == AlertStatus::Firing,
                    severity: w.severity,
                },
            );
        }
        self.events.extend(plan.events.iter().cloned());
    }

    /// Decides and applies; returns whether anything changed.
    fn receive(&mut self, message: &[Alert], now: DateTime<Utc>) -> bool {
        let snapshot = self.snapshot(message);
        let refs: Vec<&Alert> = message.iter().collect();
        match decide(&snapshot, &refs, &policy(), now, Uuid::now_v7()) {
            Some(plan) => {
                self.apply(&plan);
                true
            }
            None => false,
        }
    }

    fn kinds(&self) -> Vec<&'static str> {
        self.events.iter().map(|e| e.kind.as_str()).collect()
    }
}

#[test]
fn opens_with_the_highest_severity_and_records_each_alert() {
    let mut m = Model::default();
    assert!(m.receive(
        &[alert(1, "warning", 0, None), alert(2, "critical", 0, None)],
        t(1)
    ));
    assert_eq!(m.kinds(), ["opened", "alert_fired", "alert_fired"]);
    let inc = &m.incidents[&m.current.unwrap()];
    assert_eq!(
        (inc.status, inc.severity),
        (IncidentStatus::Open, Severity::Critical)
    );
    assert_eq!(m.events[0].occurred_at, t(0));
}

#[test]
fn an_occurrence_first_heard_of_as_resolved_is_recorded_and_its_late_firing_is_old_news() {
    let mut m = Model::default();
    assert!(m.receive(&[alert(1, "critical", 0, Some(2))], t(3)));
    assert_eq!(
        m.kinds(),
        ["opened", "alert_fired", "alert_resolved", "resolved"]
    );
    let inc = &m.incidents[&m.current.unwrap()];
    assert_eq!(
        (inc.status, inc.severity),
        (IncidentStatus::Resolved, Severity::Critical)
    );
    // The firing message arrives late (an HA peer, a retry): it opens nothing.
    assert!(!m.receive(&[alert(1, "critical", 0, None)], t(4)));
    // Another late resolution joins the resolved incident without resolving it again.
    assert!(m.receive(&[alert(2, "warning", 0, Some(2))], t(5)));
    assert_eq!(m.kinds()[4..], ["alert_fired", "alert_resolved"]);
    assert_eq!(m.incidents.len(), 1);
    assert_eq!(m.incidents[&m.current.unwrap()].resolved_at, Some(t(3)));
}

#[test]
fn a_message_listing_one_occurrence_twice_takes_the_resolved_one() {
    let mut m = Model::default();
    m.receive(&[alert(1, "warning", 0, None)], t(1));
    assert!(m.receive(
        &[
            alert(1, "warning", 0, None),
            alert(1, "warning", 0, Some(2))
        ],
        t(2)
    ));
    assert_eq!(m.kinds()[2..], ["alert_resolved", "resolved"]);
}

#[test]
fn reopens_within_the_window_and_opens_anew_after_it() {
    let mut m = Model::default();
    m.receive(&[alert(1, "warning", 0, None)], t(1));
    m.receive(&[alert(1, "warning", 0, Some(2))], t(2));
    let first = m.current.unwrap();
    // Exactly at the window's edge it still reopens.
    m.receive(&[alert(1, "warning", 6, None)], t(7));
    assert_eq!(m.current, Some(first));
    assert_eq!(m.kinds().last(), Some(&"alert_fired"));
    assert!(m.kinds().contains(&"reopened"));
    m.receive(&[alert(1, "warning", 6, Some(8))], t(8));
    m.receive(
        &[alert(1, "warning", 20, None)],
        t(13) + TimeDelta::seconds(1),
    );
    assert_ne!(m.current, Some(first));
    assert_eq!(m.incidents.len(), 2);
}

#[test]
fn severity_follows_the_firing_alerts_and_stays_when_resolved() {
    let mut m = Model::default();
    m.receive(&[alert(1, "info", 0, None)], t(1));
    m.receive(&[alert(2, "critical", 1, None)], t(2));
    m.receive(&[alert(2, "critical", 1, Some(3))], t(3));
    let sev: Vec<_> = m
        .events
        .iter()
        .filter(|e| e.kind == EventKind::SeverityChanged)
        .map(|e| e.severity.unwrap())
        .collect();
    assert_eq!(sev, [Severity::Critical, Severity::Info]);
    m.receive(&[alert(1, "info", 0, Some(4))], t(4));
    let inc = &m.incidents[&m.current.unwrap()];
    assert_eq!(
        (inc.status, inc.severity),
        (IncidentStatus::Resolved, Severity::Info)
    );
}

#[derive(Debug, Clone)]
struct Step {
    /// (instance, start slot, resolved?) per alert in the message.
    alerts: Vec<(u8, i64, bool)>,
    /// Minutes the clock moves before the message.
    advance: i64,
}

fn step() -> impl Strategy<Value = Step> {
    (
        prop::collection::vec((0u8..4, 0i64..3, any::<bool>()), 1..6),
        0i64..8,
    )
        .prop_map(|(alerts, advance)| Step { alerts, advance })
}

fn severity_of(instance: u8) -> &'static str {
    ["critical", "warning", "info", "bogus"][instance as usize]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn any_message_sequence_keeps_the_invariants(steps in prop::collection::vec(step(), 1..25)) {
        let mut m = Model::default();
        let mut now = t(0);
        let mut fired = HashSet::new();
        for s in &steps {
            now += TimeDelta::minutes(s.advance);
            let message: Vec<Alert> = s
                .alerts
                .iter()
                .map(|&(i, slot, resolved)| {
                    let starts = slot * 10;
                    alert(i, severity_of(i), starts, resolved.then_some(starts + 1))
                })
                .collect();
            let before = m.events.len();
            m.receive(&message, now);

            // Same news, no noise: the same message again changes nothing.
            prop_assert!(!m.receive(&message, now), "a replay changed something");
            // In any order.
            let reversed: Vec<Alert> = message.iter().rev().cloned().collect();
            prop_assert!(!m.receive(&reversed, now));

            // Each occurrence fires once, ever.
            for e in &m.events[before..] {
                if e.kind == EventKind::AlertFired {
                    let occurrence = (e.fingerprint.unwrap(), e.occurred_at);
                    prop_assert!(fired.insert(occurrence), "fired twice: {occurrence:?}");
                }
            }
            // An incident is open exactly while one of its alerts fires, at their highest severity.
            for (id, inc) in &m.incidents {
                let firing: Vec<Severity> = m
                    .alerts
                    .values()
                    .filter(|k| k.incident_id == *id && k.firing)
                    .map(|k| k.severity)
                    .collect();
                prop_assert_eq!(inc.status == IncidentStatus::Open, !firing.is_empty());
                if let Some(max) = firing.iter().max() {
                    prop_assert_eq!(inc.severity, *max);
                }
            }
            // At most one open incident per group, and it is the current one.
            let open: Vec<&Uuid> = m
                .incidents
                .iter()
                .filter(|(_, i)| i.status == IncidentStatus::Open)
                .map(|(id, _)| id)
                .collect();
            prop_assert!(open.len() <= 1);
            if let Some(id) = open.first() {
                prop_assert_eq!(Some(**id), m.current);
            }
        }
    }
}
