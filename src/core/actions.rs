//! What an action on an incident does — acknowledge, unacknowledge, resolve, escalate now, snooze,
//! reassign, note — whatever its source (Slack, the API, an SMS reply, an e-mail link, PagerDuty).
//! Pure: the shell locks the incident, asks here, and commits the answer with its audit row.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::IncidentStatus;
use super::escalation::{Chain, acknowledge};
use super::notification::NoticeKind;
use super::plan::{PlannedPage, step_pages};
use super::policy::{EscalationPolicy, Policies, Step, Target};

/// An action someone asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Ack,
    Unack,
    Resolve,
    Escalate,
    Snooze { until: DateTime<Utc> },
    Reassign { target: Target },
    Note { text: String },
}

impl Action {
    /// The action's name, as audited and as the API spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Ack => "ack",
            Action::Unack => "unack",
            Action::Resolve => "resolve",
            Action::Escalate => "escalate",
            Action::Snooze { .. } => "snooze",
            Action::Reassign { .. } => "reassign",
            Action::Note { .. } => "note",
        }
    }
}

/// The incident as the action finds it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct State {
    pub status: IncidentStatus,
    pub acknowledged_by: Option<String>,
    pub snoozed_until: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub chain: Chain,
}

/// What the action changes.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub after: State,
    /// The timeline event it records.
    pub event: &'static str,
    /// Pages to send now (reassign).
    pub pages: Vec<PlannedPage>,
    /// Whether the incident's unsent pages are cancelled (nobody should be paged for it now).
    pub cancel_pending: bool,
    /// The kind of notice for every place that shows the incident (Slack message, PagerDuty,
    /// webhooks), if any.
    pub notice: Option<NoticeKind>,
}

/// Why an action was refused (HTTP 409).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// Decides what `action` by `actor` does to an incident in `state` under its `policy`.
pub fn decide(
    state: &State,
    action: &Action,
    actor: &str,
    policy: Option<&EscalationPolicy>,
    policies: &Policies,
    now: DateTime<Utc>,
) -> Result<Decision, Refused> {
    let resolved = state.status == IncidentStatus::Resolved;
    if resolved && !matches!(action, Action::Note { .. }) {
        return Err(Refused(format!(
            "the incident is resolved; it cannot be {}",
            past(action)
        )));
    }
    let mut after = state.clone();
    let decision = |after: State, event, notice, cancel_pending| Decision {
        after,
        event,
        pages: Vec::new(),
        cancel_pending,
        notice,
    };
    match action {
        Action::Ack => {
            if let Some(by) = &state.acknowledged_by {
                return Err(Refused(format!("already acknowledged by {by}")));
            }
            after.acknowledged_by = Some(actor.to_string());
            after.snoozed_until = None;
            after.chain = match policy {
                Some(p) => acknowledge(&state.chain, p, now),
                None => stopped(&state.chain),
            };
            Ok(decision(
                after,
                "acknowledged",
                Some(NoticeKind::Acknowledged),
                true,
            ))
        }
        Action::Unack => {
            if state.acknowledged_by.is_none() {
                return Err(Refused("the incident is not acknowledged".into()));
            }
            after.acknowledged_by = None;
            after.snoozed_until = None;
            after.chain = next_step_at(&state.chain, policy, now);
            Ok(decision(
                after,
                "unacknowledged",
                Some(NoticeKind::Unacknowledged),
                false,
            ))
        }
        Action::Resolve => {
            after.status = IncidentStatus::Resolved;
            after.chain = stopped(&state.chain);
            after.snoozed_until = None;
            Ok(decision(
                after,
                "resolved",
                Some(NoticeKind::Resolved),
                true,
            ))
        }
        Action::Escalate => {
            let chain = next_step_at(&state.chain, policy, now);
            if chain.due_at.is_none() {
                return Err(Refused(
                    "the escalation policy has no further step to escalate to".into(),
                ));
            }
            after.chain = chain;
            after.acknowledged_by = None;
            after.snoozed_until = None;
            Ok(decision(
                after,
                "escalated",
                Some(NoticeKind::Escalated),
                false,
            ))
        }
        Action::Snooze { until } => {
            if *until <= now {
                return Err(Refused("a snooze must end in the future".into()));
            }
            if *until > now + TimeDelta::days(7) {
                return Err(Refused("a snooze may last at most 7 days".into()));
            }
            after.acknowledged_by = Some(actor.to_string());
            after.snoozed_until = Some(*until);
            // Paging resumes with the next step when the snooze ends.
            let mut chain = next_step_at(&state.chain, policy, *until);
            if policy.is_none() {
                chain.due_at = None;
            }
            after.chain = chain;
            Ok(decision(after, "snoozed", Some(NoticeKind::Snoozed), true))
        }
        Action::Reassign { target } => {
            let step = EscalationPolicy {
                name: "reassign".into(),
                steps: vec![Step {
                    delay: std::time::Duration::ZERO,
                    targets: vec![target.clone()],
                    via: Vec::new(),
                }],
                repeat: 0,
                ack_timeout: None,
                response_target: None,
            };
            let pages = step_pages(&step, policies, 0, 0, now);
            if pages.is_empty() {
                return Err(Refused(format!("{target} names nobody to page")));
            }
            after.acknowledged_by = None;
            after.snoozed_until = None;
            Ok(Decision {
                pages,
                ..decision(after, "reassigned", Some(NoticeKind::Reassigned), false)
            })
        }
        Action::Note { text } => {
            if text.trim().is_empty() {
                return Err(Refused("a note needs text".into()));
            }
            Ok(decision(after, "note", None, false))
        }
    }
}

fn past(action: &Action) -> &'static str {
    match action {
        Action::Ack => "acknowledged",
        Action::Unack => "unacknowledged",
        Action::Resolve => "resolved again",
        Action::Escalate => "escalated",
        Action::Snooze { .. } => "snoozed",
        Action::Reassign { .. } => "reassigned",
        Action::Note { .. } => "noted",
    }
}

fn stopped(chain: &Chain) -> Chain {
    Chain {
        due_at: None,
        ..chain.clone()
    }
}

/// The chain with its next step falling at `at` and later steps keeping their gaps; nothing
/// due when the chain has run out (or there is no policy).
fn next_step_at(chain: &Chain, policy: Option<&EscalationPolicy>, at: DateTime<Utc>) -> Chain {
    let Some(p) = policy else {
        return stopped(chain);
    };
    let mut c = chain.clone();
    let Some(step) = p.steps.get(c.step) else {
        return stopped(chain);
    };
    let back = super::escalation::loop_offset(super::plan::loop_period(p), c.repeat, step.delay);
    // due = origin + period * repeat + delay  →  origin = at - period * repeat - delay
    c.origin = at
        .checked_sub_signed(back)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    c.due_at = Some(at);
    c
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::core::policy::{Channel, User};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn policies() -> (EscalationPolicy, Policies) {
        let mut p = Policies::default();
        for name in ["alice", "carol"] {
            p.users.insert(
                name.into(),
                User {
                    name: name.into(),
                    slack_id: None,
                    email: None,
                    phone: None,
                    time_zone: None,
                    contact: vec![Channel::Sms],
                },
            );
        }
        let step = |min: u64, who: &str| Step {
            delay: Duration::from_secs(min * 60),
            targets: vec![Target::User(who.into())],
            via: vec![],
        };
        let policy = EscalationPolicy {
            name: "critical".into(),
            steps: vec![step(0, "alice"), step(5, "alice"), step(15, "carol")],
            repeat: 0,
            ack_timeout: None,
            response_target: None,
        };
        (policy, p)
    }

    fn open(step: usize) -> State {
        State {
            status: IncidentStatus::Open,
            acknowledged_by: None,
            snoozed_until: None,
            chain: Chain {
                generation: 1,
                origin: t("2026-11-25T10:00:00Z"),
                repeat: 0,
                step,
                due_at: Some(t("2026-11-25T10:05:00Z")),
            },
        }
    }

    #[test]
    fn ack_stops_the_chain_and_a_second_ack_is_refused() {
        let (policy, p) = policies();
        let now = t("2026-11-25T10:01:00Z");
        let d = decide(&open(1), &Action::Ack, "alice", Some(&policy), &p, now).unwrap();
        assert_eq!(d.after.acknowledged_by.as_deref(), Some("alice"));
        assert_eq!(d.after.chain.due_at, None);
        assert!(d.cancel_pending);
        let again = decide(&d.after, &Action::Ack, "bob", Some(&policy), &p, now).unwrap_err();
        assert_eq!(again.0, "already acknowledged by alice");
    }

    #[test]
    fn nothing_but_a_note_acts_on_a_resolved_incident() {
        let (policy, p) = policies();
        let now = t("2026-11-25T10:01:00Z");
        let resolved = decide(&open(1), &Action::Resolve, "alice", Some(&policy), &p, now)
            .unwrap()
            .after;
        assert_eq!(resolved.status, IncidentStatus::Resolved);
        for action in [
            Action::Ack,
            Action::Resolve,
            Action::Escalate,
            Action::Unack,
        ] {
            let err = decide(&resolved, &action, "bob", Some(&policy), &p, now).unwrap_err();
            assert!(err.0.starts_with("the incident is resolved"), "{err}");
        }
        let note = Action::Note {
            text: "root cause: a bad deploy".into(),
        };
        assert!(decide(&resolved, &note, "bob", Some(&policy), &p, now).is_ok());
    }

    #[test]
    fn escalate_now_fires_the_next_step_now_and_keeps_the_gaps() {
        let (policy, p) = policies();
        let now = t("2026-11-25T10:02:00Z");
        let d = decide(&open(1), &Action::Escalate, "bob", Some(&policy), &p, now).unwrap();
        assert_eq!(d.after.chain.due_at, Some(now));
        assert_eq!(d.after.chain.origin, t("2026-11-25T09:57:00Z"));
        let last = State {
            chain: Chain {
                step: 3,
                due_at: None,
                ..open(3).chain
            },
            ..open(3)
        };
        let err = decide(&last, &Action::Escalate, "bob", Some(&policy), &p, now).unwrap_err();
        assert!(err.0.contains("no further step"), "{err}");
    }

    #[test]
    fn snooze_acknowledges_until_it_ends_then_the_next_step_fires() {
        let (policy, p) = policies();
        let now = t("2026-11-25T10:02:00Z");
        let until = t("2026-11-25T11:00:00Z");
        let d = decide(
            &open(1),
            &Action::Snooze { until },
            "alice",
            Some(&policy),
            &p,
            now,
        )
        .unwrap();
        assert_eq!(d.after.snoozed_until, Some(until));
        assert_eq!(d.after.acknowledged_by.as_deref(), Some("alice"));
        assert_eq!(d.after.chain.due_at, Some(until));
        let past = Action::Snooze { until: now };
        assert!(decide(&open(1), &past, "alice", Some(&policy), &p, now).is_err());
        let unack = decide(&d.after, &Action::Unack, "alice", Some(&policy), &p, now).unwrap();
        assert_eq!(
            unack.after.chain.due_at,
            Some(now),
            "unack resumes paging now"
        );
    }

    #[test]
    fn reassign_pages_the_new_target_now() {
        let (policy, p) = policies();
        let now = t("2026-11-25T10:02:00Z");
        let to = Action::Reassign {
            target: Target::User("carol".into()),
        };
        let d = decide(&open(1), &to, "alice", Some(&policy), &p, now).unwrap();
        assert_eq!(d.pages.len(), 1);
        assert_eq!(d.pages[0].recipient.to_string(), "user:carol");
        assert_eq!(d.pages[0].channels, [Channel::Sms]);
        let nobody = Action::Reassign {
            target: Target::Team("ghosts".into()),
        };
        assert!(decide(&open(1), &nobody, "alice", Some(&policy), &p, now).is_err());
    }
}
