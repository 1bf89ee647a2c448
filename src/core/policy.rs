//! Escalation policies, people, teams and on-call schedules, as loaded from `policies/*.yaml`.
//! Pure data plus the schedule math: who is on call at an instant.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;

/// A delivery channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Channel {
    Slack,
    Email,
    Sms,
    PagerDuty,
    Webhook,
}

impl Channel {
    /// Every channel, in config spelling order.
    pub const ALL: [Channel; 5] = [
        Channel::Slack,
        Channel::Email,
        Channel::Sms,
        Channel::PagerDuty,
        Channel::Webhook,
    ];

    /// The config and database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Slack => "slack",
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::PagerDuty => "pagerduty",
            Channel::Webhook => "webhook",
        }
    }
}

/// The channels this version delivers, in the order the dispatcher claims them.
pub const DELIVERED_CHANNELS: [&str; 5] = ["webhook", "pagerduty", "sms", "slack", "email"];

impl std::str::FromStr for Channel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                format!("{s:?} is not a channel (slack, email, sms, pagerduty, webhook)")
            })
    }
}

/// Who or what a step pages.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    User(String),
    Team(String),
    /// Whoever is on call when the step fires.
    Schedule(String),
    SlackChannel(String),
    PagerDuty(String),
    Webhook(String),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, name) = match self {
            Target::User(n) => ("user", n),
            Target::Team(n) => ("team", n),
            Target::Schedule(n) => ("schedule", n),
            Target::SlackChannel(n) => ("slack_channel", n),
            Target::PagerDuty(n) => ("pagerduty", n),
            Target::Webhook(n) => ("webhook", n),
        };
        write!(f, "{kind}:{name}")
    }
}

impl std::str::FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, name) = s
            .split_once(':')
            .filter(|(_, n)| !n.is_empty())
            .ok_or_else(|| format!("{s:?} is not KIND:NAME (user:, team:, schedule:, slack_channel:, pagerduty:, webhook:)"))?;
        let name = name.to_string();
        Ok(match kind {
            "user" => Target::User(name),
            "team" => Target::Team(name),
            "schedule" => Target::Schedule(name),
            "slack_channel" => Target::SlackChannel(name),
            "pagerduty" => Target::PagerDuty(name),
            "webhook" => Target::Webhook(name),
            other => return Err(format!("unknown target kind {other:?} in {s:?}")),
        })
    }
}

/// One step of an escalation policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// From the incident's opening (or the start of the loop).
    pub delay: Duration,
    pub targets: Vec<Target>,
    /// Channels to use; empty means each target's own contact preferences.
    pub via: Vec<Channel>,
}

/// An ordered chain of steps.
#[derive(Clone, Debug, PartialEq)]
pub struct EscalationPolicy {
    pub name: String,
    pub steps: Vec<Step>,
    /// How many more times the whole chain runs when nobody acknowledges.
    pub repeat: u32,
    /// Acknowledged but unresolved this long: escalation resumes.
    pub ack_timeout: Option<Duration>,
    /// Unacknowledged this long after opening (or reopening): the response target is missed,
    /// whether or not a step pages then.
    pub response_target: Option<Duration>,
}

/// A person who can be paged.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub name: String,
    pub slack_id: Option<String>,
    pub email: Option<String>,
    /// E.164, validated at load.
    pub phone: Option<String>,
    pub time_zone: Option<Tz>,
    /// Channels used when a step does not say `via`.
    pub contact: Vec<Channel>,
}

/// A named group of users.
#[derive(Clone, Debug, PartialEq)]
pub struct Team {
    pub name: String,
    pub members: Vec<String>,
    /// The zone the team's reports show times in (else `reports.time_zone`).
    pub time_zone: Option<Tz>,
}

/// A rotation: members take turns of `shift`, the first turn starting at `handoff` (wall-clock
/// time in the schedule's zone, so hand-offs stay at the same local time across DST changes).
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    pub members: Vec<String>,
    pub shift: Duration,
    pub handoff: NaiveDateTime,
}

/// Someone else on call for a while.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    pub user: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// An on-call schedule: layers (later ones override earlier ones) and temporary overrides.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    pub name: String,
    pub time_zone: Tz,
    pub layers: Vec<Layer>,
    pub overrides: Vec<Override>,
}

impl Schedule {
    /// Who is on call at `at`: the latest override covering it, else the last layer that has
    /// started, else nobody.
    pub fn on_call(&self, at: DateTime<Utc>) -> Option<&str> {
        if let Some(o) = self
            .overrides
            .iter()
            .rev()
            .find(|o| o.start <= at && at < o.end)
        {
            return Some(&o.user);
        }
        let local = at.with_timezone(&self.time_zone).naive_local();
        self.layers
            .iter()
            .rev()
            .find_map(|layer| layer.on_call(local))
    }

    /// The instants in `[from, to)` at which who is on call may change, in order.
    pub fn handoffs(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let mut out: Vec<DateTime<Utc>> = self
            .overrides
            .iter()
            .flat_map(|o| [o.start, o.end])
            .filter(|t| from <= *t && *t < to)
            .collect();
        for layer in &self.layers {
            let shift = chrono::TimeDelta::from_std(layer.shift).unwrap_or(chrono::TimeDelta::MAX);
            let local_from = from.with_timezone(&self.time_zone).naive_local();
            let mut k = layer.turns_before(local_from).max(0);
            loop {
                let local = layer.handoff + shift * k as i32;
                let Some(instant) = local_to_utc(self.time_zone, local) else {
                    k += 1;
                    continue;
                };
                if instant >= to {
                    break;
                }
                if instant >= from {
                    out.push(instant);
                }
                k += 1;
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

impl Layer {
    /// Whole turns between the first hand-off and `local` (negative before it).
    fn turns_before(&self, local: NaiveDateTime) -> i64 {
        let elapsed = local.signed_duration_since(self.handoff);
        let shift = self.shift.as_secs().max(1) as i64;
        elapsed.num_seconds().div_euclid(shift)
    }

    fn on_call(&self, local: NaiveDateTime) -> Option<&str> {
        if self.members.is_empty() || local < self.handoff {
            return None;
        }
        let turn = self.turns_before(local) as usize % self.members.len();
        Some(&self.members[turn])
    }
}

/// The instant a wall-clock time names in a zone: the earlier one when DST repeats an hour, and
/// the first instant after the gap when DST skips it.
fn local_to_utc(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    use chrono::TimeZone;
    use chrono::offset::LocalResult;
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, _) => Some(a.with_timezone(&Utc)),
        LocalResult::None => {
            let later = local + chrono::TimeDelta::hours(1);
            tz.from_local_datetime(&later)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
        }
    }
}

/// Everything in `policies/`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Policies {
    pub users: BTreeMap<String, User>,
    pub teams: BTreeMap<String, Team>,
    pub schedules: BTreeMap<String, Schedule>,
    pub policies: BTreeMap<String, EscalationPolicy>,
    /// Named destinations of `slack_channel:`, `pagerduty:` and `webhook:` targets.
    pub slack_channels: BTreeMap<String, String>,
    pub pagerduty_services: BTreeMap<String, String>,
    pub webhooks: BTreeMap<String, String>,
}

impl Policies {
    /// The name of the person whose contact detail `field` is `value` (a Slack id, a phone).
    pub fn person_by(&self, field: impl Fn(&User) -> Option<&str>, value: &str) -> Option<String> {
        self.users
            .values()
            .find(|u| !value.is_empty() && field(u) == Some(value))
            .map(|u| u.name.clone())
    }
}

#[cfg(test)]
mod tests;
