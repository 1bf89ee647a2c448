//! The words a report's generated lines are made of, in each locale. Names and texts from
//! payloads are put in as they are; the template escapes the whole line.

use chrono::TimeDelta;

use super::Locale;

/// A timeline entry, before it is put in words.
#[derive(Debug, Clone)]
pub enum Said<'a> {
    Opened,
    Reopened,
    Flapping,
    AlertFired(&'a str),
    AlertResolved(&'a str),
    /// More alert events than the timeline lists: how many fired and resolved besides.
    MoreAlerts {
        fired: usize,
        resolved: usize,
    },
    SeverityChanged(&'a str),
    Escalated {
        step: u64,
        paged: String,
    },
    TargetMissed(String),
    Acknowledged(&'a str, &'a str),
    Unacknowledged(&'a str, &'a str),
    Snoozed(&'a str, &'a str, String),
    Reassigned(&'a str, &'a str, &'a str),
    Note(&'a str, &'a str, &'a str),
    /// By a person (name, source), or by Alertmanager.
    Resolved(Option<(&'a str, &'a str)>),
    Suppressed(&'a str),
    Unsuppressed,
    ReportEdited(&'a str),
    Notified {
        to: &'a str,
        channel: &'a str,
        kind: &'a str,
        result: String,
    },
    MoreNotifications(usize),
    Other(&'a str),
}

/// Where an action came from, as people say it.
pub fn source(locale: Locale, source: &str) -> String {
    match (source, locale) {
        ("slack", _) => "Slack".into(),
        ("api", _) => "API".into(),
        ("sms", _) => "SMS".into(),
        ("pagerduty", _) => "PagerDuty".into(),
        ("email", Locale::En) => "e-mail".into(),
        ("email", Locale::ZhCn) => "邮件".into(),
        ("webhook", _) => "webhook".into(),
        (other, _) => other.to_string(),
    }
}

/// One timeline line.
pub fn say(locale: Locale, said: &Said<'_>) -> String {
    use Said::*;
    let via = |s: &str| source(locale, s);
    match locale {
        Locale::En => match said {
            Opened => "Incident opened".into(),
            Reopened => "Reopened: an alert fired again".into(),
            Flapping => "Marked flapping (reopened often)".into(),
            AlertFired(name) => format!("Alert {name} fired"),
            AlertResolved(name) => format!("Alert {name} resolved"),
            MoreAlerts { fired, resolved } => {
                format!("… and {fired} more alerts fired, {resolved} more resolved")
            }
            SeverityChanged(s) => format!("Severity changed to {s}"),
            Escalated { step, paged } => format!("Escalation step {step} fired: paged {paged}"),
            TargetMissed(t) => format!("Response target ({t}) missed: not acknowledged"),
            Acknowledged(by, s) => format!("Acknowledged by {by} via {}", via(s)),
            Unacknowledged(by, s) => format!("Acknowledgement withdrawn by {by} via {}", via(s)),
            Snoozed(by, s, until) => format!("Snoozed until {until} by {by} via {}", via(s)),
            Reassigned(by, s, to) => format!("Reassigned to {to} by {by} via {}", via(s)),
            Note(by, s, text) => format!("Note by {by} via {}: {text}", via(s)),
            Resolved(Some((by, s))) => format!("Resolved by {by} via {}", via(s)),
            Resolved(None) => "Resolved: Alertmanager reported every alert resolved".into(),
            Suppressed(why) => format!("Paging held: {why}"),
            Unsuppressed => "Paging resumed".into(),
            ReportEdited(by) => format!("Report edited by {by}"),
            Notified {
                to,
                channel,
                kind,
                result,
            } => format!(
                "{} to {} by {}: {result}",
                kind_en(kind),
                person(to),
                source(locale, channel)
            ),
            MoreNotifications(n) => format!("… and {n} more notifications"),
            Other(kind) => kind.to_string(),
        },
        Locale::ZhCn => match said {
            Opened => "事故开启".into(),
            Reopened => "告警再次触发，事故重新打开".into(),
            Flapping => "频繁重开，标记为抖动".into(),
            AlertFired(name) => format!("告警 {name} 触发"),
            AlertResolved(name) => format!("告警 {name} 恢复"),
            MoreAlerts { fired, resolved } => {
                format!("……另有 {fired} 条告警触发、{resolved} 条恢复")
            }
            SeverityChanged(s) => format!("严重等级变为 {s}"),
            Escalated { step, paged } => format!("升级第 {step} 步：通知 {paged}"),
            TargetMissed(t) => format!("超过响应目标（{t}）仍未确认"),
            Acknowledged(by, s) => format!("{by} 通过 {} 确认", via(s)),
            Unacknowledged(by, s) => format!("{by} 通过 {} 取消确认", via(s)),
            Snoozed(by, s, until) => format!("{by} 通过 {} 暂停通知至 {until}", via(s)),
            Reassigned(by, s, to) => format!("{by} 通过 {} 转派给 {to}", via(s)),
            Note(by, s, text) => format!("{by} 通过 {} 备注：{text}", via(s)),
            Resolved(Some((by, s))) => format!("{by} 通过 {} 标记解决", via(s)),
            Resolved(None) => "Alertmanager 报告全部告警已恢复，事故解决".into(),
            Suppressed(why) => format!("暂停通知：{why}"),
            Unsuppressed => "恢复通知".into(),
            ReportEdited(by) => format!("{by} 编辑了报告"),
            Notified {
                to,
                channel,
                kind,
                result,
            } => format!(
                "{} 通过 {} 发给 {}：{result}",
                kind_zh(kind),
                source(locale, channel),
                person(to)
            ),
            MoreNotifications(n) => format!("……另有 {n} 条通知"),
            Other(kind) => kind.to_string(),
        },
    }
}

/// A recipient as people say it: a person by name, anything else as it is named in config.
pub fn person(recipient: &str) -> &str {
    recipient.strip_prefix("user:").unwrap_or(recipient)
}

fn kind_en(kind: &str) -> &str {
    match kind {
        "page" => "Page",
        "resolved" => "Resolution notice",
        "acknowledged" => "Acknowledgement notice",
        "unacknowledged" => "Unacknowledgement notice",
        "escalated" => "Escalation notice",
        "snoozed" => "Snooze notice",
        "reassigned" => "Reassignment notice",
        "reopened" => "Reopen notice",
        "flapping" => "Flapping notice",
        "report" => "Report",
        other => other,
    }
}

fn kind_zh(kind: &str) -> &str {
    match kind {
        "page" => "呼叫",
        "resolved" => "解决通知",
        "acknowledged" => "确认通知",
        "escalated" => "升级通知",
        "reopened" => "重开通知",
        "unacknowledged" => "取消确认通知",
        "snoozed" => "暂停通知",
        "reassigned" => "转派通知",
        "flapping" => "抖动通知",
        "report" => "事故报告",
        other => other,
    }
}

/// How a notification's delivery went: sent (after how many attempts), bundled, dead, waiting.
pub fn delivery(locale: Locale, status: &str, attempts: i32, error: Option<&str>) -> String {
    let error = error.unwrap_or("");
    match (locale, status) {
        (Locale::En, "sent") if attempts > 1 => format!("sent after {attempts} attempts"),
        (Locale::En, "sent") => "sent".into(),
        (Locale::En, "bundled") => "sent bundled with another page".into(),
        (Locale::En, "dead") => format!("failed: {error}"),
        (Locale::En, "cancelled") => "cancelled".into(),
        (Locale::En, "pending") if attempts > 0 => format!("retrying ({attempts} attempts)"),
        (Locale::En, "pending") => "waiting".into(),
        (Locale::ZhCn, "sent") if attempts > 1 => format!("重试 {attempts} 次后送达"),
        (Locale::ZhCn, "sent") => "已送达".into(),
        (Locale::ZhCn, "bundled") => "与其他呼叫合并送达".into(),
        (Locale::ZhCn, "dead") => format!("失败：{error}"),
        (Locale::ZhCn, "cancelled") => "已取消".into(),
        (Locale::ZhCn, "pending") if attempts > 0 => format!("重试中（{attempts} 次）"),
        (Locale::ZhCn, "pending") => "待发送".into(),
        (_, other) => other.to_string(),
    }
}

/// A span as people say it: `1h 5m`, `3m 10s`, `1小时5分钟`.
pub fn span(locale: Locale, d: TimeDelta) -> String {
    let total = d.num_seconds().max(0);
    let (days, hours, minutes, seconds) = (
        total / 86_400,
        total / 3_600 % 24,
        total / 60 % 60,
        total % 60,
    );
    let units: [(i64, &str, &str); 4] = [
        (days, "d", "天"),
        (hours, "h", "小时"),
        (minutes, "m", "分钟"),
        (seconds, "s", "秒"),
    ];
    let parts: Vec<String> = units
        .iter()
        .filter(|(n, ..)| *n > 0)
        .take(2)
        .map(|(n, en, zh)| match locale {
            Locale::En => format!("{n}{en}"),
            Locale::ZhCn => format!("{n}{zh}"),
        })
        .collect();
    if parts.is_empty() {
        return match locale {
            Locale::En => "0s".into(),
            Locale::ZhCn => "0秒".into(),
        };
    }
    parts.join(if locale == Locale::En { " " } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_naturally_in_both_languages() {
        let d = |s| TimeDelta::seconds(s);
        assert_eq!(span(Locale::En, d(3_900)), "1h 5m");
        assert_eq!(span(Locale::En, d(190)), "3m 10s");
        assert_eq!(span(Locale::En, d(90_061)), "1d 1h");
        assert_eq!(span(Locale::ZhCn, d(3_900)), "1小时5分钟");
        assert_eq!(span(Locale::ZhCn, d(0)), "0秒");
    }
}
