//! Agents, versions, deployments and the executions of an agent.

use super::*;

fn version(n: u32) -> NewVersion {
    NewVersion {
        config: serde_json::json!({"model": format!("m{n}")}),
        changelog: format!("change {n}"),
        author: "user:usr_1".into(),
    }
}

/// A new llm agent named "bot" of tenant `t` with `n` versions, oldest first.
async fn bot(s: &dyn Store, t: &Tenant, n: u32) -> (Agent, Vec<AgentVersion>) {
    let now = stored(chrono::Utc::now());
    let new = NewAgent {
        id: AgentId::new(),
        name: "bot".into(),
        kind: "llm".into(),
    };
    let agent = s.create_agent(&t.id, new, now, Vec::new()).await.unwrap();
    let mut versions = Vec::new();
    for i in 1..=n {
        versions.push(
            s.add_agent_version(&t.id, &agent.id, version(i), now, Vec::new())
                .await
                .unwrap(),
        );
    }
    (agent, versions)
}

/// The `agent.*` events written so far, as (type, data).
async fn agent_events(store: &dyn Store) -> Vec<(String, serde_json::Value)> {
    let due = claim(store, Utc::now() + chrono::Duration::seconds(60)).await;
    let mut events: Vec<_> = due
        .into_iter()
        .map(|d| {
            (
                d.event_at,
                d.delivery.event_type.as_str().to_owned(),
                d.data,
            )
        })
        .collect();
    events.sort_by_key(|e| e.0);
    events.into_iter().map(|(_, t, d)| (t, d)).collect()
}

pub(crate) async fn agents_have_numbered_immutable_versions_within_their_tenant(
    store: Arc<dyn Store>,
) {
    let s = store.as_ref();
    let a = tenant(s, "alpha", "UTC").await;
    let b = tenant(s, "beta", "UTC").await;
    endpoint(s, &a, &[EventType::AgentVersionCreated], true, false).await;
    let now = stored(chrono::Utc::now());
    let new = |name: &str, kind: &str| NewAgent {
        id: AgentId::new(),
        name: name.into(),
        kind: kind.into(),
    };
    let helper = s
        .create_agent(&a.id, new("helper", "llm"), now, Vec::new())
        .await
        .unwrap();
    assert_eq!(helper.latest_version, None);
    let again = s
        .create_agent(&a.id, new("helper", "process"), now, Vec::new())
        .await;
    assert!(
        matches!(&again, Err(StoreError::Conflict { field, .. }) if field == "name"),
        "{again:?}"
    );
    // Names are per tenant.
    let theirs = s
        .create_agent(&b.id, new("helper", "llm"), now, Vec::new())
        .await
        .unwrap();
    s.create_agent(&a.id, new("archive", "process"), now, Vec::new())
        .await
        .unwrap();

    let v1 = s
        .add_agent_version(&a.id, &helper.id, version(1), now, Vec::new())
        .await
        .unwrap();
    let v2 = s
        .add_agent_version(&a.id, &helper.id, version(2), now, Vec::new())
        .await
        .unwrap();
    assert_eq!((v1.number, v2.number), (1, 2));
    assert_eq!(
        (v2.kind.as_str(), v2.agent_name.as_str()),
        ("llm", "helper")
    );
    // Saving at once from many places still numbers them one by one.
    let saves = (3..11).map(|n| {
        let (store, t, agent) = (store.clone(), a.id.clone(), helper.id.clone());
        tokio::spawn(async move {
            store
                .add_agent_version(
                    &t,
                    &agent,
                    version(n),
                    stored(chrono::Utc::now()),
                    Vec::new(),
                )
                .await
                .unwrap()
                .number
        })
    });
    let mut numbers: Vec<i64> = Vec::new();
    for save in saves {
        numbers.push(save.await.unwrap());
    }
    numbers.sort();
    assert_eq!(numbers, (3..11).collect::<Vec<i64>>());

    let listed = s.agent_versions(&a.id, &helper.id).await.unwrap();
    assert_eq!(listed.len(), 10);
    assert_eq!(listed[0].number, 10, "newest first");
    let first = listed.last().unwrap();
    assert_eq!(first, &v1);
    assert_eq!(
        (first.changelog.as_str(), first.author.as_str()),
        ("change 1", "user:usr_1")
    );
    assert_eq!(*first.config, serde_json::json!({"model": "m1"}));
    assert_eq!(
        s.agent_version(&a.id, &v2.id).await.unwrap(),
        Some(v2.clone())
    );

    let agents = s.agents(&a.id).await.unwrap();
    let names: Vec<(&str, Option<i64>)> = agents
        .iter()
        .map(|x| (x.name.as_str(), x.latest_version))
        .collect();
    assert_eq!(names, [("archive", None), ("helper", Some(10))]);
    assert_eq!(
        s.agent(&a.id, &helper.id)
            .await
            .unwrap()
            .unwrap()
            .latest_version,
        Some(10)
    );

    // Walls: the other tenant sees none of it and cannot add to it.
    assert_eq!(s.agent(&b.id, &helper.id).await.unwrap(), None);
    assert_eq!(s.agent_version(&b.id, &v1.id).await.unwrap(), None);
    assert!(s
        .agent_versions(&b.id, &helper.id)
        .await
        .unwrap()
        .is_empty());
    let foreign = s
        .add_agent_version(&b.id, &helper.id, version(99), now, Vec::new())
        .await;
    assert!(
        matches!(foreign, Err(StoreError::NotFound("agent"))),
        "{foreign:?}"
    );
    assert!(s
        .agent_versions(&b.id, &theirs.id)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(s.agent_versions(&a.id, &helper.id).await.unwrap().len(), 10);

    let events = agent_events(s).await;
    assert_eq!(
        events.len(),
        10,
        "one agent.version_created per version of tenant a"
    );
    let (kind, data) = &events[0];
    assert_eq!(kind, "agent.version_created");
    assert_eq!(data["version_id"], v1.id.as_str());
    assert_eq!(
        (data["number"].as_i64(), data["agent"].as_str()),
        (Some(1), Some("helper"))
    );
}

pub(crate) async fn a_deployment_switches_the_channel_for_the_next_run_and_is_kept_in_history(
    store: Arc<dyn Store>,
) {
    let s = store.as_ref();
    let a = tenant(s, "alpha", "UTC").await;
    let b = tenant(s, "beta", "UTC").await;
    endpoint(s, &a, &[EventType::AgentDeployed], true, false).await;
    let now = stored(chrono::Utc::now());
    let (_, versions) = bot(s, &a, 2).await;
    let (v1, v2) = (versions[0].clone(), versions[1].clone());
    let ch = channel(s, &a, "111").await;
    let b_ch = channel(s, &b, "222").await;
    let (_, b_versions) = bot(s, &b, 1).await;
    let b_v1 = b_versions[0].clone();

    let batch = InboundBatch {
        messages: vec![text("9198", "wamid.1", "hi")],
        statuses: vec![],
    };
    let key = s
        .ingest(&ch, batch, now, SessionIdle::default())
        .await
        .unwrap()
        .due
        .remove(0);
    let deployed = |at: i64| NewDeployment {
        channel_id: ch.id.clone(),
        version_id: if at == 2 {
            v2.id.clone()
        } else {
            v1.id.clone()
        },
        actor: format!("user:usr_{at}"),
        at: now + chrono::Duration::seconds(at),
    };
    let first = s.deploy(&a.id, deployed(1), Vec::new()).await.unwrap();
    assert_eq!(first.previous_version_id, None);
    // A run started now reads v1; deploying v2 does not change what it holds.
    let in_flight = s.load_run(&key).await.unwrap().unwrap();
    let second = s.deploy(&a.id, deployed(2), Vec::new()).await.unwrap();
    assert_eq!(second.previous_version_id, Some(v1.id.clone()));
    assert_eq!(in_flight.agent_version.unwrap().id, v1.id);
    // The next run reads v2 at once (the store forgets its cached channel).
    let next = s.load_run(&key).await.unwrap().unwrap();
    assert_eq!(next.agent_version.unwrap().id, v2.id);
    // Rollback is a deployment of the earlier version.
    let third = s.deploy(&a.id, deployed(3), Vec::new()).await.unwrap();
    assert_eq!(third.previous_version_id, Some(v2.id.clone()));
    let after = s.load_run(&key).await.unwrap().unwrap();
    assert_eq!(after.agent_version.unwrap().id, v1.id);

    let history = s.deployments(&a.id, &ch.id, 10).await.unwrap();
    let seen: Vec<(i64, &str)> = history
        .iter()
        .map(|d| (d.version_number, d.actor.as_str()))
        .collect();
    assert_eq!(
        seen,
        [(1, "user:usr_3"), (2, "user:usr_2"), (1, "user:usr_1")]
    );
    assert_eq!(history[0], third);
    assert_eq!(s.deployments(&a.id, &ch.id, 1).await.unwrap().len(), 1);

    // Walls: neither tenant deploys onto or from the other.
    let onto = NewDeployment {
        channel_id: ch.id.clone(),
        version_id: b_v1.id.clone(),
        actor: "x".into(),
        at: now,
    };
    let r = s.deploy(&b.id, onto.clone(), Vec::new()).await;
    assert!(matches!(r, Err(StoreError::NotFound("channel"))), "{r:?}");
    let r = s.deploy(&a.id, onto, Vec::new()).await;
    assert!(
        matches!(r, Err(StoreError::NotFound("agent version"))),
        "{r:?}"
    );
    let from = NewDeployment {
        channel_id: b_ch.id.clone(),
        version_id: v2.id.clone(),
        actor: "x".into(),
        at: now,
    };
    let r = s.deploy(&b.id, from, Vec::new()).await;
    assert!(
        matches!(r, Err(StoreError::NotFound("agent version"))),
        "{r:?}"
    );
    assert!(s.deployments(&b.id, &ch.id, 10).await.unwrap().is_empty());
    assert_eq!(
        s.channel(&ch.id).await.unwrap().unwrap().deployed_version,
        Some(v1.id.clone())
    );
    assert_eq!(
        s.channel(&b_ch.id).await.unwrap().unwrap().deployed_version,
        None
    );

    let events = agent_events(s).await;
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["agent.deployed"; 3]);
    assert_eq!(events[1].1["version_id"], v2.id.as_str());
    assert_eq!(events[1].1["previous_version_id"], v1.id.as_str());
    assert_eq!(events[1].1["channel_id"], ch.id.as_str());
}

pub(crate) async fn an_agents_executions_are_listed_newest_first_with_their_tool_calls(
    store: Arc<dyn Store>,
) {
    let s = store.as_ref();
    let a = tenant(s, "alpha", "UTC").await;
    let b = tenant(s, "beta", "UTC").await;
    let now = stored(chrono::Utc::now());
    let (agent, versions) = bot(s, &a, 1).await;
    let v1 = versions[0].clone();
    let ch = channel(s, &a, "111").await;
    s.deploy(
        &a.id,
        NewDeployment {
            channel_id: ch.id.clone(),
            version_id: v1.id.clone(),
            actor: "system".into(),
            at: now,
        },
        Vec::new(),
    )
    .await
    .unwrap();
    let mut made = Vec::new();
    for i in 0..5 {
        let batch = InboundBatch {
            messages: vec![text("9198", &format!("wamid.{i}"), "hi")],
            statuses: vec![],
        };
        let key = s
            .ingest(&ch, batch, now, SessionIdle::default())
            .await
            .unwrap()
            .due
            .remove(0);
        let ctx = s.load_run(&key).await.unwrap().unwrap();
        let last = ctx.pending.last().unwrap();
        let id = ExecutionId::new();
        let commit = RunCommit {
            tenant_id: a.id.clone(),
            conversation_id: key.conversation_id.clone(),
            expected_cursor: ctx.conversation.run_cursor,
            new_cursor: last.seq,
            agent_state: serde_json::json!({}),
            session: 1,
            state: ConversationState::Bot,
            contact_language: None,
            replies: vec![],
            execution: NewExecution {
                id: id.clone(),
                agent_version_id: Some(v1.id.clone()),
                from_seq: last.seq,
                to_seq: last.seq,
                input_ids: vec![last.id.clone()],
                status: if i == 4 {
                    ExecutionStatus::Timeout
                } else {
                    ExecutionStatus::Ok
                },
                output: serde_json::json!({"replies": ["hello"]}),
                tool_calls: serde_json::json!([{"name": "list_my_complaints", "arguments": {}, "result": {"complaints": []}, "ok": true}]),
                tokens: Some(Tokens {
                    input: 100 + i,
                    output: 7,
                }),
                error: None,
                attempts: 1,
                started_at: now + chrono::Duration::seconds(i),
                finished_at: now + chrono::Duration::seconds(i),
            },
            events: vec![],
            survey: None,
            block_told: false,
            at: now,
            claim_sends_until: None,
        };
        s.commit_run(commit).await.unwrap();
        made.push((id, last.id.clone()));
    }
    let page = s.agent_executions(&a.id, &agent.id, None, 3).await.unwrap();
    let ids: Vec<&ExecutionId> = page.iter().map(|e| &e.id).collect();
    assert_eq!(ids, [&made[4].0, &made[3].0, &made[2].0]);
    let newest = &page[0];
    assert_eq!(newest.status, "timeout");
    assert_eq!(newest.agent_id.as_ref(), Some(&agent.id));
    assert_eq!(newest.input_ids, [made[4].1.clone()]);
    assert_eq!(
        newest.tokens,
        Some(Tokens {
            input: 104,
            output: 7
        })
    );
    assert_eq!(newest.tool_calls[0]["name"], "list_my_complaints");
    assert_eq!(newest.output["replies"][0], "hello");
    let cursor = ExecutionCursor {
        started_at: page[2].started_at,
        id: page[2].id.clone(),
    };
    let rest = s
        .agent_executions(&a.id, &agent.id, Some(cursor), 3)
        .await
        .unwrap();
    let ids: Vec<&ExecutionId> = rest.iter().map(|e| &e.id).collect();
    assert_eq!(ids, [&made[1].0, &made[0].0]);
    assert!(s
        .agent_executions(&b.id, &agent.id, None, 10)
        .await
        .unwrap()
        .is_empty());
}

pub(crate) async fn a_test_chat_keeps_its_turns_and_state_behind_its_tenants_wall(
    store: Arc<dyn Store>,
) {
    let s = store.as_ref();
    let a = tenant(s, "alpha", "UTC").await;
    let b = tenant(s, "beta", "UTC").await;
    endpoint(
        s,
        &a,
        &[EventType::ComplaintCreated, EventType::AgentVersionCreated],
        true,
        false,
    )
    .await;
    let (agent, versions) = bot(s, &a, 2).await;
    let (_, b_versions) = bot(s, &b, 1).await;
    let now = stored(chrono::Utc::now());
    let new = |v: &AgentVersion| NewTestChat {
        id: ombud_core::TestChatId::new(),
        version: v.id.clone(),
        created_by: "user:usr_1".into(),
        at: now,
    };
    // Any version, not only a deployed one; never another tenant's.
    let chat = s
        .create_test_chat(&a.id, new(&versions[0]), Vec::new())
        .await
        .unwrap();
    assert_eq!(
        (&chat.agent_id, chat.turns, &chat.agent_state),
        (&agent.id, 0, &serde_json::json!({}))
    );
    let foreign = s
        .create_test_chat(&a.id, new(&b_versions[0]), Vec::new())
        .await;
    assert!(
        matches!(foreign, Err(StoreError::NotFound("agent version"))),
        "{foreign:?}"
    );
    assert_eq!(
        s.test_chat(&a.id, &chat.id).await.unwrap(),
        Some(chat.clone())
    );

    let complaint = Complaint {
        id: ComplaintId::new(),
        tenant_id: a.id.clone(),
        number: ComplaintNumber::parse("TEST-20261202-0001").unwrap(),
        channel_id: None,
        contact_id: Some(chat.contact_id.clone()),
        conversation_id: Some(chat.conversation_id.clone()),
        category_id: None,
        description: "a pothole".into(),
        location: None,
        area: None,
        assignee_id: None,
        team: None,
        language: Language::parse("en").unwrap(),
        priority: Priority::Normal,
        status: ComplaintStatus::New,
        source: Source::Text,
        created_at: now,
        updated_at: now,
        sla: None,
        point: None,
    };
    let turn = |seq: i64, said: &str| TestTurn {
        seq,
        said: said.into(),
        replies: vec![format!("answer {seq}")],
        tool_calls: serde_json::json!([{"name": "create_complaint"}]),
        handoff: seq == 2,
        status: "ok".into(),
        error: None,
        latency_ms: 12,
        tokens: Some(Tokens {
            input: 10,
            output: 3,
        }),
        created_at: now + chrono::Duration::seconds(seq),
    };
    let commit = |after: i64, seq: i64| TestTurnCommit {
        chat: chat.id.clone(),
        after_turns: after,
        turn: turn(seq, &format!("said {seq}")),
        agent_state: serde_json::json!({"step": seq}),
        language: Some(Language::parse("hi").unwrap()),
        handed_off: seq == 2,
        complaints: vec![TestComplaint {
            complaint: complaint.clone(),
            key: "k1".into(),
            notes: vec![format!("note {seq}")],
        }],
        audit: Vec::new(),
    };
    let after_one = s.commit_test_turn(&a.id, commit(0, 1)).await.unwrap();
    assert_eq!(after_one.turns, 1);
    // A turn that started before the first was written is refused, whole.
    let stale = s.commit_test_turn(&a.id, commit(0, 1)).await;
    assert!(
        matches!(&stale, Err(StoreError::Conflict { field, .. }) if field == "test_chat"),
        "{stale:?}"
    );
    // The other tenant neither reads nor writes the chat.
    assert_eq!(s.test_chat(&b.id, &chat.id).await.unwrap(), None);
    assert!(s.test_turns(&b.id, &chat.id).await.unwrap().is_empty());
    let theirs = s.commit_test_turn(&b.id, commit(1, 2)).await;
    assert!(
        matches!(theirs, Err(StoreError::NotFound("test chat"))),
        "{theirs:?}"
    );
    let after_two = s.commit_test_turn(&a.id, commit(1, 2)).await.unwrap();

    let stored = s.test_chat(&a.id, &chat.id).await.unwrap().unwrap();
    assert_eq!(stored, after_two);
    assert_eq!(stored.turns, 2);
    assert_eq!(stored.agent_state, serde_json::json!({"step": 2}));
    assert_eq!(stored.language.as_ref().map(|l| l.as_str()), Some("hi"));
    assert!(stored.handed_off);
    assert_eq!(stored.complaints[0].complaint, complaint);
    assert_eq!(stored.complaints[0].notes, ["note 2"]);
    let turns = s.test_turns(&a.id, &chat.id).await.unwrap();
    assert_eq!(turns, [turn(1, "said 1"), turn(2, "said 2")]);
    let listed = s.test_chats(&a.id, &agent.id, 10).await.unwrap();
    assert_eq!(listed, [stored]);

    // Test complaints are not complaints: no row, no number, no event.
    assert!(s.complaints(&a.id, 10).await.unwrap().is_empty());
    let events = agent_events(s).await;
    assert!(
        events.iter().all(|(kind, _)| kind != "complaint.created"),
        "{events:?}"
    );
}
