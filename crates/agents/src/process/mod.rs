//! The process runtime: programs speaking the worker protocol. Its
//! configuration is checked here; the worker pool comes with the runtime.

mod config;

pub use config::{ProcessConfig, Sandbox, SandboxMode};

/// The kind name of process agents.
pub const KIND: &str = "process";
