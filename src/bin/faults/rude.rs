//! Clients that misbehave at the socket (scenario 6): ones that connect and say nothing, ones
//! that send a body a byte a second, and a crowd sending 2 MiB bodies at once. Each reports
//! what the server did to it, so the row can say how long a rude client held a connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the rude clients saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// Connections opened that sent nothing, and the longest the server let one idle.
    pub idle_opened: AtomicU64,
    pub idle_longest_ms: AtomicU64,
    /// Slow senders, and the longest one was let trickle before it got an answer or was cut.
    pub slow_longest_ms: AtomicU64,
    pub slow_answers: std::sync::Mutex<Vec<u16>>,
    /// The 2 MiB senders' answers (0: cut before an answer) and the slowest answer.
    pub big_answers: std::sync::Mutex<Vec<u16>>,
    pub big_longest_ms: AtomicU64,
}

fn note_max(cell: &AtomicU64, since: Instant) {
    cell.fetch_max(since.elapsed().as_millis() as u64, Ordering::Relaxed);
}

fn addr(base: &str) -> String {
    base.trim_start_matches("http://").to_string()
}

/// Keeps `count` connections open that never send a byte, opening a new one whenever the
/// server closes one, until `stop`.
pub async fn idle(base: String, count: usize, stop: Arc<AtomicBool>, seen: Arc<Seen>) {
    let mut tasks = Vec::new();
    for _ in 0..count {
        let (base, stop, seen) = (base.clone(), stop.clone(), seen.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let Ok(mut s) = TcpStream::connect(addr(&base)).await else {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                };
                seen.idle_opened.fetch_add(1, Ordering::Relaxed);
                let opened = Instant::now();
                let mut buf = [0u8; 256];
                // Until the server hangs up (or the scenario ends).
                loop {
                    let read = tokio::time::timeout(Duration::from_millis(500), s.read(&mut buf));
                    match read.await {
                        Ok(Ok(0) | Err(_)) => break,
                        Ok(Ok(_)) => {}
                        Err(_) if stop.load(Ordering::Relaxed) => return,
                        Err(_) => {}
                    }
                }
                note_max(&seen.idle_longest_ms, opened);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// The status code at the start of an HTTP answer, 0 when there is none.
fn status_of(answer: &[u8]) -> u16 {
    std::str::from_utf8(answer)
        .ok()
        .and_then(|s| s.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// `count` clients that send a valid webhook's headers, then its body one byte a second, until
/// the server answers or hangs up; each notes how long that took.
pub async fn slow(
    base: String,
    token: String,
    count: usize,
    stop: Arc<AtomicBool>,
    seen: Arc<Seen>,
) {
    let mut tasks = Vec::new();
    for n in 0..count {
        let (base, token, stop, seen) = (base.clone(), token.clone(), stop.clone(), seen.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let Ok(s) = TcpStream::connect(addr(&base)).await else {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                };
                let (mut rd, mut wr) = s.into_split();
                let body = crate::load::body(9_000_000 + n as u64, 20);
                let head = format!(
                    "POST /hooks/alertmanager HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                let started = Instant::now();
                if wr.write_all(head.as_bytes()).await.is_err() {
                    continue;
                }
                let trickle = async {
                    for b in body.as_bytes() {
                        if wr.write_all(&[*b]).await.is_err() {
                            return;
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    std::future::pending::<()>().await
                };
                let mut answer = vec![0u8; 512];
                let status = tokio::select! {
                    () = trickle => 0,
                    n = rd.read(&mut answer) => n.map_or(0, |n| status_of(&answer[..n])),
                };
                note_max(&seen.slow_longest_ms, started);
                seen.slow_answers.lock().unwrap().push(status);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// A 2 MiB webhook: one group of many alerts, each with a long annotation.
pub fn big_body(n: u64) -> String {
    let text = "x".repeat(1000);
    let mut alerts = Vec::new();
    let mut i = 0;
    while alerts.iter().map(String::len).sum::<usize>() < 2 << 20 {
        alerts.push(format!(
            r#"{{"status":"firing","labels":{{"alertname":"Big","big_n":"{n}","i":"{i}","team":"t0"}},"annotations":{{"description":"{text}"}},"startsAt":"2026-12-01T00:00:00Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"{i:016x}"}}"#
        ));
        i += 1;
    }
    format!(
        r#"{{"receiver":"alertrouter","status":"firing","alerts":[{}],"groupLabels":{{"big_n":"{n}"}},"commonLabels":{{"alertname":"Big"}},"commonAnnotations":{{}},"externalURL":"http://alertmanager:9093","version":"4","groupKey":"{{}}:{{big_n=\"{n}\"}}","truncatedAlerts":0}}"#,
        alerts.join(",")
    )
}

/// `count` clients sending a 2 MiB webhook each, all at once; their answers.
pub async fn big(base: String, token: String, count: usize, seen: Arc<Seen>) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let mut tasks = Vec::new();
    for n in 0..count {
        let body = big_body(8_000_000 + n as u64);
        let (http, base, token, seen) = (http.clone(), base.clone(), token.clone(), seen.clone());
        tasks.push(tokio::spawn(async move {
            let started = Instant::now();
            let answer = http
                .post(format!("{base}/hooks/alertmanager"))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            note_max(&seen.big_longest_ms, started);
            let status = answer.map_or(0, |r| r.status().as_u16());
            seen.big_answers.lock().unwrap().push(status);
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// The largest resident set a process has had (`VmHWM`), in MiB.
pub fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Answers counted by status, for the row: "100 × 200, 3 × 503".
pub fn tally(answers: &[u16]) -> String {
    let mut counts = std::collections::BTreeMap::new();
    for a in answers {
        *counts.entry(*a).or_insert(0) += 1;
    }
    counts
        .iter()
        .map(|(s, n)| match s {
            0 => format!("{n} cut"),
            s => format!("{n} × {s}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
