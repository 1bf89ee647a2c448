use std::collections::HashMap;
use std::io::Write;

use super::*;

fn write_config(text: &str) -> (tempdir::Dir, PathBuf) {
    let dir = tempdir::Dir::new();
    let path = dir.path.join("alertrouter.yaml");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    (dir, path)
}

/// A throwaway directory removed on drop (no extra crate for one test helper).
mod tempdir {
    use std::path::PathBuf;

    pub struct Dir {
        pub path: PathBuf,
    }

    impl Dir {
        pub fn new() -> Self {
            let path =
                std::env::temp_dir().join(format!("alertrouter-cfg-{}", uuid::Uuid::now_v7()));
            std::fs::create_dir_all(&path).unwrap();
            Dir { path }
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

fn load(text: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let (_dir, path) = write_config(text);
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::load(Some(&path), &|name| env.get(name).cloned())
}

const MINIMAL: &str = "
database:
  url: postgres://ar:hunter2@localhost/ar
integrations:
  - name: am
    bearer_token: ${AM_TOKEN}
";

#[test]
fn minimal_config_takes_defaults_and_expands_env_references() {
    let s = load(MINIMAL, &[("AM_TOKEN", "s3cret-token")]).unwrap();
    assert_eq!(s.listen.to_string(), "127.0.0.1:9095");
    assert_eq!(s.ingest.reopen_window, Duration::from_secs(300));
    assert_eq!(s.ingest.max_body_bytes, 32 << 20);
    assert_eq!(s.ingest.default_severity, Severity::Warning);
    match &s.integrations[0].credential {
        Credential::Bearer(token) => assert_eq!(token.expose_secret(), "s3cret-token"),
        other => panic!("{other:?}"),
    }
    let debug = format!("{s:?}");
    assert!(
        !debug.contains("s3cret-token") && !debug.contains("hunter2"),
        "{debug}"
    );
    assert!(!s.summary().contains("hunter2"), "{}", s.summary());
}

#[test]
fn environment_overrides_the_file() {
    let s = load(
        MINIMAL,
        &[
            ("AM_TOKEN", "t"),
            ("ALERTROUTER_LISTEN", "0.0.0.0:8080"),
            ("ALERTROUTER_DATABASE_URL", "postgres://other/db"),
            ("ALERTROUTER_REOPEN_WINDOW", "10m"),
        ],
    )
    .unwrap();
    assert_eq!(s.listen.to_string(), "0.0.0.0:8080");
    assert_eq!(s.database.url.expose_secret(), "postgres://other/db");
    assert_eq!(s.ingest.reopen_window, Duration::from_secs(600));
}

#[test]
fn database_url_falls_back_to_database_url_variable() {
    let text = "integrations: [{name: am, bearer_token: x}]";
    let s = load(text, &[("DATABASE_URL", "postgres://h/d")]).unwrap();
    assert_eq!(s.database.url.expose_secret(), "postgres://h/d");
    let err = load(text, &[]).unwrap_err();
    assert_eq!(err.key, "database.url");
}

#[test]
fn errors_name_the_key_and_the_reason() {
    let cases: &[(&str, &str, &str)] = &[
        ("listen: nowhere\n", "listen", "is not an address"),
        (
            "ingest:\n  reopen_window: soon\n",
            "ingest.reopen_window",
            "is not a duration",
        ),
        (
            "ingest:\n  default_severity: loud\n",
            "ingest.default_severity",
            "is not one of",
        ),
        (
            "ingest:\n  request_timeout: 30s\n",
            "ingest.request_timeout",
            "below 10s",
        ),
        (
            "ingest:\n  reopen_windw: 5m\n",
            "ingest.reopen_windw",
            "unknown field `reopen_windw`",
        ),
        (
            "integrations:\n  - name: am\n",
            "integrations[0]",
            "no credential",
        ),
        (
            "integrations:\n  - {name: am, bearer_token: t, heartbeat: {missing_after: 30s}}\n",
            "integrations[0].heartbeat.missing_after",
            "at least 1m",
        ),
        (
            "integrations:\n  - {name: am, bearer_token: t, heartbeat: {matchers: ['alertname=~\"(\"']}}\n",
            "integrations[0].heartbeat.matchers[0]",
            "regexp",
        ),
        (
            "integrations:\n  - name: am\n    bearer_token: ${NOPE}\n",
            "integrations[0].bearer_token",
            "NOPE is not set",
        ),
        (
            "integrations:\n  - name: am\n    bearer_token_file: missing.txt\n",
            "integrations[0].bearer_token_file",
            "cannot read",
        ),
        (
            "channels:\n  rate_limits:\n    fax: {global: 1/s}\n",
            "channels.rate_limits.fax",
            "is not a channel",
        ),
        (
            "channels:\n  rate_limits:\n    sms: {per_destination: often}\n",
            "channels.rate_limits.sms.per_destination",
            "is not a rate like",
        ),
        (
            "channels:\n  sms:\n    http: {url: 'https://gw.example/send?to={{ to'}\n",
            "channels.sms.http",
            "url:",
        ),
        (
            "channels:\n  sms:\n    account_sid: AC1\n    http: {url: 'https://gw.example/'}\n",
            "channels.sms.http",
            "not both",
        ),
        (
            "api:\n  jwt: {hs256_secret: short}\n",
            "api.jwt.hs256_secret",
            "at least 32",
        ),
        (
            "api:\n  link_secret: guessable\n",
            "api.link_secret",
            "at least 32",
        ),
        (
            "api:\n  trusted_proxies: ['10.0.0.0/33']\n",
            "api.trusted_proxies[0]",
            "not an address or CIDR",
        ),
        (
            "server:\n  max_connections: 1\n",
            "server.max_connections",
            "from 16",
        ),
        (
            "server:\n  webhook_listen: public\n",
            "server.webhook_listen",
            "is not an address",
        ),
        (
            "ingest:\n  reopen_window: 10000000000w\n",
            "ingest.reopen_window",
            "longer than 10 years",
        ),
    ];
    for (text, key, reason) in cases {
        let doc = if text.contains("integrations") {
            format!("database: {{url: 'postgres://h/d'}}\n{text}")
        } else {
            format!(
                "database: {{url: 'postgres://h/d'}}\nintegrations: [{{name: am, bearer_token: x}}]\n{text}"
            )
        };
        let err = load(&doc, &[]).unwrap_err();
        assert_eq!(&err.key, key, "{err}");
        assert!(err.reason.contains(reason), "{err}");
    }
}

#[test]
fn rate_limits_replace_the_defaults_per_channel() {
    use crate::config::Rate;
    let s = load(
        "database: {url: 'postgres://h/d'}\nintegrations: [{name: am, bearer_token: x}]\nchannels:\n  rate_limits:\n    slack: {per_destination: 'off'}\n    email: {global: 20/1s}\n",
        &[],
    )
    .unwrap();
    let rates = &s.channels.rate_limits;
    assert_eq!(rates["slack"].per_destination, None);
    assert_eq!(
        rates["slack"].global,
        Rate::parse("50/s").ok(),
        "default kept"
    );
    assert_eq!(rates["sms"].per_destination, Rate::parse("5/15m").ok());
    assert_eq!(rates["email"].global, Rate::parse("20/s").ok());
}

#[test]
fn yaml_errors_carry_the_line() {
    let err = load(
        "database: {url: 'postgres://h/d'}\nintegrations: [{name: am, bearer_token: x}]\nlog:\n  format: [1\n",
        &[],
    )
    .unwrap_err();
    assert!(err.reason.contains("line 4"), "{err}");
}

#[test]
fn token_files_are_read_relative_to_the_config_and_trimmed() {
    let (dir, path) = write_config(
        "database: {url: 'postgres://h/d'}\nintegrations:\n  - name: am\n    basic_auth: {username: alertmanager, password_file: pw}\n",
    );
    std::fs::write(dir.path.join("pw"), "letmein\n").unwrap();
    let s = Settings::load(Some(&path), &|_| None).unwrap();
    match &s.integrations[0].credential {
        Credential::Basic { username, password } => {
            assert_eq!(username, "alertmanager");
            assert_eq!(password.expose_secret(), "letmein");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn redacts_database_passwords() {
    assert_eq!(
        redact_url("postgres://u:p@h:5432/d"),
        "postgres://u:***@h:5432/d"
    );
    assert_eq!(redact_url("postgres://h/d"), "postgres://h/d");
}

#[test]
fn a_report_template_from_config_replaces_the_built_in_ones_and_a_broken_one_is_refused() {
    let text = "database: {url: 'postgres://h/d'}\nintegrations: [{name: am, bearer_token: t}]\n\
        reports: {template: report.md.j2, locale: zh-CN, time_zone: Asia/Shanghai, delay: 0s}\n";
    let (dir, path) = write_config(text);
    std::fs::write(dir.path.join("report.md.j2"), "# {{ id }}: {{ title }}\n").unwrap();
    let s = Settings::load(Some(&path), &|_| None).unwrap();
    let report = crate::reports::sample(crate::reports::Locale::En);
    assert_eq!(
        s.reports.templates.render(&report).unwrap(),
        "# INC-202611251858: 5xx above 5% on web\n"
    );
    assert_eq!(s.reports.locale, crate::reports::Locale::ZhCn);
    assert_eq!(s.reports.delay, std::time::Duration::ZERO);
    std::fs::write(dir.path.join("report.md.j2"), "# {{ id\n").unwrap();
    let e = Settings::load(Some(&path), &|_| None).unwrap_err();
    assert_eq!(e.key, "reports.template", "{e}");
    assert!(e.reason.contains("report.md.j2"), "{e}");
    for bad in [
        "locale: fr",
        "time_zone: Mars/Olympus",
        "business_hours: {start: '18:00', end: '09:00'}",
    ] {
        let text = format!(
            "database: {{url: 'postgres://h/d'}}\nintegrations: [{{name: am, bearer_token: t}}]\nreports: {{{bad}}}\n"
        );
        assert!(load(&text, &[]).is_err(), "{bad}");
    }
}

#[test]
fn a_heartbeat_defaults_to_the_watchdog_and_ten_minutes() {
    let text = "integrations:\n  - {name: am, bearer_token: t, heartbeat: {}}\n  - {name: b, bearer_token: u}\n";
    let settings = load(text, &[("DATABASE_URL", "postgres://h/d")]).unwrap();
    let heartbeat = settings.integrations[0].heartbeat.as_ref().unwrap();
    assert_eq!(heartbeat.matchers[0].to_string(), r#"alertname="Watchdog""#);
    assert_eq!(heartbeat.missing_after, std::time::Duration::from_secs(600));
    assert!(settings.integrations[1].heartbeat.is_none());
}
