//! The room large webhook bodies share: a body over [`LARGE`] reserves its size before it is
//! read and holds it until its webhook is answered (a parsed body takes several times its size
//! in memory), so a crowd of big groups arriving together waits its turn — briefly, then 503,
//! which Alertmanager retries — instead of taking the process' memory. Small bodies (every
//! ordinary webhook) never wait here.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bodies up to this many bytes do not use the budget.
pub const LARGE: u64 = 256 << 10;

/// How long a large body waits for room before it is answered 503.
pub const WAIT: Duration = Duration::from_secs(2);

/// Permits are KiB.
pub struct BodyBudget {
    room: Arc<Semaphore>,
    total_kib: u32,
}

impl BodyBudget {
    pub fn new(bytes: usize) -> BodyBudget {
        let total_kib = u32::try_from(bytes >> 10).unwrap_or(u32::MAX).max(1);
        BodyBudget {
            room: Arc::new(Semaphore::new(total_kib as usize)),
            total_kib,
        }
    }

    /// Room for a body of `declared` bytes (unknown: as much as `limit`); `Ok(None)` for a small
    /// one, `Err` when the room did not free up within `wait`. A body larger than the whole
    /// budget takes all of it.
    pub async fn reserve(
        &self,
        declared: Option<u64>,
        limit: usize,
        wait: Duration,
    ) -> Result<Option<OwnedSemaphorePermit>, ()> {
        let size = declared.unwrap_or(limit as u64);
        if size <= LARGE {
            return Ok(None);
        }
        let kib = u32::try_from(size.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .min(self.total_kib);
        let taken = tokio::time::timeout(wait, self.room.clone().acquire_many_owned(kib)).await;
        match taken {
            Ok(Ok(permit)) => Ok(Some(permit)),
            _ => Err(()),
        }
    }

    /// KiB free now (for the metric and tests).
    pub fn free_kib(&self) -> usize {
        self.room.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn large_bodies_share_the_room_and_small_ones_never_wait() {
        let budget = BodyBudget::new(4 << 20);
        let a = budget.reserve(Some(3 << 20), 32 << 20, WAIT).await.unwrap();
        assert!(a.is_some());
        // 3 MiB taken of 4: a 2 MiB body waits (here not at all), then gives up.
        let now = std::time::Duration::ZERO;
        assert!(budget.reserve(Some(2 << 20), 32 << 20, now).await.is_err());
        // A small one is not held up.
        assert!(
            budget
                .reserve(Some(2000), 32 << 20, WAIT)
                .await
                .unwrap()
                .is_none()
        );
        drop(a);
        assert_eq!(budget.free_kib(), 4096);
        // An unknown length counts as the limit; one over the whole budget takes all of it.
        let all = budget.reserve(None, 32 << 20, WAIT).await.unwrap().unwrap();
        assert_eq!(all.num_permits(), 4096);
    }
}
