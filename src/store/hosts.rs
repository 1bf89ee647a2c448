//! Several Postgres hosts in one `database.url`, as libpq reads them
//! (`postgres://user@h1:5432,h2:5432/db?target_session_attrs=read-write`): sqlx reads one host
//! only, so the URL is split here into one set of options per host, and the pool is pointed at
//! the first host that suits `target_session_attrs`, then pointed again when that one stops
//! suiting (it went away, or came back as a standby) — a failover to a promoted standby without
//! a restart or a proxy.
//!
//! Every new connection is checked (`after_connect`); a follower checks the current host once a
//! second through the pool (no new connection while one is idle) and, when it fails, tries the
//! hosts in the URL's order and moves the pool's connect options to the first that suits.
//! Connections opened before the move are closed when next taken from the pool ([`Moved`]), so
//! none is left on an old primary that came back as a standby.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

/// What a session must be to be used (libpq's `target_session_attrs`, the values that matter for
/// a writer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Any,
    /// Not read-only: not a standby, and `default_transaction_read_only` off.
    ReadWrite,
    /// Not a standby.
    Primary,
}

/// The hosts of one URL, each as its own connect options, in the URL's order.
#[derive(Debug, Clone)]
pub struct Hosts {
    pub each: Vec<PgConnectOptions>,
    /// `host:port` of each, for the log.
    pub names: Vec<String>,
    pub target: Target,
}

/// Splits `url` into one URL per host; reads and removes `target_session_attrs`.
pub fn parse(url: &str) -> Result<Hosts, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or("not a URL (postgres://user@host:port/db)")?;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, hostlist) = match authority.rfind('@') {
        Some(at) => authority.split_at(at + 1),
        None => ("", authority),
    };
    let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
    let mut target = Target::Any;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("target_session_attrs", value)) => {
                target = match value {
                    "any" => Target::Any,
                    "read-write" => Target::ReadWrite,
                    "primary" => Target::Primary,
                    other => {
                        return Err(format!(
                            "target_session_attrs={other} is not supported (any, read-write or primary)"
                        ));
                    }
                }
            }
            _ => kept.push(pair),
        }
    }
    let query = match kept.is_empty() {
        true => String::new(),
        false => format!("?{}", kept.join("&")),
    };
    let mut hosts = Hosts {
        each: Vec::new(),
        names: Vec::new(),
        target,
    };
    for host in hostlist.split(',') {
        if host.is_empty() && hostlist.contains(',') {
            return Err(format!("an empty host in {hostlist:?}"));
        }
        let one = format!("{scheme}://{userinfo}{host}{path}{query}");
        let options =
            PgConnectOptions::from_str(&one).map_err(|e| format!("host {host:?}: {e}"))?;
        hosts.names.push(host.to_string());
        hosts.each.push(options);
    }
    Ok(hosts)
}

impl Hosts {
    /// One host and no condition: nothing to follow.
    pub fn plain(&self) -> bool {
        self.each.len() == 1 && self.target == Target::Any
    }
}

/// Whether the session on `conn` suits `target`.
pub async fn suits(conn: &mut PgConnection, target: Target) -> Result<bool, sqlx::Error> {
    match target {
        Target::Any => Ok(true),
        Target::ReadWrite => {
            let ro: String = sqlx::query_scalar("show transaction_read_only")
                .fetch_one(&mut *conn)
                .await?;
            Ok(ro == "off")
        }
        Target::Primary => {
            sqlx::query_scalar("select not pg_is_in_recovery()")
                .fetch_one(&mut *conn)
                .await
        }
    }
}

/// The error a connection that does not suit is refused with.
pub fn unsuited(target: Target) -> sqlx::Error {
    sqlx::Error::Configuration(
        format!(
            "the server does not suit target_session_attrs ({target:?}); looking for another host"
        )
        .into(),
    )
}

/// How long one probe of a host may take.
const PROBE: Duration = Duration::from_secs(2);

/// When [`follow`] last moved the pool to another host.
#[derive(Debug)]
pub struct Moved {
    base: Instant,
    /// Milliseconds after `base`, plus one; 0 for never.
    at: AtomicU64,
}

impl Default for Moved {
    fn default() -> Self {
        Moved {
            base: Instant::now(),
            at: AtomicU64::new(0),
        }
    }
}

impl Moved {
    fn mark(&self) {
        self.mark_at(self.base.elapsed());
    }

    fn mark_at(&self, elapsed: Duration) {
        self.at
            .store(elapsed.as_millis() as u64 + 1, Ordering::Release);
    }

    /// Whether a connection opened `age` ago was opened before the last move (to the old host).
    pub fn stale(&self, age: Duration) -> bool {
        self.stale_at(self.base.elapsed(), age)
    }

    fn stale_at(&self, elapsed: Duration, age: Duration) -> bool {
        let at = self.at.load(Ordering::Acquire);
        at != 0 && (elapsed.saturating_sub(age).as_millis() as u64) < at
    }
}

/// Keeps `pool` on a host that suits, until the pool is closed. `each` are the hosts' connect
/// options as the pool uses them; `moved` is marked at each move.
pub async fn follow(
    pool: PgPool,
    each: Vec<PgConnectOptions>,
    names: Vec<String>,
    target: Target,
    moved: Arc<Moved>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut now = 0;
    while !pool.is_closed() {
        tick.tick().await;
        if in_use_suits(&pool, target).await {
            continue;
        }
        let found = futures_util::future::join_all(each.iter().map(|o| probe(o, target))).await;
        // The URL's order decides among hosts that suit.
        match found.iter().position(|ok| *ok) {
            Some(i) if i != now => {
                tracing::warn!(from = %names[now], to = %names[i], ?target, "database: the host in use no longer suits; connecting to another from now on");
                pool.set_connect_options(each[i].clone());
                moved.mark();
                now = i;
            }
            Some(_) => {}
            None => {
                tracing::warn!(hosts = ?names, ?target, "database: no host suits; trying again in a second")
            }
        }
    }
}

/// Whether a pooled connection (opened, and checked, on the host in use) still suits, within
/// [`PROBE`].
async fn in_use_suits(pool: &PgPool, target: Target) -> bool {
    let check = async {
        let mut conn = pool.acquire().await?;
        suits(&mut conn, target).await
    };
    matches!(tokio::time::timeout(PROBE, check).await, Ok(Ok(true)))
}

/// A fresh connection to one host, checked and closed, within [`PROBE`].
async fn probe(options: &PgConnectOptions, target: Target) -> bool {
    let check = async {
        let mut conn = options.connect().await?;
        let ok = suits(&mut conn, target).await;
        let _ = conn.close().await;
        ok
    };
    matches!(tokio::time::timeout(PROBE, check).await, Ok(Ok(true)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_with_several_hosts_becomes_one_set_of_options_per_host() {
        let h = parse("postgres://u:p%40ss@db1:5432,db2:5433/alerts?sslmode=disable&target_session_attrs=read-write").unwrap();
        assert_eq!(h.names, ["db1:5432", "db2:5433"]);
        assert_eq!(h.target, Target::ReadWrite);
        assert_eq!(h.each[1].get_host(), "db2");
        assert_eq!(h.each[1].get_port(), 5433);
        assert_eq!(h.each[0].get_database(), Some("alerts"));
        assert_eq!(h.each[0].get_username(), "u");
        assert!(!h.plain());
    }

    #[test]
    fn connections_opened_before_a_move_are_stale() {
        let moved = Moved::default();
        let s = Duration::from_secs;
        assert!(!moved.stale_at(s(100), s(100)), "never moved");
        moved.mark_at(s(60));
        assert!(
            moved.stale_at(s(61), s(2)),
            "opened at 59 s, before the move"
        );
        assert!(moved.stale_at(s(61), s(1)), "opened at the move");
        assert!(!moved.stale_at(s(61), Duration::ZERO), "opened after it");
    }

    #[test]
    fn one_host_without_a_condition_is_plain() {
        let h = parse("postgres://postgres@127.0.0.1:5432/postgres").unwrap();
        assert!(h.plain());
        assert_eq!(h.each[0].get_port(), 5432);
    }

    #[test]
    fn unsupported_or_empty_parts_are_named() {
        let e = parse("postgres://h1,h2/db?target_session_attrs=prefer-standby").unwrap_err();
        assert!(e.contains("prefer-standby"), "{e}");
        let e = parse("postgres://h1,,h2/db").unwrap_err();
        assert!(e.contains("empty host"), "{e}");
        let e = parse("postgres://h1:notaport/db").unwrap_err();
        assert!(e.contains("h1:notaport"), "{e}");
    }
}
