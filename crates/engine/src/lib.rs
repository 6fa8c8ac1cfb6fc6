//! The engine: takes stored inbound messages to answered ones. The conversation
//! queue runs each due conversation's agent (one run per conversation at a time,
//! a global cap, fair FIFO); the runner commits each run's replies with their
//! outbox rows; the outbox sender delivers them with retries.

mod backoff;
pub mod complaints;
mod config;
mod engine;
mod outbox;
pub mod provision;
mod queue;
mod runner;
mod runtimes;
mod tools;

pub use complaints::{ChangeReport, Selection};
pub use config::{EngineConfig, OutboxConfig};
pub use engine::{Engine, EngineHealth};
pub use queue::{ConversationQueue, QueueStats};
pub use runtimes::Runtimes;
