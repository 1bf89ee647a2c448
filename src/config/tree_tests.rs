//! `check-config` on broken routes and policies: each names the file, the line and the reason.

use std::path::Path;

use super::*;

const GOOD_POLICIES: &str = "
users:
  - name: alice
    phone: \"+15555550101\"
teams:
  - name: sre
    members: [alice]
schedules:
  - name: primary
    time_zone: Europe/Berlin
    layers:
      - members: [alice]
        shift: 1w
        handoff: \"2026-01-05T09:00\"
escalation_policies:
  - name: critical
    steps:
      - delay: 0s
        targets: [schedule:primary]
        via: [slack, sms]
";

const GOOD_ROUTES: &str = "
route:
  routes:
    - name: crit
      matchers: ['severity=\"critical\"']
      policy: critical
";

fn setup(
    routes: &[(&str, &str)],
    policies: &[(&str, &str)],
) -> (PathBuf, Result<Settings, ConfigError>) {
    let dir = std::env::temp_dir().join(format!(
        "alertrouter-tree-{}",
        uuid::Uuid::now_v7().simple()
    ));
    std::fs::create_dir_all(dir.join("routes")).unwrap();
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    for (name, text) in routes {
        std::fs::write(dir.join("routes").join(name), text).unwrap();
    }
    for (name, text) in policies {
        std::fs::write(dir.join("policies").join(name), text).unwrap();
    }
    let config = dir.join("alertrouter.yaml");
    std::fs::write(
        &config,
        "database: {url: 'postgres://h/d'}\nintegrations: [{name: am, bearer_token: x}]\n",
    )
    .unwrap();
    let result = Settings::load(Some(&config), &|_| None);
    (dir, result)
}

fn cleanup(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_shipped_config_is_valid_and_reproduces_the_severity_table() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let env = |name: &str| (name == "DATABASE_URL").then(|| "postgres://h/d".to_string());
    std::fs::create_dir_all(root.join(".data")).unwrap();
    // The secrets scripts/run.sh generates for the demo config.
    for name in ["alertmanager-token", "api-secret"] {
        let path = root.join(".data").join(name);
        let short = std::fs::read(&path).map_or(true, |s| s.trim_ascii().len() < 32);
        if short {
            std::fs::write(&path, format!("{}\n", "7e".repeat(32))).unwrap();
        }
    }
    let s = Settings::load(Some(&root.join("alertrouter.yaml")), &env).unwrap();
    let p = &s.policies;
    let secs = |policy: &str| -> Vec<u64> {
        p.policies[policy]
            .steps
            .iter()
            .map(|st| st.delay.as_secs())
            .collect()
    };
    assert_eq!(secs("critical"), [0, 300, 900]);
    assert_eq!(secs("warning"), [0, 7200]);
    assert_eq!(secs("info"), [0]);
    use crate::core::policy::{Channel::*, Target};
    assert_eq!(p.policies["critical"].steps[0].via, [Slack, Sms, PagerDuty]);
    let target = |name: &str| p.policies[name].response_target.map(|d| d.as_secs());
    assert_eq!(
        [target("critical"), target("warning"), target("info")],
        [Some(300), Some(1800), Some(86_400)]
    );
    assert_eq!(
        p.policies["critical"].steps[2].targets,
        [Target::User("carol".into())]
    );
    assert_eq!(p.policies["warning"].steps[0].via, [Slack, Email]);
    assert_eq!(p.policies["info"].steps[0].via, [Email]);
    let labels = |sev: &str| -> crate::alertmanager::LabelSet {
        [("severity".to_string(), sev.to_string())].into()
    };
    for (sev, policy) in [
        ("critical", "critical"),
        ("warning", "warning"),
        ("info", "info"),
        ("", "warning"),
    ] {
        let routes = s.routes.resolve(&labels(sev));
        assert_eq!(
            routes[0].policy.as_deref(),
            Some(policy),
            "severity {sev:?}"
        );
    }
}

/// (routes files, policies files, origin suffix, key, reason fragment)
type Case = (
    Vec<(String, String)>,
    Vec<(String, String)>,
    &'static str,
    &'static str,
    &'static str,
);

#[test]
fn broken_routes_and_policies_are_reported_with_file_line_and_reason() {
    let p = |text: &str| vec![("people.yaml".to_string(), text.to_string())];
    let r = |text: &str| vec![("default.yaml".to_string(), text.to_string())];
    let good_p = p(GOOD_POLICIES);
    let good_r = r(GOOD_ROUTES);
    // (routes, policies, expected origin suffix, expected key, expected reason fragment)
    let cases: Vec<Case> = vec![
        (
            r("routes:\n  - matchers: ['severity=~\"(\"']\n"),
            good_p.clone(),
            "default.yaml:2",
            "routes[0].matchers[0]",
            "error parsing regexp",
        ),
        (
            r("routes:\n  - matchers: ['severity']\n"),
            good_p.clone(),
            "default.yaml:2",
            "routes[0].matchers[0]",
            "bad matcher format",
        ),
        (
            r("routes:\n  - matchers: ['a=\"b\"']\n    policy: nope\n"),
            good_p.clone(),
            "default.yaml:3",
            "routes[0].policy",
            "unknown escalation policy \"nope\"",
        ),
        (
            r("routes:\n  - name: x\n    matchers: ['a=b']\n  - name: x\n    matchers: ['a=c']\n"),
            good_p.clone(),
            "default.yaml:2",
            "routes[1].name",
            "duplicate route name \"x\"",
        ),
        (
            r("routes:\n  - name: all\n  - name: never\n    matchers: ['a=b']\n"),
            good_p.clone(),
            "routes",
            "never",
            "unreachable",
        ),
        (
            r("route:\n  matchers: ['a=b']\n"),
            good_p.clone(),
            "default.yaml:2",
            "route.matchers",
            "takes no matchers",
        ),
        (
            r("routes:\n  - matchers: ['a=b']\n    group_by: ['...', alertname]\n"),
            good_p.clone(),
            "default.yaml:3",
            "routes[0].group_by",
            "stands alone",
        ),
        (
            r("routes:\n  - matcher: ['a=b']\n"),
            good_p.clone(),
            "default.yaml:2",
            "routes[0].matcher",
            "unknown field `matcher`",
        ),
        (
            good_r.clone(),
            p("teams:\n  - name: t\n    members: [ghost]\n"),
            "people.yaml:3",
            "teams[0].members",
            "unknown user \"ghost\"",
        ),
        (
            good_r.clone(),
            p("users:\n  - name: a\n    phone: \"0151 1234\"\n"),
            "people.yaml:3",
            "users[0].phone",
            "is not an E.164 number",
        ),
        (
            good_r.clone(),
            p("users:\n  - name: a\n    time_zone: Mars/Olympus\n"),
            "people.yaml:3",
            "users[0].time_zone",
            "is not an IANA time zone",
        ),
        (
            good_r.clone(),
            p(&GOOD_POLICIES.replace("delay: 0s", "delay: soon")),
            "people.yaml:18",
            "escalation_policies[0].steps[0].delay",
            "is not a duration",
        ),
        (
            good_r.clone(),
            p(&format!(
                "{GOOD_POLICIES}      - delay: 10m\n        targets: [user:alice]\n      - delay: 5m\n        targets: [user:alice]\n"
            )),
            "people.yaml:23",
            "escalation_policies[0].steps[2].delay",
            "in order of delay",
        ),
        (
            good_r.clone(),
            p(&GOOD_POLICIES.replace("schedule:primary", "schedule:secondary")),
            "people.yaml:19",
            "escalation_policies[0].steps[0].targets",
            "unknown target \"schedule:secondary\"",
        ),
        (
            good_r.clone(),
            p(&GOOD_POLICIES.replace("schedule:primary", "pager:primary")),
            "people.yaml:19",
            "escalation_policies[0].steps[0].targets",
            "unknown target kind \"pager\"",
        ),
        (
            good_r.clone(),
            p(&GOOD_POLICIES.replace("via: [slack, sms]", "via: [slack, fax]")),
            "people.yaml:20",
            "escalation_policies[0].steps[0].via",
            "\"fax\" is not a channel",
        ),
        (
            good_r.clone(),
            p(&GOOD_POLICIES.replace(
                "via: [slack, sms]",
                "via: [slack, sms]\n        response_target: true",
            )),
            "people.yaml:21",
            "escalation_policies[0].steps[0].response_target",
            "give the policy `response_target: 5m`",
        ),
        (
            good_r.clone(),
            p(&GOOD_POLICIES.replace("steps:", "response_target: soon\n    steps:")),
            "people.yaml:17",
            "escalation_policies[0].response_target",
            "soon",
        ),
        (
            good_r.clone(),
            p("destinations:\n  pagerduty_services:\n    sre: r0utingk3y\n"),
            "people.yaml:3",
            "destinations.pagerduty_services.sre",
            "never inline",
        ),
        (
            good_r.clone(),
            p(&GOOD_POLICIES.replace("2026-01-05T09:00", "Monday 9am")),
            "people.yaml:14",
            "schedules[0].layers[0].handoff",
            "is not a local time",
        ),
        (
            good_r.clone(),
            p("users:\n  - name: alice\n  - name: alice\n"),
            "people.yaml:2",
            "users[1].name",
            "duplicate name \"alice\"",
        ),
        (
            r("routes:\n  - matchers: ['a=b']\n    mute_time_intervals: [weekends]\n"),
            good_p.clone(),
            "default.yaml:3",
            "routes[0].mute_time_intervals",
            "unknown time interval \"weekends\"",
        ),
        (
            r("time_intervals:\n  - name: w\n    time_intervals:\n      - weekdays: ['funday']\n"),
            good_p.clone(),
            "default.yaml:4",
            "time_intervals[0].time_intervals[0].weekdays",
            "\"funday\" is not a weekday",
        ),
        (
            r(
                "time_intervals:\n  - name: w\n    time_intervals:\n      - times: [{start_time: '17:00', end_time: '09:00'}]\n",
            ),
            good_p.clone(),
            "default.yaml:4",
            "time_intervals[0].time_intervals[0].times",
            "after start_time",
        ),
        (
            r(
                "maintenance:\n  - name: m\n    start: 2026-11-27T02:00:00Z\n    end: 2026-11-26T22:00:00Z\n    matchers: ['a=b']\n",
            ),
            good_p.clone(),
            "default.yaml:4",
            "maintenance[0].end",
            "ends before it starts",
        ),
        (
            r("inhibit_rules:\n  - source_matchers: ['severity=critical']\n"),
            good_p.clone(),
            "default.yaml:1",
            "inhibit_rules[0]",
            "needs source_matchers and target_matchers",
        ),
    ];
    assert!(cases.len() >= 12);
    for (routes, policies, origin, key, reason) in cases {
        let rs: Vec<(&str, &str)> = routes
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let ps: Vec<(&str, &str)> = policies
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let (dir, result) = setup(&rs, &ps);
        let err = result.expect_err(reason);
        assert!(
            err.origin.ends_with(origin),
            "origin {:?}, want …{origin}: {err}",
            err.origin
        );
        assert_eq!(err.key, key, "{err}");
        assert!(err.reason.contains(reason), "{err}");
        cleanup(&dir);
    }
}

#[test]
fn the_root_can_live_in_any_file_and_children_inherit_from_it() {
    let (dir, result) = setup(
        &[
            (
                "10-teams.yaml",
                "routes:\n  - name: db\n    matchers: ['team=db']\n  - name: web\n    report_locale: en\n",
            ),
            (
                "90-root.yaml",
                "route:\n  policy: critical\n  group_by: [alertname]\n  report_locale: zh-CN\n",
            ),
        ],
        &[("people.yaml", GOOD_POLICIES)],
    );
    let s = result.unwrap();
    let db = &s.routes.routes[0];
    assert_eq!(db.id, "db");
    assert_eq!(db.policy.as_deref(), Some("critical"));
    use crate::reports::Locale;
    assert_eq!(db.report_locale, Some(Locale::ZhCn));
    assert_eq!(s.routes.routes[1].report_locale, Some(Locale::En));
    assert_eq!(
        db.group_by,
        crate::routing::tree::GroupBy::Labels(vec!["alertname".into()])
    );
    cleanup(&dir);
}
