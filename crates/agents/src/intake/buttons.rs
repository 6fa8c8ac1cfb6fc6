//! The intake dialogue's reply buttons: yes/no under the confirmation, and
//! the categories (up to ten, a WhatsApp list's rows) when it asks for one.
//! A tap comes back with the button's id, read as the words it stands for,
//! so a typed "yes" or "2" and a tap go the same way.

use ombud_core::choice::{Choice, Choices, MAX_BUTTON_TITLE_CHARS, MAX_CHOICES, MAX_TITLE_CHARS};
use ombud_core::{Category, Language};

const YES: &str = "intake:yes";
const NO: &str = "intake:no";
const CATEGORY: &str = "intake:category:";

/// Words a language's buttons say: yes, no, and the list's label. They are
/// words `words::is_yes` and `is_no` know, so the title typed back works too.
fn words(lang: &Language) -> (&'static str, &'static str, &'static str) {
    match lang.as_str() {
        "hi" => ("हाँ", "नहीं", "चुनें"),
        "mr" => ("होय", "नाही", "निवडा"),
        _ => ("Yes", "No", "Choose"),
    }
}

pub fn yes_no(lang: &Language) -> Choices {
    let (yes, no, label) = words(lang);
    Choices::new(
        label,
        vec![
            Choice {
                id: YES.into(),
                title: yes.into(),
            },
            Choice {
                id: NO.into(),
                title: no.into(),
            },
        ],
    )
}

/// The categories to tap, numbered as the text lists them; none past ten.
pub fn categories(categories: &[Category], lang: &Language) -> Option<Choices> {
    if categories.is_empty() || categories.len() > MAX_CHOICES {
        return None;
    }
    let options = categories
        .iter()
        .enumerate()
        .map(|(i, c)| Choice {
            id: format!("{CATEGORY}{}", i + 1),
            title: c.name_in(lang).chars().take(MAX_TITLE_CHARS).collect(),
        })
        .collect();
    Some(Choices::new(words(lang).2, options))
}

/// Two categories to tap (by their numbers in the whole list, `first` and
/// `second` counting from 1) and a third button for every kind ("0").
pub fn between(categories: &[Category], first: usize, second: usize, lang: &Language) -> Choices {
    let other = match lang.as_str() {
        "hi" => "अन्य प्रकार",
        "mr" => "इतर प्रकार",
        _ => "Other kinds",
    };
    let button = |n: usize, title: &str| Choice {
        id: format!("{CATEGORY}{n}"),
        title: title.chars().take(MAX_BUTTON_TITLE_CHARS).collect(),
    };
    let name = |n: usize| categories.get(n - 1).map_or("", |c| c.name_in(lang));
    Choices::new(
        words(lang).2,
        vec![
            button(first, name(first)),
            button(second, name(second)),
            button(0, other),
        ],
    )
}

/// What a tapped button says in words the dialogue reads: "yes", "no", or
/// the category's number. None for a button that is not the dialogue's.
pub fn words_of(payload: &str) -> Option<String> {
    match payload {
        YES => Some("yes".into()),
        NO => Some("no".into()),
        p => p
            .strip_prefix(CATEGORY)
            .filter(|n| n.parse::<usize>().is_ok())
            .map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taps_read_as_the_words_they_stand_for() {
        assert_eq!(words_of("intake:yes").as_deref(), Some("yes"));
        assert_eq!(words_of("intake:no").as_deref(), Some("no"));
        assert_eq!(words_of("intake:category:3").as_deref(), Some("3"));
        assert_eq!(words_of("intake:category:x"), None);
        assert_eq!(words_of("rate:5"), None);
        for lang in ["en", "hi", "mr"] {
            let l = Language::parse(lang).unwrap();
            let c = yes_no(&l);
            c.validate("choices").unwrap();
            assert!(c.fit_buttons(), "{lang}: two reply buttons");
        }
    }
}
