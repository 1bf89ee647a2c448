//! Writing what concurrent tasks hand in together: a queue in front of a few writer tasks, each
//! taking whatever is queued (up to a batch) and writing it in one round trip, so that one
//! commit's WAL flush, the cost that bounds every writer here, serves many callers. Each caller
//! waits for its own item's result, so an answer that promises durability is only given after
//! the commit that holds it. Ingest's group commit and the dispatcher's delivery results use it.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{Mutex, mpsc, oneshot};

/// How many items may wait for a writer before the next caller waits for room (bounded memory).
const QUEUE: usize = 1024;

type Item<T, R> = (T, oneshot::Sender<R>);

/// The queue; cloned senders share its writers.
pub struct Batcher<T, R> {
    queue: mpsc::Sender<Item<T, R>>,
}

impl<T: Send + 'static, R: Send + 'static> Batcher<T, R> {
    /// Starts `writers` tasks (on the current runtime), each calling `write` with up to
    /// `max_batch` items at a time; `write` returns one result per item, in order. The tasks end
    /// when the batcher is dropped.
    pub fn start<F, Fut>(writers: usize, max_batch: usize, write: F) -> Self
    where
        F: Fn(Vec<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<R>> + Send,
    {
        let (queue, receiver) = mpsc::channel::<Item<T, R>>(QUEUE);
        let receiver = Arc::new(Mutex::new(receiver));
        let write = Arc::new(write);
        for _ in 0..writers.max(1) {
            let (receiver, write) = (receiver.clone(), write.clone());
            tokio::spawn(async move {
                loop {
                    let mut batch = Vec::new();
                    // One writer waits on the queue at a time; the others are writing.
                    if receiver.lock().await.recv_many(&mut batch, max_batch).await == 0 {
                        return;
                    }
                    let (items, replies): (Vec<T>, Vec<_>) = batch.into_iter().unzip();
                    for (reply, result) in replies.into_iter().zip(write(items).await) {
                        let _ = reply.send(result);
                    }
                }
            });
        }
        Batcher { queue }
    }

    /// Hands `item` in and waits for its result; `None` if the writers have stopped (the
    /// runtime is shutting down) or dropped it.
    pub async fn submit(&self, item: T) -> Option<R> {
        let (reply, result) = oneshot::channel();
        self.queue.send((item, reply)).await.ok()?;
        result.await.ok()
    }
}
