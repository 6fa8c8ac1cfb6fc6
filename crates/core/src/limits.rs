//! The most entries each list Ombud takes may hold, whoever sends it (the
//! API, the dashboard, the CLI). A list over its limit is refused with the
//! field named, before anything reaches the database: a filter of 33,000
//! statuses is a mistake or an attack, never a query to run. The API's
//! OpenAPI document states the same numbers (`maxItems`).

use crate::ValidationError;

/// Complaint statuses in one filter (there are 8; a few repeats are let by).
pub const STATUSES: usize = 20;
/// Scopes of one API key (there are 7).
pub const SCOPES: usize = 20;
/// Event types one webhook endpoint subscribes to (there are 12).
pub const EVENT_TYPES: usize = 50;
/// Sites one web chat may be embedded in.
pub const ORIGINS: usize = 50;
/// Languages one web chat greets in.
pub const GREETINGS: usize = 20;
/// Complaints one bulk change may name one by one.
pub const SELECTED: usize = 1000;
/// Keywords of one category.
pub const KEYWORDS: usize = 50;
/// Languages one intake agent offers, and template sets it holds.
pub const LANGUAGES: usize = 10;
/// Tools one LLM agent may call.
pub const TOOLS: usize = 20;

/// Refuses a list of `len` entries when it holds more than `max`.
pub fn at_most(field: &str, len: usize, max: usize) -> Result<(), ValidationError> {
    if len > max {
        Err(ValidationError::new(
            field,
            format!("may hold at most {max} entries, not {len}"),
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_over_its_limit_is_named_with_both_numbers() {
        assert!(at_most("status", STATUSES, STATUSES).is_ok());
        let e = at_most("status", 33_000, STATUSES).unwrap_err();
        assert_eq!(e.field, "status");
        assert!(e.reason.contains("20") && e.reason.contains("33000"), "{e}");
    }
}
