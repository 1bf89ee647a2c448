//! Which incident an alert belongs to: matchers, the route tree, and the split of a webhook into
//! per-incident batches. Pure: no I/O.

pub mod matcher;
pub mod suppress;
pub mod time_interval;
pub mod tree;

use self::tree::Route;
use crate::alertmanager::{Alert, LabelSet, Webhook};

/// One incident's share of a webhook: the route, the key within it, and its alerts.
#[derive(Debug)]
pub struct Batch<'w, 'r> {
    pub route: &'r Route,
    pub group_key: String,
    pub group_labels: LabelSet,
    pub alerts: Vec<&'w Alert>,
}

/// Splits a webhook by destination: every alert goes to each route it ends on, grouped by that
/// route's key. This is the one place incident keys are derived.
pub fn partition<'w, 'r>(root: &'r Route, webhook: &'w Webhook) -> Vec<Batch<'w, 'r>> {
    let mut batches: Vec<Batch<'w, 'r>> = Vec::new();
    for alert in &webhook.alerts {
        for route in root.resolve(&alert.labels) {
            let key = route.group_key(alert, &webhook.group_key);
            match batches
                .iter_mut()
                .find(|b| b.route.id == route.id && b.group_key == key)
            {
                Some(batch) => batch.alerts.push(alert),
                None => batches.push(Batch {
                    route,
                    group_labels: route.group_labels(alert, &webhook.group_labels),
                    group_key: key,
                    alerts: vec![alert],
                }),
            }
        }
    }
    batches
}
