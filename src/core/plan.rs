//! The paging plan of a policy: who is paged, by which channel, at which time, up the whole
//! chain — what `simulate` prints and what the escalation engine will follow.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::escalation::{later, loop_offset};
use super::policy::{Channel, EscalationPolicy, Policies, Target};

/// Who receives one page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recipient {
    User(String),
    SlackChannel(String),
    PagerDuty(String),
    Webhook(String),
    /// A schedule with nobody on call at that moment.
    NobodyOnCall(String),
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recipient::User(n) => write!(f, "user:{n}"),
            Recipient::SlackChannel(n) => write!(f, "slack_channel:{n}"),
            Recipient::PagerDuty(n) => write!(f, "pagerduty:{n}"),
            Recipient::Webhook(n) => write!(f, "webhook:{n}"),
            Recipient::NobodyOnCall(n) => write!(f, "nobody:{n}"),
        }
    }
}

/// Reads the stored spelling back (`user:alice`, `slack_channel:ops`, …).
impl std::str::FromStr for Recipient {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, name) = s
            .split_once(':')
            .ok_or_else(|| format!("{s:?} is not a recipient"))?;
        let name = name.to_string();
        Ok(match kind {
            "user" => Recipient::User(name),
            "slack_channel" => Recipient::SlackChannel(name),
            "pagerduty" => Recipient::PagerDuty(name),
            "webhook" => Recipient::Webhook(name),
            "nobody" => Recipient::NobodyOnCall(name),
            _ => return Err(format!("{s:?} is not a recipient")),
        })
    }
}

/// One page of the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedPage {
    pub at: DateTime<Utc>,
    /// 0-based loop of the chain and step within it.
    pub repeat: u32,
    pub step: usize,
    pub recipient: Recipient,
    pub channels: Vec<Channel>,
    /// Through which target (`schedule:sre-primary`) the recipient was reached.
    pub via_target: String,
}

/// How long one loop of the chain lasts before it starts again: the last step's delay, or 5 min
/// for a chain whose steps all fire at once.
pub fn loop_period(policy: &EscalationPolicy) -> Duration {
    let last = policy.steps.last().map_or(Duration::ZERO, |s| s.delay);
    if last.is_zero() {
        Duration::from_secs(300)
    } else {
        last
    }
}

/// Every page of the policy for an incident opened at `opened_at`, assuming nobody acknowledges.
pub fn paging_plan(
    policy: &EscalationPolicy,
    policies: &Policies,
    opened_at: DateTime<Utc>,
) -> Vec<PlannedPage> {
    let period = loop_period(policy);
    let mut out = Vec::new();
    for repeat in 0..=policy.repeat {
        for step in 0..policy.steps.len() {
            let at = later(
                opened_at,
                loop_offset(period, repeat, policy.steps[step].delay),
            );
            out.extend(step_pages(policy, policies, repeat, step, at));
        }
    }
    out
}

/// The pages of one step fired at `at`: schedules resolve to whoever is on call then.
pub fn step_pages(
    policy: &EscalationPolicy,
    policies: &Policies,
    repeat: u32,
    step_index: usize,
    at: DateTime<Utc>,
) -> Vec<PlannedPage> {
    let Some(step) = policy.steps.get(step_index) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for target in &step.targets {
        for (recipient, default_channels) in expand(target, policies, at) {
            let channels = if step.via.is_empty() {
                default_channels
            } else {
                step.via.clone()
            };
            out.push(PlannedPage {
                at,
                repeat,
                step: step_index,
                recipient,
                channels,
                via_target: target.to_string(),
            });
        }
    }
    out
}

/// The recipients a target names at `at`, with the channels each prefers.
fn expand(
    target: &Target,
    policies: &Policies,
    at: DateTime<Utc>,
) -> Vec<(Recipient, Vec<Channel>)> {
    let user = |name: &str| {
        let contact = policies
            .users
            .get(name)
            .map(|u| u.contact.clone())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| vec![Channel::Email]);
        (Recipient::User(name.to_string()), contact)
    };
    match target {
        Target::User(name) => vec![user(name)],
        Target::Team(name) => policies
            .teams
            .get(name)
            .map(|t| t.members.iter().map(|m| user(m)).collect())
            .unwrap_or_default(),
        Target::Schedule(name) => match policies.schedules.get(name).and_then(|s| s.on_call(at)) {
            Some(who) => vec![user(who)],
            None => vec![(Recipient::NobodyOnCall(name.clone()), Vec::new())],
        },
        Target::SlackChannel(name) => {
            vec![(Recipient::SlackChannel(name.clone()), vec![Channel::Slack])]
        }
        Target::PagerDuty(name) => {
            vec![(Recipient::PagerDuty(name.clone()), vec![Channel::PagerDuty])]
        }
        Target::Webhook(name) => vec![(Recipient::Webhook(name.clone()), vec![Channel::Webhook])],
    }
}
