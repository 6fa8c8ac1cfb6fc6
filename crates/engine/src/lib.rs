//! The engine: takes stored inbound messages to answered ones. The conversation
//! queue runs each due conversation's agent (one run per conversation at a time,
//! a global cap, fair FIFO); the runner commits each run's replies with their
//! outbox rows; the outbox sender delivers them with retries; the webhook dispatcher
//! delivers domain events to tenants' endpoints.
//!
//! And it is where every change of state happens ([`ops`]): the API, the
//! dashboard and the CLI call the same operation for the same action, which
//! writes the change with its audit entry in one transaction and wakes the
//! workers the change needs. The web layer only reads the store.

mod backoff;
mod claims;
pub mod complaints;
mod config;
mod engine;
pub mod mail;
pub mod media;
pub mod metrics;
pub mod ops;
pub mod outbound;
mod outbox;
pub mod paging;
pub mod provision;
mod queue;
mod runner;
mod runtimes;
pub mod scheduler;
pub mod summary;
mod survey_run;
mod test_panel;
mod tools;
pub mod webhooks;

pub use complaints::{ChangeReport, Selection};
pub use config::{EngineConfig, OutboxConfig, WebhookConfig};
pub use engine::{Engine, EngineHealth};
pub use ops::{Acting, Operations};
pub use outbound::{OutboundError, OutboundPolicy};
pub use queue::{ConversationQueue, QueueStats};
pub use runtimes::Runtimes;
