//! Ingest and the escalation chain together: a group that flaps within the reopen window
//! resumes its chain instead of paging everyone again.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use proptest::prelude::*;

use super::tests::{Model, alert, policy, t};
use super::*;
use crate::core::escalation::{
    Chain, ChainChange, StoredChain, acknowledge, advance, after_ingest, resolve,
};
use crate::core::policy::{Channel, EscalationPolicy, Policies, Step, Target};

fn chain_policy(ack_timeout_min: Option<u64>) -> EscalationPolicy {
    EscalationPolicy {
        name: "p".into(),
        steps: [0u64, 2, 5]
            .iter()
            .map(|d| Step {
                delay: Duration::from_secs(d * 60),
                targets: vec![Target::User("alice".into())],
                via: vec![Channel::Sms, Channel::Slack],
            })
            .collect(),
        repeat: 1,
        ack_timeout: ack_timeout_min.map(|m| Duration::from_secs(m * 60)),
        response_target: None,
    }
}

/// The store's model plus each incident's chain, driven the way the shell drives them.
struct Sim {
    m: Model,
    policy: EscalationPolicy,
    chains: HashMap<Uuid, (Chain, bool)>,
    /// (incident, loop, step, recipient, channel) of every page written.
    pages: Vec<(Uuid, u32, usize, String, &'static str)>,
    /// The occurrence now firing, by its start minute.
    firing: Option<i64>,
    last_start: i64,
}

impl Sim {
    fn new(policy: EscalationPolicy) -> Self {
        Sim {
            m: Model::default(),
            policy,
            chains: HashMap::new(),
            pages: Vec::new(),
            firing: None,
            last_start: -1,
        }
    }

    fn receive(&mut self, message: &[Alert], now: DateTime<Utc>) {
        let snapshot = self.m.snapshot(message);
        let refs: Vec<&Alert> = message.iter().collect();
        let Some(plan) = decide(&snapshot, &refs, &policy(), now, Uuid::now_v7()) else {
            return;
        };
        let id = plan.incident.id;
        let opening = plan
            .events
            .iter()
            .map(|e| e.kind)
            .find(|k| matches!(k, EventKind::Opened | EventKind::Reopened));
        let stored = self.chains.get(&id).map(|(chain, acked)| StoredChain {
            chain: chain.clone(),
            acknowledged: *acked,
            policy: Some(self.policy.clone()),
        });
        let resolved = plan.incident.status == IncidentStatus::Resolved;
        match after_ingest(opening, resolved, stored.as_ref(), Some(&self.policy), now) {
            ChainChange::Keep => {}
            ChainChange::Start { chain, .. } => {
                self.chains.insert(id, (chain, false));
            }
            ChainChange::Resume { chain, .. } => {
                let acked = self.chains.get(&id).is_some_and(|c| c.1);
                self.chains.insert(id, (chain, acked));
            }
            ChainChange::Stop => {
                if let Some(c) = self.chains.get_mut(&id) {
                    c.0 = resolve(&c.0);
                }
            }
        }
        self.m.apply(&plan);
    }

    fn fire(&mut self, minute: i64) {
        if self.firing.is_none() {
            let starts = minute.max(self.last_start + 1);
            self.last_start = starts;
            self.firing = Some(starts);
        }
        let starts = self.firing.unwrap_or(minute);
        self.receive(&[alert(1, "critical", starts, None)], t(minute));
    }

    fn resolve(&mut self, minute: i64) {
        if let Some(starts) = self.firing.take() {
            self.receive(&[alert(1, "critical", starts, Some(minute))], t(minute));
        }
    }

    fn tick(&mut self, minute: i64) {
        let now = t(minute);
        for (&id, (chain, acked)) in &mut self.chains {
            let (next, fired) = advance(chain, &self.policy, &Policies::default(), now);
            *chain = next;
            if !fired.is_empty() {
                *acked = false;
            }
            for f in fired {
                for p in f.pages {
                    for c in &p.channels {
                        let key = (id, f.repeat, f.step, p.recipient.to_string(), c.as_str());
                        self.pages.push(key);
                    }
                }
            }
        }
    }

    fn ack(&mut self, minute: i64) {
        let Some(id) = self.m.current else { return };
        if self.m.incidents[&id].status != IncidentStatus::Open {
            return;
        }
        if let Some((chain, acked)) = self.chains.get_mut(&id) {
            *chain = acknowledge(chain, &self.policy, t(minute));
            *acked = true;
        }
    }

    fn steps_paged(&self) -> Vec<(u32, usize)> {
        let mut seen: Vec<(u32, usize)> = self.pages.iter().map(|p| (p.1, p.2)).collect();
        seen.dedup();
        seen
    }
}

#[test]
fn a_group_flapping_six_times_pages_each_step_once() {
    let mut s = Sim::new(chain_policy(None));
    for i in 0..6 {
        s.fire(i * 15 / 60);
        s.tick(i * 15 / 60);
        s.resolve(i * 15 / 60);
    }
    // Within ninety seconds: only step 0 was due, and it paged once.
    assert_eq!(s.steps_paged(), [(0, 0)]);
    assert_eq!(s.pages.len(), 2, "one SMS and one Slack message");
    let kinds: Vec<&str> = s.m.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "reopened").count(), 5);
    assert_eq!(kinds.iter().filter(|k| **k == "flapping").count(), 1);
}

#[test]
fn a_resumed_chain_fires_its_next_step_at_its_usual_time_or_at_once() {
    let mut s = Sim::new(chain_policy(None));
    s.fire(0);
    s.tick(0);
    s.resolve(1);
    // Step 1 (2 min) fell due while resolved: the reopen fires it at once, and only it.
    s.fire(4);
    s.tick(4);
    assert_eq!(s.steps_paged(), [(0, 0), (0, 1)]);
    // Step 2 keeps its time from the first opening (5 min).
    s.tick(4);
    assert_eq!(s.pages.len(), 4);
    s.tick(5);
    // The second loop begins as the first ends (its period is the last step's delay).
    assert_eq!(s.steps_paged(), [(0, 0), (0, 1), (0, 2), (1, 0)]);
}

#[test]
fn an_acknowledgement_holds_across_a_reopen() {
    let mut s = Sim::new(chain_policy(None));
    s.fire(0);
    s.tick(0);
    s.ack(0);
    s.resolve(1);
    s.fire(2);
    s.tick(30);
    assert_eq!(s.steps_paged(), [(0, 0)]);

    // With an ack_timeout, the timeout keeps counting from the acknowledgement.
    let mut s = Sim::new(chain_policy(Some(3)));
    s.fire(0);
    s.tick(0);
    s.ack(0);
    s.resolve(1);
    s.fire(2);
    s.tick(2);
    assert_eq!(s.steps_paged(), [(0, 0)]);
    s.tick(3);
    assert_eq!(s.steps_paged(), [(0, 0), (0, 1)]);
}

#[test]
fn after_the_window_a_new_incident_pages_again() {
    let mut s = Sim::new(chain_policy(None));
    s.fire(0);
    s.tick(0);
    s.resolve(1);
    s.fire(20);
    s.tick(20);
    let incidents: HashSet<Uuid> = s.pages.iter().map(|p| p.0).collect();
    assert_eq!(incidents.len(), 2);
    assert_eq!(s.pages.len(), 4);
}

#[derive(Debug, Clone)]
enum Op {
    Fire,
    Resolve,
    Tick,
    Ack,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Each (step, recipient, channel) is paged at most once per loop of an incident's chain,
    /// whatever the group does; an acknowledgement without a timeout silences it for good.
    #[test]
    fn fire_and_resolve_in_any_order_page_each_step_once(
        ops in prop::collection::vec(
            (prop_oneof![Just(Op::Fire), Just(Op::Resolve), Just(Op::Tick), Just(Op::Ack)], 0..3i64),
            1..40,
        ),
        ack_timeout in prop::option::of(1..4u64),
    ) {
        let mut s = Sim::new(chain_policy(ack_timeout));
        let mut minute = 0;
        let mut silenced_at = None;
        for (op, advance) in &ops {
            minute += advance;
            match op {
                Op::Fire => s.fire(minute),
                Op::Resolve => s.resolve(minute),
                Op::Tick => s.tick(minute),
                Op::Ack => {
                    s.ack(minute);
                    if ack_timeout.is_none() && s.m.current.is_some_and(|id| s.chains.get(&id).is_some_and(|c| c.1)) {
                        silenced_at.get_or_insert((s.m.current, s.pages.len()));
                    }
                }
            }
            let mut seen = HashSet::new();
            for p in &s.pages {
                prop_assert!(seen.insert(p.clone()), "paged twice: {p:?}");
            }
        }
        if let Some((Some(id), before)) = silenced_at {
            prop_assert!(s.pages[before..].iter().all(|p| p.0 != id), "paged after an acknowledgement");
        }
    }
}
