//! Reading what a citizen typed: commands, yes/no, greetings, category keywords.
//! Words are matched in English, Hindi and Marathi whatever the reply language,
//! since people mix them.

use ombud_core::{Category, ComplaintNumber};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Human,
    Cancel,
    Status(Option<ComplaintNumber>),
}

const HELP: &[&str] = &["help", "menu", "मदद", "मदत", "सहायता"];
const HUMAN: &[&str] = &[
    "human",
    "agent",
    "staff",
    "officer",
    "person",
    "talk to human",
    "talk to agent",
    "इंसान",
    "कर्मचारी",
    "अधिकारी",
    "माणूस",
];
const CANCEL: &[&str] = &["cancel", "stop", "रद्द", "रद्द करें", "रद्द करा"];
const STATUS: &[&str] = &["status", "स्थिति", "स्थिती", "स्टेटस"];
const YES: &[&str] = &[
    "yes",
    "y",
    "ok",
    "okay",
    "confirm",
    "haan",
    "ha",
    "ho",
    "हाँ",
    "हां",
    "हा",
    "जी",
    "हो",
    "होय",
];
const NO: &[&str] = &["no", "n", "nahi", "नहीं", "नही", "नाही", "ना"];
const GREETINGS: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "namaste",
    "namaskar",
    "good morning",
    "good evening",
    "नमस्ते",
    "नमस्कार",
    "राम राम",
    "hii",
];

/// Lowercase, punctuation turned to spaces, spaces folded.
pub fn normalize(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_punctuation() && c != '-' || c == '।' {
                ' '
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn command(norm: &str) -> Option<Command> {
    if HELP.contains(&norm) {
        return Some(Command::Help);
    }
    if HUMAN.contains(&norm) {
        return Some(Command::Human);
    }
    if CANCEL.contains(&norm) {
        return Some(Command::Cancel);
    }
    let mut words = norm.splitn(2, ' ');
    let first = words.next().unwrap_or_default();
    if STATUS.contains(&first) {
        let rest = words.next().unwrap_or_default().trim();
        if rest.is_empty() {
            return Some(Command::Status(None));
        }
        if let Ok(n) = ComplaintNumber::parse(rest) {
            return Some(Command::Status(Some(n)));
        }
    }
    // A bare complaint number asks for its status too.
    ComplaintNumber::parse(norm)
        .ok()
        .map(|n| Command::Status(Some(n)))
}

pub fn is_yes(norm: &str) -> bool {
    YES.contains(&norm)
}

pub fn is_no(norm: &str) -> bool {
    NO.contains(&norm)
}

pub fn is_greeting(norm: &str) -> bool {
    GREETINGS.contains(&norm)
        || GREETINGS.iter().any(|g| {
            norm.starts_with(g) && norm.split(' ').count() <= 3 && norm[g.len()..].starts_with(' ')
        })
}

/// A category picked by its number in the list we showed, or by a keyword.
pub fn pick_category<'a>(norm: &str, categories: &'a [Category]) -> Option<&'a Category> {
    let digits: String = norm
        .chars()
        .map(|c| match c {
            '०'..='९' => char::from_digit(c as u32 - '०' as u32, 10).unwrap_or(c),
            _ => c,
        })
        .collect();
    if let Ok(n) = digits.trim().parse::<usize>() {
        return n.checked_sub(1).and_then(|i| categories.get(i));
    }
    super::understand::read(norm, categories)
        .sure()
        .or_else(|| {
            categories
                .iter()
                .find(|c| c.slug == norm || c.names.values().any(|name| normalize(name) == norm))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_in_three_languages() {
        assert_eq!(command("help"), Some(Command::Help));
        assert_eq!(command("मदत"), Some(Command::Help));
        assert_eq!(command("human"), Some(Command::Human));
        assert_eq!(command("status"), Some(Command::Status(None)));
        let n = ComplaintNumber::parse("PUNE-20261123-0007").unwrap();
        assert_eq!(
            command(&normalize("Status PUNE-20261123-0007")),
            Some(Command::Status(Some(n.clone())))
        );
        assert_eq!(
            command(&normalize("pune-20261123-0007")),
            Some(Command::Status(Some(n)))
        );
        assert_eq!(command("the street light is broken"), None);
        assert_eq!(command("status of the road is bad"), None);
    }

    #[test]
    fn greetings_and_answers() {
        assert!(is_greeting("hi"));
        assert!(is_greeting("hello there"));
        assert!(!is_greeting("history of the drain"));
        assert!(!is_greeting(
            "hi the street light near the school is broken"
        ));
        assert!(is_yes("हो") && is_yes("yes") && is_no("नाही"));
        assert_eq!(normalize("  Yes!! "), "yes");
    }
}
