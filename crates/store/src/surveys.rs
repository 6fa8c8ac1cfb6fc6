//! Satisfaction surveys: asking one (the scheduler's `survey.send` job, in one
//! transaction with the question's send), the citizen's answers (committed
//! with the run that read them, see `RunCommit::survey`), the ratings read
//! back, and a tenant's settings by key. A reminder to a citizen whose
//! complaint is on hold goes out the way a question does (`crate::reminders`).
//! What is decided lives in `ombud_core::survey` and `ombud_core::reminder`;
//! the backends read the facts and write the outcome.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::change::StatusNotice;
use ombud_core::survey::{self, Stage, Survey, SurveySettings};
use ombud_core::*;
use serde_json::Value;

use crate::decode::{self, Columns, Decoded};
use crate::{Audit, NewJob, StoreError, StoreResult};

/// Asks the survey of one resolution, if it is still due.
#[derive(Debug, Clone)]
pub struct AskSurvey {
    pub complaint: ComplaintId,
    pub resolved_at: DateTime<Utc>,
    pub settings: SurveySettings,
    /// The question (kind `survey`) and, per WhatsApp channel, the template
    /// that carries it outside the window.
    pub notice: StatusNotice,
    pub at: DateTime<Utc>,
}

/// What asking did.
#[derive(Debug, Clone, PartialEq)]
pub enum Asked {
    Sent(SurveyId),
    /// Not due (why), or asked already.
    Skipped(String),
    /// Due, but no way to reach the citizen (why, also on the timeline).
    CannotNotify(String),
}

/// A run's answers to the conversation's survey, committed with the run.
#[derive(Debug, Clone)]
pub struct SurveyAnswer {
    /// The survey as the answers left it.
    pub survey: Survey,
    /// Lines on the complaint's timeline: (action, value).
    pub lines: Vec<(&'static str, String)>,
    /// Work the answers leave (reopening the complaint).
    pub jobs: Vec<NewJob>,
}

/// Ratings grouped for the overview: one row per category, assignee, team
/// and tenant-local month.
#[derive(Debug, Clone, PartialEq)]
pub struct CsatGroup {
    pub category_id: Option<CategoryId>,
    pub assignee_id: Option<UserId>,
    /// The team the complaint was sent to (`ombud_core::routing`).
    pub team: Option<String>,
    /// `YYYY-MM`, tenant-local.
    pub month: String,
    pub ratings: u64,
    /// The ratings added up (the average is `sum / ratings`).
    pub sum: u64,
    /// Ratings of 4 or 5: CSAT is their share.
    pub satisfied: u64,
}

/// The key under which a tenant's survey settings are kept.
pub const SETTINGS_KEY: &str = "survey";

#[async_trait]
pub trait SurveyStore: Send + Sync {
    /// A tenant's setting (JSON), None when never set.
    async fn tenant_setting(&self, tenant: &TenantId, key: &str) -> StoreResult<Option<Value>>;
    async fn set_tenant_setting(
        &self,
        tenant: &TenantId,
        key: &str,
        value: Value,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<()>;
    /// Asks the survey of a resolution, in one transaction: reads the facts,
    /// decides (`ombud_core::survey::due`), and writes the survey, points its
    /// conversation at it and sends the question through the outbox. A
    /// resolution is asked about once, however often this is called.
    async fn ask_survey(&self, tenant: &TenantId, ask: AskSurvey) -> StoreResult<Asked>;
    /// Reminds the citizen of a complaint put on hold, in one transaction:
    /// reads the facts, decides (`ombud_core::reminder::due`), and sends the
    /// reminder through the outbox with its line on the timeline (or the
    /// line saying why it cannot go). A hold is reminded of once, however
    /// often this is called.
    async fn remind_citizen(
        &self,
        tenant: &TenantId,
        remind: crate::RemindCitizen,
    ) -> StoreResult<crate::Reminded>;
    async fn survey(&self, tenant: &TenantId, id: &SurveyId) -> StoreResult<Option<Survey>>;
    /// A complaint's surveys, the latest first.
    async fn complaint_surveys(
        &self,
        tenant: &TenantId,
        complaint: &ComplaintId,
    ) -> StoreResult<Vec<Survey>>;
    /// Ratings given from `from` until `to`, grouped; months are counted at
    /// the tenant's UTC offset at `to`.
    async fn csat(
        &self,
        tenant: &Tenant,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<CsatGroup>>;
}

pub(crate) const SURVEY_COLS: &str = "id, tenant_id, complaint_id, conversation_id, channel_id, \
     resolved_at, language, stage, rating, solved, comment, reopened, sent_at, answered_at";

pub(crate) fn survey_row(r: &dyn Columns) -> Decoded<Survey> {
    let bad =
        |col: &str, v: String| StoreError::Internal(format!("stored {col} is unreadable: {v}"));
    let stage = r.text("stage")?;
    Ok(Survey {
        id: decode::id(r, "id")?,
        tenant_id: decode::id(r, "tenant_id")?,
        complaint_id: decode::id(r, "complaint_id")?,
        conversation_id: decode::id(r, "conversation_id")?,
        channel_id: decode::id(r, "channel_id")?,
        resolved_at: r.time("resolved_at")?,
        language: Language::parse(&r.text("language")?).map_err(|e| bad("language", e.reason))?,
        stage: Stage::parse(&stage).ok_or_else(|| bad("stage", stage.clone()))?,
        rating: r
            .opt_int("rating")?
            .map(|n| u8::try_from(n).map_err(|e| bad("rating", e.to_string())))
            .transpose()?,
        solved: r.opt_flag("solved")?,
        comment: r.opt_text("comment")?,
        reopened: r.flag("reopened")?,
        sent_at: r.time("sent_at")?,
        answered_at: r.opt_time("answered_at")?,
    })
}

pub(crate) fn csat_group(r: &dyn Columns) -> Decoded<CsatGroup> {
    let count = |col: &str| -> Decoded<u64> { Ok(r.int(col)?.max(0) as u64) };
    Ok(CsatGroup {
        category_id: r
            .opt_text("category_id")?
            .map(|s| decode::stored_id("category_id", &s))
            .transpose()?,
        assignee_id: r
            .opt_text("assignee_id")?
            .map(|s| decode::stored_id("assignee_id", &s))
            .transpose()?,
        team: r.opt_text("team")?,
        month: r.text("month")?,
        ratings: count("ratings")?,
        sum: count("total")?,
        satisfied: count("satisfied")?,
    })
}

/// What the backend read for an ask, in its transaction.
pub(crate) struct AskFacts {
    pub complaint: Option<Complaint>,
    pub last_resolved_at: Option<DateTime<Utc>>,
    pub asked: u32,
    /// This resolution was asked about already (a job run again after a
    /// crash that followed its commit).
    pub already: bool,
}

/// What an ask writes.
pub(crate) enum AskPlan {
    Skip(String),
    /// Send the question into the complaint's conversation: the survey, and
    /// the notice it goes as (decided with the conversation's window).
    Send {
        survey: Box<Survey>,
        notice: ombud_core::change::Notice,
    },
}

impl AskSurvey {
    /// Decides an ask on what the backend read.
    pub(crate) fn plan(&self, tenant: &TenantId, facts: AskFacts) -> AskPlan {
        let Some(complaint) = facts.complaint else {
            return AskPlan::Skip("the complaint no longer exists".into());
        };
        if facts.already {
            return AskPlan::Skip("this resolution was asked about already".into());
        }
        let due = survey::DueFacts {
            status: complaint.status,
            last_resolved_at: facts.last_resolved_at,
            asked: facts.asked,
            has_conversation: complaint.conversation_id.is_some() && complaint.channel_id.is_some(),
        };
        if let Err(why) = survey::due(&self.settings, self.resolved_at, &due) {
            return AskPlan::Skip(why.into());
        }
        let Some(notice) =
            ombud_core::change::notices(&self.notice, std::slice::from_ref(&complaint))
                .into_iter()
                .next()
        else {
            return AskPlan::Skip("the complaint came from no conversation".into());
        };
        let survey = Survey {
            id: SurveyId::new(),
            tenant_id: tenant.clone(),
            complaint_id: complaint.id.clone(),
            conversation_id: notice.conversation.clone(),
            channel_id: notice.channel.clone(),
            resolved_at: self.resolved_at,
            language: notice.language.clone(),
            stage: Stage::Rating,
            rating: None,
            solved: None,
            comment: None,
            reopened: false,
            sent_at: self.at,
            answered_at: None,
        };
        AskPlan::Send {
            survey: Box::new(survey),
            notice,
        }
    }
}

/// The buttons of the question in `survey`'s language.
pub(crate) fn question_choices(survey: &Survey) -> Option<ombud_core::choice::Choices> {
    survey::say(survey::Prompt::Question, &survey.language, "").1
}

/// The timeline's actor and actions for surveys.
pub(crate) const SURVEY_ACTOR: &str = "system";
pub const SURVEY_SENT: &str = "survey_sent";

/// Ratings added up: how many, their sum, and how many were 4 or 5.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CsatLine {
    pub ratings: u64,
    pub sum: u64,
    pub satisfied: u64,
}

impl CsatLine {
    fn add(&mut self, g: &CsatGroup) {
        self.ratings += g.ratings;
        self.sum += g.sum;
        self.satisfied += g.satisfied;
    }

    /// The average rating, 1 to 5 (None without ratings).
    pub fn average(&self) -> Option<f64> {
        (self.ratings > 0).then(|| self.sum as f64 / self.ratings as f64)
    }

    /// CSAT: the share of ratings of 4 or 5, in percent.
    pub fn csat(&self) -> Option<f64> {
        (self.ratings > 0).then(|| 100.0 * self.satisfied as f64 / self.ratings as f64)
    }
}

/// CSAT overall and by category, by assignee, by team and by month.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CsatReport {
    pub total: CsatLine,
    pub by_category: Vec<(Option<CategoryId>, CsatLine)>,
    pub by_assignee: Vec<(Option<UserId>, CsatLine)>,
    pub by_team: Vec<(Option<String>, CsatLine)>,
    pub by_month: Vec<(String, CsatLine)>,
}

impl CsatReport {
    pub fn of(groups: &[CsatGroup]) -> Self {
        fn add<K: PartialEq + Clone>(list: &mut Vec<(K, CsatLine)>, key: &K, g: &CsatGroup) {
            match list.iter_mut().find(|(k, _)| k == key) {
                Some((_, line)) => line.add(g),
                None => {
                    let mut line = CsatLine::default();
                    line.add(g);
                    list.push((key.clone(), line));
                }
            }
        }
        let mut r = Self::default();
        for g in groups {
            r.total.add(g);
            add(&mut r.by_category, &g.category_id, g);
            add(&mut r.by_assignee, &g.assignee_id, g);
            add(&mut r.by_team, &g.team, g);
            add(&mut r.by_month, &g.month, g);
        }
        r.by_month.sort_by(|a, b| a.0.cmp(&b.0));
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csat_adds_up_by_category_assignee_team_and_month() {
        let cat = CategoryId::new();
        let g = |category: Option<CategoryId>, month: &str, ratings, sum, satisfied| CsatGroup {
            category_id: category,
            assignee_id: None,
            team: (month == "2026-11").then(|| "roads".to_owned()),
            month: month.into(),
            ratings,
            sum,
            satisfied,
        };
        let r = CsatReport::of(&[
            g(Some(cat.clone()), "2026-12", 2, 9, 2),
            g(None, "2026-11", 2, 3, 0),
            g(Some(cat.clone()), "2026-11", 1, 1, 0),
        ]);
        assert_eq!(r.total.ratings, 5);
        assert_eq!(r.total.csat(), Some(40.0));
        assert_eq!(r.total.average(), Some(13.0 / 5.0));
        assert_eq!(r.by_category[0].0, Some(cat));
        assert_eq!(r.by_category[0].1.ratings, 3);
        assert_eq!(r.by_month[0].0, "2026-11");
        assert_eq!(r.by_month[0].1.sum, 4);
        assert_eq!(r.by_assignee.len(), 1);
        // November's four went to the roads team.
        assert_eq!(r.by_team.len(), 2);
        let roads = r
            .by_team
            .iter()
            .find(|(t, _)| t.as_deref() == Some("roads"));
        assert_eq!(roads.map(|(_, l)| l.ratings), Some(3));
        assert_eq!(CsatLine::default().csat(), None);
    }
}
