//! Prometheus metrics, exposed on `/metrics`.

use std::sync::atomic::AtomicI64;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

pub mod batches;
mod build;
mod connections;
pub mod paging;
pub mod process;
mod response;
mod risks;

/// What became of a webhook.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Outcome {
    /// Committed and changed something.
    Accepted,
    /// Valid, but carried nothing new.
    NoChange,
    /// Refused as malformed (400, 413, 415).
    Invalid,
    /// Missing or wrong credential (401).
    Unauthorized,
    /// Could not be committed (503); Alertmanager retries.
    Unavailable,
}

impl Outcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::NoChange => "no_change",
            Outcome::Invalid => "invalid",
            Outcome::Unauthorized => "unauthorized",
            Outcome::Unavailable => "unavailable",
        }
    }
}

impl EncodeLabelValue for Outcome {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    integration: String,
    outcome: Outcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IntegrationLabels {
    integration: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpenLabels {
    severity: String,
    /// "true" for incidents marked flapping.
    flapping: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: String,
}

/// Every metric alertrouter exports.
pub struct Metrics {
    registry: Registry,
    /// The unprefixed `process_*` metrics.
    process: Registry,
    webhooks: Family<WebhookLabels, Counter>,
    alerts: Family<IntegrationLabels, Counter>,
    ingest_seconds: Histogram,
    conflicts: Counter,
    cache_hits: Counter,
    open_incidents: Family<OpenLabels, Gauge<i64, AtomicI64>>,
    /// What puts a page at risk: refused bodies, fallbacks, disabled endpoints.
    pub risks: risks::PagingRisks,
    /// Outbox depth and age per channel, config reloads.
    pub paging: paging::PagingPath,
    /// Open client connections per listener.
    pub connections: connections::Connections,
    /// Time to acknowledge and to resolve, by severity.
    pub response: response::ResponseTimes,
    pub batches: batches::Batches,
    pool_connections: Family<PoolLabels, Gauge<i64, AtomicI64>>,
    pool_max: Gauge<i64, AtomicI64>,
    escalation_lateness: Histogram,
    steps_fired: Counter,
    claims: Counter,
    takeovers: Counter,
    oldest_overdue: Gauge<f64, std::sync::atomic::AtomicU64>,
    deliveries: Family<DeliveryLabels, Counter>,
    redeliveries: Family<ChannelLabels, Counter>,
    sms_receipts: Family<StatusLabels, Counter>,
    actions: Family<ActionLabels, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    source: String,
    action: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabels {
    channel: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    channel: String,
    result: String,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("alertrouter");
        let webhooks = Family::<WebhookLabels, Counter>::default();
        registry.register(
            "webhooks",
            "Alertmanager webhooks by integration and outcome",
            webhooks.clone(),
        );
        let alerts = Family::<IntegrationLabels, Counter>::default();
        registry.register(
            "alerts_ingested",
            "Alerts in valid webhooks (committed or found unchanged)",
            alerts.clone(),
        );
        let ingest_seconds = Histogram::new([
            0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ]);
        registry.register(
            "ingest_duration_seconds",
            "Time from a valid webhook's arrival to its answer",
            ingest_seconds.clone(),
        );
        let conflicts = Counter::default();
        registry.register(
            "ingest_conflicts",
            "Webhooks decided again because another writer changed their group first",
            conflicts.clone(),
        );
        let cache_hits = Counter::default();
        registry.register(
            "ingest_dedup_cache_hits",
            "Exact re-sends answered from memory without a database round trip",
            cache_hits.clone(),
        );
        let open_incidents = Family::<OpenLabels, Gauge<i64, AtomicI64>>::default();
        registry.register(
            "incidents_open",
            "Open incidents by severity and flapping (read from the database at scrape time)",
            open_incidents.clone(),
        );
        let pool_connections = Family::<PoolLabels, Gauge<i64, AtomicI64>>::default();
        registry.register(
            "db_pool_connections",
            "Database pool connections by state (idle, in_use)",
            pool_connections.clone(),
        );
        let pool_max = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "db_pool_max_connections",
            "Configured maximum of database pool connections",
            pool_max.clone(),
        );
        let escalation_lateness =
            Histogram::new([0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 15.0, 60.0, 300.0]);
        registry.register(
            "escalation_lateness_seconds",
            "Time from a step's due time to its firing",
            escalation_lateness.clone(),
        );
        let steps_fired = Counter::default();
        registry.register(
            "escalation_steps_fired",
            "Escalation steps fired",
            steps_fired.clone(),
        );
        let claims = Counter::default();
        registry.register(
            "escalation_claims",
            "Incidents claimed by timer workers",
            claims.clone(),
        );
        let takeovers = Counter::default();
        registry.register(
            "escalation_lease_takeovers",
            "Claims of incidents whose previous worker's lease had run out",
            takeovers.clone(),
        );
        let oldest_overdue = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "escalation_oldest_overdue_seconds",
            "How long the most overdue pending step has been due (0 when none)",
            oldest_overdue.clone(),
        );
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "deliveries",
            "Notification send attempts by channel and result (sent, retry, dead)",
            deliveries.clone(),
        );
        let redeliveries = Family::<ChannelLabels, Counter>::default();
        registry.register(
            "delivery_redeliveries",
            "Sends retried after a lease ran out (a crash between send and record): possible duplicates",
            redeliveries.clone(),
        );
        let sms_receipts = Family::<StatusLabels, Counter>::default();
        registry.register(
            "sms_receipts",
            "Delivery receipts from the SMS provider by status (delivered, undelivered, failed)",
            sms_receipts.clone(),
        );
        let actions = Family::<ActionLabels, Counter>::default();
        registry.register(
            "incident_actions",
            "Actions on incidents (ack, resolve, …) by source and result (done, refused)",
            actions.clone(),
        );
        let risks = risks::PagingRisks::register(&mut registry);
        let connections = connections::Connections::register(&mut registry);
        let response = response::ResponseTimes::register(&mut registry);
        let batches = batches::Batches::register(&mut registry);
        build::register(&mut registry);
        let paging = paging::PagingPath::register(&mut registry);
        let mut process = Registry::default();
        process.register_collector(Box::new(process::ProcessCollector));
        Metrics {
            process,
            risks,
            paging,
            connections,
            response,
            batches,
            sms_receipts,
            actions,
            redeliveries,
            deliveries,
            escalation_lateness,
            steps_fired,
            claims,
            takeovers,
            oldest_overdue,
            registry,
            webhooks,
            alerts,
            ingest_seconds,
            conflicts,
            cache_hits,
            open_incidents,
            pool_connections,
            pool_max,
        }
    }

    /// Counts one webhook.
    pub fn webhook(&self, integration: &str, outcome: Outcome) {
        self.webhooks
            .get_or_create(&WebhookLabels {
                integration: integration.to_string(),
                outcome,
            })
            .inc();
    }

    /// Counts the alerts of a valid webhook and how long it took.
    pub fn ingested(&self, integration: &str, alerts: usize, seconds: f64) {
        self.alerts
            .get_or_create(&IntegrationLabels {
                integration: integration.to_string(),
            })
            .inc_by(alerts as u64);
        self.ingest_seconds.observe(seconds);
    }

    /// Counts a lost optimistic-concurrency race.
    pub fn conflict(&self) {
        self.conflicts.inc();
    }

    /// Counts a re-send answered from the dedup cache.
    pub fn cache_hit(&self) {
        self.cache_hits.inc();
    }

    /// Records the open incidents of one severity, flapping or not.
    pub fn set_open_incidents(&self, severity: &str, flapping: bool, count: i64) {
        self.open_incidents
            .get_or_create(&OpenLabels {
                severity: severity.to_string(),
                flapping: flapping.to_string(),
            })
            .set(count);
    }

    /// Records the pool's state.
    pub fn set_pool(&self, size: u32, idle: usize, max: u32) {
        let idle = idle as i64;
        let set = |state: &str, v: i64| {
            self.pool_connections
                .get_or_create(&PoolLabels {
                    state: state.to_string(),
                })
                .set(v);
        };
        set("idle", idle);
        set("in_use", i64::from(size) - idle);
        self.pool_max.set(i64::from(max));
    }

    /// Counts claims and how many of them took over an expired lease.
    pub fn escalation_claims(&self, claimed: usize, taken_over: usize) {
        self.claims.inc_by(claimed as u64);
        self.takeovers.inc_by(taken_over as u64);
    }

    /// Counts a fired step and how late it was.
    pub fn escalation_fired(&self, late_seconds: f64) {
        self.steps_fired.inc();
        self.escalation_lateness.observe(late_seconds);
    }

    /// Counts a send that may repeat one already made.
    pub fn redelivery(&self, channel: &str) {
        self.redeliveries
            .get_or_create(&ChannelLabels {
                channel: channel.to_string(),
            })
            .inc();
    }

    /// Counts an action on an incident.
    pub fn action(&self, source: &str, action: &str, result: &str) {
        self.actions
            .get_or_create(&ActionLabels {
                source: source.to_string(),
                action: action.to_string(),
                result: result.to_string(),
            })
            .inc();
    }

    /// Counts a delivery receipt from the SMS provider by its status.
    pub fn sms_receipt(&self, status: &str) {
        self.sms_receipts
            .get_or_create(&StatusLabels {
                status: status.to_string(),
            })
            .inc();
    }

    /// Counts a send attempt.
    pub fn delivery(&self, channel: &str, result: &str) {
        self.delivery_n(channel, result, 1);
    }

    /// Counts `n` notifications that came to `result` (`bundled` pages ride in one message).
    pub fn delivery_n(&self, channel: &str, result: &str, n: u64) {
        self.deliveries
            .get_or_create(&DeliveryLabels {
                channel: channel.to_string(),
                result: result.to_string(),
            })
            .inc_by(n);
    }

    /// Records the oldest overdue step.
    pub fn set_oldest_overdue(&self, seconds: f64) {
        self.oldest_overdue.set(seconds);
    }

    /// The exposition text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        use prometheus_client::encoding::text::{encode_eof, encode_registry};
        // Writing to a String cannot fail.
        let _ = encode_registry(&mut out, &self.registry);
        let _ = encode_registry(&mut out, &self.process);
        let _ = encode_eof(&mut out);
        out
    }
}
