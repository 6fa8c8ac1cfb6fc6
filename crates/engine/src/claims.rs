//! The loop the outbox sender, the webhook dispatcher and the scheduler
//! share. It holds every free permit before claiming (a claimed item is
//! leased to this replica, so each must start now), claims that many, and
//! runs each with its permit. When nothing is due it waits until the next
//! item falls due (at most `poll`), a wake, or stop.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ombud_store::StoreResult;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub(crate) struct ClaimLoop {
    /// Names the worker in metrics and logs (`outbox`, `webhooks`, `scheduler`).
    pub component: &'static str,
    /// What it claims, for the log (`outbox items`).
    pub what: &'static str,
    pub permits: Arc<Semaphore>,
    pub wake: Option<Arc<Notify>>,
    pub poll: Duration,
}

impl ClaimLoop {
    /// Runs until `stop` fires. `claim(n)` leases up to `n` items;
    /// `next_due()` says how long until the next one falls due (None: not
    /// known); `handle(item)` does one, tracked by `tracker`.
    pub async fn run<T, C, CF, N, NF, H, HF>(
        &self,
        stop: CancellationToken,
        tracker: TaskTracker,
        mut claim: C,
        mut next_due: N,
        handle: H,
    ) where
        T: Send + 'static,
        C: FnMut(u32) -> CF,
        CF: Future<Output = StoreResult<Vec<T>>>,
        N: FnMut() -> NF,
        NF: Future<Output = Option<Duration>>,
        H: Fn(T) -> HF,
        HF: Future<Output = ()> + Send + 'static,
    {
        loop {
            if stop.is_cancelled() {
                return;
            }
            let free = self.permits.available_permits();
            if free == 0 {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    p = self.permits.clone().acquire_owned() => drop(p),
                }
                continue;
            }
            // Hold the permits before claiming: runs that deliver their own
            // sends take permits too, and a claim without one would sit out
            // its lease.
            let Ok(mut reserved) = self.permits.clone().try_acquire_many_owned(free as u32) else {
                continue;
            };
            let claimed = match claim(free as u32).await {
                Ok(items) => items,
                Err(e) => {
                    drop(reserved);
                    crate::metrics::error(self.component, "database");
                    tracing::error!(error = %e, "could not claim {}", self.what);
                    self.pause(&stop, self.poll).await;
                    continue;
                }
            };
            if claimed.is_empty() {
                drop(reserved);
                let wait = next_due().await.unwrap_or(self.poll);
                self.pause(&stop, wait.min(self.poll)).await;
                continue;
            }
            // The store claims at most `free` (its contract), one permit each.
            let permits = std::iter::from_fn(|| reserved.split(1));
            for (item, permit) in claimed.into_iter().zip(permits) {
                let work = handle(item);
                tracker.spawn(async move {
                    work.await;
                    drop(permit);
                });
            }
        }
    }

    async fn pause(&self, stop: &CancellationToken, wait: Duration) {
        let woken = async {
            match &self.wake {
                Some(wake) => wake.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = woken => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
