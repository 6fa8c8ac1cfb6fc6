//! Conversation leases, kept in memory. One server owns a SQLite file (the data
//! dir's serve lock), so the only holders that can compete are runs inside this
//! process, and a lease cannot outlive the process that took it. Keeping them
//! here spares every run two trips through the single writer.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use crate::ConversationKey;

#[derive(Default)]
pub struct Leases {
    held: Mutex<HashMap<ConversationKey, (String, DateTime<Utc>)>>,
}

pub struct LeasesGuard<'a>(MutexGuard<'a, HashMap<ConversationKey, (String, DateTime<Utc>)>>);

impl Leases {
    pub fn lock(&self) -> LeasesGuard<'_> {
        LeasesGuard(self.held.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl LeasesGuard<'_> {
    /// Whether someone holds the conversation at `now`.
    pub fn held(&self, key: &ConversationKey, now: DateTime<Utc>) -> bool {
        self.0.get(key).is_some_and(|(_, until)| *until >= now)
    }

    /// Takes or renews the lease; false if another owner holds it.
    pub fn take(
        &mut self,
        key: &ConversationKey,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> bool {
        if let Some((holder, held_until)) = self.0.get(key) {
            if holder != owner && *held_until >= now {
                return false;
            }
        }
        self.0.insert(key.clone(), (owner.to_owned(), until));
        true
    }

    pub fn release(&mut self, key: &ConversationKey, owner: &str) {
        if self.0.get(key).is_some_and(|(holder, _)| holder == owner) {
            self.0.remove(key);
        }
    }
}
