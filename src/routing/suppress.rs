//! Why an incident pages no one right now: a muted route (maintenance time intervals, or outside
//! its active intervals), a one-off maintenance window, or inhibition by another firing alert.
//! Pure: the timer worker loads the labels and asks before firing a step.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::matcher::{Matcher, all_match};
use super::time_interval::NamedInterval;
use super::tree::Route;
use crate::alertmanager::LabelSet;

/// Alertmanager's inhibit rule: firing `source` alerts silence `target` alerts that share the
/// values of the `equal` labels.
#[derive(Clone, Debug, PartialEq)]
pub struct InhibitRule {
    pub source: Vec<Matcher>,
    pub target: Vec<Matcher>,
    pub equal: Vec<String>,
}

/// A one-off maintenance window from config.
#[derive(Clone, Debug, PartialEq)]
pub struct MaintenanceWindow {
    pub name: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub matchers: Vec<Matcher>,
}

/// Everything that can keep an incident quiet.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Suppressions {
    pub intervals: BTreeMap<String, NamedInterval>,
    pub inhibit_rules: Vec<InhibitRule>,
    pub maintenance: Vec<MaintenanceWindow>,
}

/// Why an incident is quiet, and until when if that is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppression {
    pub reason: String,
    pub until: Option<DateTime<Utc>>,
}

impl Suppressions {
    /// Whether an incident on `route` whose firing alerts carry `firing` labels is quiet at
    /// `now`. `sources` are the labels of firing alerts that may inhibit them.
    pub fn check(
        &self,
        now: DateTime<Utc>,
        route: Option<&Route>,
        firing: &[LabelSet],
        sources: &[LabelSet],
    ) -> Option<Suppression> {
        self.check_with(now, route, firing, sources, &[])
    }

    /// The same, with `extra` maintenance windows (opened through the API) besides config's.
    pub fn check_with(
        &self,
        now: DateTime<Utc>,
        route: Option<&Route>,
        firing: &[LabelSet],
        sources: &[LabelSet],
        extra: &[MaintenanceWindow],
    ) -> Option<Suppression> {
        if firing.is_empty() {
            return None;
        }
        if let Some(route) = route {
            if let Some(name) = route
                .mute_time_intervals
                .iter()
                .find(|n| self.intervals.get(*n).is_some_and(|i| i.contains(now)))
            {
                return Some(Suppression {
                    reason: format!("route {:?} is muted by time interval {name:?}", route.id),
                    until: None,
                });
            }
            let active = &route.active_time_intervals;
            if !active.is_empty()
                && !active
                    .iter()
                    .any(|n| self.intervals.get(n).is_some_and(|i| i.contains(now)))
            {
                return Some(Suppression {
                    reason: format!("route {:?} is outside its active time intervals", route.id),
                    until: None,
                });
            }
        }
        let windows: Vec<&MaintenanceWindow> = self
            .maintenance
            .iter()
            .chain(extra)
            .filter(|w| w.start <= now && now < w.end)
            .collect();
        let covering: Option<Vec<&MaintenanceWindow>> = firing
            .iter()
            .map(|labels| {
                windows
                    .iter()
                    .copied()
                    .find(|w| all_match(&w.matchers, labels))
            })
            .collect();
        if let Some(covering) = covering {
            let until = covering.iter().map(|w| w.end).min();
            let names: Vec<&str> = covering.iter().map(|w| w.name.as_str()).collect();
            return Some(Suppression {
                reason: format!(
                    "in maintenance window {:?}",
                    names.first().copied().unwrap_or("")
                ),
                until,
            });
        }
        if firing.iter().all(|target| self.inhibited(target, sources)) {
            return Some(Suppression {
                reason: "inhibited by a firing alert".into(),
                until: None,
            });
        }
        None
    }

    fn inhibited(&self, target: &LabelSet, sources: &[LabelSet]) -> bool {
        self.inhibit_rules.iter().any(|rule| {
            all_match(&rule.target, target)
                && sources.iter().any(|source| {
                    // An alert that matches both sides does not inhibit itself.
                    source != target
                        && all_match(&rule.source, source)
                        && rule.equal.iter().all(|l| {
                            source.get(l).map_or("", String::as_str)
                                == target.get(l).map_or("", String::as_str)
                        })
                })
        })
    }
}

#[cfg(test)]
mod tests;
