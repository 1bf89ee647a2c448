//! Schedule math across DST changes in two zones, layers, overrides and hand-offs.

use super::*;

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn local(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap()
}

fn rotation(members: &[&str], hours: u64, handoff: &str) -> Layer {
    Layer {
        members: members.iter().map(|m| m.to_string()).collect(),
        shift: Duration::from_secs(hours * 3600),
        handoff: local(handoff),
    }
}

fn schedule(tz: Tz, layers: Vec<Layer>, overrides: Vec<Override>) -> Schedule {
    Schedule {
        name: "s".into(),
        time_zone: tz,
        layers,
        overrides,
    }
}

#[test]
fn daily_hand_off_stays_at_nine_local_across_berlin_fall_back() {
    // DST ends in Berlin on 2026-10-25: 09:00 is 07:00Z before, 08:00Z after.
    let s = schedule(
        chrono_tz::Europe::Berlin,
        vec![rotation(&["ann", "bob"], 24, "2026-10-20T09:00")],
        vec![],
    );
    assert_eq!(s.on_call(utc("2026-10-24T07:00:00Z")), Some("ann")); // 09:00 CEST, turn 4
    assert_eq!(s.on_call(utc("2026-10-24T06:59:00Z")), Some("bob")); // 08:59 CEST, turn 3
    assert_eq!(s.on_call(utc("2026-10-26T07:59:00Z")), Some("bob")); // 08:59 CET, turn 5
    assert_eq!(s.on_call(utc("2026-10-26T08:00:00Z")), Some("ann")); // 09:00 CET, turn 6
    let handoffs = s.handoffs(utc("2026-10-24T00:00:00Z"), utc("2026-10-27T00:00:00Z"));
    assert_eq!(
        handoffs,
        vec![
            utc("2026-10-24T07:00:00Z"),
            utc("2026-10-25T08:00:00Z"),
            utc("2026-10-26T08:00:00Z")
        ]
    );
}

#[test]
fn weekly_hand_off_stays_at_nine_local_across_new_york_spring_forward() {
    // DST starts in New York on 2026-03-08: Monday 09:00 is 14:00Z, then 13:00Z.
    let s = schedule(
        chrono_tz::America::New_York,
        vec![rotation(&["ann", "bob", "cy"], 24 * 7, "2026-03-02T09:00")],
        vec![],
    );
    assert_eq!(s.on_call(utc("2026-03-02T14:00:00Z")), Some("ann"));
    assert_eq!(s.on_call(utc("2026-03-09T12:59:00Z")), Some("ann"));
    assert_eq!(s.on_call(utc("2026-03-09T13:00:00Z")), Some("bob"));
    assert_eq!(s.on_call(utc("2026-03-16T13:00:00Z")), Some("cy"));
    assert_eq!(s.on_call(utc("2026-03-23T13:00:00Z")), Some("ann"));
    assert_eq!(
        s.handoffs(utc("2026-03-01T00:00:00Z"), utc("2026-03-10T00:00:00Z")),
        vec![utc("2026-03-02T14:00:00Z"), utc("2026-03-09T13:00:00Z")]
    );
}

#[test]
fn twelve_hour_shifts_across_new_york_fall_back() {
    // 2026-11-01 01:00–02:00 happens twice in New York; hand-offs stay at 08:00 and 20:00 local.
    let s = schedule(
        chrono_tz::America::New_York,
        vec![rotation(&["day", "night"], 12, "2026-10-30T08:00")],
        vec![],
    );
    assert_eq!(
        s.handoffs(utc("2026-10-31T11:00:00Z"), utc("2026-11-02T02:00:00Z")),
        vec![
            utc("2026-10-31T12:00:00Z"),
            utc("2026-11-01T00:00:00Z"),
            utc("2026-11-01T13:00:00Z"),
            utc("2026-11-02T01:00:00Z")
        ]
    );
    assert_eq!(s.on_call(utc("2026-11-01T06:30:00Z")), Some("night")); // 01:30 EDT or EST: night
    assert_eq!(s.on_call(utc("2026-11-01T13:00:00Z")), Some("day"));
}

#[test]
fn a_hand_off_inside_the_spring_gap_happens_when_the_gap_ends() {
    // 02:30 does not exist in Berlin on 2026-03-29.
    let s = schedule(
        chrono_tz::Europe::Berlin,
        vec![rotation(&["ann", "bob"], 24, "2026-03-27T02:30")],
        vec![],
    );
    let h = s.handoffs(utc("2026-03-28T12:00:00Z"), utc("2026-03-30T12:00:00Z"));
    assert_eq!(
        h,
        vec![utc("2026-03-29T01:30:00Z"), utc("2026-03-30T00:30:00Z")]
    );
}

#[test]
fn later_layers_override_earlier_ones_once_started_and_overrides_win() {
    let s = schedule(
        chrono_tz::UTC,
        vec![
            rotation(&["ann", "bob"], 24, "2026-01-01T00:00"),
            rotation(&["zed"], 24, "2026-02-01T00:00"),
        ],
        vec![Override {
            user: "olga".into(),
            start: utc("2026-02-10T00:00:00Z"),
            end: utc("2026-02-11T00:00:00Z"),
        }],
    );
    assert_eq!(s.on_call(utc("2026-01-02T12:00:00Z")), Some("bob"));
    assert_eq!(s.on_call(utc("2026-02-02T12:00:00Z")), Some("zed"));
    assert_eq!(s.on_call(utc("2026-02-10T12:00:00Z")), Some("olga"));
    assert_eq!(s.on_call(utc("2026-02-11T00:00:00Z")), Some("zed"));
    assert_eq!(s.on_call(utc("2025-12-31T23:59:00Z")), None);
}

#[test]
fn targets_and_channels_parse_and_print() {
    let t: Target = "schedule:sre-primary".parse().unwrap();
    assert_eq!(t, Target::Schedule("sre-primary".into()));
    assert_eq!(t.to_string(), "schedule:sre-primary");
    assert!("pager:x".parse::<Target>().is_err());
    assert!("user:".parse::<Target>().is_err());
    assert_eq!("pagerduty".parse::<Channel>(), Ok(Channel::PagerDuty));
    assert!("fax".parse::<Channel>().is_err());
}
