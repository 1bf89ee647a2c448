use super::*;
use crate::routing::matcher::parse_matchers;
use crate::routing::time_interval::{TimeInterval, parse_weekdays};

fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn suppressions() -> Suppressions {
    let weekends = NamedInterval {
        name: "weekends".into(),
        intervals: vec![TimeInterval {
            times: vec![],
            weekdays: vec![
                parse_weekdays("saturday").unwrap(),
                parse_weekdays("sunday").unwrap(),
            ],
            days_of_month: vec![],
            months: vec![],
            years: vec![],
            location: chrono_tz::UTC,
        }],
    };
    Suppressions {
        intervals: [("weekends".to_string(), weekends)].into(),
        inhibit_rules: vec![InhibitRule {
            source: parse_matchers(r#"severity="critical""#).unwrap(),
            target: parse_matchers(r#"severity="warning""#).unwrap(),
            equal: vec!["service".into()],
        }],
        maintenance: vec![MaintenanceWindow {
            name: "db-upgrade".into(),
            start: utc("2026-11-26T22:00:00Z"),
            end: utc("2026-11-27T02:00:00Z"),
            matchers: parse_matchers(r#"service="db""#).unwrap(),
        }],
    }
}

#[test]
fn muted_routes_and_active_intervals() {
    let s = suppressions();
    let mut route = Route::default_root();
    route.mute_time_intervals = vec!["weekends".into()];
    let firing = [labels(&[("service", "web")])];
    assert!(
        s.check(utc("2026-11-28T12:00:00Z"), Some(&route), &firing, &[])
            .is_some()
    ); // Saturday
    assert_eq!(
        s.check(utc("2026-11-27T12:00:00Z"), Some(&route), &firing, &[]),
        None
    );
    let mut business = Route::default_root();
    business.active_time_intervals = vec!["weekends".into()];
    assert!(
        s.check(utc("2026-11-27T12:00:00Z"), Some(&business), &firing, &[])
            .is_some()
    );
}

#[test]
fn maintenance_windows_cover_matching_alerts_until_they_end() {
    let s = suppressions();
    let db = [labels(&[("service", "db")])];
    let q = s
        .check(utc("2026-11-26T23:00:00Z"), None, &db, &[])
        .unwrap();
    assert_eq!(q.until, Some(utc("2026-11-27T02:00:00Z")));
    assert_eq!(s.check(utc("2026-11-27T02:00:00Z"), None, &db, &[]), None);
    // One alert outside the window: the incident pages.
    let mixed = [labels(&[("service", "db")]), labels(&[("service", "web")])];
    assert_eq!(
        s.check(utc("2026-11-26T23:00:00Z"), None, &mixed, &[]),
        None
    );
}

#[test]
fn inhibition_needs_a_firing_source_with_equal_labels() {
    let s = suppressions();
    let warning = [labels(&[("severity", "warning"), ("service", "web")])];
    let critical_web = [labels(&[("severity", "critical"), ("service", "web")])];
    let critical_db = [labels(&[("severity", "critical"), ("service", "db")])];
    let now = utc("2026-11-25T12:00:00Z");
    assert!(s.check(now, None, &warning, &critical_web).is_some());
    assert_eq!(s.check(now, None, &warning, &critical_db), None);
    assert_eq!(s.check(now, None, &warning, &[]), None);
    // Nothing firing: nothing to suppress.
    assert_eq!(s.check(now, None, &[], &critical_web), None);
}
