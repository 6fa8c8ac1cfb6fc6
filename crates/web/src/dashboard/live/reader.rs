//! A tenant's reader of events: a keyset cursor over the `events` table,
//! and a second read of the stretch behind it, so that an event whose
//! transaction committed after a later one is still sent once.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ombud_store::{LiveEvent, LIVE_PAGE};

/// How far back each look starts before the latest event seen.
const LOOKBACK: chrono::TimeDelta = chrono::TimeDelta::seconds(2);
/// Pages of events one look reads at most (the rest wait for the next),
/// and pages of the stretch behind the cursor it reads again.
const PAGES_PER_LOOK: usize = 20;
const LOOKBACK_PAGES: usize = 2;

/// Where a tenant's reader is: the last event read, and the events seen in
/// the stretch before it, which it reads again.
#[derive(Default)]
pub(super) struct Reader {
    cursor: Option<(DateTime<Utc>, String)>,
    seen: HashMap<String, DateTime<Utc>>,
}

impl Reader {
    /// Starts a little before `at` (the tenant's latest event when the
    /// first page opened).
    pub(super) fn start_at(&mut self, at: DateTime<Utc>) {
        self.cursor = Some((at - LOOKBACK, String::new()));
    }

    /// The events not seen before: what follows the cursor, oldest first,
    /// then what committed late in the stretch behind it.
    pub(super) async fn look<F, Fut>(
        &mut self,
        mut read: F,
    ) -> Result<Vec<LiveEvent>, ombud_store::StoreError>
    where
        F: FnMut(DateTime<Utc>, String) -> Fut,
        Fut: std::future::Future<Output = Result<Vec<LiveEvent>, ombud_store::StoreError>>,
    {
        let mut fresh = Vec::new();
        let mut after = self
            .cursor
            .clone()
            .unwrap_or((DateTime::<Utc>::MIN_UTC, String::new()));
        for _ in 0..PAGES_PER_LOOK {
            let page = read(after.0, after.1.clone()).await?;
            let full = page.len() >= LIVE_PAGE as usize;
            if let Some(last) = page.last() {
                after = (last.at, last.id.clone());
            }
            self.keep_unseen(page, &mut fresh);
            if !full {
                break;
            }
        }
        if after.1.is_empty() {
            return Ok(fresh);
        }
        // A transaction that took its time commits behind the cursor.
        let mut back = (after.0 - LOOKBACK, String::new());
        for _ in 0..LOOKBACK_PAGES {
            let page = read(back.0, back.1.clone()).await?;
            let full = page.len() >= LIVE_PAGE as usize;
            let page: Vec<LiveEvent> = page.into_iter().filter(|e| e.at <= after.0).collect();
            let reached = page.len() < LIVE_PAGE as usize;
            if let Some(last) = page.last() {
                back = (last.at, last.id.clone());
            }
            self.keep_unseen(page, &mut fresh);
            if !full || reached {
                break;
            }
        }
        let keep = after.0 - LOOKBACK - LOOKBACK;
        self.seen.retain(|_, at| *at >= keep);
        self.cursor = Some(after);
        Ok(fresh)
    }

    fn keep_unseen(&mut self, page: Vec<LiveEvent>, fresh: &mut Vec<LiveEvent>) {
        for e in page {
            if self.seen.insert(e.id.clone(), e.at).is_none() {
                fresh.push(e);
            }
        }
    }
}
