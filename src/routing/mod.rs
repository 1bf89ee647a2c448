//! Which incident an alert belongs to: matchers and (to come) the route tree. Pure: no I/O.

pub mod matcher;
pub mod tree;

use crate::alertmanager::Webhook;

/// The incident key of a webhook's alerts within its integration: Alertmanager's `groupKey`
/// (the route's matcher chain plus the group labels). The key is derived here and nowhere else.
pub fn group_key(webhook: &Webhook) -> &str {
    &webhook.group_key
}
