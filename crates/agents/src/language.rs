//! Which language a message is in, among the ones a tenant offers. Script decides
//! between English and the Devanagari languages; for Hindi against Marathi, common
//! words that differ between them decide, and a tie keeps what we knew.

use ombud_core::Language;

const MARATHI: &[&str] = &[
    "आहे",
    "आहेत",
    "नाही",
    "नाहीये",
    "आणि",
    "मध्ये",
    "झाला",
    "झाली",
    "झाले",
    "माझ्या",
    "माझा",
    "माझी",
    "आमच्या",
    "आमचा",
    "इथे",
    "येथे",
    "होता",
    "होती",
    "खूप",
    "दिवे",
    "दिवा",
    "पाठवा",
    "होय",
    "हो",
    "पाणी",
    "रस्त्यावर",
    "जवळ",
    "तक्रार",
    "आठवड्यापासून",
    "बंद",
    "कचरा",
    "मदत",
];
const HINDI: &[&str] = &[
    "है",
    "हैं",
    "नहीं",
    "और",
    "में",
    "का",
    "की",
    "के",
    "मेरे",
    "मेरा",
    "मेरी",
    "यहाँ",
    "यहां",
    "बहुत",
    "था",
    "थी",
    "से",
    "को",
    "हाँ",
    "हां",
    "पानी",
    "सड़क",
    "पास",
    "शिकायत",
    "हफ्ते",
    "रहा",
    "रही",
    "गया",
    "गई",
    "मदद",
    "बत्ती",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    Latin,
    Devanagari,
    None,
}

pub fn script(text: &str) -> Script {
    let (mut latin, mut deva) = (0usize, 0usize);
    for c in text.chars() {
        if c.is_ascii_alphabetic() {
            latin += 1;
        } else if ('\u{0900}'..='\u{097F}').contains(&c) {
            deva += 1;
        }
    }
    match (latin, deva) {
        (0, 0) => Script::None,
        (l, d) if d >= l => Script::Devanagari,
        _ => Script::Latin,
    }
}

fn score(text: &str, words: &[&str]) -> usize {
    text.split(|c: char| c.is_whitespace() || c.is_ascii_punctuation() || c == '।')
        .filter(|w| words.contains(w))
        .count()
}

/// The language to answer `text` in. `known` is what we knew of the contact;
/// `offered` the tenant's languages (first = default). Returns the language and
/// whether the text itself showed it (a short "ok" or "1" shows nothing).
pub fn detect(text: &str, offered: &[Language], known: Option<&Language>) -> (Language, bool) {
    let fallback = known
        .filter(|k| offered.contains(k))
        .or_else(|| offered.first())
        .cloned()
        .unwrap_or_else(Language::en);
    let has = |code: &str| offered.iter().find(|l| l.as_str() == code).cloned();
    match script(text) {
        Script::Devanagari => {
            let (hi, mr) = (score(text, HINDI), score(text, MARATHI));
            let known_deva = known.filter(|k| matches!(k.as_str(), "hi" | "mr"));
            let pick = if mr > hi {
                has("mr").or_else(|| has("hi"))
            } else if hi > mr {
                has("hi").or_else(|| has("mr"))
            } else {
                known_deva
                    .filter(|k| offered.contains(k))
                    .cloned()
                    .or_else(|| {
                        offered
                            .iter()
                            .find(|l| matches!(l.as_str(), "hi" | "mr"))
                            .cloned()
                    })
            };
            match pick {
                Some(lang) => (lang, true),
                None => (fallback, false),
            }
        }
        Script::Latin => {
            let words = text
                .split_whitespace()
                .filter(|w| w.chars().any(|c| c.is_ascii_alphabetic()))
                .count();
            match has("en") {
                Some(en) if words >= 3 || known.is_none() => (en, true),
                _ => (fallback, false),
            }
        }
        Script::None => (fallback, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn langs(codes: &[&str]) -> Vec<Language> {
        codes.iter().map(|c| Language::parse(c).unwrap()).collect()
    }

    #[test]
    fn devanagari_is_never_answered_in_english_when_hi_or_mr_is_offered() {
        let offered = langs(&["en", "hi", "mr"]);
        let (l, sure) = detect("शिवाजी शाळेजवळचा दिवा आठवड्यापासून बंद आहे", &offered, None);
        assert_eq!((l.as_str(), sure), ("mr", true));
        let (l, _) = detect("स्कूल के पास की बत्ती एक हफ्ते से खराब है", &offered, None);
        assert_eq!(l.as_str(), "hi");
        // No marker either way: still a Devanagari language, never English.
        let (l, _) = detect("शिवाजी विद्यालय", &offered, Some(&Language::en()));
        assert_ne!(l.as_str(), "en");
    }

    #[test]
    fn short_latin_replies_keep_the_known_language() {
        let offered = langs(&["en", "hi", "mr"]);
        let mr = Language::parse("mr").unwrap();
        assert_eq!(detect("ok", &offered, Some(&mr)).0, mr);
        assert_eq!(detect("12", &offered, Some(&mr)).0, mr);
        assert_eq!(
            detect("the street light is broken", &offered, Some(&mr))
                .0
                .as_str(),
            "en"
        );
        assert_eq!(detect("hi", &offered, None).0.as_str(), "en");
    }

    #[test]
    fn only_offered_languages_are_chosen() {
        let offered = langs(&["mr"]);
        assert_eq!(
            detect("the light is broken", &offered, None).0.as_str(),
            "mr"
        );
        assert_eq!(detect("बत्ती खराब है", &offered, None).0.as_str(), "mr");
    }
}
