//! One agent run: read the conversation and its new messages, run the deployed
//! version's agent, commit everything it produced in one transaction.

use std::sync::Arc;
use std::time::Duration;

use ombud_agents::intake::{IntakeConfig, KIND as INTAKE};
use ombud_agents::RunInput;
use ombud_channels::text::split_text;
use ombud_core::event::payload;
use ombud_core::*;
use ombud_store::*;
use serde_json::json;

use crate::metrics;
use crate::runtimes::Runtimes;
use crate::tools::StoreTools;

pub enum RunResult {
    /// Nothing (more) to do for now.
    Done(Sends),
    /// The run failed; try again after this long.
    Retry(Duration),
    /// Another replica holds the conversation's lease; look again soon.
    Busy,
}

/// What a committed run left to send.
#[derive(Default)]
pub struct Sends {
    /// Claimed for this process to send at once, in order.
    pub claimed: Vec<OutboxItem>,
    /// Written to the outbox unclaimed, behind an earlier unfinished send.
    pub waiting: usize,
    /// Messages of a later session wait for the next run.
    pub more_due: bool,
}

pub struct Runner {
    pub store: Arc<dyn Store>,
    pub runtimes: Runtimes,
    pub clock: Arc<dyn Clock>,
    pub retry_base: Duration,
    pub max_attempts: u32,
    pub replica_id: String,
    pub lease: Duration,
    /// How long the sends a run claims for itself stay claimed.
    pub send_lease: Duration,
}

impl Runner {
    /// Runs the conversation once. `attempt` counts from 1; the last allowed
    /// attempt that fails commits a failed execution instead of retrying.
    pub async fn run(&self, key: &ConversationKey, attempt: u32) -> RunResult {
        let now = self.clock.now();
        let until = now + chrono::Duration::from_std(self.lease).unwrap_or_default();
        let ctx = match self
            .store
            .begin_run(key, &self.replica_id, now, until)
            .await
        {
            // Kept boxed: the run's futures hold it across every await.
            Ok(RunStart::Ready(ctx)) => ctx,
            Ok(RunStart::Busy) => return RunResult::Busy,
            Ok(RunStart::Missing) => return RunResult::Done(Sends::default()),
            Err(error) => {
                metrics::error("runner", "database");
                tracing::warn!(conversation = %key.conversation_id, %error, "could not start a run");
                return RunResult::Retry(self.retry_base);
            }
        };
        let result = self
            .keeping_lease(key, self.run_leased(key, ctx, attempt))
            .await;
        if let Err(error) = self.store.release_conversation(key, &self.replica_id).await {
            // The lease expires on its own.
            tracing::warn!(conversation = %key.conversation_id, %error, "could not release the conversation's lease");
        }
        result
    }

    /// Runs `run` while renewing the conversation's lease every third of its
    /// length, so a run longer than the lease (a model thinking, a worker at
    /// work) is not taken over by another replica meanwhile.
    async fn keeping_lease<T>(
        &self,
        key: &ConversationKey,
        run: impl std::future::Future<Output = T>,
    ) -> T {
        let every = (self.lease / 3).max(Duration::from_millis(10));
        while_renewing(every, run, || async {
            let now = self.clock.now();
            let until = now + chrono::Duration::from_std(self.lease).unwrap_or_default();
            match self.store.lease_conversation(key, &self.replica_id, now, until).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!(conversation = %key.conversation_id, "the conversation's lease was lost during a run; its result will be dropped if another run committed first"),
                Err(error) => tracing::warn!(conversation = %key.conversation_id, %error, "could not renew the conversation's lease"),
            }
        })
        .await
    }

    async fn run_leased(
        &self,
        key: &ConversationKey,
        ctx: Box<RunContext>,
        attempt: u32,
    ) -> RunResult {
        match self.try_run(key, ctx, attempt).await {
            Ok(sends) => RunResult::Done(sends),
            Err(error) if attempt < self.max_attempts => {
                let delay = crate::backoff::backoff(attempt, self.retry_base, self.retry_base * 64);
                tracing::warn!(conversation = %key.conversation_id, attempt, %error, ?delay, "agent run failed; will retry");
                RunResult::Retry(delay)
            }
            Err(error) => {
                tracing::error!(conversation = %key.conversation_id, attempt, %error, "agent run failed for good");
                match self.commit_failure(key, attempt, &error).await {
                    Ok(()) => RunResult::Done(Sends::default()),
                    Err(e) => {
                        tracing::error!(conversation = %key.conversation_id, error = %e, "could not record the failed run");
                        RunResult::Retry(self.retry_base * 64)
                    }
                }
            }
        }
    }

    /// The runtime of the deployed version (the intake agent when none is),
    /// its kind, configuration and version.
    fn runtime_of(&self, ctx: &RunContext) -> Result<Deployed, String> {
        let (kind, config, version) = match &ctx.agent_version {
            Some(v) => (v.kind.as_str(), v.config.clone(), Some(v.id.clone())),
            None => (INTAKE, default_config(), None),
        };
        let runtime = self
            .runtimes
            .get(kind)
            .ok_or_else(|| format!("no runtime for agent kind {kind:?}"))?;
        Ok(Deployed {
            kind: kind.to_owned(),
            runtime,
            config,
            version,
        })
    }

    async fn try_run(
        &self,
        key: &ConversationKey,
        mut ctx: Box<RunContext>,
        attempt: u32,
    ) -> Result<Sends, String> {
        // A message whose photo or voice note is still being fetched waits,
        // and so do those after it: its fetch wakes the conversation.
        if let Some(waiting) = ctx.pending.iter().position(Message::awaits_media) {
            ctx.pending.truncate(waiting);
        }
        if !ctx.conversation.is_due() || ctx.pending.is_empty() {
            return Ok(Sends::default());
        }
        let started_at = self.clock.now();
        let Deployed {
            kind,
            runtime,
            config,
            version,
        } = self.runtime_of(&ctx)?;
        let kind = kind.as_str();
        // One session per run: what a later session's messages say is read
        // by the next run, with that session's memory.
        let session = Session::of(&mut ctx, runtime.as_ref());
        let to_seq = ctx
            .pending
            .last()
            .map(|m| m.seq)
            .unwrap_or(ctx.conversation.run_cursor);
        let from_seq = ctx.pending.first().map(|m| m.seq).unwrap_or(to_seq);
        let survey = crate::survey_run::take_answers(self.store.as_ref(), &ctx, started_at)
            .await
            .map_err(|e| e.to_string())?;
        // A contact staff blocked: their messages are kept (the cursor moves
        // past them), the agent reads none, and they are told once.
        let blocked = ctx.contact.blocked(started_at).cloned();
        let for_agent = match &blocked {
            Some(_) => &[][..],
            None => &ctx.pending[survey.taken..],
        };
        let block_reply = blocked.as_ref().filter(|b| !b.told).map(|b| {
            let until = ctx
                .tenant
                .timezone
                .local_time(b.until)
                .format("%-d %b %Y %H:%M");
            NewReply {
                body: ombud_core::conversation::Block::notice(
                    ctx.contact.language.as_ref(),
                    &until.to_string(),
                ),
                in_reply_to: ctx.pending.last().map(|m| m.id.clone()),
                choices: None,
            }
        });
        let output = if for_agent.is_empty() {
            // Only answers to the survey, or a blocked contact's messages:
            // the agent has nothing to read.
            ombud_agents::RunOutput {
                state: session.state.clone(),
                ..Default::default()
            }
        } else {
            let tools = StoreTools {
                store: self.store.as_ref(),
                tenant: &ctx.tenant,
                contact: &ctx.contact,
                key,
                now: started_at,
            };
            let input = RunInput {
                tenant: ctx.tenant.clone(),
                contact: ctx.contact.clone(),
                conversation_id: ctx.conversation.id.clone(),
                state: session.state.clone(),
                messages: for_agent.to_vec(),
                config,
                version,
                agent: ctx.agent_version.as_ref().map(|v| v.agent_id.clone()),
                now: started_at,
            };
            let began = std::time::Instant::now();
            let ran = runtime.run(input, &tools).await;
            let outcome = match &ran {
                Ok(o) => match &o.failure {
                    None => "ok",
                    Some(f) if f.timeout => "timeout",
                    Some(_) => "failed",
                },
                Err(_) => "error",
            };
            metrics::run(kind, outcome, began.elapsed());
            ran.map_err(|e| {
                metrics::error("runner", "agent");
                e.to_string()
            })?
        };
        let finished_at = self.clock.now();
        let max = ctx.channel.kind().max_text_chars();
        let agent_replies = output.replies.iter().flat_map(|r| {
            let parts = split_text(&r.text, max);
            let last = parts.len().saturating_sub(1);
            parts
                .into_iter()
                .enumerate()
                .map(move |(i, body)| NewReply {
                    body,
                    in_reply_to: r.in_reply_to.clone(),
                    // The buttons go under the last part, where the question is.
                    choices: if i == last { r.choices.clone() } else { None },
                })
        });
        let replies: Vec<NewReply> = survey
            .replies
            .into_iter()
            .chain(block_reply)
            .chain(agent_replies)
            .filter(|r| !r.body.trim().is_empty())
            .collect();
        let mut events = survey.events;
        // A voice note no machine could hear goes to people whichever agent
        // read it (the intake agent says so to the citizen; others may not).
        let unheard = for_agent.iter().any(|m| {
            m.media
                .as_ref()
                .is_some_and(|i| i.state == ombud_core::media::MediaState::Unheard)
        });
        let state = if output.handoff || unheard {
            events.push(NewEvent::of(&payload::ConversationHandoff {
                conversation_id: key.conversation_id.to_string(),
                contact_id: ctx.contact.id.to_string(),
                reason: if unheard {
                    "voice_note_unheard"
                } else {
                    "requested"
                }
                .into(),
            }));
            ConversationState::Human
        } else {
            ctx.conversation.state
        };
        let execution_id = ExecutionId::new();
        let (status, error) = match &output.failure {
            None => (ExecutionStatus::Ok, None),
            Some(f) => {
                tracing::warn!(conversation = %key.conversation_id, error = %f.error, "agent run failed; its fallback reply is sent");
                events.push(NewEvent::of(&payload::ExecutionFailed {
                    execution_id: execution_id.to_string(),
                    conversation_id: key.conversation_id.to_string(),
                    error: f.error.clone(),
                    attempts: attempt,
                    timeout: Some(f.timeout),
                }));
                let status = if f.timeout {
                    ExecutionStatus::Timeout
                } else {
                    ExecutionStatus::Failed
                };
                (status, Some(f.error.clone()))
            }
        };
        let written = replies.len();
        // When each reply's message came in, for the reply latency of the
        // sends this run claims (the outbox's own claims join it in).
        let reply_to_at: Vec<_> = replies
            .iter()
            .map(|r| {
                let answered = r.in_reply_to.as_ref()?;
                ctx.pending
                    .iter()
                    .find(|m| &m.id == answered)
                    .map(|m| m.created_at)
            })
            .collect();
        let kept = execution_output(&output);
        let commit = RunCommit {
            tenant_id: key.tenant_id.clone(),
            conversation_id: key.conversation_id.clone(),
            expected_cursor: ctx.conversation.run_cursor,
            new_cursor: to_seq,
            agent_state: output.state,
            session: session.number,
            state,
            contact_language: output.language,
            replies,
            execution: NewExecution {
                id: execution_id,
                agent_version_id: ctx.agent_version.as_ref().map(|v| v.id.clone()),
                from_seq,
                to_seq,
                input_ids: ctx.pending.iter().map(|m| m.id.clone()).collect(),
                status,
                output: kept,
                tool_calls: serde_json::to_value(&output.tool_calls).unwrap_or_default(),
                tokens: output.tokens,
                error,
                attempts: attempt,
                started_at,
                finished_at,
            },
            events,
            survey: survey.answer,
            block_told: blocked.is_some_and(|b| !b.told),
            at: finished_at,
            claim_sends_until: Some(
                finished_at + chrono::Duration::from_std(self.send_lease).unwrap_or_default(),
            ),
        };
        match self
            .store
            .commit_run(commit)
            .await
            .map_err(|e| e.to_string())?
        {
            CommitOutcome::Committed { mut claimed, .. } => {
                // Claimed sends are the replies, in order, or none.
                for (item, at) in claimed.iter_mut().zip(reply_to_at) {
                    item.reply_to_at = at;
                }
                Ok(Sends {
                    waiting: written - claimed.len(),
                    claimed,
                    more_due: session.more_due,
                })
            }
            CommitOutcome::CursorMoved => {
                tracing::warn!(conversation = %key.conversation_id, "run cursor moved under this run; its result was dropped");
                Ok(Sends::default())
            }
        }
    }

    /// Records the failure, moves the cursor past the messages that could not be
    /// answered (so they are not retried forever) and hands the conversation to
    /// staff, who see the messages and the failed execution.
    async fn commit_failure(
        &self,
        key: &ConversationKey,
        attempt: u32,
        error: &str,
    ) -> Result<(), StoreError> {
        let Some(mut ctx) = self.store.load_run(key).await? else {
            return Ok(());
        };
        let Some(last) = ctx.pending.last().cloned() else {
            return Ok(());
        };
        // Every message waiting goes to staff, so the memory left is that
        // of the latest session.
        let session = last.session;
        let agent_state = match (
            session == ctx.conversation.agent_session,
            self.runtime_of(&ctx),
        ) {
            (true, _) | (false, Err(_)) => ctx.conversation.agent_state.take(),
            (false, Ok(d)) => d.runtime.new_session(&ctx.conversation.agent_state),
        };
        let now = self.clock.now();
        let execution_id = ExecutionId::new();
        let commit = RunCommit {
            tenant_id: key.tenant_id.clone(),
            conversation_id: key.conversation_id.clone(),
            expected_cursor: ctx.conversation.run_cursor,
            new_cursor: last.seq,
            agent_state,
            session,
            state: ConversationState::Human,
            contact_language: None,
            replies: Vec::new(),
            execution: NewExecution {
                id: execution_id.clone(),
                agent_version_id: ctx.agent_version.as_ref().map(|v| v.id.clone()),
                from_seq: ctx.pending.first().map(|m| m.seq).unwrap_or(last.seq),
                to_seq: last.seq,
                input_ids: ctx.pending.iter().map(|m| m.id.clone()).collect(),
                status: ExecutionStatus::Failed,
                output: json!({}),
                tool_calls: json!([]),
                tokens: None,
                error: Some(error.to_owned()),
                attempts: attempt,
                started_at: now,
                finished_at: now,
            },
            events: vec![
                NewEvent::of(&payload::ExecutionFailed {
                    execution_id: execution_id.to_string(),
                    conversation_id: key.conversation_id.to_string(),
                    error: error.to_owned(),
                    attempts: attempt,
                    timeout: None,
                }),
                NewEvent::of(&payload::ConversationHandoff {
                    conversation_id: key.conversation_id.to_string(),
                    contact_id: ctx.contact.id.to_string(),
                    reason: "agent_failed".into(),
                }),
            ],
            survey: None,
            block_told: false,
            at: now,
            claim_sends_until: None,
        };
        self.store.commit_run(commit).await.map(|_| ())
    }
}

/// The deployed version's runtime, as a run uses it.
struct Deployed {
    kind: String,
    runtime: Arc<dyn ombud_agents::AgentRuntime>,
    config: Arc<serde_json::Value>,
    version: Option<AgentVersionId>,
}

/// The session a run reads, and the agent's memory for it.
struct Session {
    number: i64,
    state: serde_json::Value,
    /// Messages of a later session wait.
    more_due: bool,
}

impl Session {
    /// Narrows `ctx.pending` to the messages of the earliest session among
    /// them (a run never mixes two), with the memory the agent reads: what
    /// the last run left if it was of that session, else a new session's.
    fn of(ctx: &mut RunContext, runtime: &dyn ombud_agents::AgentRuntime) -> Self {
        let number = ctx
            .pending
            .first()
            .map_or(ctx.conversation.session, |m| m.session);
        let all = ctx.pending.len();
        ctx.pending.retain(|m| m.session == number);
        let state = if number == ctx.conversation.agent_session {
            ctx.conversation.agent_state.clone()
        } else {
            runtime.new_session(&ctx.conversation.agent_state)
        };
        Self {
            number,
            state,
            more_due: ctx.pending.len() < all,
        }
    }
}

/// Runs `run` to its end, calling `renew` every `every` meanwhile.
///
/// The renewals are polled beside the run, never instead of it: a run in the
/// middle of its commit holds a connection and row locks, and must go on while
/// a renewal waits for a connection of its own. (Awaiting the renewal in place
/// once stalled every run holding a connection until the pool's acquire
/// timeout.)
async fn while_renewing<T, R: std::future::Future<Output = ()>>(
    every: Duration,
    run: impl std::future::Future<Output = T>,
    mut renew: impl FnMut() -> R,
) -> T {
    let renewing = async {
        loop {
            tokio::time::sleep(every).await;
            renew().await;
        }
    };
    tokio::select! {
        done = run => done,
        never = renewing => never,
    }
}

/// What a channel with no deployed version runs: the intake agent as it comes.
fn default_config() -> Arc<serde_json::Value> {
    static DEFAULT: std::sync::OnceLock<Arc<serde_json::Value>> = std::sync::OnceLock::new();
    DEFAULT
        .get_or_init(|| Arc::new(serde_json::to_value(IntakeConfig::default()).unwrap_or_default()))
        .clone()
}

/// What an execution keeps of a run's output.
fn execution_output(output: &ombud_agents::RunOutput) -> serde_json::Value {
    let mut out = json!({
        "replies": output.replies.iter().map(|r| &r.text).collect::<Vec<_>>(),
        "handoff": output.handoff,
    });
    if let Some(runtime) = &output.runtime {
        out["runtime"] = runtime.clone();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn a_renewal_that_waits_does_not_hold_the_run_up() {
        // The first renewal never gets its connection; the run must still end.
        let renewals = AtomicUsize::new(0);
        let run = async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "done"
        };
        let ended = tokio::time::timeout(
            Duration::from_secs(60),
            while_renewing(Duration::from_secs(1), run, || {
                renewals.fetch_add(1, Ordering::SeqCst);
                std::future::pending::<()>()
            }),
        )
        .await;
        assert_eq!(ended, Ok("done"));
        assert_eq!(renewals.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn renewals_come_every_period_while_the_run_lasts() {
        let renewals = AtomicUsize::new(0);
        let run = tokio::time::sleep(Duration::from_millis(3500));
        while_renewing(Duration::from_secs(1), run, || {
            renewals.fetch_add(1, Ordering::SeqCst);
            async {}
        })
        .await;
        assert_eq!(renewals.load(Ordering::SeqCst), 3);
    }
}
