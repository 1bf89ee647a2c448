//! The shape of a `policies/*.yaml` file, as written (checked and merged by `policies`).

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub(super) struct PoliciesFile {
    /// The people who can be paged.
    pub(super) users: Vec<RawUser>,
    /// Groups of users (`team:` targets).
    pub(super) teams: Vec<RawTeam>,
    /// Rotations (`schedule:` targets page whoever is on call when the step fires).
    pub(super) schedules: Vec<RawSchedule>,
    /// Who is paged, how, and when, from an incident's opening.
    pub(super) escalation_policies: Vec<RawPolicy>,
    /// Named destinations of `slack_channel:`, `pagerduty:` and `webhook:` targets.
    pub(super) destinations: RawDestinations,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUser {
    /// Referred to as `user:NAME`.
    pub(super) name: String,
    /// The Slack member id (`U…`): DMs, and who may press the buttons.
    pub(super) slack_id: Option<String>,
    /// The e-mail address.
    pub(super) email: Option<String>,
    /// The phone number (E.164) for SMS.
    pub(super) phone: Option<String>,
    /// An IANA zone; messages show times in it.
    pub(super) time_zone: Option<String>,
    /// The channels used when a step names no `via`.
    #[serde(default)]
    pub(super) contact: Vec<String>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTeam {
    /// Referred to as `team:NAME`.
    pub(super) name: String,
    /// User names.
    pub(super) members: Vec<String>,
    /// Reports show the team's incidents' times in it.
    pub(super) time_zone: Option<String>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSchedule {
    /// Referred to as `schedule:NAME`.
    pub(super) name: String,
    /// An IANA zone: hand-offs stay at the same local time across DST.
    pub(super) time_zone: String,
    /// Rotations; a later layer overrides an earlier one once it has started.
    pub(super) layers: Vec<RawLayer>,
    /// Stand-ins for a time (the API adds more).
    #[serde(default)]
    pub(super) overrides: Vec<RawOverride>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLayer {
    /// User names, in rotation order.
    pub(super) members: Vec<String>,
    /// How long each member is on call (`1d`, `1w`).
    pub(super) shift: String,
    /// A local date and time (`2026-01-05T09:00`) at which the first member's shift starts.
    pub(super) handoff: String,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOverride {
    /// Who is on call instead.
    pub(super) user: String,
    /// RFC 3339.
    pub(super) start: String,
    /// RFC 3339, after `start`.
    pub(super) end: String,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolicy {
    /// Referred to by routes' `policy`.
    pub(super) name: String,
    /// Each step's delay counts from the incident's opening.
    pub(super) steps: Vec<RawStep>,
    /// Run the whole chain this many more times while nobody acknowledges. Default `0`.
    #[serde(default)]
    pub(super) repeat: u32,
    /// Acknowledged but unresolved this long: escalation resumes.
    pub(super) ack_timeout: Option<String>,
    /// How long an incident may stay unacknowledged: past it a `response_target_missed` event is
    /// written, counted by reports and statistics.
    pub(super) response_target: Option<String>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStep {
    /// From the incident's opening (`0s`, `15m`).
    pub(super) delay: String,
    /// `user:`, `team:`, `schedule:`, `slack_channel:`, `pagerduty:` or `webhook:` and a name.
    pub(super) targets: Vec<String>,
    /// For people: `slack`, `sms`, `email`, `pagerduty`. Default: each person's `contact`.
    #[serde(default)]
    pub(super) via: Vec<String>,
    /// Replaced by the policy's `response_target` (a duration): kept only to say so.
    #[schemars(skip)]
    pub(super) response_target: Option<serde_norway::Value>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawDestinations {
    /// Name → Slack channel id (`C…`).
    pub(super) slack_channels: BTreeMap<String, String>,
    /// Name → routing key (use `${VAR}`, never inline).
    pub(super) pagerduty_services: BTreeMap<String, String>,
    /// Name → URL.
    pub(super) webhooks: BTreeMap<String, String>,
}
