//! The satisfaction survey: some hours after a complaint is resolved, the
//! citizen is asked how it went, with reply buttons for a rating from 1 to 5.
//! A low rating asks whether the problem was solved ("not solved" reopens
//! the complaint); then an optional comment. This module holds the rules,
//! once for every backend and surface: when a survey is due, how a reply is
//! read, what follows it, and what the citizen is told in their language.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::choice::{Choice, Choices};
use crate::{
    ChannelId, ComplaintId, ComplaintStatus, ConversationId, Language, SurveyId, TenantId,
    ValidationError,
};

/// A tenant's survey settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurveySettings {
    /// Off: no survey is asked (those already due are not sent).
    pub enabled: bool,
    /// How long after the resolution the question goes out.
    pub delay_hours: u32,
    pub repeat: SurveyRepeat,
}

impl Default for SurveySettings {
    fn default() -> Self {
        Self {
            enabled: true,
            delay_hours: 24,
            repeat: SurveyRepeat::EachResolution,
        }
    }
}

/// Longest delay a tenant may set: 30 days.
pub const MAX_DELAY_HOURS: u32 = 720;

impl SurveySettings {
    pub fn validate(&self) -> Result<(), ValidationError> {
        if !(1..=MAX_DELAY_HOURS).contains(&self.delay_hours) {
            return Err(ValidationError::new(
                "delay_hours",
                "must be 1 to 720 hours (30 days)",
            ));
        }
        Ok(())
    }

    pub fn delay(&self) -> Duration {
        Duration::hours(i64::from(self.delay_hours))
    }
}

/// How often a complaint's citizen is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SurveyRepeat {
    /// After every resolution that still stands when its survey falls due.
    EachResolution,
    /// After the first resolution only.
    OncePerComplaint,
}

impl SurveyRepeat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EachResolution => "each_resolution",
            Self::OncePerComplaint => "once_per_complaint",
        }
    }

    /// The repeat a form or a request names, or why not.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        [Self::EachResolution, Self::OncePerComplaint]
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                ValidationError::new("repeat", "must be each_resolution or once_per_complaint")
            })
    }
}

/// The scheduler job that asks the question, one per resolution: its kind,
/// and its key (so the same resolution is never asked about twice).
pub const JOB_KIND: &str = "survey.send";
/// The scheduler job that reopens a complaint its citizen says is not solved.
pub const REOPEN_JOB_KIND: &str = "survey.reopen";

pub fn job_key(complaint: &ComplaintId, resolved_at: DateTime<Utc>) -> String {
    format!("survey:{complaint}:{}", resolved_at.timestamp_micros())
}

/// What a survey job finds when it falls due.
#[derive(Debug, Clone, PartialEq)]
pub struct DueFacts {
    pub status: ComplaintStatus,
    /// The complaint's latest move to resolved.
    pub last_resolved_at: Option<DateTime<Utc>>,
    /// Surveys already asked about this complaint.
    pub asked: u32,
    /// Whether it came from a conversation a question can go into.
    pub has_conversation: bool,
}

/// Whether the survey of the resolution at `resolved_at` goes out, or why
/// not. A resolution undone (reopened) before its survey fell due gets
/// none; a later resolution has its own job.
pub fn due(
    settings: &SurveySettings,
    resolved_at: DateTime<Utc>,
    facts: &DueFacts,
) -> Result<(), &'static str> {
    if !settings.enabled {
        return Err("surveys are off");
    }
    if !facts.has_conversation {
        return Err("the complaint came from no conversation");
    }
    if !matches!(
        facts.status,
        ComplaintStatus::Resolved | ComplaintStatus::Closed
    ) {
        return Err("the complaint was reopened");
    }
    if facts.last_resolved_at != Some(resolved_at) {
        return Err("a later resolution has its own survey");
    }
    if settings.repeat == SurveyRepeat::OncePerComplaint && facts.asked > 0 {
        return Err("this complaint's citizen was asked already");
    }
    Ok(())
}

/// What a survey waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The rating, 1 to 5.
    Rating,
    /// After a low rating: whether the problem was solved.
    Solved,
    /// An optional comment.
    Comment,
    /// Answered, or closed by the citizen writing about something else.
    Done,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rating => "rating",
            Self::Solved => "solved",
            Self::Comment => "comment",
            Self::Done => "done",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Rating, Self::Solved, Self::Comment, Self::Done]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// A survey as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Survey {
    pub id: SurveyId,
    pub tenant_id: TenantId,
    pub complaint_id: ComplaintId,
    pub conversation_id: ConversationId,
    pub channel_id: ChannelId,
    /// The resolution it asks about.
    pub resolved_at: DateTime<Utc>,
    pub language: Language,
    pub stage: Stage,
    pub rating: Option<u8>,
    pub solved: Option<bool>,
    pub comment: Option<String>,
    pub reopened: bool,
    pub sent_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
}

/// A survey takes answers this long after it was asked.
pub const OPEN_FOR: Duration = Duration::days(7);
/// Ratings at or below this ask whether the problem was solved.
pub const LOW: u8 = 2;
/// Longest comment kept, in characters.
pub const MAX_COMMENT_CHARS: usize = 1000;

impl Survey {
    /// Whether it still takes answers at `now`.
    pub fn open(&self, now: DateTime<Utc>) -> bool {
        self.stage != Stage::Done && now < self.sent_at + OPEN_FOR
    }
}

/// A citizen's message read as an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Rating(u8),
    Solved(bool),
    Comment(String),
    /// "No thanks" to the comment.
    Skip,
    /// A tap on a button of a question already answered.
    Stale,
}

/// Reads a message as an answer at `stage`: a tap (its `payload`) or the
/// words a citizen types instead (`4`, `⭐⭐⭐⭐`, `yes`, `नहीं`). None: the
/// message is about something else, and goes to the agent.
pub fn answer(stage: Stage, payload: Option<&str>, text: &str) -> Option<Answer> {
    if let Some(p) = payload {
        let tapped = match (stage, p.split_once(':')) {
            (Stage::Rating, Some(("rate", n))) => rating(n).map(Answer::Rating),
            (Stage::Solved, Some(("solved", "yes"))) => Some(Answer::Solved(true)),
            (Stage::Solved, Some(("solved", "no"))) => Some(Answer::Solved(false)),
            (Stage::Comment, Some(("comment", "skip"))) => Some(Answer::Skip),
            (_, Some(("rate" | "solved" | "comment", _))) => Some(Answer::Stale),
            _ => None,
        };
        if tapped.is_some() {
            return tapped;
        }
    }
    let t = text.trim();
    match stage {
        Stage::Rating => rating(t).or_else(|| stars(t)).map(Answer::Rating),
        Stage::Solved => yes_no(t).map(Answer::Solved),
        Stage::Comment if t.is_empty() => None,
        Stage::Comment if yes_no(t) == Some(false) || is_skip(t) => Some(Answer::Skip),
        Stage::Comment => Some(Answer::Comment(t.chars().take(MAX_COMMENT_CHARS).collect())),
        Stage::Done => None,
    }
}

fn rating(s: &str) -> Option<u8> {
    let n: u8 = s.trim().parse().ok()?;
    (1..=5).contains(&n).then_some(n)
}

fn stars(s: &str) -> Option<u8> {
    let n = s.chars().filter(|c| matches!(c, '⭐' | '★')).count();
    let only_stars = s
        .chars()
        .all(|c| matches!(c, '⭐' | '★' | '\u{fe0f}') || c.is_whitespace());
    (only_stars && (1..=5).contains(&n)).then_some(n as u8)
}

fn yes_no(s: &str) -> Option<bool> {
    let w = s.to_lowercase();
    let w = w.trim_end_matches(['.', '!']);
    const YES: &[&str] = &[
        "yes",
        "y",
        "solved",
        "haan",
        "ha",
        "han",
        "हाँ",
        "हां",
        "हो",
        "होय",
    ];
    const NO: &[&str] = &[
        "no",
        "n",
        "not solved",
        "nahi",
        "nahin",
        "नहीं",
        "नही",
        "नाही",
        "नको",
    ];
    if YES.contains(&w) {
        Some(true)
    } else if NO.contains(&w) {
        Some(false)
    } else {
        None
    }
}

fn is_skip(s: &str) -> bool {
    matches!(
        s.to_lowercase().as_str(),
        "skip" | "no thanks" | "no, thanks" | "nothing"
    )
}

/// What an answer does: the survey's next stage, what the citizen is told,
/// and whether the complaint reopens.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub reply: Prompt,
    /// The survey has its rating (and, after a low one, whether it was
    /// solved): the moment `complaint.rated` is sent.
    pub rated: bool,
    pub reopen: bool,
}

/// Applies `answer` to `survey` at `at`. `can_reopen`: the complaint is
/// still resolved (a closed one cannot be reopened; staff are told instead).
pub fn step(survey: &mut Survey, answer: Answer, at: DateTime<Utc>, can_reopen: bool) -> Step {
    let mut out = Step {
        reply: Prompt::AlreadyAnswered,
        rated: false,
        reopen: false,
    };
    match (survey.stage, answer) {
        (Stage::Rating, Answer::Rating(n)) => {
            survey.rating = Some(n);
            survey.answered_at = Some(at);
            if n <= LOW {
                survey.stage = Stage::Solved;
                out.reply = Prompt::AskSolved;
            } else {
                survey.stage = Stage::Comment;
                out.reply = Prompt::AskComment;
                out.rated = true;
            }
        }
        (Stage::Solved, Answer::Solved(solved)) => {
            survey.solved = Some(solved);
            survey.stage = Stage::Comment;
            out.rated = true;
            if solved {
                out.reply = Prompt::AskComment;
            } else if can_reopen {
                survey.reopened = true;
                out.reopen = true;
                out.reply = Prompt::Reopened;
            } else {
                out.reply = Prompt::ToldOffice;
            }
        }
        (Stage::Comment, Answer::Comment(text)) => {
            survey.comment = Some(text);
            survey.stage = Stage::Done;
            out.reply = Prompt::Thanks;
        }
        (Stage::Comment, Answer::Skip) => {
            survey.stage = Stage::Done;
            out.reply = Prompt::Thanks;
        }
        _ => {}
    }
    out
}

/// What the survey tells the citizen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    Question,
    AskSolved,
    AskComment,
    Reopened,
    /// Not solved, but the complaint is closed and cannot reopen.
    ToldOffice,
    Thanks,
    AlreadyAnswered,
}

/// The words of a prompt in `language` (English for a language without
/// them), with `{numbers}` replaced, and its buttons.
pub fn say(prompt: Prompt, language: &Language, numbers: &str) -> (String, Option<Choices>) {
    let w = words(language);
    let choices = |button: &str, options: &[(&str, &str)]| {
        Some(Choices::new(
            button,
            options
                .iter()
                .map(|(id, title)| Choice {
                    id: (*id).to_owned(),
                    title: (*title).to_owned(),
                })
                .collect(),
        ))
    };
    let (text, buttons) = match prompt {
        Prompt::Question => (
            w.question,
            choices(
                w.rate,
                &[
                    ("rate:5", w.ratings[4]),
                    ("rate:4", w.ratings[3]),
                    ("rate:3", w.ratings[2]),
                    ("rate:2", w.ratings[1]),
                    ("rate:1", w.ratings[0]),
                ],
            ),
        ),
        Prompt::AskSolved => (
            w.ask_solved,
            choices(w.rate, &[("solved:yes", w.yes), ("solved:no", w.no)]),
        ),
        Prompt::AskComment => (w.ask_comment, choices(w.rate, &[("comment:skip", w.skip)])),
        Prompt::Reopened => (w.reopened, choices(w.rate, &[("comment:skip", w.skip)])),
        Prompt::ToldOffice => (w.told_office, choices(w.rate, &[("comment:skip", w.skip)])),
        Prompt::Thanks => (w.thanks, None),
        Prompt::AlreadyAnswered => (w.already, None),
    };
    (text.replace("{numbers}", numbers), buttons)
}

/// The question's text in each language the survey speaks, for a status
/// notice plan (`{numbers}` left in).
pub fn question_texts() -> Vec<(&'static str, &'static str)> {
    [EN, HI, MR].iter().map(|w| (w.code, w.question)).collect()
}

struct Words {
    code: &'static str,
    question: &'static str,
    rate: &'static str,
    ratings: [&'static str; 5],
    ask_solved: &'static str,
    yes: &'static str,
    no: &'static str,
    ask_comment: &'static str,
    skip: &'static str,
    reopened: &'static str,
    told_office: &'static str,
    thanks: &'static str,
    already: &'static str,
}

fn words(language: &Language) -> &'static Words {
    match language.as_str() {
        "hi" => &HI,
        "mr" => &MR,
        _ => &EN,
    }
}

const EN: Words = Words {
    code: "en",
    question: "Your complaint {numbers} was resolved. How satisfied are you with how it was handled? Tap a rating: 5 is very good, 1 is very poor.",
    rate: "Choose",
    ratings: ["1 ★ Very poor", "2 ★ Poor", "3 ★ Okay", "4 ★ Good", "5 ★ Very good"],
    ask_solved: "We are sorry. Was your problem solved?",
    yes: "Yes, solved",
    no: "No, not solved",
    ask_comment: "Thank you! Would you like to tell us more? Write it in one message, or tap No thanks.",
    skip: "No thanks",
    reopened: "We have reopened complaint {numbers} and told the office. What is still wrong? Write it in one message, or tap No thanks.",
    told_office: "We have told the office that your problem is not solved. What is still wrong? Write it in one message, or tap No thanks.",
    thanks: "Thank you for your feedback.",
    already: "Thank you, we already have your answer.",
};

const HI: Words = Words {
    code: "hi",
    question: "आपकी शिकायत {numbers} का समाधान हो गया है। इसे जिस तरह संभाला गया, उससे आप कितने संतुष्ट हैं? रेटिंग चुनें: 5 बहुत अच्छा, 1 बहुत खराब।",
    rate: "चुनें",
    ratings: ["1 ★ बहुत खराब", "2 ★ खराब", "3 ★ ठीक", "4 ★ अच्छा", "5 ★ बहुत अच्छा"],
    ask_solved: "हमें खेद है। क्या आपकी समस्या हल हुई?",
    yes: "हाँ, हल हुई",
    no: "नहीं, हल नहीं हुई",
    ask_comment: "धन्यवाद! क्या आप और कुछ बताना चाहेंगे? एक संदेश में लिखें, या 'नहीं, धन्यवाद' चुनें।",
    skip: "नहीं, धन्यवाद",
    reopened: "हमने शिकायत {numbers} फिर से खोल दी है और कार्यालय को बता दिया है। अभी क्या ठीक नहीं है? एक संदेश में लिखें, या 'नहीं, धन्यवाद' चुनें।",
    told_office: "हमने कार्यालय को बता दिया है कि आपकी समस्या हल नहीं हुई। अभी क्या ठीक नहीं है? एक संदेश में लिखें, या 'नहीं, धन्यवाद' चुनें।",
    thanks: "आपकी प्रतिक्रिया के लिए धन्यवाद।",
    already: "धन्यवाद, आपका उत्तर हमें मिल चुका है।",
};

const MR: Words = Words {
    code: "mr",
    question: "तुमची तक्रार {numbers} सोडवली गेली आहे. ती ज्या प्रकारे हाताळली गेली त्याबद्दल तुम्ही किती समाधानी आहात? रेटिंग निवडा: 5 खूप चांगले, 1 खूप वाईट.",
    rate: "निवडा",
    ratings: ["1 ★ खूप वाईट", "2 ★ वाईट", "3 ★ ठीक", "4 ★ चांगले", "5 ★ खूप चांगले"],
    ask_solved: "आम्हाला खेद आहे. तुमची समस्या सुटली का?",
    yes: "हो, सुटली",
    no: "नाही, सुटली नाही",
    ask_comment: "धन्यवाद! आणखी काही सांगायचे आहे का? एका संदेशात लिहा, किंवा 'नको, धन्यवाद' निवडा.",
    skip: "नको, धन्यवाद",
    reopened: "आम्ही तक्रार {numbers} पुन्हा उघडली आहे आणि कार्यालयाला कळवले आहे. अजून काय चुकीचे आहे? एका संदेशात लिहा, किंवा 'नको, धन्यवाद' निवडा.",
    told_office: "आम्ही कार्यालयाला कळवले आहे की तुमची समस्या सुटलेली नाही. अजून काय चुकीचे आहे? एका संदेशात लिहा, किंवा 'नको, धन्यवाद' निवडा.",
    thanks: "तुमच्या अभिप्रायाबद्दल धन्यवाद.",
    already: "धन्यवाद, तुमचे उत्तर आम्हाला मिळाले आहे.",
};

#[cfg(test)]
mod tests;
