//! Live updates for the dashboard: one Server-Sent Events stream per open
//! page (`GET /app/live`), which says *what* changed (a conversation, a
//! complaint, someone typing, the reader's unread count), never the content:
//! the page fetches itself again and swaps the parts that changed, so every
//! view is still rendered, and authorized, in one place.
//!
//! One reader per tenant and process follows the tenant's events (the
//! `events` table every change writes) and fans them out to that tenant's
//! streams, so 200 open pages cost one query every quarter second, not 200.
//! It reads a short stretch back each time and skips what it has sent, so
//! an event whose transaction committed a little after a later one is
//! still sent. Events are the same on every replica; who is typing, and
//! that a member read a conversation (their other pages' unread count), are
//! known only on the replica that member's browser talks to.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use ombud_core::*;
use ombud_store::{LiveEvent, Store};
use serde_json::json;
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::page::PageError;
use super::session::Current;
use crate::AppState;
use reader::Reader;

mod reader;

/// How often a tenant's reader looks for new events.
const POLL: Duration = Duration::from_millis(250);
/// Updates a tenant's streams may fall behind by before they resync.
const BACKLOG: usize = 4096;
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// One stream's life; the browser reconnects and the page catches up.
const LIFETIME: Duration = Duration::from_secs(10 * 60);
/// How often a stream checks that its session still stands (signed out,
/// ended, or the member removed: the stream ends, and the browser's
/// reconnection is refused).
const SESSION_CHECK: Duration = Duration::from_secs(10);
/// Least time between two unread counts sent to one stream.
const UNREAD_EVERY: Duration = Duration::from_secs(1);
/// How long "X is replying" lasts after the last keystroke reported.
pub const TYPING_SECS: u64 = 6;

/// What changed, as the tenant's streams hear it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Update {
    /// A conversation changed; `people`: one in people's hands, or handed
    /// over or back (what may change someone's unread count).
    Conversation {
        id: String,
        people: bool,
    },
    Complaint(String),
    /// A member read a conversation: their unread count may have fallen.
    Read(UserId),
    /// A member is writing into a conversation.
    Typing {
        conversation: String,
        user: UserId,
        name: String,
    },
}

impl Update {
    /// The updates an event makes (a message event: its conversation).
    fn of(e: LiveEvent) -> impl Iterator<Item = Update> {
        let people = e.with_people;
        e.conversation
            .map(|id| Update::Conversation { id, people })
            .into_iter()
            .chain(e.complaint.map(Update::Complaint))
    }
}

/// The tenants' readers, started by the first stream and stopped after
/// the last one closes.
pub struct LiveHub {
    store: Arc<dyn Store>,
    feeds: Mutex<HashMap<TenantId, Weak<Feed>>>,
}

struct Feed {
    tx: broadcast::Sender<Update>,
}

/// A stream's hold on its tenant's feed.
pub struct Subscription {
    _feed: Arc<Feed>,
    pub updates: broadcast::Receiver<Update>,
}

impl LiveHub {
    pub fn new(store: Arc<dyn Store>) -> Arc<Self> {
        Arc::new(Self {
            store,
            feeds: Mutex::new(HashMap::new()),
        })
    }

    pub fn subscribe(&self, tenant: &TenantId) -> Subscription {
        let mut feeds = self.feeds.lock().unwrap_or_else(|e| e.into_inner());
        feeds.retain(|_, f| f.strong_count() > 0);
        if let Some(feed) = feeds.get(tenant).and_then(Weak::upgrade) {
            let updates = feed.tx.subscribe();
            return Subscription {
                _feed: feed,
                updates,
            };
        }
        let (tx, updates) = broadcast::channel(BACKLOG);
        let feed = Arc::new(Feed { tx });
        feeds.insert(tenant.clone(), Arc::downgrade(&feed));
        tokio::spawn(follow(
            self.store.clone(),
            tenant.clone(),
            Arc::downgrade(&feed),
        ));
        Subscription {
            _feed: feed,
            updates,
        }
    }

    /// Tells the tenant's open pages here what a member did that leaves no
    /// event: read a conversation, or typed.
    pub fn tell(&self, tenant: &TenantId, update: Update) {
        let feeds = self.feeds.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(feed) = feeds.get(tenant).and_then(Weak::upgrade) {
            let _ = feed.tx.send(update);
        }
    }
}

/// Follows one tenant's events while any stream listens.
async fn follow(store: Arc<dyn Store>, tenant: TenantId, feed: Weak<Feed>) {
    let mut reader = Reader::default();
    let read = |at: DateTime<Utc>, id: String| {
        let (store, tenant) = (store.clone(), tenant.clone());
        async move { store.live_events(&tenant, (at, &id)).await }
    };
    // What happened before the first stream opened is not news.
    match store.latest_event_at(&tenant).await {
        Ok(Some(at)) => {
            reader.start_at(at);
            let _ = reader.look(read).await;
        }
        Ok(None) => {}
        Err(error) => tracing::warn!(%tenant, %error, "live updates could not read events"),
    }
    loop {
        tokio::time::sleep(POLL).await;
        let Some(feed) = feed.upgrade() else { return };
        match reader.look(read).await {
            Ok(events) => {
                // A conversation's message, its reply and the reply's
                // delivery in one look are one update.
                let mut sent = std::collections::HashSet::new();
                for update in events.into_iter().flat_map(Update::of) {
                    if sent.insert(update.clone()) {
                        let _ = feed.tx.send(update);
                    }
                }
            }
            Err(error) => tracing::warn!(%tenant, %error, "live updates could not read events"),
        }
    }
}

/// `GET /app/live`: the page's event stream. Field workers see only their
/// own complaints, on a page without live parts, so they get none.
pub async fn stream(
    State(state): State<AppState>,
    current: Current,
    headers: axum::http::HeaderMap,
) -> Result<Response, PageError> {
    current.require(Role::Viewer)?;
    let session_hash = super::session::request_token_hash(&headers)
        .ok_or_else(|| PageError::new(StatusCode::UNAUTHORIZED, "sign in first"))?;
    let sub = state.live.subscribe(&current.tenant.id);
    let session = Session {
        updates: sub.updates,
        _feed: sub._feed,
        store: state.store.clone(),
        tenant: current.tenant.id.clone(),
        user: current.user.id.clone(),
        session_hash,
        checked_at: Instant::now(),
        closing: state.closing.clone(),
        ready: VecDeque::from([Bytes::from_static(b"retry: 3000\n\n")]),
        unread: None,
        unread_due: Some(Instant::now()),
        unread_sent_at: None,
        started: Instant::now(),
        quiet_since: Instant::now(),
    };
    let body = futures_util::stream::unfold(session, |mut s| async move {
        let chunk = s.next().await?;
        Some((Ok::<_, Infallible>(chunk), s))
    });
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::HeaderName::from_static("x-accel-buffering"),
                HeaderValue::from_static("no"),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

/// One open page's stream.
struct Session {
    updates: broadcast::Receiver<Update>,
    _feed: Arc<Feed>,
    store: Arc<dyn Store>,
    tenant: TenantId,
    user: UserId,
    session_hash: String,
    checked_at: Instant,
    closing: tokio_util::sync::CancellationToken,
    ready: VecDeque<Bytes>,
    /// The unread count last sent, and when the next is due.
    unread: Option<u64>,
    unread_due: Option<Instant>,
    unread_sent_at: Option<Instant>,
    started: Instant,
    quiet_since: Instant,
}

fn event(name: &str, data: serde_json::Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

impl Session {
    /// The next chunk to write; None ends the stream (the browser reconnects).
    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if !self.ready.is_empty() {
                // What is ready goes out in one write.
                self.quiet_since = Instant::now();
                let chunk: Vec<u8> = self.ready.drain(..).flat_map(|b| b.to_vec()).collect();
                return Some(Bytes::from(chunk));
            }
            if self.started.elapsed() > LIFETIME || self.closing.is_cancelled() {
                return None;
            }
            if self.checked_at.elapsed() >= SESSION_CHECK {
                if !self.session_stands().await {
                    return None;
                }
                self.checked_at = Instant::now();
            }
            if self.unread_due.is_some_and(|due| due <= Instant::now()) {
                self.send_unread().await;
                continue;
            }
            let far = Instant::now() + LIFETIME;
            tokio::select! {
                got = self.updates.recv() => {
                    if !self.take(got) {
                        return None;
                    }
                    // And whatever else has arrived, for the same write.
                    loop {
                        match self.updates.try_recv() {
                            Ok(update) => self.hear(update),
                            Err(broadcast::error::TryRecvError::Lagged(_)) => self.resync(),
                            Err(broadcast::error::TryRecvError::Empty) => break,
                            Err(broadcast::error::TryRecvError::Closed) => return None,
                        }
                    }
                }
                () = tokio::time::sleep_until(self.unread_due.unwrap_or(far)) => {}
                () = tokio::time::sleep_until(self.quiet_since + KEEP_ALIVE) => {
                    self.ready.push_back(Bytes::from_static(b": keep-alive\n\n"));
                }
                () = tokio::time::sleep_until(self.checked_at + SESSION_CHECK) => {}
                () = self.closing.cancelled() => return None,
            }
        }
    }

    /// The session is still signed in, in this tenant, with a role that
    /// may see the stream. A store error ends the stream too (the browser
    /// reconnects and is checked afresh).
    async fn session_stands(&self) -> bool {
        match self.store.session(&self.session_hash).await {
            Ok(Some(s)) => {
                s.session.tenant_id == self.tenant
                    && s.session.user_id == self.user
                    && s.role.is_some_and(|r| r >= Role::Viewer)
            }
            Ok(None) => false,
            Err(error) => {
                tracing::warn!(tenant = %self.tenant, %error, "live updates could not check a session");
                false
            }
        }
    }

    /// Takes what `recv` gave; false when the feed has closed.
    fn take(&mut self, got: Result<Update, broadcast::error::RecvError>) -> bool {
        match got {
            Ok(update) => self.hear(update),
            Err(broadcast::error::RecvError::Lagged(_)) => self.resync(),
            Err(broadcast::error::RecvError::Closed) => return false,
        }
        true
    }

    /// Fallen behind: the page fetches all of itself again.
    fn resync(&mut self) {
        self.ready.push_back(event("resync", json!({})));
        self.count_unread_soon();
    }

    fn hear(&mut self, update: Update) {
        match update {
            Update::Conversation { id, people } => {
                self.ready
                    .push_back(event("conversation", json!({ "id": id })));
                // The bot's conversations count for nobody's unread.
                if people {
                    self.count_unread_soon();
                }
            }
            Update::Complaint(id) => {
                self.ready
                    .push_back(event("complaint", json!({ "id": id })));
            }
            Update::Read(user) if user == self.user => self.count_unread_soon(),
            Update::Read(_) => {}
            Update::Typing {
                conversation,
                user,
                name,
            } if user != self.user => {
                self.ready.push_back(event(
                    "typing",
                    json!({ "conversation": conversation, "name": name, "secs": TYPING_SECS }),
                ));
            }
            Update::Typing { .. } => {}
        }
    }

    /// Counts again at most once a second, however many messages arrive.
    fn count_unread_soon(&mut self) {
        if self.unread_due.is_none() {
            let earliest = self
                .unread_sent_at
                .map_or_else(Instant::now, |at| at + UNREAD_EVERY);
            self.unread_due = Some(earliest.max(Instant::now()));
        }
    }

    async fn send_unread(&mut self) {
        self.unread_due = None;
        self.unread_sent_at = Some(Instant::now());
        match self.store.unread_count(&self.tenant, &self.user).await {
            Ok(n) if Some(n) != self.unread => {
                self.unread = Some(n);
                self.ready.push_back(event("unread", json!({ "count": n })));
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(tenant = %self.tenant, %error, "live updates could not count unread conversations");
            }
        }
    }
}

/// `POST /app/inbox/{id}/typing`: the member is writing a reply (the page
/// says so every few seconds while they type).
pub async fn typing(
    State(state): State<AppState>,
    current: Current,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    current.require(Role::Staff)?;
    let id: ConversationId = id
        .parse()
        .map_err(|_| PageError::not_found("conversation"))?;
    if state
        .store
        .conversation(&current.tenant.id, &id)
        .await?
        .is_none()
    {
        return Err(PageError::not_found("conversation"));
    }
    let name = super::complaints::display_name(&current.user);
    state.live.tell(
        &current.tenant.id,
        Update::Typing {
            conversation: id.to_string(),
            user: current.user.id.clone(),
            name,
        },
    );
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::reader::Reader;
    use super::*;
    use ombud_store::LIVE_PAGE;

    fn ev(id: &str, at: DateTime<Utc>, conversation: Option<&str>) -> LiveEvent {
        LiveEvent {
            id: id.into(),
            at,
            kind: "message.received".into(),
            conversation: conversation.map(str::to_owned),
            complaint: None,
            message: None,
            with_people: false,
        }
    }

    /// The events table as the store pages it: after (time, id), in order.
    fn page_of(
        events: &[LiveEvent],
        at: DateTime<Utc>,
        id: &str,
    ) -> Result<Vec<LiveEvent>, ombud_store::StoreError> {
        let mut sorted = events.to_vec();
        sorted.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        Ok(sorted
            .into_iter()
            .filter(|e| e.at > at || (e.at == at && e.id.as_str() > id))
            .take(LIVE_PAGE as usize)
            .collect())
    }

    async fn look(reader: &mut Reader, events: &[LiveEvent]) -> Vec<String> {
        reader
            .look(|at, id| std::future::ready(page_of(events, at, &id)))
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect()
    }

    #[tokio::test]
    async fn every_event_is_read_once_even_many_at_one_instant_or_committed_late() {
        let t = Utc::now();
        let mut events: Vec<LiveEvent> = (0..1200)
            .map(|i| ev(&format!("e{i:05}"), t, Some("c")))
            .collect();
        let mut reader = Reader::default();
        let first = look(&mut reader, &events).await;
        assert_eq!(first.len(), 1200, "three pages of one instant");
        assert!(look(&mut reader, &events).await.is_empty(), "nothing twice");
        // Later ones; then one that committed late, stamped a second before.
        events.push(ev("f1", t + chrono::TimeDelta::seconds(3), None));
        assert_eq!(look(&mut reader, &events).await, vec!["f1".to_owned()]);
        events.push(ev("late", t + chrono::TimeDelta::seconds(2), None));
        events.push(ev("f2", t + chrono::TimeDelta::seconds(4), None));
        let got = look(&mut reader, &events).await;
        assert_eq!(got, vec!["f2".to_owned(), "late".to_owned()]);
        assert!(look(&mut reader, &events).await.is_empty());
    }

    #[test]
    fn an_event_makes_an_update_for_what_it_touched() {
        let t = Utc::now();
        let updates: Vec<Update> = Update::of(ev("e1", t, Some("conv_1"))).collect();
        assert_eq!(
            updates,
            vec![Update::Conversation {
                id: "conv_1".into(),
                people: false
            }]
        );
        assert_eq!(Update::of(ev("e2", t, None)).count(), 0);
    }
}
