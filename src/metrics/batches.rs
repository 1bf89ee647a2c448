//! How much each round trip carries: the sizes of ingest's group commits, of the timer worker's
//! fired batches and of the dispatcher's claims and stored results, so an operator sees batching
//! work (or not) under their load.

use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

const BUCKETS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// Registered with the other metrics; see `Metrics::batches`.
pub struct Batches {
    ingest: Histogram,
    escalation: Histogram,
    delivery: Histogram,
    claim: Histogram,
}

impl Batches {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let batches = Batches {
            ingest: Histogram::new(BUCKETS),
            escalation: Histogram::new(BUCKETS),
            delivery: Histogram::new(BUCKETS),
            claim: Histogram::new(BUCKETS),
        };
        registry.register(
            "ingest_commit_batch_size",
            "Webhook plans written by one ingest commit (concurrent webhooks share a commit)",
            batches.ingest.clone(),
        );
        registry.register(
            "escalation_claim_batch_size",
            "Incidents one timer-worker transaction fired (a claim is fired in a few at once)",
            batches.escalation.clone(),
        );
        registry.register(
            "delivery_results_batch_size",
            "Send results the dispatcher stored in one statement",
            batches.delivery.clone(),
        );
        registry.register(
            "delivery_claim_batch_size",
            "Outbox rows each dispatcher claim took, empty claims too (queue heads, for free slots and ahead of them)",
            batches.claim.clone(),
        );
        batches
    }

    pub fn ingest(&self, plans: usize) {
        self.ingest.observe(plans as f64);
    }

    pub fn escalation(&self, incidents: usize) {
        self.escalation.observe(incidents as f64);
    }

    pub fn delivery(&self, messages: usize) {
        self.delivery.observe(messages as f64);
    }

    pub fn claim(&self, rows: usize) {
        self.claim.observe(rows as f64);
    }
}
