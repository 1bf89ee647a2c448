//! E-mail over SMTP (STARTTLS, implicit TLS, or plain for local relays): multipart text and HTML,
//! `[CRITICAL] <title> (INC-42)`, and Message-ID / In-Reply-To so an incident's mails thread.

use std::sync::Arc;

use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use secrecy::ExposeSecret;

use chrono::{DateTime, Utc};

use super::smtp::Smtp;
use super::templates::{Templates, context};
use super::{Delivery, IncidentSummary, SendResult};
use crate::config::SmtpSettings;
use crate::links::LinkSigner;

/// Sends e-mail.
pub struct EmailChannel {
    transport: Option<(Smtp, Mailbox)>,
    problem: Option<String>,
    templates: Arc<Templates>,
    links: Option<Arc<LinkSigner>>,
}

impl EmailChannel {
    /// A sender; without settings every e-mail is a dead letter saying so.
    pub fn new(settings: Option<&SmtpSettings>, templates: Arc<Templates>) -> Self {
        let Some(s) = settings else {
            return EmailChannel {
                transport: None,
                problem: Some("e-mail is not configured (channels.email)".into()),
                templates,
                links: None,
            };
        };
        match build(s) {
            Ok(t) => EmailChannel {
                transport: Some(t),
                problem: None,
                templates,
                links: None,
            },
            Err(e) => EmailChannel {
                transport: None,
                problem: Some(e),
                templates,
                links: None,
            },
        }
    }

    /// Pages carry a signed acknowledge link when `links` is given.
    pub fn with_links(mut self, links: Option<Arc<LinkSigner>>) -> Self {
        self.links = links;
        self
    }

    /// Mails `to` about the delivery's incident.
    pub async fn send(&self, to: &str, delivery: &Delivery, now: DateTime<Utc>) -> SendResult {
        let Some((transport, from)) = &self.transport else {
            return SendResult::Dead {
                error: self.problem.clone().unwrap_or_default(),
            };
        };
        let ack_url = self
            .links
            .as_ref()
            .filter(|_| delivery.payload["kind"] == "page")
            .map(|l| {
                l.url(
                    &delivery.dedup_key,
                    delivery.incident.id,
                    &delivery.recipient,
                    now,
                )
            });
        let message = match message(&self.templates, from, to, delivery, ack_url.as_deref()) {
            Ok(m) => m,
            Err(error) => return SendResult::Dead { error },
        };
        let id = message_id(delivery);
        match transport
            .send(message.envelope(), &message.formatted())
            .await
        {
            Ok(_) => SendResult::Sent { reference: id },
            Err(e) if e.is_permanent() => SendResult::Dead {
                error: format!("SMTP: {e}"),
            },
            Err(e) => SendResult::Retry {
                after: None,
                error: format!("SMTP: {e}"),
            },
        }
    }
}

fn build(s: &SmtpSettings) -> Result<(Smtp, Mailbox), String> {
    let from: Mailbox = s
        .from
        .parse()
        .map_err(|e| format!("channels.email.from: {e}"))?;
    let credentials = match (&s.username, &s.password) {
        (Some(user), Some(password)) => Some(Credentials::new(
            user.clone(),
            password.expose_secret().to_string(),
        )),
        _ => None,
    };
    let smtp = Smtp::new(&s.host, s.port, s.tls, credentials, s.timeout)?;
    Ok((smtp, from))
}

/// The incident's thread root, which every mail about it refers to.
fn thread_root(inc: &IncidentSummary) -> String {
    format!("<incident.{}@alertrouter>", inc.id)
}

/// This mail's own Message-ID, stable across redeliveries.
fn message_id(delivery: &Delivery) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(delivery.dedup_key.as_bytes());
    let short: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("<{short}.{}@alertrouter>", delivery.incident.id)
}

/// Subject, text and HTML of a mail, from the templates.
pub fn render(templates: &Templates, delivery: &Delivery) -> (String, String, String) {
    render_with_link(templates, delivery, None)
}

/// The same, with an acknowledge link (`ack_url` in the templates).
pub fn render_with_link(
    templates: &Templates,
    delivery: &Delivery,
    ack_url: Option<&str>,
) -> (String, String, String) {
    let inc = &delivery.incident;
    let mut ctx = context(inc, &inc.title, Some(delivery), "");
    ctx["ack_url"] = serde_json::json!(ack_url);
    // Only http(s) URLs become links (a `javascript:` runbook URL links nowhere).
    for path in [
        "/incident/annotations/runbook_url",
        "/incident/annotations/dashboard_url",
        "/incident/generator_url",
    ] {
        if let Some(v) = ctx.pointer_mut(path)
            && !v.as_str().is_some_and(super::slack_text::is_web_url)
        {
            *v = serde_json::Value::Null;
        }
    }
    let subject = templates.text("email_subject.txt", &ctx);
    let text = templates.text("email_text.txt", &ctx);
    let html = templates.text("email_html.html", &ctx);
    (subject_line(&subject), text, html)
}

/// One line (no CR/LF or other control characters can reach the header), at most 200
/// characters, cut on a character boundary.
fn subject_line(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let words: Vec<&str> = one_line.split_whitespace().collect();
    super::slack_text::cut(&words.join(" "), 200)
}

fn message(
    templates: &Templates,
    from: &Mailbox,
    to: &str,
    delivery: &Delivery,
    ack_url: Option<&str>,
) -> Result<Message, String> {
    let inc = &delivery.incident;
    let to: Mailbox = to.parse().map_err(|e| format!("recipient address: {e}"))?;
    if delivery.payload["kind"] == "report" {
        // The draft as it is: Markdown reads as plain text, and no HTML means none to inject.
        let detail = &delivery.payload["detail"];
        return Message::builder()
            .from(from.clone())
            .to(to)
            .subject(subject_line(
                detail["subject"].as_str().unwrap_or("Incident report"),
            ))
            .message_id(Some(message_id(delivery)))
            .in_reply_to(thread_root(inc))
            .references(thread_root(inc))
            .singlepart(lettre::message::SinglePart::plain(
                detail["markdown"].as_str().unwrap_or("").to_string(),
            ))
            .map_err(|e| format!("building the mail: {e}"));
    }
    let (subject, text, html) = render_with_link(templates, delivery, ack_url);
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .message_id(Some(message_id(delivery)))
        .in_reply_to(thread_root(inc))
        .references(thread_root(inc))
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|e| format!("building the message: {e}"))
}
