use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::future::join_all;
use ombud_agents::{AgentError, AgentRuntime, Reply, RunInput, RunOutput, Tools};
use ombud_core::{ConversationId, Direction};
use ombud_engine::Runtimes;

use crate::helpers::*;

/// A slow agent that echoes each message, and watches concurrency: how many runs at
/// once overall, and whether a conversation ever ran twice at once.
#[derive(Default)]
struct SlowEcho {
    delay: Duration,
    active: AtomicUsize,
    max_active: AtomicUsize,
    running: Mutex<HashSet<ConversationId>>,
    overlaps: AtomicUsize,
    runs: AtomicUsize,
}

#[async_trait]
impl AgentRuntime for SlowEcho {
    async fn run(&self, input: RunInput, _tools: &dyn Tools) -> Result<RunOutput, AgentError> {
        if !self
            .running
            .lock()
            .unwrap()
            .insert(input.conversation_id.clone())
        {
            self.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        let now = self.active.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_active.fetch_max(now, Ordering::SeqCst);
        self.runs.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        self.active.fetch_sub(1, Ordering::SeqCst);
        self.running.lock().unwrap().remove(&input.conversation_id);
        Ok(RunOutput {
            replies: input
                .messages
                .iter()
                .map(|m| Reply {
                    text: format!("echo: {}", m.body),
                    in_reply_to: Some(m.id.clone()),
                    choices: None,
                })
                .collect(),
            state: input.state,
            ..Default::default()
        })
    }
}

async fn spawn_with_echo(delay: Duration, cap: usize) -> (TestApp, Arc<SlowEcho>) {
    let echo = Arc::new(SlowEcho {
        delay,
        ..Default::default()
    });
    let runtimes = Runtimes::builtin().with("intake", echo.clone());
    let app = TestApp::spawn_with(|c| c.agents.max_concurrent = cap, Some(runtimes)).await;
    (app, echo)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_messages_in_one_conversation_run_one_at_a_time_in_order() {
    let graph = FakeGraph::start().await;
    let (app, echo) = spawn_with_echo(Duration::from_millis(40), 8).await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let citizen = "919800000001";

    let posts = (0..20).map(|i| {
        let (app, t) = (&app, &t);
        async move { app.say(t, citizen, &format!("m{i:02}")).await }
    });
    join_all(posts).await;

    let replies = graph.wait_for_reply_to(citizen, 20).await;
    assert_eq!(replies.len(), 20, "all 20 answered");
    assert_eq!(
        echo.overlaps.load(Ordering::SeqCst),
        0,
        "a conversation ran twice at once"
    );
    assert!(
        echo.runs.load(Ordering::SeqCst) < 20,
        "later messages were batched into fewer runs"
    );

    // Replies arrive in the order the messages were stored.
    let conversation = &app.store.conversations(&t.tenant.id).await.unwrap()[0];
    // Their order is the order of `seq` (commit order), which can differ from the
    // order of arrival timestamps when POSTs race.
    let mut inbound: Vec<_> = app
        .store
        .messages(&t.tenant.id, &conversation.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == Direction::Inbound)
        .collect();
    inbound.sort_by_key(|m| m.seq);
    let inbound: Vec<String> = inbound
        .iter()
        .map(|m| format!("echo: {}", m.body))
        .collect();
    assert_eq!(replies, inbound);

    // The stored executions agree: their time spans never overlap.
    let runs = app
        .store
        .executions(&t.tenant.id, &conversation.id)
        .await
        .unwrap();
    for pair in runs.windows(2) {
        assert!(pair[0].finished_at <= pair[1].started_at, "{pair:?}");
        assert_eq!(
            pair[0].to_seq + 1,
            pair[1].from_seq,
            "batches cover every message once"
        );
    }
    assert_eq!(runs.first().unwrap().from_seq, 1);
    assert_eq!(runs.last().unwrap().to_seq, 20);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_conversations_never_exceed_the_global_cap() {
    let graph = FakeGraph::start().await;
    // Each run spends 100 ms in the agent, far longer than its reads and its
    // commit, so with 200 waiting the cap is reached on a loaded machine too
    // (with 25 ms, a loaded PostgreSQL run once peaked at 7 of 8).
    let (app, echo) = spawn_with_echo(Duration::from_millis(100), 8).await;
    let t = app.tenant("pune", "PUNE", &graph).await;

    // Meta batches: 10 POSTs, each with 20 messages from 20 different citizens.
    let posts = (0..10).map(|batch| {
        let (app, t) = (&app, &t);
        async move {
            let messages = (0..20)
                .map(|i| {
                    let n = batch * 20 + i;
                    (
                        format!("9198{n:08}"),
                        format!("wamid.C{n:04}"),
                        format!("hello {n}"),
                    )
                })
                .collect();
            let payload = envelope(value_with_messages(&t.channel, messages));
            let res = app.post_signed(t, &payload).await;
            assert_eq!(res.status(), 200);
        }
    });
    join_all(posts).await;

    let delivered = graph
        .wait_for_deliveries(200, Duration::from_secs(20))
        .await;
    assert_eq!(delivered.len(), 200, "every conversation answered");
    let distinct: HashSet<_> = delivered.iter().map(|r| r.to.clone()).collect();
    assert_eq!(distinct.len(), 200);
    let max = echo.max_active.load(Ordering::SeqCst);
    assert!(max <= 8, "{max} runs at once with a cap of 8");
    assert_eq!(
        max, 8,
        "the cap was reached, so it was what held the runs back"
    );
    assert_eq!(echo.overlaps.load(Ordering::SeqCst), 0);
    app.stop().await;
}

/// A runtime that always fails: the run is retried, then recorded as failed and
/// the conversation handed to staff. No reply is sent twice (none is sent at all).
struct AlwaysFails(AtomicUsize);

#[async_trait]
impl AgentRuntime for AlwaysFails {
    async fn run(&self, _: RunInput, _: &dyn Tools) -> Result<RunOutput, AgentError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Err(AgentError::Failed("the model is down".into()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_run_retries_then_fails_and_hands_over() {
    let graph = FakeGraph::start().await;
    let failing = Arc::new(AlwaysFails(AtomicUsize::new(0)));
    let runtimes = Runtimes::builtin().with("intake", failing.clone());
    let app = TestApp::spawn_with(|c| c.agents.max_attempts = 3, Some(runtimes)).await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    app.say(&t, "919800000001", "broken road").await;

    let handed = wait_until(Duration::from_secs(5), || async {
        app.store.conversations(&t.tenant.id).await.unwrap()[0].state
            == ombud_core::ConversationState::Human
    })
    .await;
    assert!(handed, "the conversation was not handed to staff");
    assert_eq!(failing.0.load(Ordering::SeqCst), 3, "three attempts");
    let conversation = &app.store.conversations(&t.tenant.id).await.unwrap()[0];
    let runs = app
        .store
        .executions(&t.tenant.id, &conversation.id)
        .await
        .unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, "failed");
    assert_eq!(runs[0].attempts, 3);
    assert!(runs[0]
        .error
        .as_deref()
        .unwrap_or("")
        .contains("the model is down"));
    assert!(
        !conversation.is_due(),
        "the cursor moved past the failed messages"
    );
    assert!(graph.requests().is_empty());
    app.stop().await;
}
