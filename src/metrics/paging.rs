//! The paging path as a watcher sees it: how much each channel's outbox holds and how long its
//! oldest due message has waited (read at scrape time), and whether the last config reload took.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::core::policy::DELIVERED_CHANNELS;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabels {
    channel: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IntegrationLabels {
    integration: String,
}

/// From enqueued to accepted by the provider: a send's own time, and every retry, rate-limit
/// deferral and queue wait before it.
fn latency_histogram() -> Histogram {
    Histogram::new([
        0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
    ])
}

type LatencyFamily = Family<ChannelLabels, Histogram, fn() -> Histogram>;

/// Registered with the other metrics; see `Metrics::paging`.
pub struct PagingPath {
    pending: Family<ChannelLabels, Gauge>,
    oldest: Family<ChannelLabels, Gauge<f64, AtomicU64>>,
    reload_ok: Gauge,
    reload_at: Gauge<f64, AtomicU64>,
    latency: LatencyFamily,
    heartbeat_seen: Family<IntegrationLabels, Gauge<f64, AtomicU64>>,
    heartbeat_missing: Family<IntegrationLabels, Gauge>,
}

impl PagingPath {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let paging = PagingPath {
            pending: Family::default(),
            oldest: Family::default(),
            reload_ok: Gauge::default(),
            reload_at: Gauge::default(),
            latency: Family::new_with_constructor(latency_histogram),
            heartbeat_seen: Family::default(),
            heartbeat_missing: Family::default(),
        };
        registry.register(
            "delivery_latency_seconds",
            "From a notification's enqueueing to the provider accepting it, by channel",
            paging.latency.clone(),
        );
        registry.register(
            "heartbeat_last_seen_timestamp_seconds",
            "When each integration's heartbeat alert last arrived (Unix time)",
            paging.heartbeat_seen.clone(),
        );
        registry.register(
            "heartbeat_missing",
            "1 while an integration's heartbeat is missing (its incident is open)",
            paging.heartbeat_missing.clone(),
        );
        registry.register(
            "outbox_pending",
            "Notifications waiting to be sent, by channel (due or not; read at scrape time)",
            paging.pending.clone(),
        );
        registry.register(
            "outbox_oldest_due_seconds",
            "How long the oldest due, unsent notification of each channel has waited",
            paging.oldest.clone(),
        );
        registry.register(
            "config_last_reload_successful",
            "1 if the last config load or reload took, 0 if it was refused",
            paging.reload_ok.clone(),
        );
        registry.register(
            "config_last_reload_timestamp_seconds",
            "When the config was last loaded or reloaded, successfully or not (Unix time)",
            paging.reload_at.clone(),
        );
        // Every channel shows, zeros included, so an alert on them never sees "no data".
        for channel in DELIVERED_CHANNELS {
            paging.set_outbox(channel, 0, 0.0);
        }
        paging
    }

    /// One channel's outbox: rows pending, and the wait of its oldest due one.
    pub fn set_outbox(&self, channel: &str, pending: i64, oldest_due_seconds: f64) {
        let labels = ChannelLabels {
            channel: channel.into(),
        };
        self.pending.get_or_create(&labels).set(pending);
        self.oldest.get_or_create(&labels).set(oldest_due_seconds);
    }

    /// A config load or reload at `unix_seconds`, taken or refused.
    pub fn config_loaded(&self, ok: bool, unix_seconds: f64) {
        self.reload_ok.set(i64::from(ok));
        self.reload_at.set(unix_seconds);
    }

    /// A notification of `channel` accepted `seconds` after it was enqueued.
    pub fn delivered(&self, channel: &str, seconds: f64) {
        let labels = ChannelLabels {
            channel: channel.into(),
        };
        self.latency.get_or_create(&labels).observe(seconds);
    }

    /// An integration's heartbeat as its last check saw it.
    pub fn heartbeat(&self, integration: &str, last_seen_unix_seconds: f64, missing: bool) {
        let labels = IntegrationLabels {
            integration: integration.into(),
        };
        self.heartbeat_seen
            .get_or_create(&labels)
            .set(last_seen_unix_seconds);
        self.heartbeat_missing
            .get_or_create(&labels)
            .set(i64::from(missing));
    }
}
