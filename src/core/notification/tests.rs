use super::*;
use crate::core::plan::Recipient;

fn to(channel: Channel, recipient: &str) -> Destination {
    Destination {
        channel,
        recipient: recipient.parse().unwrap(),
    }
}

#[test]
fn keys_keep_their_stored_format() {
    let id: Uuid = "01a23407-550f-7171-9b93-967f7c41a658".parse().unwrap();
    let page = PlannedPage {
        at: "2026-11-25T19:00:00Z".parse().unwrap(),
        repeat: 1,
        step: 2,
        recipient: Recipient::User("alice".into()),
        channels: vec![Channel::Sms],
        via_target: "schedule:primary".into(),
    };
    let step = PageCause::Step {
        generation: 3,
        repeat: 1,
        step: 2,
        due_at: page.at,
    };
    let at = page.at;
    let reassigned = PageCause::Reassigned { at, by: "bob" };
    let key = |cause| {
        Page {
            incident: id,
            cause,
            page: &page,
            channel: Channel::Sms,
        }
        .dedup_key()
    };
    assert_eq!(key(&step), format!("{id}:3:1:2:user:alice:sms"));
    assert_eq!(
        key(&reassigned),
        format!("{id}:reassign:{}:user:alice:sms", at.timestamp_micros())
    );
    let mut rows = OutboxRows::default();
    rows.page(id, &reassigned, &page);
    let payload: Value = serde_json::from_str(&rows.payloads[0]).unwrap();
    assert_eq!(payload["reassigned_by"], "bob");
    assert_eq!(payload["step"], 0);

    // Notice keys, as the SQL that wrote them before printed them.
    let notice = Notice {
        incident: id,
        kind: NoticeKind::Resolved,
        at: "2026-11-25T19:00:00.250Z".parse().unwrap(),
        actor: None,
        detail: Value::Null,
    };
    let slack = to(Channel::Slack, "slack_channel:ops");
    assert_eq!(
        notice.dedup_key(&slack),
        format!("{id}:resolved:2026-11-25 19:00:00.25+00:slack_channel:ops:slack")
    );
    let payload = notice.payload(&slack);
    assert_eq!(
        payload,
        json!({"kind": "resolved", "incident_id": id.to_string(),
            "recipient": "slack_channel:ops", "channel": "slack"})
    );
}

#[test]
fn times_print_as_postgres_prints_them() {
    let t = |s: &str| postgres_text(s.parse().unwrap());
    assert_eq!(t("2026-11-25T19:00:00Z"), "2026-11-25 19:00:00+00");
    assert_eq!(
        t("2026-11-25T19:00:00.000001Z"),
        "2026-11-25 19:00:00.000001+00"
    );
    assert_eq!(t("2026-11-25T19:00:00.1Z"), "2026-11-25 19:00:00.1+00");
    // Postgres keeps microseconds; sqlx truncates what is finer.
    assert_eq!(
        t("2026-11-25T19:00:00.123456789Z"),
        "2026-11-25 19:00:00.123456+00"
    );
}

#[test]
fn who_hears_is_one_rule() {
    let shown = vec![
        to(Channel::Slack, "slack_channel:ops"),
        to(Channel::Slack, "slack_channel:ops"),
        to(Channel::PagerDuty, "pagerduty:db"),
        to(Channel::Webhook, "webhook:bridge"),
        to(Channel::Sms, "user:alice"),
        to(Channel::Email, "user:alice"),
    ];
    let heard = |kind| {
        audience(kind, &shown)
            .iter()
            .map(|d| d.channel)
            .collect::<Vec<_>>()
    };
    for kind in [
        NoticeKind::Acknowledged,
        NoticeKind::Unacknowledged,
        NoticeKind::Resolved,
        NoticeKind::Escalated,
        NoticeKind::Snoozed,
        NoticeKind::Reassigned,
        NoticeKind::Reopened,
    ] {
        assert_eq!(
            heard(kind),
            [Channel::Slack, Channel::PagerDuty, Channel::Webhook],
            "{kind}"
        );
    }
    assert_eq!(heard(NoticeKind::Flapping), [Channel::Webhook]);
    assert!(audience(NoticeKind::Resolved, &[]).is_empty());

    let mut rows = OutboxRows::default();
    let notice = Notice {
        incident: Uuid::nil(),
        kind: NoticeKind::Acknowledged,
        at: "2026-11-25T19:00:00Z".parse().unwrap(),
        actor: Some(("alice", "slack")),
        detail: json!({}),
    };
    rows.notice(&notice, &shown);
    assert_eq!(rows.len(), 3);
    let first: Value = serde_json::from_str(&rows.payloads[0]).unwrap();
    assert_eq!(
        (first["actor"].as_str(), first["source"].as_str()),
        (Some("alice"), Some("slack"))
    );
    assert_eq!(first["detail"], json!({}));
}

#[test]
fn recipients_read_back_as_they_are_stored() {
    for r in [
        Recipient::User("alice".into()),
        Recipient::SlackChannel("ops".into()),
        Recipient::PagerDuty("db".into()),
        Recipient::Webhook("bridge:v2".into()),
        Recipient::NobodyOnCall("primary".into()),
    ] {
        assert_eq!(r.to_string().parse::<Recipient>(), Ok(r));
    }
    assert!("alice".parse::<Recipient>().is_err());
    assert!("team:sre".parse::<Recipient>().is_err());
}

#[test]
fn a_destination_paged_by_the_change_hears_through_its_page_only() {
    let id = Uuid::nil();
    let at = "2026-11-25T19:00:00Z".parse().unwrap();
    let page = PlannedPage {
        at,
        repeat: 0,
        step: 1,
        recipient: Recipient::User("alice".into()),
        channels: vec![Channel::Slack],
        via_target: "schedule:primary".into(),
    };
    let cause = PageCause::Step {
        generation: 1,
        repeat: 0,
        step: 1,
        due_at: at,
    };
    let shown = vec![
        to(Channel::Slack, "user:alice"),
        to(Channel::Webhook, "webhook:bridge"),
    ];
    let notice = |kind| Notice {
        incident: id,
        kind,
        at,
        actor: None,
        detail: Value::Null,
    };
    let mut rows = OutboxRows::default();
    rows.page(id, &cause, &page);
    rows.notice(&notice(NoticeKind::Reopened), &shown);
    rows.notice(&notice(NoticeKind::Flapping), &shown);
    assert_eq!(
        rows.recipients,
        ["user:alice", "webhook:bridge", "webhook:bridge"],
        "the page, then both notices to the webhook: a notice does not stand for a page"
    );
}

#[test]
fn a_report_goes_to_the_slack_messages_and_mails_each_person_once() {
    let at = "2026-11-25T19:40:00Z".parse().unwrap();
    let shown = vec![
        to(Channel::Slack, "slack_channel:ops"),
        to(Channel::Slack, "user:alice"),
        to(Channel::Sms, "user:alice"),
        to(Channel::PagerDuty, "pagerduty:db"),
        to(Channel::Webhook, "webhook:bridge"),
    ];
    let notice = Notice {
        incident: Uuid::nil(),
        kind: NoticeKind::Report,
        at,
        actor: None,
        detail: json!({"report_id": "INC-202611251858"}),
    };
    let mut rows = OutboxRows::default();
    let people = ["alice".to_string(), "bob".to_string(), "alice".to_string()];
    rows.report(&notice, &shown, &people);
    assert_eq!(rows.channels, ["slack", "slack", "email", "email"]);
    assert_eq!(
        rows.recipients,
        ["slack_channel:ops", "user:alice", "user:alice", "user:bob"]
    );
    assert!(
        rows.keys
            .iter()
            .all(|k| k.contains(":report:2026-11-25 19:40:00+00:"))
    );
    // Replayed, the same keys: written once.
    let mut again = OutboxRows::default();
    again.report(&notice, &shown, &people);
    assert_eq!(again.keys, rows.keys);
}
