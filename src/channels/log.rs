//! The built-in `log` channel: for trying alertrouter out, the channels it names write each
//! message as one log line (recorded as sent) instead of calling a provider, so a newcomer sees
//! every page arrive without a Slack workspace or an SMS account.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::templates::{Templates, context};
use super::{Delivery, SendResult, mask_contacts};

/// Logs the messages of the channels in `channels.log`.
pub struct LogChannel {
    channels: BTreeSet<String>,
    templates: Arc<Templates>,
}

impl LogChannel {
    /// Logs for `channels` (`slack`, `sms`, `email`, `pagerduty`, `webhook`).
    pub fn new(channels: BTreeSet<String>, templates: Arc<Templates>) -> Self {
        LogChannel {
            channels,
            templates,
        }
    }

    /// Whether `channel`'s messages are logged instead of sent.
    pub fn covers(&self, channel: &str) -> bool {
        self.channels.contains(channel)
    }

    /// Writes the message as one log line; it is recorded as sent.
    pub fn send(&self, delivery: &Delivery) -> SendResult {
        let inc = &delivery.incident;
        let kind = delivery.payload["kind"].as_str().unwrap_or("page");
        let ctx = context(inc, &inc.title, Some(delivery), &delivery.recipient);
        let text = self.templates.text("pagerduty_summary.txt", &ctx);
        tracing::info!(
            target: "alertrouter::page",
            channel = %delivery.channel,
            recipient = %mask_contacts(&delivery.recipient),
            incident = inc.number,
            kind,
            step = delivery.payload["step"].as_u64().map(|s| s + 1),
            text = %text,
            "{kind} by the log channel (channels.log): {text}"
        );
        SendResult::Sent {
            reference: "log".into(),
        }
    }
}
