//! The shape of a `policies/*.yaml` file, as written (checked and merged by `policies`).

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct PoliciesFile {
    pub(super) users: Vec<RawUser>,
    pub(super) teams: Vec<RawTeam>,
    pub(super) schedules: Vec<RawSchedule>,
    pub(super) escalation_policies: Vec<RawPolicy>,
    pub(super) destinations: RawDestinations,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUser {
    pub(super) name: String,
    pub(super) slack_id: Option<String>,
    pub(super) email: Option<String>,
    pub(super) phone: Option<String>,
    pub(super) time_zone: Option<String>,
    #[serde(default)]
    pub(super) contact: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTeam {
    pub(super) name: String,
    pub(super) members: Vec<String>,
    pub(super) time_zone: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSchedule {
    pub(super) name: String,
    pub(super) time_zone: String,
    pub(super) layers: Vec<RawLayer>,
    #[serde(default)]
    pub(super) overrides: Vec<RawOverride>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLayer {
    pub(super) members: Vec<String>,
    pub(super) shift: String,
    pub(super) handoff: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOverride {
    pub(super) user: String,
    pub(super) start: String,
    pub(super) end: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolicy {
    pub(super) name: String,
    pub(super) steps: Vec<RawStep>,
    #[serde(default)]
    pub(super) repeat: u32,
    pub(super) ack_timeout: Option<String>,
    pub(super) response_target: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStep {
    pub(super) delay: String,
    pub(super) targets: Vec<String>,
    #[serde(default)]
    pub(super) via: Vec<String>,
    /// Replaced by the policy's `response_target` (a duration): kept only to say so.
    pub(super) response_target: Option<serde_norway::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawDestinations {
    pub(super) slack_channels: BTreeMap<String, String>,
    pub(super) pagerduty_services: BTreeMap<String, String>,
    pub(super) webhooks: BTreeMap<String, String>,
}
