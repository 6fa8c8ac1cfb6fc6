//! Agent runtimes. A runtime turns a batch of inbound messages into replies, using
//! tools for anything that touches data. The built-in `intake` runtime is a
//! deterministic complaint-intake dialogue; LLM and process runtimes implement the
//! same trait.

pub mod config;
pub mod intake;
pub mod language;
pub mod llm;
pub mod process;
mod runtime;
#[cfg(test)]
mod testing;
pub mod toolbox;

pub use config::{AgentKind, ConfigError};
pub use runtime::*;
pub use toolbox::{ToolBox, ToolCall, ToolSpec};
