//! Which category a citizen's words are about, the way people write them:
//! in English, Hindi, Marathi or either in Latin letters, with an address
//! in the middle ("Streetlight not working near Shivaji School on MG Road"
//! is not about the road), misspelt ("garbege"), and sometimes about two
//! things at once. Each category's keywords score the text:
//! - a phrase ("street light") or a pair that must both be there
//!   ("light+ghar") says more than one word; a word marked generic
//!   (`~water`, `~road`: they come up in many complaints) and a word that
//!   several categories share say less;
//! - words that name a place are not read as the problem: the "Road" of
//!   "MG Road" or "Karve Road", "on the road", "road pe";
//! - a Latin-letter keyword matches its plurals and suffixes ("khadde",
//!   "kachrakundi") and a misspelling of one letter in a long word, unless
//!   it ends in `=` ("diva=" is not "divas", days);
//! - in Devanagari a keyword matches at the start of a word, whatever
//!   ending Hindi or Marathi puts after it ("रस्त्यावर", "गल्लीतील").
//!
//! The best category is taken when it is clearly ahead; when two are
//! close, the citizen is asked between them rather than guessed for.

use std::borrow::Cow;

use ombud_core::Category;

/// What the words say about the category.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reading<'a> {
    /// Clearly this one.
    Sure(&'a Category),
    /// One of these two, too close to tell: ask.
    Between(&'a Category, &'a Category),
    /// No keyword of any category.
    Unknown,
}

impl<'a> Reading<'a> {
    /// The category when sure.
    pub fn sure(self) -> Option<&'a Category> {
        match self {
            Self::Sure(c) => Some(c),
            _ => None,
        }
    }
}

/// The best is taken when it scores at least this many times the next.
const AHEAD: f32 = 1.75;

/// Words that end a place's name ("MG Road", "Shivaji Nagar"); when one
/// follows a name, or follows "on the", it says where, not what.
const PLACE_WORDS: &[&str] = &[
    "road", "rd", "marg", "street", "lane", "chowk", "nagar", "peth", "path", "colony", "society",
    "highway",
];
/// Words before a place word that make it a place: prepositions ("on the
/// road") and the common road names people type in lower case.
const BEFORE_A_PLACE: &[&str] = &[
    "on", "at", "near", "along", "across", "from", "to", "main", "station", "ring", "link",
    "college", "old", "new", "nagar", "highway", "bypass", "mg", "fc", "jm", "nh",
];
/// Words after a place word that make it a place (Hindi and Marathi
/// postpositions in Latin letters: "road pe", "road var").
const AFTER_A_PLACE: &[&str] = &[
    "pe", "par", "ke", "ki", "mein", "me", "var", "vr", "madhe", "jawal", "paas",
];

/// One word of the text as typed and as read.
#[derive(Debug)]
struct Word {
    text: String,
    /// Letters in `text` (as chars).
    len: usize,
    /// `text`'s first byte: a Latin-letter keyword can only be a word that
    /// starts as it does (as itself, with an ending, or misspelt after the
    /// first letter), so most comparisons are ruled out by one byte.
    start: u8,
    /// Typed with a capital (a name) or as a short code ("MG", "FC").
    named: bool,
    /// Part of a place's name or "on the road": not read as the problem.
    place: bool,
}

fn words(text: &str) -> Vec<Word> {
    let mut out: Vec<Word> = text
        .split(|c: char| c.is_whitespace() || (c.is_ascii_punctuation() && c != '-') || c == '।')
        .filter(|w| !w.is_empty())
        .enumerate()
        .map(|(i, w)| {
            let text = w.to_lowercase();
            Word {
                len: text.chars().count(),
                start: text.as_bytes().first().copied().unwrap_or(0),
                text,
                // The first word's capital is the sentence's, not a name's.
                named: (i > 0 && w.chars().next().is_some_and(char::is_uppercase))
                    || (w.len() <= 3 && w.chars().all(|c| c.is_ascii_uppercase())),
                place: false,
            }
        })
        .collect();
    for i in 0..out.len() {
        if !PLACE_WORDS.contains(&out[i].text.as_str()) {
            continue;
        }
        let before = i.checked_sub(1).map(|j| &out[j]);
        let after = out.get(i + 1);
        let named_before = before.is_some_and(|w| {
            (w.named && !PLACE_WORDS.contains(&w.text.as_str()) && w.text != "the")
                || BEFORE_A_PLACE.contains(&w.text.as_str())
                || w.text.chars().all(|c| c.is_ascii_digit())
        });
        let the_before = before.is_some_and(|w| w.text == "the")
            && i.checked_sub(2)
                .is_some_and(|j| BEFORE_A_PLACE.contains(&out[j].text.as_str()));
        let postposition = after.is_some_and(|w| AFTER_A_PLACE.contains(&w.text.as_str()));
        if named_before || the_before || postposition {
            out[i].place = true;
        }
    }
    out
}

/// Whether `word` (as read) is `key` (one Latin-letter keyword word):
/// itself, with an ending, or misspelt by a letter when both are long. A
/// key ending in `=` is only itself ("diva=" is not "divas").
fn same_word(word: &Word, key: &str) -> bool {
    if let Some(exact) = key.strip_suffix('=') {
        return word.text == exact;
    }
    if word.text == key {
        return true;
    }
    // Latin-letter keys are ASCII (see `found`): a byte is a letter.
    let (w, k) = (word.len, key.len());
    if k >= 4 && w > k && w - k <= 6 && word.text.starts_with(key) {
        return true;
    }
    k >= 5
        && w >= 5
        && w.abs_diff(k) <= 1
        && word.text.as_bytes().first() == key.as_bytes().first()
        && match word.text.is_ascii() {
            true => one_edit(word.text.as_bytes(), key.as_bytes()),
            false => one_edit(
                &word.text.chars().collect::<Vec<_>>(),
                &key.chars().collect::<Vec<_>>(),
            ),
        }
}

/// At most one letter added, dropped, changed or two swapped.
fn one_edit<T: PartialEq>(a: &[T], b: &[T]) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() && a[i] == b[j] {
        i += 1;
        j += 1;
    }
    if i == a.len() && j == b.len() {
        return true;
    }
    // The rests after skipping `x` of a and `y` of b, equal (one word may
    // have run out: "garbag" against "garbage").
    let rest = |x: usize, y: usize| match (a.get(i + x..), b.get(j + y..)) {
        (Some(ra), Some(rb)) => ra == rb,
        _ => false,
    };
    rest(1, 1) // changed
        || rest(1, 0) // added to a
        || rest(0, 1) // dropped from a
        || (a.get(i) == b.get(j + 1) && a.get(i + 1) == b.get(j) && rest(2, 2)) // swapped
}

/// The text as read: its words, in lower case, and the bytes its words
/// start with (a keyword in Latin letters can only be a word that starts
/// as it does: most are ruled out without comparing).
struct Text {
    words: Vec<Word>,
    lower: String,
    starts: [bool; 256],
}

impl Text {
    fn of(text: &str) -> Self {
        let words = words(text);
        let mut starts = [false; 256];
        for w in &words {
            starts[usize::from(w.start)] = true;
        }
        Text {
            words,
            lower: text.to_lowercase(),
            starts,
        }
    }
}

/// Whether a keyword is in the text. Alone, a single word that names a
/// place does not count; in a pair it does ("dirty water" + "road").
fn found(key: &str, text: &Text, places_count: bool) -> bool {
    if let Some((a, b)) = key.split_once('+') {
        return found(a.trim(), text, true) && found(b.trim(), text, true);
    }
    if !key.is_ascii() {
        // Devanagari: at the start of a word, whatever ending follows
        // ("रस्त्यावर", "कचराकुंडी"), not inside one ("सांडपाणी" is not "पाणी").
        let lower = &text.lower;
        return !lower.is_ascii()
            && lower.match_indices(key).any(|(at, _)| {
                lower[..at]
                    .chars()
                    .next_back()
                    .is_none_or(|c| c.is_whitespace() || c.is_ascii_punctuation() || c == '।')
            });
    }
    let mut parts = key.split_whitespace();
    let Some(first) = parts.next() else {
        return false;
    };
    let Some(&start) = first.as_bytes().first() else {
        return false;
    };
    if !text.starts[usize::from(start)] {
        return false;
    }
    let words = &text.words;
    if parts.next().is_none() {
        return words
            .iter()
            .any(|w| w.start == start && (places_count || !w.place) && same_word(w, first));
    }
    words.windows(key.split_whitespace().count()).any(|run| {
        run.iter()
            .zip(key.split_whitespace())
            .all(|(w, k)| same_word(w, k))
    })
}

/// The weight of a keyword: a phrase or a pair says more than a word, and
/// a word marked generic (`~water`: it comes up in other kinds of
/// complaint too) says less.
fn weight(key: &str) -> f32 {
    if key.starts_with('~') {
        0.5
    } else if key.contains('+') || key.trim().contains(' ') {
        2.0
    } else {
        1.0
    }
}

/// Reads `text` against `categories`' keywords.
pub fn read<'a>(text: &str, categories: &'a [Category]) -> Reading<'a> {
    let text = Text::of(text);
    // Keywords are saved trimmed and in lower case; one typed otherwise
    // is read so.
    let keys: Vec<Vec<Cow<str>>> = categories
        .iter()
        .map(|c| {
            c.keywords
                .iter()
                .map(|k| match k.trim() {
                    t if t.len() == k.len() && lower_already(t) => Cow::Borrowed(t),
                    t => Cow::Owned(t.to_lowercase()),
                })
                .collect()
        })
        .collect();
    // A keyword several categories share says less.
    let shared = |key: &str| keys.iter().filter(|ks| ks.iter().any(|k| k == key)).count();
    let mut scores: Vec<(f32, &Category)> = categories
        .iter()
        .zip(&keys)
        .map(|(c, ks)| {
            let score = ks
                .iter()
                .filter(|k| !k.is_empty() && found(k.trim_start_matches('~'), &text, false))
                .map(|k| weight(k) / shared(k).max(1) as f32)
                .sum();
            (score, c)
        })
        .filter(|(s, _)| *s > 0.0)
        .collect();
    // Highest first; a tie keeps the categories' order.
    scores.sort_by(|a, b| b.0.total_cmp(&a.0));
    match scores.as_slice() {
        [] => Reading::Unknown,
        [(_, best)] => Reading::Sure(best),
        [(b, best), (s, _), ..] if *b >= AHEAD * *s => Reading::Sure(best),
        [(_, best), (_, second), ..] => Reading::Between(best, second),
    }
}

/// Whether lower case leaves `s` as it is. (Devanagari has no case: the
/// question is answered without Unicode's tables.)
fn lower_already(s: &str) -> bool {
    match s.is_ascii() {
        true => !s.bytes().any(|b| b.is_ascii_uppercase()),
        false => s.chars().all(|c| match c {
            'A'..='Z' => false,
            '\0'..='\x7f' | '\u{0900}'..='\u{097f}' => true,
            _ => c.to_lowercase().eq([c]),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(a: &str, b: &str) -> bool {
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        one_edit(&chars(a), &chars(b))
    }

    fn same(word: &str, key: &str) -> bool {
        let word = Word {
            text: word.into(),
            len: word.chars().count(),
            start: word.as_bytes().first().copied().unwrap_or(0),
            named: false,
            place: false,
        };
        same_word(&word, key)
    }

    #[test]
    fn one_letter_off() {
        assert!(edit("garbege", "garbage"));
        assert!(edit("electricty", "electricity"));
        assert!(edit("watter", "water"));
        assert!(edit("draniage", "drainage"));
        assert!(!edit("garden", "garbage"));
        // One word running out is one letter dropped, not a panic.
        assert!(edit("garbag", "garbage"));
        assert!(edit("garbages", "garbage"));
        assert!(!edit("garb", "garbage"));
        assert!(edit("", "a") && edit("ab", "ba") && !edit("ab", "b c"));
        assert!(same("garbag", "garbage"));
        assert!(same("potholes", "pothole"));
        assert!(same("kachrakundi", "kachra"));
        assert!(!same("waterlogging", "water"));
        assert!(!same("tar", "tap"));
    }

    /// Whatever a citizen types and whatever keywords a tenant saves, the
    /// reading answers: no panic on odd words, endings or scripts.
    #[test]
    fn any_text_against_any_keywords_is_read_without_a_panic() {
        let keys = [
            "",
            "+",
            "~",
            "=",
            "a+",
            "+b",
            "~+=",
            " ",
            "road",
            "~road",
            "diva=",
            "light+ghar",
            "street light",
            "रस्त्या",
            "गंदा पानी+सड़क",
            "garbage",
            "ab",
            "x y z",
        ];
        let categories: Vec<Category> = keys
            .chunks(3)
            .enumerate()
            .map(|(i, ks)| crate::testing::category(&format!("c{i}"), "C", ks))
            .collect();
        let alphabet: Vec<char> = "aAbgrdeol MGR.,+~=-।रस्तावरपानीी 0९é\u{301}\n"
            .chars()
            .collect();
        let mut seed: u64 = 7;
        for _ in 0..5000 {
            let len = (seed % 24) as usize;
            let text: String = (0..len)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    alphabet[(seed >> 33) as usize % alphabet.len()]
                })
                .collect();
            let _ = read(&text, &categories);
            seed = seed.wrapping_add(1);
        }
        assert_eq!(read("", &categories), Reading::Unknown);
    }

    #[test]
    fn lower_case_is_known_without_lowering() {
        for s in ["road", "रस्ता", "पाणी गळती", "é", "ß", "", "a1-", "ज़"]
        {
            assert!(lower_already(s), "{s}");
            assert_eq!(s.to_lowercase(), s);
        }
        for s in ["Road", "É", "ǅ", "रस्ता A", "Σ"] {
            assert!(!lower_already(s), "{s}");
            assert_ne!(s.to_lowercase(), s);
        }
    }

    #[test]
    fn a_place_is_not_the_problem() {
        let places = |t: &str| -> Vec<String> {
            words(t)
                .into_iter()
                .filter(|w| w.place)
                .map(|w| w.text)
                .collect()
        };
        assert_eq!(places("light not working on MG Road"), ["road"]);
        assert_eq!(places("near Karve Road signal"), ["road"]);
        assert_eq!(places("water flowing on the road"), ["road"]);
        assert_eq!(places("road pe light nahi"), ["road"]);
        assert!(places("the road is broken").is_empty());
        assert!(places("road pura toota hua hai").is_empty());
    }
}
