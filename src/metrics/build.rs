//! `alertrouter_build_info{version,commit,schema}`: always 1, so a dashboard or an alert can
//! tell which replica runs which build during a rolling upgrade.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::build_info;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
    commit: String,
    schema: String,
}

pub(super) fn register(registry: &mut Registry) {
    let info = Family::<BuildLabels, Gauge>::default();
    info.get_or_create(&BuildLabels {
        version: build_info::VERSION.into(),
        commit: build_info::COMMIT.into(),
        schema: build_info::SCHEMA.into(),
    })
    .set(1);
    registry.register(
        "build_info",
        "The running binary's version, commit and expected schema version (always 1)",
        info,
    );
}
