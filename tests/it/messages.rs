//! Golden files of every rendered message, for a critical, a warning and an info incident, in
//! English and zh-CN. `UPDATE_GOLDEN=1 scripts/test.sh messages` rewrites them after a deliberate
//! change; review the diff.

use alertrouter::channels::pagerduty::trigger_event;
use alertrouter::channels::slack::blocks;
use alertrouter::channels::sms::sms_body;
use alertrouter::channels::templates::{Templates, context};
use alertrouter::channels::{Delivery, IncidentSummary, email};
use serde_json::json;

fn delivery(severity: &str, number: i64, title: &str) -> Delivery {
    Delivery {
        id: number,
        dedup_key: format!("key-{number}"),
        channel: "email".into(),
        recipient: "user:alice".into(),
        payload: json!({"kind": "page", "step": 1, "recipient": "user:alice"}),
        attempts: 0,
        incident: IncidentSummary {
            id: uuid::Uuid::nil(),
            number,
            status: "open".into(),
            severity: severity.into(),
            title: title.into(),
            group_labels: json!({"alertname": "HighErrorRate", "service": "checkout"}),
            alert_labels: serde_json::Value::Null,
            annotations: json!({
                "description": "5xx responses above 5% for 10 minutes.",
                "runbook_url": "https://runbooks.example/higherrorrate",
            }),
            generator_url: Some("http://prometheus:9090/graph?g0.expr=errors".into()),
            external_url: None,
            acknowledged_by: None,
            flapping: false,
        },
        redelivery: false,
        deferrals: 0,
        bundled: Vec::new(),
        created_at: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
    }
}

fn render_all(templates: &Templates) -> String {
    let mut out = String::new();
    for (severity, number, title) in [
        ("critical", 42, "HighErrorRate on checkout"),
        ("warning", 43, "Disk 85% full on db-2"),
        ("info", 44, "Certificate expires in 20 days"),
    ] {
        let d = delivery(severity, number, title);
        let (subject, text, html) = email::render(templates, &d);
        let pd = trigger_event(templates, "0123456789abcdef0123456789abcdef", &d);
        let ctx = context(&d.incident, title, Some(&d), "<@U0ALICE>");
        out.push_str(&format!(
            "===== {severity}: sms\n{}\n",
            sms_body(templates, &d)
        ));
        out.push_str(&format!("===== {severity}: email subject\n{subject}\n"));
        out.push_str(&format!("===== {severity}: email text\n{text}"));
        out.push_str(&format!("===== {severity}: email html\n{html}"));
        out.push_str(&format!(
            "===== {severity}: pagerduty event\n{}\n",
            serde_json::to_string_pretty(&pd).unwrap()
        ));
        out.push_str(&format!(
            "===== {severity}: slack text\n{}\n",
            templates.text("slack_text.txt", &ctx)
        ));
        out.push_str(&format!(
            "===== {severity}: slack reply\n{}\n",
            templates.text("slack_reply_page.txt", &ctx)
        ));
        out.push_str(&format!(
            "===== {severity}: slack blocks\n{}\n",
            serde_json::to_string_pretty(&blocks(&d.incident, Some("U0ALICE"))).unwrap()
        ));
    }
    out
}

pub fn golden(name: &str, rendered: &str) {
    let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, rendered).unwrap();
    }
    let expected = std::fs::read_to_string(&path).expect("golden file (UPDATE_GOLDEN=1 writes it)");
    assert!(
        rendered == expected,
        "{name} differs from what is rendered now:\n{rendered}"
    );
}

#[test]
fn english_messages_match_their_golden_file() {
    golden(
        "messages_en.txt",
        &render_all(&Templates::new("en", None).unwrap()),
    );
}

#[test]
fn chinese_messages_match_their_golden_file() {
    golden(
        "messages_zh-CN.txt",
        &render_all(&Templates::new("zh-CN", None).unwrap()),
    );
}

#[test]
fn an_override_replaces_one_template_and_a_broken_one_is_refused_at_load() {
    let dir =
        std::env::temp_dir().join(format!("alertrouter-tpl-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("sms.txt"),
        "PAGE {{ incident.number }} {{ incident.title }}",
    )
    .unwrap();
    let t = Templates::new("en", Some(&dir)).unwrap();
    assert_eq!(
        sms_body(&t, &delivery("critical", 7, "db down")),
        "PAGE 7 db down"
    );
    let (subject, _, _) = email::render(&t, &delivery("critical", 7, "db down"));
    assert_eq!(
        subject, "[CRITICAL] db down (INC-7)",
        "the others stay built in"
    );

    std::fs::write(dir.join("email_subject.txt"), "{{ incident.title ").unwrap();
    let err = Templates::new("en", Some(&dir)).unwrap_err();
    assert!(err.contains("email_subject.txt"), "{err}");
    assert!(
        Templates::new("fr", None)
            .unwrap_err()
            .contains("not a built-in locale")
    );
    let _ = std::fs::remove_dir_all(dir);
}
