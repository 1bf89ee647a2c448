//! How fast incidents are answered: time to acknowledge and time to resolve, by severity, as
//! histograms Grafana can chart (`histogram_quantile` over `…_bucket`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SeverityLabels {
    severity: String,
}

/// 30 s to 3 days: the response targets are 5 min, 30 min and 24 h.
const BUCKETS: [f64; 12] = [
    30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0, 43200.0, 86400.0, 259200.0,
];

fn histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

type ByHistogram = Family<SeverityLabels, Histogram, fn() -> Histogram>;

/// Registered with the other metrics; see `Metrics::response`.
pub struct ResponseTimes {
    to_acknowledge: ByHistogram,
    to_resolve: ByHistogram,
    missed: Family<SeverityLabels, Counter>,
}

impl ResponseTimes {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let times = ResponseTimes {
            to_acknowledge: Family::new_with_constructor(histogram),
            to_resolve: Family::new_with_constructor(histogram),
            missed: Family::default(),
        };
        registry.register(
            "incident_time_to_acknowledge_seconds",
            "From an incident's opening to an acknowledgement of it, by severity",
            times.to_acknowledge.clone(),
        );
        registry.register(
            "incident_time_to_resolve_seconds",
            "From an incident's opening to its resolution (by Alertmanager or a person), by severity",
            times.to_resolve.clone(),
        );
        registry.register(
            "response_targets_missed",
            "Incidents still unacknowledged when their policy's response target passed, by severity",
            times.missed.clone(),
        );
        times
    }

    /// An incident of `severity` missed its response target.
    pub fn missed(&self, severity: &str) {
        self.missed
            .get_or_create(&SeverityLabels {
                severity: severity.to_string(),
            })
            .inc();
    }

    /// An incident of `severity` was acknowledged `seconds` after it opened.
    pub fn acknowledged(&self, severity: &str, seconds: f64) {
        self.to_acknowledge
            .get_or_create(&SeverityLabels {
                severity: severity.to_string(),
            })
            .observe(seconds.max(0.0));
    }

    /// An incident of `severity` resolved `seconds` after it opened.
    pub fn resolved(&self, severity: &str, seconds: f64) {
        self.to_resolve
            .get_or_create(&SeverityLabels {
                severity: severity.to_string(),
            })
            .observe(seconds.max(0.0));
    }
}
