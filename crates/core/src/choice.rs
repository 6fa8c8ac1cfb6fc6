//! Reply buttons: a message that offers the citizen a few answers to tap
//! instead of typing. Each channel draws them its own way (WhatsApp's
//! interactive buttons or list, Telegram's inline keyboard, the web chat's
//! buttons); a tap comes back as an inbound message whose `payload` is the
//! choice's id and whose text is its title.

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// One answer to tap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    /// What comes back when it is tapped (`rate:5`).
    pub id: String,
    /// What the button says.
    pub title: String,
}

/// The answers a message offers, with the label of the button that opens
/// them where a channel shows a list (WhatsApp, past three choices).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choices {
    pub button: String,
    pub options: Vec<Choice>,
}

/// Most choices one message offers (a WhatsApp list holds 10 rows).
pub const MAX_CHOICES: usize = 10;
/// Longest choice id, in bytes (Telegram's `callback_data` holds 64).
pub const MAX_ID_BYTES: usize = 64;
/// Longest title, in characters (a WhatsApp list row's title holds 24).
pub const MAX_TITLE_CHARS: usize = 24;
/// Longest title of a WhatsApp reply button, in characters.
pub const MAX_BUTTON_TITLE_CHARS: usize = 20;

impl Choices {
    pub fn new(button: impl Into<String>, options: Vec<Choice>) -> Self {
        Self {
            button: button.into(),
            options,
        }
    }

    /// Checks the limits every channel can draw.
    pub fn validate(&self, field: &str) -> Result<(), ValidationError> {
        let bad = |why: &str| Err(ValidationError::new(field, why));
        if self.options.is_empty() || self.options.len() > MAX_CHOICES {
            return bad("must offer 1 to 10 choices");
        }
        if self.button.is_empty() || self.button.chars().count() > MAX_BUTTON_TITLE_CHARS {
            return bad("the list's button label is 1 to 20 characters");
        }
        for c in &self.options {
            if c.id.is_empty() || c.id.len() > MAX_ID_BYTES {
                return bad("a choice's id is 1 to 64 bytes");
            }
            if c.title.is_empty() || c.title.chars().count() > MAX_TITLE_CHARS {
                return bad("a choice's title is 1 to 24 characters");
            }
        }
        Ok(())
    }

    /// Whether WhatsApp can show them as reply buttons (at most three, short
    /// titles) rather than a list.
    pub fn fit_buttons(&self) -> bool {
        self.options.len() <= 3
            && self
                .options
                .iter()
                .all(|c| c.title.chars().count() <= MAX_BUTTON_TITLE_CHARS)
    }

    /// The message as text, for a channel or client that cannot draw
    /// buttons: the body, then one line per choice.
    pub fn as_text(&self, body: &str) -> String {
        let mut out = body.to_owned();
        for c in &self.options {
            out.push_str("\n• ");
            out.push_str(&c.title);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choices(n: usize, title: &str) -> Choices {
        Choices::new(
            "Choose",
            (0..n)
                .map(|i| Choice {
                    id: format!("c:{i}"),
                    title: title.into(),
                })
                .collect(),
        )
    }

    #[test]
    fn limits_every_channel_can_draw() {
        assert!(choices(5, "5 ★ Very good").validate("choices").is_ok());
        assert!(choices(0, "x").validate("choices").is_err());
        assert!(choices(11, "x").validate("choices").is_err());
        assert!(choices(2, &"x".repeat(25)).validate("choices").is_err());
        let mut long_id = choices(1, "x");
        long_id.options[0].id = "x".repeat(65);
        assert_eq!(long_id.validate("choices").unwrap_err().field, "choices");
    }

    #[test]
    fn three_short_choices_are_buttons_more_are_a_list() {
        assert!(choices(3, "Yes").fit_buttons());
        assert!(!choices(4, "Yes").fit_buttons());
        assert!(!choices(2, &"x".repeat(21)).fit_buttons());
        assert_eq!(choices(2, "Yes").as_text("Q?"), "Q?\n• Yes\n• Yes");
    }
}
