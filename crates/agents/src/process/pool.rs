//! The process runtime: warm workers per conversation, a cap per version with
//! the least recently used idle worker closed first, idle close, hard timeout.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ombud_core::*;
use serde_json::{json, Value};
use tokio::sync::Notify;

use super::config::ProcessConfig;
use super::sandbox::{command, ProcessSettings};
use super::worker::Worker;
use crate::toolbox::ToolBox;
use crate::{
    AgentError, AgentRuntime, Reply, RunFailure, RunInput, RunOutput, Tools, WorkerCounts,
};

/// How often idle workers are looked for.
const REAP_EVERY: Duration = Duration::from_millis(200);

pub struct ProcessRuntime {
    inner: Arc<Inner>,
}

struct Inner {
    settings: ProcessSettings,
    pools: Mutex<HashMap<AgentVersionId, Arc<Pool>>>,
    /// Live workers over all versions.
    live: AtomicUsize,
    /// Workers started so far.
    spawned: AtomicUsize,
    /// Workers that ended badly so far (see `WorkerCounts::crashed`).
    crashed: AtomicU64,
}

/// The workers of one version.
struct Pool {
    config: ProcessConfig,
    agent_dir: std::path::PathBuf,
    state: Mutex<PoolState>,
    freed: Notify,
}

#[derive(Default)]
struct PoolState {
    /// Warm workers waiting for their conversation's next message.
    idle: HashMap<ConversationId, Worker>,
    /// Workers in a run, and places taken by workers being started.
    busy: usize,
}

/// What a run was given to work with.
struct Taken {
    worker: Worker,
    reused: bool,
}

impl ProcessRuntime {
    pub fn new(settings: ProcessSettings) -> Self {
        let inner = Arc::new(Inner {
            settings,
            pools: Mutex::new(HashMap::new()),
            live: AtomicUsize::new(0),
            spawned: AtomicUsize::new(0),
            crashed: AtomicU64::new(0),
        });
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(reap(Arc::downgrade(&inner)));
        }
        Self { inner }
    }

    /// Live workers now.
    pub fn live_workers(&self) -> usize {
        self.inner.live.load(Ordering::Relaxed)
    }

    /// Workers started so far.
    pub fn spawned(&self) -> usize {
        self.inner.spawned.load(Ordering::Relaxed)
    }

    fn pool(&self, version: &AgentVersionId, agent: &str, config: ProcessConfig) -> Arc<Pool> {
        let mut pools = self.inner.pools.lock().unwrap_or_else(|e| e.into_inner());
        pools
            .entry(version.clone())
            .or_insert_with(|| {
                Arc::new(Pool {
                    config,
                    agent_dir: self.inner.settings.work_root.join(agent),
                    state: Mutex::new(PoolState::default()),
                    freed: Notify::new(),
                })
            })
            .clone()
    }
}

impl Inner {
    fn started(&self) {
        self.spawned.fetch_add(1, Ordering::Relaxed);
        self.live.fetch_add(1, Ordering::Relaxed);
    }

    fn ended(&self) {
        self.live.fetch_sub(1, Ordering::Relaxed);
    }

    /// Every version's pool, as of now.
    fn all_pools(&self) -> Vec<Arc<Pool>> {
        self.pools
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

impl Pool {
    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The conversation's warm worker, or a new one when the cap allows (closing
    /// the least recently used idle worker if it must), or waits for one to free.
    async fn take(&self, inner: &Inner, conversation: &ConversationId) -> Result<Taken, String> {
        loop {
            let freed = self.freed.notified();
            let (start, closing) = {
                let mut state = self.lock();
                let mut closing = None;
                if let Some(mut w) = state.idle.remove(conversation) {
                    if w.alive() {
                        state.busy += 1;
                        return Ok(Taken {
                            worker: w,
                            reused: true,
                        });
                    }
                    // It died while idle: replaced below.
                    inner.ended();
                    inner.crashed.fetch_add(1, Ordering::Relaxed);
                    closing = Some(w);
                }
                let live = state.idle.len() + state.busy;
                let room = live < self.config.max_workers as usize;
                if !room {
                    let oldest = state
                        .idle
                        .iter()
                        .min_by_key(|(_, w)| w.last_used)
                        .map(|(c, _)| c.clone());
                    if let Some(c) = oldest {
                        closing = state.idle.remove(&c);
                        inner.ended();
                    }
                }
                let start = room || closing.is_some();
                if start {
                    state.busy += 1;
                }
                (start, closing)
            };
            if !start {
                freed.await;
                continue;
            }
            if let Some(w) = closing {
                w.close().await;
            }
            let started = command(&self.config, &inner.settings, &self.agent_dir)
                .and_then(|cmd| Worker::spawn(cmd, conversation.clone()));
            return match started {
                Ok(worker) => {
                    inner.started();
                    Ok(Taken {
                        worker,
                        reused: false,
                    })
                }
                Err(e) => {
                    self.lock().busy -= 1;
                    self.freed.notify_one();
                    Err(e)
                }
            };
        }
    }

    /// Gives a worker back warm, or ends it after a failed run.
    async fn give_back(&self, inner: &Inner, mut worker: Worker, healthy: bool) {
        let keep = healthy && worker.alive();
        {
            let mut state = self.lock();
            state.busy -= 1;
            if keep {
                worker.last_used = Instant::now();
                let conversation = worker.conversation.clone();
                state.idle.insert(conversation, worker);
                drop(state);
                self.freed.notify_one();
                return;
            }
        }
        inner.ended();
        inner.crashed.fetch_add(1, Ordering::Relaxed);
        worker.kill().await;
        self.freed.notify_one();
    }

    /// Takes out the workers idle longer than the version allows.
    fn expired(&self, now: Instant) -> Vec<Worker> {
        let idle_for = Duration::from_secs(self.config.idle_timeout_secs.into());
        let mut state = self.lock();
        let old: Vec<ConversationId> = state
            .idle
            .iter()
            .filter(|(_, w)| now.duration_since(w.last_used) >= idle_for)
            .map(|(c, _)| c.clone())
            .collect();
        old.iter().filter_map(|c| state.idle.remove(c)).collect()
    }
}

/// Closes idle workers past their version's idle timeout, until the runtime goes.
async fn reap(inner: Weak<Inner>) {
    loop {
        tokio::time::sleep(REAP_EVERY).await;
        let Some(inner) = inner.upgrade() else { return };
        let pools = inner.all_pools();
        let now = Instant::now();
        for pool in pools {
            let expired = pool.expired(now);
            if expired.is_empty() {
                continue;
            }
            for worker in expired {
                tracing::debug!(pid = worker.pid, "closing an idle worker");
                inner.ended();
                worker.close().await;
            }
            pool.freed.notify_one();
        }
    }
}

/// What a worker said in one run.
#[derive(Default)]
struct Said {
    replies: Vec<String>,
    done: Value,
}

/// One run's exchange: `run`, then tool calls answered, until `done`.
async fn exchange(
    worker: &mut Worker,
    input: &RunInput,
    toolbox: &mut ToolBox<'_>,
    said: &mut Said,
) -> Result<(), String> {
    let messages: Vec<Value> = input
        .messages
        .iter()
        .map(|m| json!({"id": m.id, "kind": m.kind.as_str(), "text": m.body, "at": m.created_at}))
        .collect();
    let last = input.messages.last().map_or("", |m| m.id.as_str());
    worker
        .send(&json!({
            "type": "run",
            "run_id": format!("{}:{last}", input.conversation_id),
            "conversation_id": input.conversation_id,
            "tenant": {"name": input.tenant.name, "default_language": input.tenant.default_language},
            "contact": {"id": input.contact.id, "name": input.contact.profile_name, "language": input.contact.language},
            "messages": messages,
            "state": input.state,
            "now": input.now,
        }))
        .await?;
    loop {
        let message = worker.next().await?;
        match message["type"].as_str() {
            Some("tool_call") => {
                let name = message["name"].as_str().unwrap_or("");
                let result = toolbox.call(name, &message["arguments"]).await;
                worker
                    .send(&json!({"type": "tool_result", "id": message["id"], "result": result}))
                    .await?;
            }
            Some("reply") => match message["text"].as_str() {
                Some(text) if !text.trim().is_empty() => said.replies.push(text.to_owned()),
                _ => return Err("a reply without text".into()),
            },
            Some("done") => {
                said.done = message;
                return Ok(());
            }
            Some("log") => {
                tracing::debug!(pid = worker.pid, message = %message["message"], "worker log");
            }
            other => tracing::debug!(pid = worker.pid, ?other, "a worker line of unknown type"),
        }
    }
}

#[async_trait]
impl AgentRuntime for ProcessRuntime {
    fn workers(&self) -> WorkerCounts {
        let pools = self.inner.all_pools();
        let (warm, busy) = pools.iter().fold((0, 0), |(warm, busy), pool| {
            let state = pool.lock();
            (warm + state.idle.len(), busy + state.busy)
        });
        WorkerCounts {
            warm,
            busy,
            crashed: self.inner.crashed.load(Ordering::Relaxed),
        }
    }

    async fn run(&self, input: RunInput, tools: &dyn Tools) -> Result<RunOutput, AgentError> {
        let config: ProcessConfig =
            crate::config::parse(&input.config).map_err(|e| AgentError::Config(e.to_string()))?;
        let version = input
            .version
            .clone()
            .ok_or_else(|| AgentError::Config("a process agent runs a saved version".into()))?;
        let agent = input
            .agent
            .as_ref()
            .map_or("unsaved", |a| a.as_str())
            .to_owned();
        let pool = self.pool(&version, &agent, config.clone());
        let mut toolbox = ToolBox::for_run(tools, super::KIND, &input);
        let failed =
            |error: String, timeout: bool, replies: Vec<String>, runtime: Value| RunOutput {
                replies: replies
                    .into_iter()
                    .map(|text| Reply {
                        text,
                        in_reply_to: None,
                        choices: None,
                    })
                    .collect(),
                state: input.state.clone(),
                handoff: true,
                failure: Some(RunFailure { error, timeout }),
                runtime: Some(runtime),
                ..RunOutput::default()
            };
        let taken = match pool.take(&self.inner, &input.conversation_id).await {
            Ok(t) => t,
            Err(e) => return Ok(failed(e, false, Vec::new(), json!({}))),
        };
        let Taken { mut worker, reused } = taken;
        let runtime = json!({"worker_pid": worker.pid, "reused": reused});
        let hard = Duration::from_secs(config.hard_timeout_secs.into());
        let mut said = Said::default();
        let outcome =
            tokio::time::timeout(hard, exchange(&mut worker, &input, &mut toolbox, &mut said))
                .await;
        let error = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some((e, false)),
            Err(_) => Some((
                format!(
                    "the worker did not finish within {} s and was killed",
                    config.hard_timeout_secs
                ),
                true,
            )),
        };
        pool.give_back(&self.inner, worker, error.is_none()).await;
        if let Some((error, timeout)) = error {
            let mut out = failed(error, timeout, said.replies, runtime);
            out.tool_calls = std::mem::take(&mut toolbox.calls);
            return Ok(out);
        }
        let done = &said.done;
        let language = match done["language"].as_str() {
            Some(code) => Language::parse(code).ok(),
            None => toolbox.language.take(),
        };
        let in_reply_to = input.messages.last().map(|m| m.id.clone());
        Ok(RunOutput {
            replies: said
                .replies
                .into_iter()
                .map(|text| Reply {
                    text,
                    in_reply_to: in_reply_to.clone(),
                    choices: None,
                })
                .collect(),
            state: match &done["state"] {
                Value::Null => input.state.clone(),
                state => state.clone(),
            },
            handoff: toolbox.handoff || done["handoff"] == true,
            language,
            tool_calls: std::mem::take(&mut toolbox.calls),
            tokens: None,
            failure: None,
            runtime: Some(runtime),
        })
    }
}
