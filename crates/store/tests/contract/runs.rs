//! Ingest, agent runs, their commits, leases and the send outbox.

use super::*;

pub(crate) async fn ingest_dedupes_and_numbers_messages_per_conversation(store: Arc<dyn Store>) {
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
                store
                    .ingest(&ch, batch, Utc::now(), SessionIdle::default())
                    .await
                    .unwrap()
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

pub(crate) async fn a_run_commits_once_and_its_replies_enter_the_outbox_in_order(
    store: Arc<dyn Store>,
) {
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
        .ingest(&ch, batch, Utc::now(), SessionIdle::default())
        .await
        .unwrap()
        .due
        .remove(0);
    let ctx = store.load_run(&key).await.unwrap().unwrap();
    assert_eq!(ctx.pending.len(), 2);
    let mut commit = run_commit(&key, 0, 2, &["one", "two"], None);
    commit.agent_state = serde_json::json!({"step": "idle"});
    commit.contact_language = Some(Language::parse("mr").unwrap());
    for (reply, message) in commit.replies.iter_mut().zip(&ctx.pending) {
        reply.in_reply_to = Some(message.id.clone());
    }
    let received: Vec<_> = ctx.pending.iter().map(|m| m.created_at).collect();
    let now = commit.at;
    assert_eq!(store.backlog().await.unwrap(), Backlog::default());
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

    // Both replies wait in the outbox, the oldest written with the run.
    let waiting = store.backlog().await.unwrap();
    assert_eq!(waiting.messages.count, 2);
    assert_eq!(
        waiting.messages.oldest.map(|t| t.timestamp_micros()),
        Some(now.timestamp_micros())
    );
    assert_eq!(waiting.webhooks, Pending::default());

    // Only the conversation's first reply is claimable until it is done.
    let lease = now + chrono::Duration::seconds(60);
    let first = store.claim_outbox(now, lease, 10).await.unwrap();
    assert_eq!(
        first.iter().map(|i| i.body.as_str()).collect::<Vec<_>>(),
        vec!["one"]
    );
    assert_eq!(first[0].to, "9198");
    // It knows when the message it answers came in (the reply latency).
    assert_eq!(first[0].reply_to_at, Some(received[0]));
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
    assert_eq!(store.backlog().await.unwrap().messages.count, 1);
    let second = store.claim_outbox(now, lease, 10).await.unwrap();
    assert_eq!(second[0].body, "two");
    assert_eq!(second[0].reply_to_at, Some(received[1]));
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

pub(crate) async fn a_conversation_lease_has_one_holder_until_it_expires(store: Arc<dyn Store>) {
    let t = tenant(store.as_ref(), "pune", "UTC").await;
    let ch = channel(store.as_ref(), &t, "111").await;
    let batch = InboundBatch {
        messages: vec![text("9198", "wamid.1", "hi")],
        statuses: vec![],
    };
    let key = store
        .ingest(&ch, batch, Utc::now(), SessionIdle::default())
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

    // begin_run leases and reads in one step: busy while another holds it, the
    // context once free, and never another tenant's conversation.
    let run_until = later + chrono::Duration::seconds(30);
    assert!(matches!(
        store.begin_run(&key, "d", later, run_until).await.unwrap(),
        RunStart::Busy
    ));
    store.release_conversation(&key, "c").await.unwrap();
    match store.begin_run(&key, "d", later, run_until).await.unwrap() {
        RunStart::Ready(ctx) => {
            assert_eq!(ctx.conversation.id, key.conversation_id);
            assert_eq!(ctx.pending.len(), 1);
        }
        other => panic!("expected the run's context, got {other:?}"),
    }
    assert!(
        !store
            .lease_conversation(&key, "e", later, run_until)
            .await
            .unwrap(),
        "begin_run took the lease"
    );
    assert!(!matches!(
        store
            .begin_run(&foreign, "x", later, run_until)
            .await
            .unwrap(),
        RunStart::Ready(_)
    ));
    store.release_conversation(&key, "d").await.unwrap();
    let missing = ConversationKey {
        tenant_id: key.tenant_id.clone(),
        conversation_id: ConversationId::new(),
    };
    assert!(matches!(
        store
            .begin_run(&missing, "d", later, run_until)
            .await
            .unwrap(),
        RunStart::Missing | RunStart::Busy
    ));
}

/// A run's commit for `key` moving its cursor from `cursor` to `to`, with the
/// given replies, claiming their sends until `claim`.
fn run_commit(
    key: &ConversationKey,
    cursor: i64,
    to: i64,
    bodies: &[&str],
    claim: Option<chrono::DateTime<Utc>>,
) -> RunCommit {
    let now = Utc::now();
    RunCommit {
        tenant_id: key.tenant_id.clone(),
        conversation_id: key.conversation_id.clone(),
        expected_cursor: cursor,
        new_cursor: to,
        agent_state: serde_json::json!({}),
        session: 1,
        state: ConversationState::Bot,
        contact_language: None,
        replies: bodies
            .iter()
            .map(|b| NewReply {
                body: (*b).into(),
                in_reply_to: None,
                choices: None,
            })
            .collect(),
        execution: NewExecution {
            id: ExecutionId::new(),
            agent_version_id: None,
            from_seq: cursor + 1,
            to_seq: to,
            input_ids: Vec::new(),
            status: ExecutionStatus::Ok,
            output: serde_json::json!({}),
            tool_calls: serde_json::json!([]),
            tokens: None,
            error: None,
            attempts: 1,
            started_at: now,
            finished_at: now,
        },
        events: vec![],
        survey: None,
        block_told: false,
        at: now,
        claim_sends_until: claim,
    }
}

/// Commits a run of everything pending for `key` with the given replies.
pub(crate) async fn commit_replies(
    store: &dyn Store,
    key: &ConversationKey,
    bodies: &[&str],
    claim: Option<chrono::DateTime<Utc>>,
) -> CommitOutcome {
    let ctx = store.load_run(key).await.unwrap().unwrap();
    let cursor = ctx.conversation.run_cursor;
    let to = ctx.pending.last().map(|m| m.seq).unwrap_or(cursor);
    store
        .commit_run(run_commit(key, cursor, to, bodies, claim))
        .await
        .unwrap()
}

pub(crate) async fn a_run_may_claim_its_sends_only_when_none_is_ahead_of_them(
    store: Arc<dyn Store>,
) {
    let t = tenant(store.as_ref(), "pune", "UTC").await;
    let ch = channel(store.as_ref(), &t, "111").await;
    let say = |wamid: &'static str| InboundBatch {
        messages: vec![text("9198", wamid, "hi")],
        statuses: vec![],
    };
    let key = store
        .ingest(&ch, say("wamid.1"), Utc::now(), SessionIdle::default())
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
    store
        .ingest(&ch, say("wamid.2"), Utc::now(), SessionIdle::default())
        .await
        .unwrap();
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

pub(crate) async fn the_database_reports_its_size_and_passes_its_integrity_check(
    store: Arc<dyn Store>,
) {
    let empty = store.database_size().await.unwrap();
    assert!(empty > 0, "a migrated database has a size");
    let t = tenant(store.as_ref(), "pune", "UTC").await;
    channel(store.as_ref(), &t, "111").await;
    assert!(store.database_size().await.unwrap() >= empty);
    assert_eq!(store.integrity_check().await.unwrap(), Ok(()));
}

pub(crate) async fn a_quiet_spell_or_a_close_starts_the_next_session(store: Arc<dyn Store>) {
    let t = tenant(store.as_ref(), "pune", "UTC").await;
    let other = tenant(store.as_ref(), "nashik", "UTC").await;
    let ch = channel(store.as_ref(), &t, "111").await;
    let idle = SessionIdle::hours(24).unwrap();
    let t0 = Utc::now();
    let say = |wamid: &str, at| {
        let batch = InboundBatch {
            messages: vec![text("9198", wamid, "hello")],
            statuses: vec![],
        };
        let (store, ch) = (store.clone(), ch.clone());
        async move { store.ingest(&ch, batch, at, idle).await.unwrap() }
    };
    let key = say("wamid.1", t0).await.due.remove(0);
    say("wamid.2", t0 + chrono::Duration::hours(23)).await;
    // A day after the last message, the next one opens session 2.
    say("wamid.3", t0 + chrono::Duration::hours(47)).await;
    let ctx = store.load_run(&key).await.unwrap().unwrap();
    let sessions: Vec<i64> = ctx.pending.iter().map(|m| m.session).collect();
    assert_eq!(sessions, [1, 1, 2]);
    assert_eq!(
        (ctx.conversation.session, ctx.conversation.agent_session),
        (2, 1)
    );
    // A run of session 1 leaves its memory as session 1's.
    let mut commit = run_commit(&key, 0, 2, &["one"], None);
    commit.session = 1;
    store.commit_run(commit).await.unwrap();
    let c = store.load_run(&key).await.unwrap().unwrap().conversation;
    assert_eq!((c.run_cursor, c.session, c.agent_session), (2, 2, 1));
    let replies: Vec<i64> = store
        .messages(&t.id, &c.id)
        .await
        .unwrap()
        .iter()
        .filter(|m| m.direction == Direction::Outbound)
        .map(|m| m.session)
        .collect();
    assert_eq!(replies, [1], "a reply joins the session it answers");

    // Closed by staff: not through another tenant, once, and the next
    // message opens session 3 even a minute later.
    let at = t0 + chrono::Duration::hours(48);
    assert!(!store
        .close_session(&other.id, &c.id, at, Vec::new())
        .await
        .unwrap());
    assert!(store
        .close_session(&t.id, &c.id, at, Vec::new())
        .await
        .unwrap());
    assert!(!store
        .close_session(&t.id, &c.id, at, Vec::new())
        .await
        .unwrap());
    let closed = store.load_run(&key).await.unwrap().unwrap().conversation;
    assert!(closed.session_closed_at.is_some());
    assert_eq!(
        closed.run_cursor, 2,
        "a message waiting for the bot still is"
    );
    say("wamid.4", at + chrono::Duration::minutes(1)).await;
    let c = store.load_run(&key).await.unwrap().unwrap().conversation;
    assert_eq!((c.session, c.session_closed_at), (3, None));
}

pub(crate) async fn an_erasure_empties_a_persons_rows_once_within_the_tenant(
    store: Arc<dyn Store>,
) {
    let t = tenant(store.as_ref(), "pune", "UTC").await;
    let other = tenant(store.as_ref(), "nashik", "UTC").await;
    let ch = channel(store.as_ref(), &t, "111").await;
    let batch = InboundBatch {
        messages: vec![text(
            "919812345678",
            "wamid.1",
            "Zebrafinch Lane is flooded",
        )],
        statuses: vec![],
    };
    let key = store
        .ingest(&ch, batch, Utc::now(), SessionIdle::default())
        .await
        .unwrap()
        .due
        .remove(0);
    store
        .commit_run(run_commit(&key, 0, 1, &["Where is Zebrafinch Lane?"], None))
        .await
        .unwrap();
    let c = store.load_run(&key).await.unwrap().unwrap();
    let contact = c.contact.id.clone();
    let mut filed = new_complaint(None, Utc::now());
    filed.contact_id = Some(contact.clone());
    filed.conversation_id = Some(key.conversation_id.clone());
    filed.description = "Zebrafinch Lane is flooded".into();
    filed.location = Some("Zebrafinch Lane".into());
    let (complaint, _) = store.create_complaint(&t, filed).await.unwrap();
    let erasure = |at| Erasure {
        pseudonym: "erased:abc.123456".into(),
        at,
        audit: Vec::new(),
        event: NewEvent::of(&ombud_core::event::payload::ContactErased {
            contact_id: contact.to_string(),
            erased_at: at,
        }),
    };
    let now = Utc::now();
    assert_eq!(
        store
            .erase_contact(&other.id, &contact, erasure(now))
            .await
            .unwrap(),
        EraseOutcome::NotFound
    );
    assert_eq!(
        store
            .erase_contact(&t.id, &contact, erasure(now))
            .await
            .unwrap(),
        EraseOutcome::Erased(Erased {
            messages: 2,
            complaints: 1
        })
    );
    assert_eq!(
        store
            .erase_contact(&t.id, &contact, erasure(now))
            .await
            .unwrap(),
        EraseOutcome::Already
    );
    let person = store.contact(&t.id, &contact).await.unwrap().unwrap();
    assert_eq!(
        (person.external_id.as_str(), person.profile_name),
        ("erased:abc.123456", None)
    );
    let bodies: Vec<String> = store
        .messages(&t.id, &key.conversation_id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(bodies, ["", ""]);
    let kept = store
        .complaint(&t.id, &complaint.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((kept.description.as_str(), kept.location), ("", None));
    assert_eq!(
        (kept.number, kept.status),
        (complaint.number, complaint.status)
    );
    // Closed for good: the address writing again is a new contact.
    let again = InboundBatch {
        messages: vec![text("919812345678", "wamid.2", "hello")],
        statuses: vec![],
    };
    let next = store
        .ingest(&ch, again, Utc::now(), SessionIdle::default())
        .await
        .unwrap()
        .due
        .remove(0);
    assert_ne!(next.conversation_id, key.conversation_id);
}
