//! Which incident an alert belongs to. Routes with their own `group_by` come later; the key is
//! derived here and nowhere else.

use crate::alertmanager::Webhook;

/// The incident key of a webhook's alerts within its integration: Alertmanager's `groupKey`
/// (the route's matcher chain plus the group labels).
pub fn group_key(webhook: &Webhook) -> &str {
    &webhook.group_key
}
