//! The listeners' connections: how many are open, and how often the cap was reached.

use std::sync::atomic::AtomicI64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ListenerLabels {
    listener: String,
}

/// Registered with the other metrics; see `Metrics::connections`.
pub struct Connections {
    open: Family<ListenerLabels, Gauge<i64, AtomicI64>>,
    cap_reached: Family<ListenerLabels, Counter>,
}

/// Counts one connection as open until dropped.
pub struct Open(Gauge<i64, AtomicI64>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Connections {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let c = Connections {
            open: Family::default(),
            cap_reached: Family::default(),
        };
        registry.register(
            "http_connections_open",
            "Client connections open, by listener (main, webhook)",
            c.open.clone(),
        );
        registry.register(
            "http_connection_cap_reached",
            "Times a listener reached server.max_connections and let new connections wait",
            c.cap_reached.clone(),
        );
        c
    }

    /// A connection opened on `listener`; closed when the guard drops.
    pub fn opened(&self, listener: &str) -> Open {
        let gauge = self
            .open
            .get_or_create(&ListenerLabels {
                listener: listener.to_string(),
            })
            .clone();
        gauge.inc();
        Open(gauge)
    }

    /// `listener` has no room for another connection.
    pub fn cap_reached(&self, listener: &str) {
        self.cap_reached
            .get_or_create(&ListenerLabels {
                listener: listener.to_string(),
            })
            .inc();
    }
}
