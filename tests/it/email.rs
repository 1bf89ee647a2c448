//! E-mail against a small SMTP server on 127.0.0.1 that speaks enough of RFC 5321 to take mail.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use alertrouter::config::ChannelSettings;
use alertrouter::config::{SmtpSettings, SmtpTls};
use alertrouter::metrics::Metrics;
use chrono::TimeDelta;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::escalation::{dispatcher_for, start_with, worker};
use crate::support::{TestDb, alert, webhook};

/// Mail taken: (envelope recipients, message text).
pub type Inbox = Arc<Mutex<Vec<(Vec<String>, String)>>>;

/// Channel settings mailing through the fake SMTP server on `port`.
pub fn smtp_at(port: u16) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        tls: SmtpTls::None,
        username: None,
        password: None,
        from: "alertrouter <alerts@example.com>".into(),
        timeout: Duration::from_secs(5),
    }
}

pub async fn fake_smtp(inbox: Inbox) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let inbox = inbox.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 fake ESMTP\r\n").await.unwrap();
                let (mut rcpt, mut data, mut in_data, mut mail_from) =
                    (Vec::new(), String::new(), false, false);
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            in_data = false;
                            inbox
                                .lock()
                                .unwrap()
                                .push((std::mem::take(&mut rcpt), std::mem::take(&mut data)));
                            write.write_all(b"250 2.0.0 OK queued\r\n").await.unwrap();
                        } else {
                            data.push_str(line.strip_prefix('.').unwrap_or(&line));
                            data.push('\n');
                        }
                        continue;
                    }
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") {
                        b"250-fake\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("MAIL FROM:<") {
                        mail_from = true;
                        b"250 2.1.0 OK\r\n"
                    } else if upper.starts_with("RCPT TO:<") && mail_from {
                        rcpt.push(line[9..line.len() - 1].to_string());
                        b"250 2.1.5 OK\r\n"
                    } else if upper == "DATA" && !rcpt.is_empty() {
                        in_data = true;
                        b"354 go ahead\r\n"
                    } else if upper == "QUIT" {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        break;
                    } else if upper == "RSET" || upper == "NOOP" {
                        b"250 OK\r\n"
                    } else {
                        b"503 5.5.1 bad sequence\r\n"
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn pages_by_email_are_multipart_and_thread_per_incident() {
    let db = TestDb::new().await;
    let inbox: Inbox = Arc::default();
    let port = fake_smtp(inbox.clone()).await;
    let server = start_with(&db, |c| {
        let alice = c.policies.users.get_mut("alice").unwrap();
        alice.email = Some("alice@example.com".into());
        // Page by e-mail only, twice.
        for step in &mut c.policies.policies.get_mut("critical").unwrap().steps {
            step.via = vec![alertrouter::core::policy::Channel::Email];
        }
    })
    .await;
    let metrics = Arc::new(Metrics::new());
    let dispatcher = dispatcher_for(
        &server,
        metrics.clone(),
        ChannelSettings {
            email: Some(smtp_at(port)),
            ..ChannelSettings::default()
        },
    );
    server
        .post(webhook(vec![alert(
            "web-1",
            "critical",
            "firing",
            "2026-11-25T18:50:00Z",
            None,
        )]))
        .await;
    let timers = worker(&server, metrics.clone(), 100);
    timers.run_once().await.unwrap();
    dispatcher.run_once().await.unwrap();
    server.clock.advance(TimeDelta::minutes(5));
    timers.run_once().await.unwrap();
    dispatcher.run_once().await.unwrap();

    let mails = inbox.lock().unwrap().clone();
    assert_eq!(mails.len(), 2);
    let header = |mail: &str, name: &str| {
        mail.lines()
            .find(|l| {
                l.to_ascii_lowercase()
                    .starts_with(&format!("{}:", name.to_ascii_lowercase()))
            })
            .map(|l| l.split_once(':').unwrap().1.trim().to_string())
            .unwrap_or_default()
    };
    let (to, first) = &mails[0];
    assert_eq!(to, &["alice@example.com".to_string()]);
    assert_eq!(
        header(first, "Subject"),
        "[CRITICAL] errors on web-1 (INC-1)"
    );
    assert!(first.contains("multipart/alternative"), "{first}");
    assert!(
        first.contains("text/plain") && first.contains("text/html"),
        "{first}"
    );
    let incident: uuid::Uuid = sqlx::query_scalar("select id from incidents")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let root = format!("<incident.{incident}@alertrouter>");
    for (_, mail) in &mails {
        assert_eq!(
            header(mail, "In-Reply-To"),
            root,
            "mails of one incident thread together"
        );
    }
    assert_ne!(
        header(&mails[0].1, "Message-ID"),
        header(&mails[1].1, "Message-ID")
    );
    let refs: Vec<String> =
        sqlx::query_scalar("select provider_ref from outbox where status = 'sent' order by id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        refs,
        [
            header(&mails[0].1, "Message-ID"),
            header(&mails[1].1, "Message-ID")
        ]
    );
}
