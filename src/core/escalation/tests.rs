//! The escalation chain: examples, then properties over random event sequences.

use std::collections::HashSet;
use std::time::Duration;

use proptest::prelude::*;

use super::*;

fn t(minutes: i64) -> DateTime<Utc> {
    "2026-11-25T12:00:00Z".parse::<DateTime<Utc>>().unwrap() + TimeDelta::minutes(minutes)
}

fn policy(delays_min: &[u64], repeat: u32, ack_timeout_min: Option<u64>) -> EscalationPolicy {
    EscalationPolicy {
        name: "p".into(),
        steps: delays_min
            .iter()
            .map(|d| Step {
                delay: Duration::from_secs(d * 60),
                targets: vec![Target::User("alice".into())],
                via: vec![Channel::Sms],
            })
            .collect(),
        repeat,
        ack_timeout: ack_timeout_min.map(|m| Duration::from_secs(m * 60)),
        response_target: None,
    }
}

fn policies() -> Policies {
    Policies::default()
}

#[test]
fn fires_each_step_at_its_time_then_stops() {
    let p = policy(&[0, 5, 15], 0, None);
    let c = start(&p, None, t(0));
    assert_eq!(c.due_at, Some(t(0)));
    let (c, fired) = advance(&c, &p, &policies(), t(0));
    assert_eq!(fired.iter().map(|f| f.step).collect::<Vec<_>>(), [0]);
    assert_eq!(c.due_at, Some(t(5)));
    let (c, fired) = advance(&c, &p, &policies(), t(4));
    assert!(fired.is_empty());
    // A worker that was away fires both overdue steps, each once, in order.
    let (c, fired) = advance(&c, &p, &policies(), t(20));
    assert_eq!(
        fired.iter().map(|f| (f.step, f.due_at)).collect::<Vec<_>>(),
        [(1, t(5)), (2, t(15))]
    );
    assert_eq!(c.due_at, None);
    assert_eq!(fired[0].pages[0].recipient.to_string(), "user:alice");
}

#[test]
fn repeats_the_chain_after_its_last_step() {
    let p = policy(&[0, 10], 1, None);
    let (c, fired) = advance(&start(&p, None, t(0)), &p, &policies(), t(100));
    let order: Vec<(u32, usize, DateTime<Utc>)> =
        fired.iter().map(|f| (f.repeat, f.step, f.due_at)).collect();
    assert_eq!(
        order,
        [(0, 0, t(0)), (0, 1, t(10)), (1, 0, t(10)), (1, 1, t(20))]
    );
    assert_eq!(c.due_at, None);
}

#[test]
fn ack_stops_the_chain_and_ack_timeout_resumes_it() {
    let p = policy(&[0, 5, 15], 0, None);
    let (c, _) = advance(&start(&p, None, t(0)), &p, &policies(), t(1));
    assert_eq!(acknowledge(&c, &p, t(2)).due_at, None);

    let p = policy(&[0, 5, 15], 0, Some(30));
    let acked = acknowledge(&c, &p, t(2));
    assert_eq!(
        acked.due_at,
        Some(t(32)),
        "next step waits for the ack timeout"
    );
    let (after, fired) = advance(&acked, &p, &policies(), t(32));
    assert_eq!(fired.iter().map(|f| f.step).collect::<Vec<_>>(), [1]);
    assert_eq!(after.due_at, Some(t(42)), "later steps keep their gaps");
}

#[test]
fn a_reopened_incident_restarts_its_chain_as_a_new_generation() {
    let p = policy(&[0, 5], 0, None);
    let c = start(&p, None, t(0));
    let c = resolve(&advance(&c, &p, &policies(), t(1)).0);
    assert_eq!(c.due_at, None);
    let again = start(&p, Some(c.generation), t(3));
    assert_eq!(
        (again.generation, again.step, again.due_at),
        (2, 0, Some(t(3)))
    );
}

#[test]
fn the_policy_snapshot_round_trips() {
    let p = policy(&[0, 5, 15], 2, Some(30));
    let snapshot = PolicySnapshot::from(&p);
    let json = serde_json::to_string(&snapshot).unwrap();
    let back: PolicySnapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(EscalationPolicy::try_from(&back).unwrap(), p);
}

#[derive(Clone, Debug)]
enum Ev {
    Advance(i64),
    Ack,
    Resolve,
    Reopen,
}

fn ev() -> impl Strategy<Value = Ev> {
    prop_oneof![
        4 => (0i64..40).prop_map(Ev::Advance),
        1 => Just(Ev::Ack),
        1 => Just(Ev::Resolve),
        1 => Just(Ev::Reopen),
    ]
}

fn any_policy() -> impl Strategy<Value = EscalationPolicy> {
    (
        prop::collection::vec(0u64..30, 1..5),
        0u32..3,
        prop::option::of(1u64..40),
    )
        .prop_map(|(mut delays, repeat, ack)| {
            delays.sort_unstable();
            policy(&delays, repeat, ack)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn chains_obey_their_policy_whatever_happens(p in any_policy(), events in prop::collection::vec(ev(), 1..40)) {
        let mut now = t(0);
        let mut chain = start(&p, None, now);
        let mut resolved = false;
        let mut quiet_until: Option<DateTime<Utc>> = None; // acked: nothing may fire before
        let mut acked_for_good = false;
        let mut fired_keys = HashSet::new();
        let mut last_fired: Option<(i32, u32, usize)> = None;
        for e in events {
            match e {
                Ev::Advance(minutes) => {
                    now += TimeDelta::minutes(minutes);
                    let (next, fired) = advance(&chain, &p, &policies(), now);
                    for f in &fired {
                        prop_assert!(!resolved, "a page after resolve");
                        prop_assert!(!acked_for_good, "a page after ack");
                        if let Some(q) = quiet_until { prop_assert!(f.due_at >= q, "fired inside the ack timeout"); }
                        prop_assert!(f.due_at <= now, "fired early");
                        prop_assert!(f.repeat <= p.repeat, "looped more than repeat");
                        prop_assert!(fired_keys.insert((f.generation, f.repeat, f.step)), "a step fired twice");
                        let key = (f.generation, f.repeat, f.step);
                        if let Some(prev) = last_fired { prop_assert!(prev < key, "out of order: {prev:?} then {key:?}"); }
                        last_fired = Some(key);
                    }
                    // Nothing due is left behind.
                    prop_assert!(next.due_at.is_none_or(|d| d > now));
                    chain = next;
                }
                Ev::Ack if !resolved => {
                    chain = acknowledge(&chain, &p, now);
                    match chain.due_at {
                        Some(_) => quiet_until = Some(now + delta(p.ack_timeout.unwrap())),
                        None => acked_for_good = true,
                    }
                }
                Ev::Resolve => {
                    chain = resolve(&chain);
                    resolved = true;
                }
                Ev::Reopen if resolved || acked_for_good => {
                    chain = start(&p, Some(chain.generation), now);
                    resolved = false;
                    acked_for_good = false;
                    quiet_until = None;
                }
                _ => {}
            }
        }
    }
}

#[derive(Clone, Debug)]
enum Quiet {
    Advance(i64),
    /// Muted or inhibited, with the end known (`Some` minutes from now) or not.
    On(Option<i64>),
    Off,
}

fn quiet_event() -> impl Strategy<Value = Quiet> {
    prop_oneof![
        4 => (0i64..20).prop_map(Quiet::Advance),
        1 => prop::option::of(1i64..30).prop_map(Quiet::On),
        1 => Just(Quiet::Off),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Muted and inhibited incidents page no one until they stop being muted or inhibited;
    /// then paging starts as a fresh run of the chain, each step once.
    #[test]
    fn suppressed_chains_page_no_one_until_the_suppression_ends(
        p in any_policy(),
        events in prop::collection::vec(quiet_event(), 1..40),
    ) {
        let mut now = t(0);
        let mut chain = start(&p, None, now);
        let mut held = false;
        let mut quiet: Option<Option<DateTime<Utc>>> = None;
        let mut fired_keys = HashSet::new();
        for e in events {
            match e {
                Quiet::Advance(m) => now += TimeDelta::minutes(m),
                Quiet::On(end) => quiet = Some(end.map(|m| now + TimeDelta::minutes(m))),
                Quiet::Off => quiet = None,
            }
            // A known end passes by itself.
            if quiet.is_some_and(|q| q.is_some_and(|end| end <= now)) {
                quiet = None;
            }
            // The worker only looks at incidents that are due.
            if chain.due_at.is_none_or(|d| d > now) {
                continue;
            }
            match tick(&chain, held, quiet, &p, &policies(), now, TimeDelta::seconds(30)) {
                Tick::Held { until, first } => {
                    prop_assert!(quiet.is_some());
                    prop_assert_eq!(first, !held);
                    prop_assert!(until > now);
                    held = true;
                    chain.due_at = Some(until);
                }
                Tick::Moved { chain: next, fired, unheld } => {
                    prop_assert!(quiet.is_none(), "paged while suppressed");
                    prop_assert_eq!(unheld, held);
                    if unheld {
                        prop_assert_eq!(next.generation, chain.generation + 1);
                        // The run restarts now: its first step fires at once or after its delay.
                        match fired.first() {
                            Some(f) => prop_assert_eq!((f.repeat, f.step, f.due_at), (0, 0, now)),
                            None => prop_assert_eq!(next.due_at, Some(now + delta(p.steps[0].delay))),
                        }
                    }
                    for f in &fired {
                        prop_assert!(fired_keys.insert((f.generation, f.repeat, f.step)), "a step fired twice");
                        prop_assert!(f.due_at <= now);
                    }
                    held = false;
                    chain = next;
                }
            }
        }
    }
}
