//! Which area a citizen's location names. A location matches an area by a
//! ward number after a ward word ("ward 12", "Ward no. 12", "प्रभाग क्र. १२",
//! "वार्ड 12"), or by one of its names or keywords as whole words in any
//! case. A ward beats a word; a word inside a longer match is part of it
//! ("Nagar" in "Shivaji Nagar"); a text that names two areas names neither,
//! and staff choose.

use super::Area;

/// Words that say a ward number follows.
const WARD_WORDS: &[&str] = &["ward", "wards", "वार्ड", "वॉर्ड", "प्रभाग", "वार्ड़"];
/// Words that may stand between the ward word and its number.
const FILLERS: &[&str] = &[
    "no",
    "number",
    "num",
    "nr",
    "क्र",
    "क्रमांक",
    "नं",
    "नंबर",
    "संख्या",
];

/// The area the text names, unless it names two.
pub(super) fn best<'a>(areas: &'a [Area], text: &str) -> Option<&'a Area> {
    let text = tokens(text);
    if text.is_empty() {
        return None;
    }
    let wards = wards_in(&text);
    let by_ward: Vec<&Area> = areas
        .iter()
        .filter(|a| {
            a.wards
                .iter()
                .filter_map(|w| ward_number(w))
                .any(|w| wards.contains(&w))
        })
        .collect();
    if !by_ward.is_empty() {
        return only(by_ward);
    }
    // Every place a name or keyword occurs: (area, first token, past the last).
    let mut found: Vec<(&Area, usize, usize)> = Vec::new();
    for area in areas {
        for phrase in area.names.values().chain(area.keywords.iter()) {
            let words = tokens(phrase);
            if words.is_empty() || words.len() > text.len() {
                continue;
            }
            for (start, window) in text.windows(words.len()).enumerate() {
                if window == words.as_slice() {
                    found.push((area, start, start + words.len()));
                }
            }
        }
    }
    // A match inside a longer one is part of that name ("Nagar" in "Shivaji Nagar").
    let inside = |&(_, s, e): &(&Area, usize, usize)| {
        found
            .iter()
            .any(|&(_, s2, e2)| s2 <= s && e <= e2 && e2 - s2 > e - s)
    };
    only(found.iter().filter(|m| !inside(m)).map(|m| m.0).collect())
}

/// The one area of `matched`, or None for none or several.
fn only(mut matched: Vec<&Area>) -> Option<&Area> {
    matched.sort_by(|a, b| a.slug.cmp(&b.slug));
    matched.dedup_by(|a, b| a.slug == b.slug);
    match matched.as_slice() {
        [one] => Some(one),
        _ => None,
    }
}

/// A ward as a plain number without leading zeros ("012", "१२" → "12").
pub(crate) fn ward_number(text: &str) -> Option<String> {
    let digits: String = text.trim().chars().map(ascii_digit).collect();
    if digits.is_empty() || digits.len() > 6 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let trimmed = digits.trim_start_matches('0');
    Some(if trimmed.is_empty() { "0" } else { trimmed }.to_owned())
}

/// Ward numbers the text names after a ward word.
fn wards_in(tokens: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        // "ward12" written as one word.
        if let Some(rest) = WARD_WORDS.iter().find_map(|w| t.strip_prefix(w)) {
            if let Some(n) = ward_number(rest) {
                out.push(n);
                continue;
            }
        }
        if !WARD_WORDS.contains(&t.as_str()) {
            continue;
        }
        let mut j = i + 1;
        while tokens.get(j).is_some_and(|f| FILLERS.contains(&f.as_str())) {
            j += 1;
        }
        if let Some(n) = tokens.get(j).and_then(|n| ward_number(n)) {
            out.push(n);
        }
    }
    out
}

fn tokens(text: &str) -> Vec<String> {
    text.split(separator)
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase().chars().map(ascii_digit).collect())
        .collect()
}

fn separator(c: char) -> bool {
    c.is_whitespace()
        || c.is_ascii_punctuation()
        || matches!(c, '।' | '॥' | '–' | '—' | '‘' | '’' | '“' | '”' | '•')
}

/// Devanagari digits as ASCII ones.
fn ascii_digit(c: char) -> char {
    match c {
        '०'..='९' => char::from_digit(c as u32 - '०' as u32, 10).unwrap_or(c),
        _ => c,
    }
}
