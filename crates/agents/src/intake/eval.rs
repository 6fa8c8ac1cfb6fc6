//! How well the intake agent reads complaints: a set of messages, each
//! with the category a person would file it under, read against a
//! tenant's categories (`ombud bench intake`). What counts:
//! - **filed right**: sure, and right; or asked between two that hold the
//!   right one (the citizen taps it), or asked from the whole list when
//!   none is clear;
//! - **filed wrong**: sure, and wrong: the one thing that must stay rare,
//!   since nobody asks again.

use std::collections::BTreeMap;

use ombud_core::Category;
use serde::Serialize;

use super::understand::{read, Reading};

/// The set kept with Ombud: complaints written the way people in Pune
/// write them, in English, Hindi, Marathi and both in Latin letters.
pub const OWN_SET: &str = include_str!("complaints_set.tsv");
/// Complaints written after the keywords were tuned on [`OWN_SET`], and
/// not tuned on: how it reads what it has not seen.
pub const CHECK_SET: &str = include_str!("complaints_check.tsv");

/// One message of a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    pub category: String,
    pub language: String,
    pub text: String,
}

/// Reads a set: one example a line, `category<TAB>language<TAB>text`;
/// empty lines and `#` comments are skipped. The error names the line.
pub fn parse(set: &str) -> Result<Vec<Example>, String> {
    let mut out = Vec::new();
    for (i, line) in set.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.splitn(3, '\t');
        match (fields.next(), fields.next(), fields.next()) {
            (Some(c), Some(l), Some(t)) if !c.is_empty() && !t.trim().is_empty() => {
                out.push(Example {
                    category: c.trim().to_owned(),
                    language: l.trim().to_owned(),
                    text: t.trim().to_owned(),
                })
            }
            _ => {
                return Err(format!(
                    "line {}: expected category, language and text separated by tabs",
                    i + 1
                ))
            }
        }
    }
    Ok(out)
}

/// What happened to the messages of one language (or all).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub messages: usize,
    /// Sure and right.
    pub sure_right: usize,
    /// Asked between two, the right one among them.
    pub asked_two: usize,
    /// Asked from the whole list (no category's words found).
    pub asked_list: usize,
    /// Asked between two, neither right (the citizen must say "another").
    pub asked_two_wrong: usize,
    /// Sure and wrong.
    pub sure_wrong: usize,
}

impl Tally {
    /// Filed in the right category: sure and right, or asked with the
    /// right one to tap, or asked from the list.
    pub fn filed_right(&self) -> usize {
        self.sure_right + self.asked_two + self.asked_list
    }

    pub fn filed_right_pct(&self) -> f64 {
        if self.messages == 0 {
            return 0.0;
        }
        100.0 * self.filed_right() as f64 / self.messages as f64
    }
}

/// A set's result.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub all: Tally,
    pub by_language: BTreeMap<String, Tally>,
    /// The messages filed wrong, or asked without the right one: what to
    /// look at.
    pub misread: Vec<Misread>,
    /// The messages the citizen was asked about (the right one among the
    /// two, or the whole list): right, but a question more.
    pub asked: Vec<Misread>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Misread {
    pub text: String,
    pub expected: String,
    /// `sure:<slug>` or `asked:<slug>|<slug>`.
    pub read: String,
}

/// Reads every example against `categories`; a category is named by its
/// slug.
pub fn evaluate(set: &[Example], categories: &[Category]) -> Report {
    let mut report = Report::default();
    for e in set {
        let reading = read(&e.text, categories);
        let mut tally = Tally {
            messages: 1,
            ..Tally::default()
        };
        let wrong = match reading {
            Reading::Sure(c) if c.slug == e.category => {
                tally.sure_right = 1;
                None
            }
            Reading::Sure(c) => {
                tally.sure_wrong = 1;
                Some(format!("sure:{}", c.slug))
            }
            Reading::Between(a, b) if a.slug == e.category || b.slug == e.category => {
                tally.asked_two = 1;
                report
                    .asked
                    .push(misread(e, format!("asked:{}|{}", a.slug, b.slug)));
                None
            }
            Reading::Between(a, b) => {
                tally.asked_two_wrong = 1;
                Some(format!("asked:{}|{}", a.slug, b.slug))
            }
            Reading::Unknown => {
                tally.asked_list = 1;
                report.asked.push(misread(e, "asked:list".into()));
                None
            }
        };
        if let Some(read) = wrong {
            report.misread.push(misread(e, read));
        }
        add(&mut report.all, &tally);
        add(
            report.by_language.entry(e.language.clone()).or_default(),
            &tally,
        );
    }
    report
}

fn misread(e: &Example, read: String) -> Misread {
    Misread {
        text: e.text.clone(),
        expected: e.category.clone(),
        read,
    }
}

fn add(to: &mut Tally, one: &Tally) {
    to.messages += one.messages;
    to.sure_right += one.sure_right;
    to.asked_two += one.asked_two;
    to.asked_list += one.asked_list;
    to.asked_two_wrong += one.asked_two_wrong;
    to.sure_wrong += one.sure_wrong;
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_own_set_reads_and_a_bad_line_is_named() {
        let set = super::parse(super::OWN_SET).unwrap();
        assert!(set.len() >= 250, "{}", set.len());
        assert!(super::parse(super::CHECK_SET).unwrap().len() >= 50);
        let e = super::parse("roads\ten\tpothole\nroads only\n").unwrap_err();
        assert!(e.starts_with("line 2"), "{e}");
    }
}
