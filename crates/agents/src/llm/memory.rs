//! What an LLM agent remembers of a conversation between runs (kept in the
//! conversation's agent state): the last turns word for word and a running
//! summary of older ones. Turns that leave the context stay in the transcript
//! (the messages table); only the model stops seeing them.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The longest summary kept; older lines fall off its front.
pub const SUMMARY_MAX: usize = 2000;
/// How much of each side of a turn the summary keeps.
const LINE_PART: usize = 160;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    #[serde(default)]
    pub turns: Vec<Turn>,
    #[serde(default)]
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    pub user: String,
    pub assistant: String,
}

impl Memory {
    /// Reads the state a previous run left; anything else (another kind's
    /// state, from before a deployment changed the agent) starts afresh.
    pub fn from_state(state: &Value) -> Self {
        serde_json::from_value(state.clone()).unwrap_or_default()
    }

    pub fn to_state(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|_| json!({}))
    }

    /// Adds a turn, folding turns beyond the last `keep` into the summary.
    pub fn push(&mut self, user: String, assistant: String, keep: usize) {
        self.turns.push(Turn { user, assistant });
        let excess = self.turns.len().saturating_sub(keep.max(1));
        let folded: Vec<Turn> = self.turns.drain(..excess).collect();
        self.fold(&folded);
    }

    /// Moves `turns` into the summary, which keeps its newest lines.
    fn fold(&mut self, turns: &[Turn]) {
        for turn in turns {
            let line = format!(
                "- They wrote: {} / You answered: {}\n",
                clip(&turn.user, LINE_PART),
                clip(&turn.assistant, LINE_PART)
            );
            self.summary.push_str(&line);
        }
        while self.summary.chars().count() > SUMMARY_MAX {
            match self.summary.find('\n') {
                Some(end) => {
                    self.summary.drain(..=end);
                }
                None => self.summary = clip(&self.summary, SUMMARY_MAX),
            }
        }
    }

    /// A new session: every turn leaves the context for the summary, which
    /// is all the model keeps of earlier sessions.
    pub fn next_session(&self) -> Self {
        let mut next = Self {
            turns: Vec::new(),
            summary: self.summary.clone(),
        };
        next.fold(&self.turns);
        next
    }

    /// The chat messages for the kept turns, oldest first.
    pub fn messages(&self) -> Vec<Value> {
        self.turns
            .iter()
            .flat_map(|t| {
                [
                    json!({"role": "user", "content": t.user}),
                    json!({"role": "assistant", "content": t.assistant}),
                ]
            })
            .collect()
    }
}

fn clip(text: &str, max: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut out: String = one_line.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn older_turns_leave_the_context_for_the_summary() {
        let mut m = Memory::default();
        for i in 0..5 {
            m.push(format!("message {i}"), format!("reply {i}"), 3);
        }
        let kept: Vec<&str> = m.turns.iter().map(|t| t.user.as_str()).collect();
        assert_eq!(kept, ["message 2", "message 3", "message 4"]);
        assert_eq!(
            m.summary,
            "- They wrote: message 0 / You answered: reply 0\n- They wrote: message 1 / You answered: reply 1\n"
        );
        assert_eq!(m.messages().len(), 6);
        assert_eq!(
            m.messages()[0],
            json!({"role": "user", "content": "message 2"})
        );
        assert_eq!(Memory::from_state(&m.to_state()), m);
    }

    #[test]
    fn a_new_session_keeps_only_the_summary() {
        let mut m = Memory::default();
        for i in 0..3 {
            m.push(format!("message {i}"), format!("reply {i}"), 2);
        }
        let next = m.next_session();
        assert!(next.turns.is_empty());
        assert_eq!(next.summary.lines().count(), 3, "{}", next.summary);
        assert!(next
            .summary
            .ends_with("message 2 / You answered: reply 2\n"));
    }

    #[test]
    fn the_summary_stays_bounded_and_other_state_starts_afresh() {
        let mut m = Memory::default();
        let long = "word ".repeat(100);
        for _ in 0..100 {
            m.push(long.clone(), long.clone(), 1);
        }
        assert!(m.summary.chars().count() <= SUMMARY_MAX);
        assert!(m.summary.ends_with("…\n"), "the newest line is kept");
        assert_eq!(m.turns.len(), 1);
        let intake_state = json!({"step": "ask_location", "draft": {"description": "x"}});
        assert_eq!(Memory::from_state(&intake_state), Memory::default());
        assert_eq!(
            Memory::from_state(&json!({"turns": "nonsense"})),
            Memory::default()
        );
    }
}
