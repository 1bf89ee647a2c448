//! The routing tree, Alertmanager style: a route matches when its matchers do; its children are
//! tried in order and the first match wins unless it says `continue`; a route none of whose
//! children match is itself the match.

use std::collections::BTreeMap;

use super::matcher::{Matcher, all_match};
use crate::alertmanager::{Alert, LabelSet};

/// How a route groups alerts into incidents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupBy {
    /// Alertmanager's own `groupKey`: one incident per Alertmanager group.
    GroupKey,
    /// One incident per distinct value of these labels.
    Labels(Vec<String>),
    /// `['...']`: every alert is its own incident.
    Each,
}

/// One node of the tree, with what it inherits from its parents already applied.
#[derive(Clone, Debug)]
pub struct Route {
    /// Stable id: the route's `name`, else its position (`root/0/2`). Incidents are keyed by it.
    pub id: String,
    pub matchers: Vec<Matcher>,
    pub continue_matching: bool,
    pub group_by: GroupBy,
    /// The escalation policy; `None` records incidents and pages no one.
    pub policy: Option<String>,
    /// The language of its incidents' reports (else `reports.locale`).
    pub report_locale: Option<crate::reports::Locale>,
    /// Named time intervals during which the route pages no one.
    pub mute_time_intervals: Vec<String>,
    /// When given, the route pages only inside one of these.
    pub active_time_intervals: Vec<String>,
    pub routes: Vec<Route>,
}

impl Route {
    /// A root that matches everything and groups by Alertmanager's `groupKey`.
    pub fn default_root() -> Route {
        Route {
            id: "root".into(),
            matchers: Vec::new(),
            continue_matching: false,
            group_by: GroupBy::GroupKey,
            policy: None,
            report_locale: None,
            mute_time_intervals: Vec::new(),
            active_time_intervals: Vec::new(),
            routes: Vec::new(),
        }
    }

    /// The route with this id, anywhere in the tree.
    pub fn find(&self, id: &str) -> Option<&Route> {
        if self.id == id {
            return Some(self);
        }
        self.routes.iter().find_map(|r| r.find(id))
    }

    /// The routes an alert with these labels ends up on, in tree order.
    pub fn resolve(&self, labels: &LabelSet) -> Vec<&Route> {
        let mut out = Vec::new();
        self.resolve_into(labels, &mut out);
        if out.is_empty() {
            out.push(self); // The root always matches.
        }
        out
    }

    fn resolve_into<'r>(&'r self, labels: &LabelSet, out: &mut Vec<&'r Route>) -> bool {
        if !all_match(&self.matchers, labels) {
            return false;
        }
        let mut any_child = false;
        for child in &self.routes {
            if child.resolve_into(labels, out) {
                any_child = true;
                if !child.continue_matching {
                    break;
                }
            }
        }
        if !any_child {
            out.push(self);
        }
        true
    }

    /// The incident key of an alert on this route; `am_group_key` is the webhook's `groupKey`.
    pub fn group_key(&self, alert: &Alert, am_group_key: &str) -> String {
        match &self.group_by {
            GroupBy::GroupKey => am_group_key.to_string(),
            GroupBy::Each => alert.fingerprint.to_string(),
            GroupBy::Labels(names) => {
                let pairs: BTreeMap<&str, &str> = names
                    .iter()
                    .map(|n| (n.as_str(), alert.labels.get(n).map_or("", String::as_str)))
                    .collect();
                let body: Vec<String> = pairs
                    .into_iter()
                    .map(|(k, v)| format!("{k}={v:?}"))
                    .collect();
                format!("{{{}}}", body.join(", "))
            }
        }
    }

    /// The group labels of an alert on this route, for display.
    pub fn group_labels(&self, alert: &Alert, webhook_group_labels: &LabelSet) -> LabelSet {
        match &self.group_by {
            GroupBy::GroupKey => webhook_group_labels.clone(),
            GroupBy::Each => alert.labels.clone(),
            GroupBy::Labels(names) => names
                .iter()
                .filter_map(|n| alert.labels.get(n).map(|v| (n.clone(), v.clone())))
                .collect(),
        }
    }

    /// Every route of the tree, depth first.
    pub fn walk(&self) -> Vec<&Route> {
        let mut out = vec![self];
        for child in &self.routes {
            out.extend(child.walk());
        }
        out
    }
}
