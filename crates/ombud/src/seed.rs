//! `ombud seed`: fills a tenant with realistic volume (contacts, their messages,
//! complaints) for benchmarks and migration drills. Goes through the store like
//! real traffic, many writes in flight so the SQLite writer groups them. Seeded
//! messages are history: each is marked handled by a recorded run (without a
//! reply), so a server started on the data does not answer them all again.

use futures::stream::{self, StreamExt, TryStreamExt};
use ombud_core::*;
use ombud_store::{InboundBatch, InboundMessage, NewComplaint, Store};

const TEXTS: &[(&str, &str)] = &[
    ("The street light near the school is broken", "streetlight"),
    ("Water pipeline leaking on the main road", "water"),
    ("Garbage not collected for three days", "garbage"),
    ("Big pothole in front of the bus stop", "roads"),
    ("Drain overflowing near the market", "drainage"),
];

pub async fn run(
    store: &dyn Store,
    tenant: &str,
    complaints: usize,
    contacts: usize,
) -> anyhow::Result<serde_json::Value> {
    let tenant = crate::cli::tenant_by_slug(store, tenant).await?;
    let channel = store
        .channels(&tenant.id)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("tenant {} has no channel; add one first", tenant.slug))?;
    let categories = store.categories(&tenant.id).await?;
    let contacts = contacts.clamp(1, complaints.max(1));
    let run = ombud_core::id::new_id_body();
    let started = std::time::Instant::now();
    let (tenant, channel, categories, run) = (&tenant, &channel, &categories, &run);
    stream::iter(0..complaints)
        .map(|i| async move {
            let (text, slug) = TEXTS[i % TEXTS.len()];
            let from = format!("9199{:08}", i % contacts);
            let batch = InboundBatch {
                messages: vec![InboundMessage {
                    from: from.clone(),
                    profile_name: None,
                    provider_id: format!("wamid.SEED{run}{i}"),
                    kind: MessageKind::Text,
                    body: text.into(),
                    payload: None,
                    sent_at: None,
                    media: None,
                }],
                statuses: vec![],
            };
            let ingested = store
                .ingest(
                    channel,
                    batch,
                    chrono::Utc::now(),
                    ombud_core::SessionIdle::default(),
                )
                .await?;
            let conversation = ingested.due.first().map(|k| k.conversation_id.clone());
            if let Some(key) = ingested.due.first() {
                mark_handled(store, key).await?;
            }
            store
                .create_complaint(
                    tenant,
                    NewComplaint {
                        origin_key: Some(format!("seed:{run}:{i}")),
                        channel_id: Some(channel.id.clone()),
                        contact_id: None,
                        conversation_id: conversation,
                        category_id: categories
                            .iter()
                            .find(|c| c.slug == slug)
                            .map(|c| c.id.clone()),
                        description: text.into(),
                        location: Some(format!("Ward {}", i % 40 + 1)),
                        point: None,
                        area: None,
                        language: Language::en(),
                        priority: Priority::Normal,
                        source: Source::Api,
                        actor: "seed".into(),
                        at: chrono::Utc::now(),
                        audit: None,
                        sla: None,
                        route: false,
                        verification: None,
                        media: Vec::new(),
                    },
                )
                .await?;
            Ok::<_, anyhow::Error>(())
        })
        .buffer_unordered(64)
        .try_collect::<()>()
        .await?;
    Ok(serde_json::json!({
        "tenant": tenant.slug, "complaints": complaints, "contacts": contacts,
        "seconds": started.elapsed().as_secs_f64(),
    }))
}

/// Commits an empty run over the conversation's pending messages. A concurrent
/// seed task of the same contact may move the cursor first, over fewer messages
/// than are pending now: then this loads again and handles the rest, so no
/// seeded message is left for a server to answer.
async fn mark_handled(store: &dyn Store, key: &ombud_store::ConversationKey) -> anyhow::Result<()> {
    loop {
        let Some(ctx) = store.load_run(key).await? else {
            return Ok(());
        };
        let (Some(first), Some(last)) = (ctx.pending.first(), ctx.pending.last()) else {
            return Ok(());
        };
        let now = chrono::Utc::now();
        let outcome = store
            .commit_run(ombud_store::RunCommit {
                tenant_id: key.tenant_id.clone(),
                conversation_id: key.conversation_id.clone(),
                expected_cursor: ctx.conversation.run_cursor,
                new_cursor: last.seq,
                agent_state: ctx.conversation.agent_state.clone(),
                session: last.session,
                state: ctx.conversation.state,
                contact_language: None,
                replies: Vec::new(),
                execution: ombud_store::NewExecution {
                    id: ExecutionId::new(),
                    agent_version_id: ctx.agent_version.as_ref().map(|v| v.id.clone()),
                    from_seq: first.seq,
                    to_seq: last.seq,
                    input_ids: ctx.pending.iter().map(|m| m.id.clone()).collect(),
                    status: ombud_store::ExecutionStatus::Ok,
                    output: serde_json::json!({"seeded": true}),
                    tool_calls: serde_json::json!([]),
                    tokens: None,
                    error: None,
                    attempts: 1,
                    started_at: now,
                    finished_at: now,
                },
                events: Vec::new(),
                survey: None,
                block_told: false,
                at: now,
                claim_sends_until: None,
            })
            .await?;
        if let ombud_store::CommitOutcome::Committed { .. } = outcome {
            return Ok(());
        }
    }
}
