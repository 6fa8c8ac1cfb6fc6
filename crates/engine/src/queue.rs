//! The conversation queue: which conversation runs next.
//!
//! - one run per conversation at a time: a conversation that gets new messages
//!   while it runs is marked `pending` and queued again when the run ends, so the
//!   next run takes everything that arrived as one batch;
//! - at most `cap` runs at once overall;
//! - waiting conversations start in arrival order (FIFO), and a conversation that
//!   just ran goes to the back, so a chatty one cannot starve the rest.
//!
//! Nothing here is durable: the database is. A conversation is due while it has
//! messages past its run cursor, and on start every due conversation is enqueued.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use ombud_store::ConversationKey;
use tokio::sync::Notify;

#[derive(Default)]
struct Entry {
    running: bool,
    queued: bool,
    pending: bool,
}

#[derive(Default)]
struct State {
    waiting: VecDeque<ConversationKey>,
    entries: HashMap<ConversationKey, Entry>,
    active: usize,
}

pub struct ConversationQueue {
    state: Mutex<State>,
    wake: Notify,
    cap: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueStats {
    pub active: usize,
    pub waiting: usize,
}

impl ConversationQueue {
    pub fn new(cap: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            cap: cap.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state half-changed in a
        // way that matters more than stopping; recover the guard.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Says the conversation has new work.
    pub fn enqueue(&self, key: ConversationKey) {
        let mut s = self.lock();
        let entry = s.entries.entry(key.clone()).or_default();
        if entry.running {
            entry.pending = true;
            return;
        }
        if entry.queued {
            return;
        }
        entry.queued = true;
        s.waiting.push_back(key);
        drop(s);
        self.wake.notify_one();
    }

    /// The next conversation to run, if one waits and a slot is free. The caller
    /// must call [`finish`](Self::finish) when its run ends.
    pub fn take_next(&self) -> Option<ConversationKey> {
        let mut s = self.lock();
        if s.active >= self.cap {
            return None;
        }
        let key = s.waiting.pop_front()?;
        if let Some(e) = s.entries.get_mut(&key) {
            e.queued = false;
            e.running = true;
        }
        s.active += 1;
        Some(key)
    }

    /// Ends a run; a conversation that got messages meanwhile queues again.
    pub fn finish(&self, key: &ConversationKey) {
        let mut s = self.lock();
        s.active = s.active.saturating_sub(1);
        let again = match s.entries.get_mut(key) {
            Some(e) if e.pending => {
                e.pending = false;
                e.running = false;
                e.queued = true;
                true
            }
            Some(_) => {
                s.entries.remove(key);
                false
            }
            None => false,
        };
        if again {
            s.waiting.push_back(key.clone());
        }
        drop(s);
        self.wake.notify_one();
    }

    /// Resolves when something may have changed (an enqueue or a finished run).
    pub async fn changed(&self) {
        self.wake.notified().await;
    }

    pub fn stats(&self) -> QueueStats {
        let s = self.lock();
        QueueStats {
            active: s.active,
            waiting: s.waiting.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ombud_core::{ConversationId, TenantId};

    fn key() -> ConversationKey {
        ConversationKey {
            tenant_id: TenantId::new(),
            conversation_id: ConversationId::new(),
        }
    }

    #[test]
    fn one_run_per_conversation_and_pending_requeues_at_the_back() {
        let q = ConversationQueue::new(4);
        let (a, b) = (key(), key());
        q.enqueue(a.clone());
        q.enqueue(a.clone());
        q.enqueue(b.clone());
        assert_eq!(q.take_next(), Some(a.clone()));
        q.enqueue(a.clone()); // arrives during a's run
        assert_eq!(q.take_next(), Some(b.clone()));
        assert_eq!(q.take_next(), None, "a is running; it must not run twice");
        q.finish(&a);
        assert_eq!(
            q.stats(),
            QueueStats {
                active: 1,
                waiting: 1
            }
        );
        assert_eq!(q.take_next(), Some(a.clone()));
        q.finish(&a);
        q.finish(&b);
        assert_eq!(q.take_next(), None);
        assert_eq!(
            q.stats(),
            QueueStats {
                active: 0,
                waiting: 0
            }
        );
    }

    #[test]
    fn the_cap_holds_and_order_is_fifo() {
        let q = ConversationQueue::new(2);
        let keys: Vec<_> = (0..5).map(|_| key()).collect();
        for k in &keys {
            q.enqueue(k.clone());
        }
        assert_eq!(q.take_next().as_ref(), Some(&keys[0]));
        assert_eq!(q.take_next().as_ref(), Some(&keys[1]));
        assert_eq!(q.take_next(), None);
        q.finish(&keys[1]);
        assert_eq!(q.take_next().as_ref(), Some(&keys[2]));
        q.finish(&keys[0]);
        assert_eq!(q.take_next().as_ref(), Some(&keys[3]));
    }
}
