//! Connection-level floods: half-open connections, half-sent headers, idle keep-alives and slow
//! bodies are cut off by their deadlines, and never delay a legitimate webhook.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{TestDb, TestServer, alert, grouped, settings};

const S1: &str = "2026-11-25T18:50:00Z";

fn addr(server: &TestServer) -> String {
    server.base.trim_start_matches("http://").to_string()
}

/// Posts `n` webhooks, each its own group, one after another; their latencies, sorted.
async fn webhooks(server: &TestServer, from: usize, n: usize) -> Vec<Duration> {
    let mut took = Vec::new();
    for i in from..from + n {
        let body = grouped(
            &format!("{{}}:{{g=\"{i}\"}}"),
            vec![alert(&format!("h{i}"), "warning", "firing", S1, None)],
        );
        let started = Instant::now();
        let (status, answer) = server.post(body).await;
        took.push(started.elapsed());
        assert_eq!(status, 200, "{answer}");
    }
    took.sort();
    took
}

fn p99(sorted: &[Duration]) -> Duration {
    sorted[(sorted.len() * 99).div_ceil(100) - 1]
}

/// Waits until the server closes `stream` (reads EOF or a reset); how long that took.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(
            tokio::time::Instant::from_std(started + limit),
            stream.read(&mut buf),
        )
        .await
        {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn half_open_connections_and_slow_bodies_never_delay_the_webhook() {
    let db = TestDb::new().await;
    let mut config = settings(&db.url);
    config.server.header_read_timeout = Duration::from_secs(2);
    config.server.request_timeout = Duration::from_secs(3);
    let server = TestServer::start(config).await;
    let budget = server.app.settings.ingest.request_timeout;
    let quiet = webhooks(&server, 0, 100).await;

    // 2,000 connections that never send a byte, or half a request line.
    let mut idle = Vec::new();
    for i in 0..2_000 {
        let mut s = TcpStream::connect(addr(&server)).await.unwrap();
        if i % 2 == 0 {
            s.write_all(b"POST /hooks/alertmanager HTTP/1.1\r\nHost: x\r\n")
                .await
                .unwrap();
        }
        idle.push(s);
    }
    // 200 requests whose bodies arrive a byte at a time, to every kind of route.
    let mut slow = Vec::new();
    for (i, path) in [
        "/api/v1/incidents/INC-1/actions",
        "/hooks/slack/interactions",
        "/hooks/twilio/sms",
    ]
    .iter()
    .cycle()
    .take(200)
    .enumerate()
    {
        let mut s = TcpStream::connect(addr(&server)).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        slow.push((i, s));
    }
    let trickle = tokio::spawn(async move {
        for _ in 0..40 {
            for (_, s) in slow.iter_mut() {
                let _ = s.write_all(b" ").await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        slow
    });

    let flooded = webhooks(&server, 100, 100).await;
    eprintln!(
        "webhook latency p99: {:?} quiet, {:?} under 2,000 half-open connections and 200 slow bodies (max {:?})",
        p99(&quiet),
        p99(&flooded),
        flooded.last().unwrap()
    );
    assert!(
        *flooded.last().unwrap() < budget,
        "every webhook answered within its budget: {flooded:?}"
    );

    // The half-sent ones are cut off by the header deadline...
    for s in idle.iter_mut().take(20) {
        let took = closed_within(s, Duration::from_secs(10)).await;
        assert!(took.is_some(), "a connection without a request was closed");
    }
    // ...the slow bodies to a signed callback by the request deadline, with 408; the API's
    // authenticates before it reads a body, so a caller without a token is refused at once.
    let mut slow = trickle.await.unwrap();
    for (i, status) in [(0, "401"), (1, "408")] {
        let (_, s) = &mut slow[i];
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut answer)).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{answer}"
        );
    }
    let (_, metrics) = server.get("/metrics").await;
    assert!(
        metrics.contains("alertrouter_http_connections_open{listener=\"main\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let db = TestDb::new().await;
    let mut config = settings(&db.url);
    config.server.header_read_timeout = Duration::from_secs(1);
    let server = TestServer::start(config).await;
    let mut s = TcpStream::connect(addr(&server)).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).await.unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    let took = closed_within(&mut s, Duration::from_secs(10)).await;
    assert!(
        took.is_some_and(|t| t < Duration::from_secs(5)),
        "the idle keep-alive was closed: {took:?}"
    );
}

#[tokio::test]
async fn with_its_own_listener_the_webhook_is_served_when_the_public_one_is_full() {
    let db = TestDb::new().await;
    let webhook_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let webhook_addr = webhook_listener.local_addr().unwrap();
    drop(webhook_listener);
    let mut config = settings(&db.url);
    config.server.max_connections = 16;
    config.server.webhook_listen = Some(webhook_addr);
    let server = TestServer::start(config).await;

    // The public listener is full of connections that send nothing.
    let mut idle = Vec::new();
    for _ in 0..64 {
        idle.push(TcpStream::connect(addr(&server)).await.unwrap());
    }
    let http = reqwest::Client::new();
    let body = grouped(
        "{}:{g=\"own\"}",
        vec![alert("h", "critical", "firing", S1, None)],
    );
    let send = |base: String| {
        http.post(format!("{base}/hooks/alertmanager"))
            .bearer_auth(crate::support::TOKEN)
            .header("content-type", "application/json")
            .timeout(Duration::from_secs(2))
            .body(body.clone())
            .send()
    };
    let r = send(format!("http://{webhook_addr}")).await.unwrap();
    assert_eq!(r.status(), 200);
    // The public listener no longer serves the webhook at all.
    drop(idle);
    let r = send(server.base.clone()).await.unwrap();
    assert_eq!(r.status(), 404);
    let (_, metrics) = server.get("/metrics").await;
    assert!(
        metrics.contains("alertrouter_http_connection_cap_reached_total{listener=\"main\"}"),
        "{metrics}"
    );
    assert_eq!(db.incidents().await.len(), 1);
}

#[tokio::test]
async fn large_bodies_share_their_room_and_one_past_it_is_answered_503_while_small_ones_pass() {
    let db = TestDb::new().await;
    let mut config = settings(&db.url);
    config.ingest.large_bodies_in_flight = 2 << 20;
    let server = TestServer::start(config).await;
    // Two senders declare 1 MiB each and send nothing more: the room is taken.
    let mut holders = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(addr(&server)).await.unwrap();
        let head = format!(
            "POST /hooks/alertmanager HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{{",
            crate::support::TOKEN,
            1 << 20
        );
        s.write_all(head.as_bytes()).await.unwrap();
        holders.push(s);
    }
    // An ordinary webhook is not held up by them.
    let small = webhooks(&server, 0, 3).await;
    assert!(p99(&small) < Duration::from_secs(1), "{small:?}");
    // A third large one waits its bounded turn, then gets a retryable 503.
    let body = grouped(
        "{}:{g=\"big\"}",
        vec![alert("big", "warning", "firing", S1, None)],
    );
    let padded = format!("{body}{}", " ".repeat(300 << 10));
    let started = Instant::now();
    let (status, answer) = server.post(padded.clone()).await;
    assert_eq!(status, 503, "{answer}");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(
        answer.to_string().contains("no room for a large body"),
        "{answer}"
    );
    // Once the holders are gone, the same body is taken.
    drop(holders);
    let (status, answer) = server.post(padded).await;
    assert_eq!(status, 200, "{answer}");
}
