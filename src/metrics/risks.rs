//! The counters of what puts a page at risk: webhook bodies refused for good, chains that lost
//! their policy, messages whose formatting was refused, webhook endpoints that are gone, and
//! webhook text repaired to be storable.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusedLabels {
    integration: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabels {
    channel: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    webhook: String,
}

/// Registered with the other metrics; see `Metrics::risks`.
pub struct PagingRisks {
    chain_fallbacks: Family<ReasonLabels, Counter>,
    bodies_refused: Family<RefusedLabels, Counter>,
    plain_fallbacks: Family<ChannelLabels, Counter>,
    webhooks_disabled: Family<WebhookLabels, Counter>,
    repairs: Family<RefusedLabels, Counter>,
    replays: Family<SourceLabels, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    source: String,
}

impl PagingRisks {
    /// The counters, registered in `registry`.
    pub(super) fn register(registry: &mut Registry) -> Self {
        let risks = PagingRisks {
            chain_fallbacks: Family::default(),
            bodies_refused: Family::default(),
            plain_fallbacks: Family::default(),
            webhooks_disabled: Family::default(),
            repairs: Family::default(),
            replays: Family::default(),
        };
        registry.register(
            "escalation_chain_fallbacks",
            "Chains whose stored policy was unusable or missing (missing_policy, unreadable_snapshot)",
            risks.chain_fallbacks.clone(),
        );
        registry.register(
            "webhook_bodies_refused",
            "Webhook bodies refused for good (4xx: Alertmanager does not retry), by reason",
            risks.bodies_refused.clone(),
        );
        registry.register(
            "delivery_plain_text_fallbacks",
            "Messages the provider refused as formatted and that were sent again as plain text",
            risks.plain_fallbacks.clone(),
        );
        registry.register(
            "webhook_endpoints_disabled",
            "Outgoing webhook endpoints disabled because they answered 410 Gone",
            risks.webhooks_disabled.clone(),
        );
        registry.register(
            "webhook_repairs",
            "Parts of webhooks repaired or cut to be storable (nul_replaced, cut, dropped_labels, dropped_urls, dropped_alerts, group_key_digested)",
            risks.repairs.clone(),
        );
        registry.register(
            "callback_replays_refused",
            "Signed callbacks refused because they were handled before (slack, pagerduty, twilio) or are stale",
            risks.replays.clone(),
        );
        risks
    }

    /// Counts a replayed or stale callback refused.
    pub fn replay_refused(&self, source: &str) {
        self.replays
            .get_or_create(&SourceLabels {
                source: source.to_string(),
            })
            .inc();
    }

    /// Counts `n` repairs of one kind in an integration's webhooks.
    pub fn repaired(&self, integration: &str, reason: &str, n: usize) {
        self.repairs
            .get_or_create(&RefusedLabels {
                integration: integration.to_string(),
                reason: reason.to_string(),
            })
            .inc_by(n as u64);
    }

    /// Counts a chain that could not run the policy it was stored with.
    pub fn chain_fallback(&self, reason: &str) {
        self.chain_fallbacks
            .get_or_create(&ReasonLabels {
                reason: reason.to_string(),
            })
            .inc();
    }

    /// Counts a webhook body refused for good (too large, malformed).
    pub fn body_refused(&self, integration: &str, reason: &str) {
        self.bodies_refused
            .get_or_create(&RefusedLabels {
                integration: integration.to_string(),
                reason: reason.to_string(),
            })
            .inc();
    }

    /// Counts a message re-sent as plain text after its formatting was refused.
    pub fn plain_fallback(&self, channel: &str) {
        self.plain_fallbacks
            .get_or_create(&ChannelLabels {
                channel: channel.to_string(),
            })
            .inc();
    }

    /// Counts an outgoing webhook endpoint disabled by a 410 Gone.
    pub fn webhook_disabled(&self, webhook: &str) {
        self.webhooks_disabled
            .get_or_create(&WebhookLabels {
                webhook: webhook.to_string(),
            })
            .inc();
    }
}
