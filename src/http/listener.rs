//! The accept loop: every connection gets a header-read deadline (which is also its idle
//! keep-alive limit), a place under the listener's connection cap, and a graceful end.
//!
//! axum's own `serve` runs hyper without a timer, so a client that connects and sends nothing
//! (or half a header, or idles on keep-alive) holds its socket for ever; a thousand of them used
//! to starve the process of file descriptors and the Alertmanager webhook with it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::metrics::Metrics;

/// File descriptors kept free of client connections: the database pool, outgoing HTTP clients,
/// config files and logs.
const RESERVED_FDS: u64 = 256;

/// How long shutdown waits for requests in flight before it drops them.
const DRAIN: Duration = Duration::from_secs(30);

/// Raises the soft open-file limit to the hard one (where the process may) and returns the
/// connection cap that fits under it.
pub fn connection_cap(configured: usize) -> usize {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read or raise the open-file limit");
            return configured;
        }
    };
    let fits = usize::try_from(limit.saturating_sub(RESERVED_FDS)).unwrap_or(usize::MAX);
    if fits < configured {
        tracing::warn!(
            open_file_limit = limit,
            configured,
            cap = fits.max(16),
            "server.max_connections lowered to fit the open-file limit (raise `ulimit -n`)"
        );
    }
    configured.min(fits).max(16)
}

/// Serves `router` on `listener` (at most `cap` connections, each sending its headers within
/// `header_read_timeout`) until `shutdown` resolves, then finishes what is in flight.
pub async fn serve(
    name: &'static str,
    listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
    cap: usize,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(cap));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        if permits.available_permits() == 0 {
            metrics.connections.cap_reached(name);
        }
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // EMFILE, ENFILE, ENOBUFS: wait for sockets to be freed rather than spin.
                    tracing::error!(listener = name, error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let router = router.clone();
            router.oneshot(request)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let _open = metrics.connections.opened(name);
            if let Err(e) = connection.await {
                tracing::debug!(listener = name, %peer, error = %e, "connection ended");
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN) => {
            tracing::warn!(listener = name, "requests still in flight after {DRAIN:?}; dropping them");
        }
    }
    Ok(())
}
