//! How the engine stands: its workers alive, its queue, the channels it
//! sends on, and what the sampler last found, for readiness, metrics and
//! paging.

use std::sync::atomic::Ordering;

use ::metrics::{counter, gauge};

use super::Engine;
use crate::metrics::{self, ChannelSends, Sampled};

#[derive(Debug, Clone, serde::Serialize)]
pub struct EngineHealth {
    pub queue_dispatcher: bool,
    pub outbox_sender: bool,
    pub webhook_dispatcher: bool,
    pub runs_active: usize,
    pub conversations_waiting: usize,
    /// Each channel this replica has sent on: its last success and the
    /// failures since. A failing channel does not make the replica unready
    /// (another replica would fail the same way); it is for metrics and paging.
    #[serde(skip)]
    pub channels: Vec<ChannelSends>,
}

impl Engine {
    pub fn health(&self) -> EngineHealth {
        let stats = self.queue.stats();
        EngineHealth {
            queue_dispatcher: self.dispatcher_alive.load(Ordering::SeqCst),
            outbox_sender: self.sender_alive.load(Ordering::SeqCst),
            webhook_dispatcher: self.webhooks_alive.load(Ordering::SeqCst),
            runs_active: stats.active,
            conversations_waiting: stats.waiting,
            channels: self.channel_health.snapshot(),
        }
    }

    /// Scheduled backups tell the engine when one was last verified, for
    /// paging (a backup is the binary's business, paging the engine's).
    pub fn note_backup_verified(&self, at: chrono::DateTime<chrono::Utc>) {
        self.sampled
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .backup_verified_at = Some(at);
    }

    /// What the sampler last found in the database (backlog, integrity).
    pub fn sampled(&self) -> Sampled {
        self.sampled
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Process workers over every runtime.
    pub(super) fn worker_counts(&self) -> ombud_agents::WorkerCounts {
        let mut all = ombud_agents::WorkerCounts::default();
        for (_, runtime) in self.runner.runtimes.all() {
            let w = runtime.workers();
            all.warm += w.warm;
            all.busy += w.busy;
            all.crashed += w.crashed;
        }
        all
    }

    /// Process workers as gauges, and their crashes as a counter.
    pub(super) fn set_worker_gauges(&self) {
        let all = self.worker_counts();
        gauge!(metrics::WORKERS_LIVE, "state" => "warm").set(all.warm as f64);
        gauge!(metrics::WORKERS_LIVE, "state" => "busy").set(all.busy as f64);
        counter!(metrics::WORKER_CRASHES).absolute(all.crashed);
    }
}
