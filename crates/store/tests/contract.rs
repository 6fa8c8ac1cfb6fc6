//! The store contract: behaviour every backend must show. Written against
//! `&dyn Store` so the PostgreSQL backend runs the same checks.

#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use ombud_core::*;
use ombud_store::*;

/// Runs each check on SQLite and on PostgreSQL (a fresh schema per test on the
/// server named by `OMBUD_TEST_DATABASE_URL`, which `scripts/test` starts).
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = ombud_store::sqlite::SqliteStore::open(&dir.path().join("test.db")).unwrap();
                    super::$name(std::sync::Arc::new(store)).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let store = ombud_store::postgres::PgStore::connect(&super::pg_url().await, 8).await.unwrap();
                    super::$name(std::sync::Arc::new(store)).await;
                }
            )+
        }
    };
}

on_both_backends!(
    complaint_numbers_are_gap_free_per_local_day_and_unique_under_concurrency,
    a_failed_creation_gives_its_number_back,
    creation_is_idempotent_on_its_origin_key,
    ingest_dedupes_and_numbers_messages_per_conversation,
    a_run_commits_once_and_its_replies_enter_the_outbox_in_order,
    reads_are_scoped_to_the_tenant,
    a_conversation_lease_has_one_holder_until_it_expires,
    a_run_may_claim_its_sends_only_when_none_is_ahead_of_them,
);

async fn pg_url() -> String {
    let base = std::env::var("OMBUD_TEST_DATABASE_URL").expect(
        "OMBUD_TEST_DATABASE_URL is not set: scripts/test starts a throwaway PostgreSQL and sets it",
    );
    ombud_store::postgres::scratch_schema_url(&base)
        .await
        .unwrap()
}

async fn tenant(store: &dyn Store, slug: &str, tz: &str) -> Tenant {
    store
        .create_tenant(NewTenant {
            slug: TenantSlug::parse(slug).unwrap(),
            name: slug.into(),
            complaint_prefix: ComplaintPrefix::parse(&slug.to_uppercase()).unwrap(),
            default_language: Language::en(),
            timezone: TimeZoneName::parse(tz).unwrap(),
        })
        .await
        .unwrap()
}

async fn channel(store: &dyn Store, t: &Tenant, phone: &str) -> Channel {
    store
        .create_channel(
            &t.id,
            NewChannel {
                kind: ChannelKind::Whatsapp,
                name: "wa".into(),
                whatsapp: WhatsAppConfig {
                    phone_number_id: phone.into(),
                    app_secret: Secret::new("s"),
                    verify_token: Secret::new("v"),
                    access_token: Secret::new("a"),
                    graph_url: "http://127.0.0.1:9".into(),
                    api_version: "v23.0".into(),
                },
                deployed_version: None,
            },
        )
        .await
        .unwrap()
}

fn text(from: &str, wamid: &str, body: &str) -> InboundMessage {
    InboundMessage {
        from: from.into(),
        profile_name: None,
        provider_id: wamid.into(),
        kind: MessageKind::Text,
        body: body.into(),
        sent_at: None,
    }
}

fn new_complaint(key: Option<&str>, at: chrono::DateTime<Utc>) -> NewComplaint {
    NewComplaint {
        origin_key: key.map(str::to_owned),
        channel_id: None,
        contact_id: None,
        conversation_id: None,
        category_id: None,
        description: "pothole".into(),
        location: Some("MG road".into()),
        language: Language::en(),
        priority: Priority::Normal,
        source: Source::Api,
        actor: "system".into(),
        at,
    }
}

async fn complaint_numbers_are_gap_free_per_local_day_and_unique_under_concurrency(
    store: Arc<dyn Store>,
) {
    let t = tenant(store.as_ref(), "pune", "Asia/Kolkata").await;
    // 20:00 UTC on the 22nd is already the 23rd in India.
    let evening = Utc.with_ymd_and_hms(2026, 11, 22, 20, 0, 0).unwrap();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (store, t) = (store.clone(), t.clone());
            tokio::spawn(async move {
                store
                    .create_complaint(&t, new_complaint(None, evening))
                    .await
                    .unwrap()
                    .0
            })
        })
        .collect();
    let mut numbers = Vec::new();
    for task in tasks {
        numbers.push(task.await.unwrap().number.to_string());
    }
    numbers.sort();
    let expected: Vec<String> = (1..=100).map(|n| format!("PUNE-20261123-{n:04}")).collect();
    assert_eq!(numbers, expected);

    // The next local day starts again at 1; an earlier day has its own count.
    let next_day = Utc.with_ymd_and_hms(2026, 11, 23, 19, 0, 0).unwrap();
    let c = store
        .create_complaint(&t, new_complaint(None, next_day))
        .await
        .unwrap()
        .0;
    assert_eq!(c.number.as_str(), "PUNE-20261124-0001");
    let morning = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap();
    let c = store
        .create_complaint(&t, new_complaint(None, morning))
        .await
        .unwrap()
        .0;
    assert_eq!(c.number.as_str(), "PUNE-20261122-0001");
}

async fn a_failed_creation_gives_its_number_back(store: Arc<dyn Store>) {
    let t = tenant(store.as_ref(), "pune", "UTC").await;
    let at = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
    let mut bad = new_complaint(None, at);
    bad.category_id = Some(CategoryId::new()); // not this tenant's
    let err = store.create_complaint(&t, bad).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let c = store
        .create_complaint(&t, new_complaint(None, at))
        .await
        .unwrap()
        .0;
    assert_eq!(
        c.number.as_str(),
        "PUNE-20261123-0001",
        "no gap after the failure"
    );
}

async fn creation_is_idempotent_on_its_origin_key(store: Arc<dyn Store>) {
    let t = tenant(store.as_ref(), "pune", "UTC").await;
    let at = Utc::now();
    let (a, first) = store
        .create_complaint(&t, new_complaint(Some("k1"), at))
        .await
        .unwrap();
    let (b, again) = store
        .create_complaint(&t, new_complaint(Some("k1"), at))
        .await
        .unwrap();
    assert!(first && !again);
    assert_eq!(a.id, b.id);
    // The same key in another tenant is another complaint.
    let other = tenant(store.as_ref(), "nagpur", "UTC").await;
    let (c, created) = store
        .create_complaint(&other, new_complaint(Some("k1"), at))
        .await
        .unwrap();
    assert!(created);
    assert_ne!(c.id, a.id);
    assert_eq!(store.complaints(&t.id, 10).await.unwrap().len(), 1);
}

async fn ingest_dedupes_and_numbers_messages_per_conversation(store: Arc<dyn Store>) {
    let t = tenant(store.as_ref(), "pune", "UTC").await;
    let ch = channel(store.as_ref(), &t, "111").await;
    // Concurrent deliveries, some of them repeats, all grouped by the writer.
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let (store, ch) = (store.clone(), ch.clone());
            tokio::spawn(async move {
                let batch = InboundBatch {
                    messages: vec![text("9198", &format!("wamid.{}", i % 30), &format!("m{i}"))],
                    statuses: vec![],
                };
                store.ingest(&ch, batch, Utc::now()).await.unwrap()
            })
        })
        .collect();
    let mut stored = 0;
    let mut duplicates = 0;
    for task in tasks {
        let o = task.await.unwrap();
        stored += o.stored.len();
        duplicates += o.duplicates;
    }
    assert_eq!((stored, duplicates), (30, 30));
    let conversations = store.conversations(&t.id).await.unwrap();
    assert_eq!(conversations.len(), 1);
    let c = &conversations[0];
    assert_eq!((c.inbound_seq, c.run_cursor), (30, 0));
    let seqs: HashSet<i64> = store
        .messages(&t.id, &c.id)
        .await
        .unwrap()
        .iter()
        .map(|m| m.seq)
        .collect();
    assert_eq!(seqs, (1..=30).collect());
    let due = store.due_conversations(Utc::now()).await.unwrap();
    assert_eq!(due.len(), 1);
}

async fn a_run_commits_once_and_its_replies_enter_the_outbox_in_order(store: Arc<dyn Store>) {
    let t = tenant(store.as_ref(), "pune", "UTC").await;
    let ch = channel(store.as_ref(), &t, "111").await;
    let batch = InboundBatch {
        messages: vec![
            text("9198", "wamid.1", "hi"),
            text("9198", "wamid.2", "there"),
        ],
        statuses: vec![],
    };
    let key = store
        .ingest(&ch, batch, Utc::now())
        .await
        .unwrap()
        .due
        .remove(0);
    let ctx = store.load_run(&key).await.unwrap().unwrap();
    assert_eq!(ctx.pending.len(), 2);
    let now = Utc::now();
    let commit = RunCommit {
        tenant_id: t.id.clone(),
        conversation_id: key.conversation_id.clone(),
        expected_cursor: 0,
        new_cursor: 2,
        agent_state: serde_json::json!({"step": "idle"}),
        state: ConversationState::Bot,
        contact_language: Some(Language::parse("mr").unwrap()),
        replies: vec![
            NewReply {
                body: "one".into(),
                in_reply_to: Some(ctx.pending[0].id.clone()),
            },
            NewReply {
                body: "two".into(),
                in_reply_to: Some(ctx.pending[1].id.clone()),
            },
        ],
        execution: NewExecution {
            id: ExecutionId::new(),
            agent_version_id: None,
            from_seq: 1,
            to_seq: 2,
            status: ExecutionStatus::Ok,
            output: serde_json::json!({}),
            error: None,
            attempts: 1,
            started_at: now,
            finished_at: now,
        },
        events: vec![],
        at: now,
        claim_sends_until: None,
    };
    assert!(matches!(
        store.commit_run(commit.clone()).await.unwrap(),
        CommitOutcome::Committed { .. }
    ));
    let mut again = commit;
    again.execution.id = ExecutionId::new();
    assert_eq!(
        store.commit_run(again).await.unwrap(),
        CommitOutcome::CursorMoved
    );
    assert!(store
        .due_conversations(Utc::now())
        .await
        .unwrap()
        .is_empty());
    let ctx = store.load_run(&key).await.unwrap().unwrap();
    assert_eq!(
        ctx.contact.language.as_ref().map(|l| l.as_str()),
        Some("mr")
    );
    assert_eq!(
        store
            .executions(&t.id, &key.conversation_id)
            .await
            .unwrap()
            .len(),
        1
    );

    // Only the conversation's first reply is claimable until it is done.
    let lease = now + chrono::Duration::seconds(60);
    let first = store.claim_outbox(now, lease, 10).await.unwrap();
    assert_eq!(
        first.iter().map(|i| i.body.as_str()).collect::<Vec<_>>(),
        vec!["one"]
    );
    assert_eq!(first[0].to, "9198");
    assert!(store.claim_outbox(now, lease, 10).await.unwrap().is_empty());
    store
        .complete_outbox(
            first[0].id,
            SendOutcome::Sent {
                provider_id: "wamid.out1".into(),
            },
            now,
        )
        .await
        .unwrap();
    let second = store.claim_outbox(now, lease, 10).await.unwrap();
    assert_eq!(second[0].body, "two");
    // A claim left by a dead process is taken over once its lease runs out, with
    // the same message (so the same idempotency key).
    assert!(store.claim_outbox(now, lease, 10).await.unwrap().is_empty());
    let later = lease + chrono::Duration::seconds(1);
    let again = store
        .claim_outbox(later, later + chrono::Duration::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(again[0].message_id, second[0].message_id);
    assert_eq!(again[0].attempts, 2);
}

async fn reads_are_scoped_to_the_tenant(store: Arc<dyn Store>) {
    let a = tenant(store.as_ref(), "alpha", "UTC").await;
    let b = tenant(store.as_ref(), "beta", "UTC").await;
    let ch = channel(store.as_ref(), &a, "111").await;
    let key = store
        .ingest(
            &ch,
            InboundBatch {
                messages: vec![text("9198", "wamid.1", "hi")],
                statuses: vec![],
            },
            Utc::now(),
        )
        .await
        .unwrap()
        .due
        .remove(0);
    let (c, _) = store
        .create_complaint(&a, new_complaint(Some("x"), Utc::now()))
        .await
        .unwrap();

    let foreign = ConversationKey {
        tenant_id: b.id.clone(),
        conversation_id: key.conversation_id.clone(),
    };
    assert!(store.load_run(&foreign).await.unwrap().is_none());
    assert!(store
        .messages(&b.id, &key.conversation_id)
        .await
        .unwrap()
        .is_empty());
    assert!(store.conversations(&b.id).await.unwrap().is_empty());
    assert!(store.channels(&b.id).await.unwrap().is_empty());
    assert!(store
        .complaint_by_number(&b.id, &c.number)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .complaint_events(&b.id, &c.id)
        .await
        .unwrap()
        .is_empty());
    assert!(store.complaints(&b.id, 10).await.unwrap().is_empty());
    // A slug or phone number taken is a conflict, never a crash.
    let err = store
        .create_tenant(NewTenant {
            slug: TenantSlug::parse("alpha").unwrap(),
            name: "again".into(),
            complaint_prefix: ComplaintPrefix::parse("AG").unwrap(),
            default_language: Language::en(),
            timezone: TimeZoneName::parse("UTC").unwrap(),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
}

async fn a_conversation_lease_has_one_holder_until_it_expires(store: Arc<dyn Store>) {
    let t = tenant(store.as_ref(), "pune", "UTC").await;
    let ch = channel(store.as_ref(), &t, "111").await;
    let batch = InboundBatch {
        messages: vec![text("9198", "wamid.1", "hi")],
        statuses: vec![],
    };
    let key = store
        .ingest(&ch, batch, Utc::now())
        .await
        .unwrap()
        .due
        .remove(0);
    let now = Utc::now();
    let until = now + chrono::Duration::seconds(30);

    assert!(store
        .lease_conversation(&key, "a", now, until)
        .await
        .unwrap());
    assert!(
        !store
            .lease_conversation(&key, "b", now, until)
            .await
            .unwrap(),
        "held by a"
    );
    assert!(
        store
            .lease_conversation(&key, "a", now, until)
            .await
            .unwrap(),
        "a renews"
    );
    // Held conversations are not offered to the sweep; expired ones are.
    assert!(store.due_conversations(now).await.unwrap().is_empty());
    let later = until + chrono::Duration::seconds(1);
    assert_eq!(
        store.due_conversations(later).await.unwrap(),
        vec![key.clone()]
    );
    assert!(
        store
            .lease_conversation(&key, "b", later, later + chrono::Duration::seconds(30))
            .await
            .unwrap(),
        "expired: b takes over"
    );
    // Only the holder releases.
    store.release_conversation(&key, "a").await.unwrap();
    assert!(!store
        .lease_conversation(&key, "c", later, later)
        .await
        .unwrap());
    store.release_conversation(&key, "b").await.unwrap();
    assert!(store
        .lease_conversation(&key, "c", later, later)
        .await
        .unwrap());
    // Another tenant's key leases nothing.
    let other = tenant(store.as_ref(), "nagpur", "UTC").await;
    let foreign = ConversationKey {
        tenant_id: other.id,
        conversation_id: key.conversation_id.clone(),
    };
    assert!(!store
        .lease_conversation(&foreign, "x", later, later)
        .await
        .unwrap());
}

/// A run's commit for `key` with the given replies, claiming its sends until `claim`.
async fn commit_replies(
    store: &dyn Store,
    key: &ConversationKey,
    bodies: &[&str],
    claim: Option<chrono::DateTime<Utc>>,
) -> CommitOutcome {
    let ctx = store.load_run(key).await.unwrap().unwrap();
    let now = Utc::now();
    let cursor = ctx.conversation.run_cursor;
    let to = ctx.pending.last().map(|m| m.seq).unwrap_or(cursor);
    store
        .commit_run(RunCommit {
            tenant_id: key.tenant_id.clone(),
            conversation_id: key.conversation_id.clone(),
            expected_cursor: cursor,
            new_cursor: to,
            agent_state: serde_json::json!({}),
            state: ConversationState::Bot,
            contact_language: None,
            replies: bodies
                .iter()
                .map(|b| NewReply {
                    body: (*b).into(),
                    in_reply_to: None,
                })
                .collect(),
            execution: NewExecution {
                id: ExecutionId::new(),
                agent_version_id: None,
                from_seq: cursor + 1,
                to_seq: to,
                status: ExecutionStatus::Ok,
                output: serde_json::json!({}),
                error: None,
                attempts: 1,
                started_at: now,
                finished_at: now,
            },
            events: vec![],
            at: now,
            claim_sends_until: claim,
        })
        .await
        .unwrap()
}

async fn a_run_may_claim_its_sends_only_when_none_is_ahead_of_them(store: Arc<dyn Store>) {
    let t = tenant(store.as_ref(), "pune", "UTC").await;
    let ch = channel(store.as_ref(), &t, "111").await;
    let say = |wamid: &'static str| InboundBatch {
        messages: vec![text("9198", wamid, "hi")],
        statuses: vec![],
    };
    let key = store
        .ingest(&ch, say("wamid.1"), Utc::now())
        .await
        .unwrap()
        .due
        .remove(0);
    let now = Utc::now();
    let until = now + chrono::Duration::seconds(60);

    // Nothing ahead: both sends are claimed for the run, in order, ready to send.
    let CommitOutcome::Committed { replies, claimed } =
        commit_replies(store.as_ref(), &key, &["one", "two"], Some(until)).await
    else {
        panic!("the commit should go through");
    };
    assert_eq!(
        claimed.iter().map(|i| i.body.as_str()).collect::<Vec<_>>(),
        vec!["one", "two"]
    );
    assert_eq!(
        claimed.iter().map(|i| &i.message_id).collect::<Vec<_>>(),
        replies.iter().collect::<Vec<_>>()
    );
    assert!(claimed
        .iter()
        .all(|i| i.to == "9198" && i.attempts == 1 && i.channel_id == ch.id));
    // The poller cannot take them while they are claimed.
    assert!(store.claim_outbox(now, until, 10).await.unwrap().is_empty());

    // The first fails for now; the second goes back to wait its turn untried.
    store
        .complete_outbox(
            claimed[0].id,
            SendOutcome::Retry {
                next_attempt_at: now,
                error: "HTTP 503".into(),
            },
            now,
        )
        .await
        .unwrap();
    store.release_outbox(vec![claimed[1].id]).await.unwrap();

    // A later run's reply is behind those two: written, but not claimed.
    store.ingest(&ch, say("wamid.2"), Utc::now()).await.unwrap();
    let CommitOutcome::Committed { replies, claimed } =
        commit_replies(store.as_ref(), &key, &["three"], Some(until)).await
    else {
        panic!("the commit should go through");
    };
    assert_eq!(replies.len(), 1);
    assert!(claimed.is_empty());
    // The poller sends them in order: "one" (its second attempt) first, alone.
    let soon = Utc::now() + chrono::Duration::seconds(1);
    let polled = store.claim_outbox(soon, until, 10).await.unwrap();
    assert_eq!(
        polled
            .iter()
            .map(|i| (i.body.as_str(), i.attempts))
            .collect::<Vec<_>>(),
        vec![("one", 2)]
    );
    store
        .complete_outbox(
            polled[0].id,
            SendOutcome::Sent {
                provider_id: "wamid.out1".into(),
            },
            now,
        )
        .await
        .unwrap();
    let polled = store.claim_outbox(soon, until, 10).await.unwrap();
    assert_eq!(
        polled
            .iter()
            .map(|i| (i.body.as_str(), i.attempts))
            .collect::<Vec<_>>(),
        vec![("two", 1)],
        "a released send keeps its attempt count"
    );
}
