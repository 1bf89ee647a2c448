//! SMTP connections for e-mail: opened with `TCP_NODELAY`, kept in a small pool, and every mail
//! bounded by the channel's timeout.
//!
//! lettre (0.11.23) speaks SMTP well but leaves Nagle's algorithm on, and it writes a message's
//! closing `.` apart from its body: that small write waits for the relay's delayed ACK of the
//! body, about 40 ms a mail on Linux (lettre's pull request #1159; `scripts/bench-delivery.sh`
//! measured 377 mails/s over 32 connections). Its own pool cannot be given a socket, and its
//! `timeout` bounds only the connect, so a relay that stops answering held a send for ever. Here
//! lettre's connection does the protocol on a socket opened here.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
#[allow(deprecated)] // the stream type is public for this use (TLS on a socket of one's own)
use lettre::transport::smtp::client::AsyncNetworkStream;
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::config::SmtpTls;

/// Idle connections kept (one per send in flight of the channel's default concurrency).
const MAX_IDLE: usize = 32;
/// An idle connection older than this is closed rather than used (relays drop them too).
const IDLE_FOR: Duration = Duration::from_secs(60);
/// An idle connection older than this is checked with a NOOP before a mail goes down it.
const CHECK_AFTER: Duration = Duration::from_secs(5);

/// Why a mail was not taken.
#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("cannot connect: {0}")]
    Connect(io::Error),
    #[error("{0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
}

impl SmtpError {
    /// Whether the relay refused the mail for good (a 5xx): sending it again would not help.
    pub fn is_permanent(&self) -> bool {
        matches!(self, SmtpError::Smtp(e) if e.is_permanent())
    }
}

/// How a connection to the relay is secured.
enum Security {
    Plain,
    StartTls(TlsParameters),
    /// TLS from the first byte.
    Implicit(TlsParameters),
}

/// One relay, with the connections kept to it.
pub struct Smtp {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    timeout: Duration,
    hello: ClientId,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

impl Smtp {
    /// A relay at `host:port`; says what is wrong with its TLS settings.
    pub fn new(
        host: &str,
        port: u16,
        tls: SmtpTls,
        credentials: Option<Credentials>,
        timeout: Duration,
    ) -> Result<Self, String> {
        let parameters = || TlsParameters::new(host.to_string()).map_err(|e| format!("SMTP: {e}"));
        let security = match tls {
            SmtpTls::None => Security::Plain,
            SmtpTls::StartTls => Security::StartTls(parameters()?),
            SmtpTls::Tls => Security::Implicit(parameters()?),
        };
        Ok(Smtp {
            host: host.to_string(),
            port,
            security,
            credentials,
            timeout,
            hello: ClientId::default(),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Sends one mail, on a kept connection when one is free, within the timeout.
    pub async fn send(&self, envelope: &Envelope, mail: &[u8]) -> Result<(), SmtpError> {
        match tokio::time::timeout(self.timeout, self.send_now(envelope, mail)).await {
            Ok(sent) => sent,
            Err(_) => Err(SmtpError::Timeout(self.timeout)),
        }
    }

    async fn send_now(&self, envelope: &Envelope, mail: &[u8]) -> Result<(), SmtpError> {
        let mut conn = match self.take().await {
            Some(conn) => conn,
            None => self.connect().await?,
        };
        match conn.send(envelope, mail).await {
            Ok(_) => {
                self.park(conn);
                Ok(())
            }
            Err(e) => {
                conn.abort().await;
                Err(e.into())
            }
        }
    }

    /// The most recently used idle connection that still works, if any.
    async fn take(&self) -> Option<AsyncSmtpConnection> {
        loop {
            let (mut conn, since) = {
                let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
                idle.retain(|(_, since)| since.elapsed() < IDLE_FOR);
                idle.pop()?
            };
            if since.elapsed() < CHECK_AFTER || conn.test_connected().await {
                return Some(conn);
            }
        }
    }

    fn park(&self, conn: AsyncSmtpConnection) {
        if conn.has_broken() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push((conn, Instant::now()));
        }
    }

    /// A new connection: the greeting and EHLO read, TLS started, logged in.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SmtpError> {
        let tcp = tcp(&self.host, self.port).await?;
        let mut conn = match &self.security {
            Security::Implicit(parameters) => {
                #[allow(deprecated)]
                let mut stream = AsyncNetworkStream::use_existing_tokio1(Box::new(tcp));
                stream.upgrade_tls(parameters.clone()).await?;
                let stream = Box::new(Encrypted(stream));
                AsyncSmtpConnection::connect_with_transport(stream, &self.hello).await?
            }
            _ => AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello).await?,
        };
        if let Security::StartTls(parameters) = &self.security {
            conn.starttls(parameters.clone(), &self.hello).await?;
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(DEFAULT_MECHANISMS, credentials).await?;
        }
        Ok(conn)
    }
}

/// A socket to the relay with Nagle's algorithm off.
async fn tcp(host: &str, port: u16) -> Result<TcpStream, SmtpError> {
    let tcp = TcpStream::connect((host, port))
        .await
        .map_err(SmtpError::Connect)?;
    tcp.set_nodelay(true).map_err(SmtpError::Connect)?;
    Ok(tcp)
}

/// lettre's TLS stream (futures-io) as the tokio stream its connection reads, for implicit TLS.
#[allow(deprecated)]
#[derive(Debug)]
struct Encrypted(AsyncNetworkStream);

impl AsyncRead for Encrypted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let read = futures_util::io::AsyncRead::poll_read(
            Pin::new(&mut self.0),
            cx,
            buf.initialize_unfilled(),
        );
        read.map_ok(|n| buf.advance(n))
    }
}

impl AsyncWrite for Encrypted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        futures_util::io::AsyncWrite::poll_write(Pin::new(&mut self.0), cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        futures_util::io::AsyncWrite::poll_flush(Pin::new(&mut self.0), cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        futures_util::io::AsyncWrite::poll_close(Pin::new(&mut self.0), cx)
    }
}

impl AsyncTokioStream for Encrypted {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.peer_addr()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    use super::*;

    /// A relay taking every mail, or with `stall` never answering MAIL FROM; counts connections
    /// and the commands it read.
    async fn relay(stall: bool) -> (u16, Arc<AtomicUsize>, Arc<Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let commands: Arc<Mutex<Vec<String>>> = Arc::default();
        let (count, seen) = (connections.clone(), commands.clone());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let seen = seen.clone();
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read).lines();
                    write.write_all(b"220 relay ESMTP\r\n").await.unwrap();
                    let mut data = false;
                    while let Ok(Some(line)) = lines.next_line().await {
                        if data && line != "." {
                            continue;
                        }
                        let command = if data {
                            "."
                        } else {
                            line.get(..4).unwrap_or("")
                        };
                        seen.lock().unwrap().push(command.to_ascii_uppercase());
                        let reply: &[u8] = match command.to_ascii_uppercase().as_str() {
                            "EHLO" => b"250-relay\r\n250 8BITMIME\r\n",
                            "MAIL" if stall => std::future::pending::<&[u8]>().await,
                            "DATA" => b"354 go on\r\n",
                            _ => b"250 ok\r\n",
                        };
                        data = command.eq_ignore_ascii_case("DATA");
                        write.write_all(reply).await.unwrap();
                    }
                });
            }
        });
        (port, connections, commands)
    }

    fn envelope() -> Envelope {
        let to = "alice@example.com".parse().unwrap();
        Envelope::new(Some("alerts@example.com".parse().unwrap()), vec![to]).unwrap()
    }

    #[tokio::test]
    async fn sockets_to_the_relay_send_small_writes_at_once() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let socket = tcp("127.0.0.1", port).await.unwrap();
        assert!(socket.nodelay().unwrap(), "Nagle's algorithm is on");
    }

    #[tokio::test]
    async fn mails_one_after_another_share_one_connection() {
        let (port, connections, commands) = relay(false).await;
        let smtp = Smtp::new(
            "127.0.0.1",
            port,
            SmtpTls::None,
            None,
            Duration::from_secs(5),
        );
        let smtp = smtp.unwrap();
        for _ in 0..3 {
            smtp.send(&envelope(), b"Subject: hi\r\n\r\nbody\r\n")
                .await
                .unwrap();
        }
        assert_eq!(connections.load(Ordering::SeqCst), 1);
        let taken = commands
            .lock()
            .unwrap()
            .iter()
            .filter(|c| *c == ".")
            .count();
        assert_eq!(taken, 3, "{:?}", commands.lock().unwrap());
    }

    #[tokio::test]
    async fn a_relay_that_stops_answering_fails_the_mail_at_the_timeout() {
        let (port, _, commands) = relay(true).await;
        let timeout = Duration::from_millis(300);
        let smtp = Smtp::new("127.0.0.1", port, SmtpTls::None, None, timeout).unwrap();
        let sent = smtp.send(&envelope(), b"Subject: hi\r\n\r\nbody\r\n").await;
        assert!(
            matches!(sent, Err(SmtpError::Timeout(t)) if t == timeout),
            "{sent:?}"
        );
        assert!(
            !sent.unwrap_err().is_permanent(),
            "a silent relay is worth a retry"
        );
        assert!(commands.lock().unwrap().contains(&"MAIL".to_string()));
    }
}
