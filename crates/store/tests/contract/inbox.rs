//! The inbox: conversations by filter, read marks that never move back,
//! the unread count, and the events the live dashboard follows; all behind
//! the tenant's wall.

use super::*;

pub(crate) async fn the_inbox_filters_marks_reads_and_follows_events_within_the_tenant(
    store: Arc<dyn Store>,
) {
    let a = tenant(store.as_ref(), "alpha", "UTC").await;
    let b = tenant(store.as_ref(), "beta", "UTC").await;
    let ch = channel(store.as_ref(), &a, "111").await;
    let mut user = new_user("ravi@alpha.gov.in");
    user.memberships = vec![(a.id.clone(), Role::Staff)];
    let ravi = store
        .create_user(user, Utc::now(), Vec::new())
        .await
        .unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    let say = |wamid: &'static str, at: chrono::DateTime<Utc>| {
        let (store, ch) = (store.clone(), ch.clone());
        async move {
            let batch = InboundBatch {
                messages: vec![text("9198", wamid, wamid)],
                statuses: vec![],
            };
            store
                .ingest(&ch, batch, at, SessionIdle::default())
                .await
                .unwrap();
        }
    };
    say("first words", t0).await;
    let conversation = store.conversations(&a.id).await.unwrap()[0].id.clone();

    // The bot has it: listed under "all" only, unread, with the words.
    let all = store
        .inbox(&a.id, &ravi.id, InboxFilter::All)
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert!(all[0].unread());
    assert_eq!(all[0].preview.as_deref(), Some("first words"));
    assert_eq!(all[0].channel_kind, ChannelKind::Whatsapp);
    for filter in [
        InboxFilter::NeedsPerson,
        InboxFilter::Mine,
        InboxFilter::Unassigned,
    ] {
        let rows = store.inbox(&a.id, &ravi.id, filter).await.unwrap();
        assert!(rows.is_empty(), "{filter:?}");
    }
    assert_eq!(
        store.unread_count(&a.id, &ravi.id).await.unwrap(),
        0,
        "the bot's"
    );

    // Ravi writes into it: his, in people's hands.
    store
        .staff_reply(
            &a.id,
            StaffReply {
                conversation: &conversation,
                body: "Ravi here",
                template: None,
                sender: &format!("user:{}", ravi.id),
                take_over: true,
                assignee: Some(&ravi.id),
            },
            t0 + chrono::Duration::minutes(1),
            Vec::new(),
        )
        .await
        .unwrap();
    let mine = store
        .inbox(&a.id, &ravi.id, InboxFilter::Mine)
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].handed.assignee_id.as_ref(), Some(&ravi.id));
    assert!(store
        .inbox(&a.id, &ravi.id, InboxFilter::Unassigned)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.unread_count(&a.id, &ravi.id).await.unwrap(), 1);

    // Read up to the first words; a later mark moves it, an earlier does not.
    store
        .mark_read(&a.id, &ravi.id, &conversation, t0)
        .await
        .unwrap();
    assert_eq!(store.unread_count(&a.id, &ravi.id).await.unwrap(), 0);
    let t2 = t0 + chrono::Duration::minutes(2);
    say("more words", t2).await;
    assert_eq!(store.unread_count(&a.id, &ravi.id).await.unwrap(), 1);
    store
        .mark_read(&a.id, &ravi.id, &conversation, t2)
        .await
        .unwrap();
    store
        .mark_read(&a.id, &ravi.id, &conversation, t0)
        .await
        .unwrap();
    let row = &store
        .inbox(&a.id, &ravi.id, InboxFilter::Mine)
        .await
        .unwrap()[0];
    assert_eq!(row.read_at, Some(t2), "a read mark never moves back");
    assert!(!row.unread());

    // Another tenant sees none of it and cannot mark it.
    let t3 = t0 + chrono::Duration::minutes(3);
    say("even more", t3).await;
    store
        .mark_read(&b.id, &ravi.id, &conversation, t3)
        .await
        .unwrap();
    assert_eq!(store.unread_count(&a.id, &ravi.id).await.unwrap(), 1);
    assert!(store
        .inbox(&b.id, &ravi.id, InboxFilter::All)
        .await
        .unwrap()
        .is_empty());
    assert!(store.live_events(&b.id, (t0, "")).await.unwrap().is_empty());
    assert_eq!(store.latest_event_at(&b.id).await.unwrap(), None);

    // The events say which conversation each touched, oldest first, from
    // the time asked.
    let events = store.live_events(&a.id, (t0, "")).await.unwrap();
    let received: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "message.received")
        .collect();
    assert_eq!(received.len(), 3, "{events:?}");
    assert!(received
        .iter()
        .all(|e| e.conversation.as_ref() == Some(&conversation.to_string())));
    assert!(events.windows(2).all(|w| w[0].at <= w[1].at));
    // Ravi took it over, so its messages may change someone's unread count.
    assert!(received.iter().all(|e| e.with_people), "{received:?}");
    assert_eq!(store.latest_event_at(&a.id).await.unwrap(), Some(t3));
    let later = store.live_events(&a.id, (t2, "")).await.unwrap();
    assert_eq!(
        later
            .iter()
            .filter(|e| e.kind == "message.received")
            .count(),
        2
    );
    // After an event: what follows it, at its time or later.
    let first = &later[0];
    let rest = store
        .live_events(&a.id, (first.at, &first.id))
        .await
        .unwrap();
    assert_eq!(rest.len(), later.len() - 1);
    assert_eq!(rest, later[1..]);
    // Handing back clears the assignee.
    assert!(store
        .hand_back(&a.id, &conversation, t3, Vec::new())
        .await
        .unwrap());
    let all = store
        .inbox(&a.id, &ravi.id, InboxFilter::All)
        .await
        .unwrap();
    assert_eq!(all[0].handed.assignee_id, None);
}
