use std::collections::HashMap;
use std::sync::Arc;

use ombud_agents::intake::{self, IntakeAgent};
use ombud_agents::AgentRuntime;

/// The runtime for each agent kind. Built-in: `intake`; the engine adds `llm`
/// and (given its settings) `process` unless a runtime of that kind was
/// registered already, as tests do with theirs.
#[derive(Clone)]
pub struct Runtimes {
    by_kind: HashMap<String, Arc<dyn AgentRuntime>>,
}

impl Runtimes {
    pub fn builtin() -> Self {
        let mut by_kind: HashMap<String, Arc<dyn AgentRuntime>> = HashMap::new();
        by_kind.insert(intake::KIND.to_owned(), Arc::new(IntakeAgent::default()));
        Self { by_kind }
    }

    /// Replaces or adds the runtime for `kind`.
    pub fn with(mut self, kind: &str, runtime: Arc<dyn AgentRuntime>) -> Self {
        self.by_kind.insert(kind.to_owned(), runtime);
        self
    }

    /// Adds the runtime `make` gives for `kind` unless one is registered.
    pub fn or_with(mut self, kind: &str, make: impl FnOnce() -> Arc<dyn AgentRuntime>) -> Self {
        self.by_kind.entry(kind.to_owned()).or_insert_with(make);
        self
    }

    pub fn get(&self, kind: &str) -> Option<Arc<dyn AgentRuntime>> {
        self.by_kind.get(kind).cloned()
    }

    /// Each runtime with its kind.
    pub fn all(&self) -> impl Iterator<Item = (&str, &Arc<dyn AgentRuntime>)> {
        self.by_kind.iter().map(|(k, r)| (k.as_str(), r))
    }
}

impl Default for Runtimes {
    fn default() -> Self {
        Self::builtin()
    }
}
