//! The process runtime: programs speaking the worker protocol
//! (docs/worker-protocol.md) on stdin/stdout, kept warm per conversation,
//! capped in number, killed at a hard timeout, and sandboxed.

mod config;
mod pool;
mod sandbox;
mod worker;

pub use config::{ProcessConfig, Sandbox, SandboxMode};
pub use pool::ProcessRuntime;
pub use sandbox::{find_on_path, CommandAllowList, ProcessSettings};

/// The kind name of process agents.
pub const KIND: &str = "process";
