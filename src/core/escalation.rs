//! Where an incident's escalation chain stands, and what happens when a step comes due, an
//! incident is acknowledged, resolves or reopens. Pure: the timer worker persists the result.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::plan::{PlannedPage, loop_period, step_pages};
use super::policy::{Channel, EscalationPolicy, Policies, Step, Target};

/// The position of an incident in its policy's chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    /// Bumped on every (re)start, so a reopened incident's pages are new pages.
    pub generation: i32,
    /// When the current run of the chain started (opening, reopening, or shifted on resume).
    pub origin: DateTime<Utc>,
    /// 0-based loop and the next step to fire in it.
    pub repeat: u32,
    pub step: usize,
    /// When the next step is due; `None` when nothing is pending.
    pub due_at: Option<DateTime<Utc>>,
}

/// One step that fired, with its pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FiredStep {
    pub generation: i32,
    pub repeat: u32,
    pub step: usize,
    pub due_at: DateTime<Utc>,
    pub pages: Vec<PlannedPage>,
}

/// A config duration as a time span, saturating.
pub fn delta(d: std::time::Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// `period * repeat + delay`, saturating: a policy's numbers come from config, and a sum past
/// what a time can hold means "never", not a panic.
pub(crate) fn loop_offset(
    period: std::time::Duration,
    repeat: u32,
    delay: std::time::Duration,
) -> TimeDelta {
    i32::try_from(repeat)
        .ok()
        .and_then(|r| delta(period).checked_mul(r))
        .and_then(|d| d.checked_add(&delta(delay)))
        .unwrap_or(TimeDelta::MAX)
}

/// `t + d`, the latest representable time when that overflows.
pub fn later(t: DateTime<Utc>, d: TimeDelta) -> DateTime<Utc> {
    t.checked_add_signed(d).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn due(
    policy: &EscalationPolicy,
    origin: DateTime<Utc>,
    repeat: u32,
    step: usize,
) -> Option<DateTime<Utc>> {
    let s = policy.steps.get(step)?;
    Some(later(
        origin,
        loop_offset(loop_period(policy), repeat, s.delay),
    ))
}

/// A chain starting at `now` (an incident opened or reopened); `previous` is the last
/// generation used, if any.
pub fn start(policy: &EscalationPolicy, previous: Option<i32>, now: DateTime<Utc>) -> Chain {
    Chain {
        generation: previous.map_or(1, |g| g + 1),
        origin: now,
        repeat: 0,
        step: 0,
        due_at: due(policy, now, 0, 0),
    }
}

/// Fires every step due by `now`, in order, each once, and returns the chain after them.
pub fn advance(
    chain: &Chain,
    policy: &EscalationPolicy,
    policies: &Policies,
    now: DateTime<Utc>,
) -> (Chain, Vec<FiredStep>) {
    let mut c = chain.clone();
    let mut fired = Vec::new();
    while let Some(due_at) = c.due_at.filter(|d| *d <= now) {
        fired.push(FiredStep {
            generation: c.generation,
            repeat: c.repeat,
            step: c.step,
            due_at,
            pages: step_pages(policy, policies, c.repeat, c.step, now),
        });
        c.step += 1;
        if c.step >= policy.steps.len() {
            if c.repeat < policy.repeat {
                c.repeat += 1;
                c.step = 0;
            } else {
                c.due_at = None;
                break;
            }
        }
        c.due_at = due(policy, c.origin, c.repeat, c.step);
    }
    (c, fired)
}

/// Acknowledged at `now`: nothing more fires, unless the policy has an `ack_timeout`, after which
/// the chain resumes with its next step.
pub fn acknowledge(chain: &Chain, policy: &EscalationPolicy, now: DateTime<Utc>) -> Chain {
    let mut c = chain.clone();
    c.due_at = match (policy.ack_timeout, c.due_at) {
        (Some(timeout), Some(next)) => {
            let resume = now + delta(timeout);
            // Shift the chain so its next step falls at `resume` and later steps keep their gaps.
            c.origin += resume.signed_duration_since(next.max(now));
            due(policy, c.origin, c.repeat, c.step)
        }
        _ => None,
    };
    c
}

/// Reopened within the reopen window: the chain goes on as though the incident had stayed open.
/// Steps that fired are not fired again; the next one falls due at its usual time from the
/// chain's origin (at once if that has passed). An acknowledgement still holds: without an
/// `ack_timeout` nothing is due; with one, the shifted origin already counts it down.
pub fn resume(
    chain: &Chain,
    policy: &EscalationPolicy,
    acknowledged: bool,
    now: DateTime<Utc>,
) -> Chain {
    let due_at = if acknowledged && policy.ack_timeout.is_none() {
        None
    } else {
        due(policy, chain.origin, chain.repeat, chain.step).map(|d| d.max(now))
    };
    Chain {
        due_at,
        ..chain.clone()
    }
}

/// An incident's chain as stored, as far as ingest needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredChain {
    pub chain: Chain,
    pub acknowledged: bool,
    /// The policy snapshot the chain runs, if it parsed.
    pub policy: Option<EscalationPolicy>,
}

/// What a webhook does to an incident's chain.
#[derive(Clone, Debug, PartialEq)]
pub enum ChainChange {
    Keep,
    /// A new run of `policy` (opened, or reopened with no chain to resume).
    Start {
        chain: Chain,
        policy: EscalationPolicy,
    },
    /// The stored run goes on; `policy` is set when the stored one was unusable and the route's
    /// current policy replaces it.
    Resume {
        chain: Chain,
        policy: Option<EscalationPolicy>,
    },
    /// Resolved: nothing more fires.
    Stop,
}

/// The chain after a webhook: `opening` is the opened/reopened event the plan carries, if any;
/// `route_policy` the current config's policy for the incident's route.
pub fn after_ingest(
    opening: Option<super::ingest::EventKind>,
    resolved: bool,
    stored: Option<&StoredChain>,
    route_policy: Option<&EscalationPolicy>,
    now: DateTime<Utc>,
) -> ChainChange {
    use super::ingest::EventKind;
    if resolved {
        return ChainChange::Stop;
    }
    let fresh = |previous: Option<i32>| match route_policy {
        Some(p) => ChainChange::Start {
            chain: start(p, previous, now),
            policy: p.clone(),
        },
        None => ChainChange::Keep,
    };
    match (opening, stored) {
        (Some(EventKind::Opened), _) => fresh(None),
        (Some(EventKind::Reopened), Some(s)) if s.chain.generation > 0 => {
            match (&s.policy, route_policy) {
                (Some(p), _) => ChainChange::Resume {
                    chain: resume(&s.chain, p, s.acknowledged, now),
                    policy: None,
                },
                (None, Some(p)) => ChainChange::Resume {
                    chain: resume(&s.chain, p, s.acknowledged, now),
                    policy: Some(p.clone()),
                },
                (None, None) => ChainChange::Keep,
            }
        }
        (Some(EventKind::Reopened), s) => fresh(s.map(|s| s.chain.generation)),
        _ => ChainChange::Keep,
    }
}

/// Resolved: nothing more fires.
pub fn resolve(chain: &Chain) -> Chain {
    Chain {
        due_at: None,
        ..chain.clone()
    }
}

/// What a due incident does at a tick of the timer worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tick {
    /// Suppressed: nothing fires; look again at `until`. `first` when the hold begins now.
    Held { until: DateTime<Utc>, first: bool },
    /// The chain moved: these steps fired. `unheld` when a hold ended and the chain restarted.
    Moved {
        chain: Chain,
        fired: Vec<FiredStep>,
        unheld: bool,
    },
}

/// One tick for a due incident. `quiet` is why it must not page now (muted, in maintenance,
/// inhibited) and until when, if known; an unknown end is looked at again after `recheck`.
/// When a hold ends, paging starts as a fresh run of the chain.
pub fn tick(
    chain: &Chain,
    held: bool,
    quiet: Option<Option<DateTime<Utc>>>,
    policy: &EscalationPolicy,
    policies: &Policies,
    now: DateTime<Utc>,
    recheck: TimeDelta,
) -> Tick {
    if let (Some(until), Some(_)) = (quiet, chain.due_at) {
        let until = until
            .unwrap_or(now + recheck)
            .max(now + TimeDelta::seconds(1));
        return Tick::Held {
            until,
            first: !held,
        };
    }
    let restarted = if held {
        start(policy, Some(chain.generation), now)
    } else {
        chain.clone()
    };
    let (chain, fired) = advance(&restarted, policy, policies, now);
    Tick::Moved {
        chain,
        fired,
        unheld: held,
    }
}

/// The policy as stored with an incident: an open incident keeps the version it opened with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicySnapshot {
    pub name: String,
    pub repeat: u32,
    pub ack_timeout_secs: Option<u64>,
    /// Absent in snapshots stored before response targets were a policy's.
    #[serde(default)]
    pub response_target_secs: Option<u64>,
    pub steps: Vec<StepSnapshot>,
}

/// One step as stored with an incident.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepSnapshot {
    pub delay_secs: u64,
    pub targets: Vec<String>,
    pub via: Vec<String>,
}

impl From<&EscalationPolicy> for PolicySnapshot {
    fn from(p: &EscalationPolicy) -> Self {
        PolicySnapshot {
            name: p.name.clone(),
            repeat: p.repeat,
            ack_timeout_secs: p.ack_timeout.map(|d| d.as_secs()),
            response_target_secs: p.response_target.map(|d| d.as_secs()),
            steps: p
                .steps
                .iter()
                .map(|s| StepSnapshot {
                    delay_secs: s.delay.as_secs(),
                    targets: s.targets.iter().map(Target::to_string).collect(),
                    via: s.via.iter().map(|c| c.as_str().to_string()).collect(),
                })
                .collect(),
        }
    }
}

impl TryFrom<&PolicySnapshot> for EscalationPolicy {
    type Error = String;

    fn try_from(p: &PolicySnapshot) -> Result<Self, Self::Error> {
        let steps = p
            .steps
            .iter()
            .map(|s| {
                Ok(Step {
                    delay: std::time::Duration::from_secs(s.delay_secs),
                    targets: s
                        .targets
                        .iter()
                        .map(|t| t.parse())
                        .collect::<Result<_, String>>()?,
                    via: s
                        .via
                        .iter()
                        .map(|c| c.parse::<Channel>())
                        .collect::<Result<_, String>>()?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(EscalationPolicy {
            name: p.name.clone(),
            steps,
            repeat: p.repeat,
            ack_timeout: p.ack_timeout_secs.map(std::time::Duration::from_secs),
            response_target: p.response_target_secs.map(std::time::Duration::from_secs),
        })
    }
}

#[cfg(test)]
mod tests;
