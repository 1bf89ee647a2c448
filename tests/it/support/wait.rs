//! Waiting for what a worker running on its own task does: a bounded poll of the state it
//! changes, for tests where the test cannot step the worker itself.

use std::time::Duration;

use tokio::time::Instant;

/// Waits until `ready` holds; panics with `what` after 30 s. The bound is far above any one
/// step: on a loaded 2-core CI machine (the suite runs in parallel, a browser test among it)
/// 10 s was once not enough.
pub async fn until<F: Future<Output = bool>>(what: &str, mut ready: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready().await {
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
