//! A run's first look at its messages: the citizen's answers to the
//! conversation's satisfaction survey (a tapped rating, "not solved", a
//! comment) are the survey's, whatever agent is deployed. The answers at the
//! head of the batch are taken here; the first message about something else
//! closes the survey and goes, with the rest, to the agent. Everything is
//! committed with the run, in its one transaction.

use chrono::{DateTime, Utc};
use ombud_core::event::payload;
use ombud_core::survey::{self, Answer, Prompt, Stage, Survey};
use ombud_core::*;
use ombud_store::{NewEvent, NewJob, NewReply, RunContext, Store, StoreResult, SurveyAnswer};

/// What the survey took from a run's messages.
#[derive(Default)]
pub(crate) struct SurveyPart {
    pub replies: Vec<NewReply>,
    pub events: Vec<NewEvent>,
    pub answer: Option<SurveyAnswer>,
    /// How many of the pending messages it took; the agent gets the rest.
    pub taken: usize,
}

/// Reads the answers at the head of `ctx.pending` at `now`.
pub(crate) async fn take_answers(
    store: &dyn Store,
    ctx: &RunContext,
    now: DateTime<Utc>,
) -> StoreResult<SurveyPart> {
    let mut part = SurveyPart::default();
    let tenant = &ctx.tenant.id;
    let mut open = match &ctx.conversation.survey_id {
        Some(id) => store.survey(tenant, id).await?,
        None => None,
    };
    let mut complaint: Option<Complaint> = None;
    let mut lines = Vec::new();
    let mut jobs = Vec::new();
    let language = |s: Option<&Survey>| {
        s.map(|s| s.language.clone())
            .or_else(|| ctx.contact.language.clone())
            .unwrap_or_else(Language::en)
    };
    for m in &ctx.pending {
        let stage = open
            .as_ref()
            .filter(|s| s.open(now))
            .map_or(Stage::Done, |s| s.stage);
        let Some(answer) = survey::answer(stage, m.payload.as_deref(), &m.body) else {
            break;
        };
        part.taken += 1;
        if let (Some(s), None) = (&open, &complaint) {
            complaint = store.complaint(tenant, &s.complaint_id).await?;
        }
        let (prompt, number) = match (open.as_mut(), &complaint, answer) {
            (Some(s), Some(c), answer) if answer != Answer::Stale => {
                let can_reopen = c.status == ComplaintStatus::Resolved;
                let before = s.clone();
                let step = survey::step(s, answer, now, can_reopen);
                lines.extend(timeline_lines(&before, s));
                if step.rated {
                    part.events.push(rated(s, c));
                }
                if step.reopen {
                    jobs.push(reopen_job(s, &ctx.contact.id, now));
                }
                (step.reply, c.number.to_string())
            }
            _ => (Prompt::AlreadyAnswered, String::new()),
        };
        let (text, choices) = survey::say(prompt, &language(open.as_ref()), &number);
        part.replies.push(NewReply {
            body: text,
            in_reply_to: Some(m.id.clone()),
            choices,
        });
    }
    let Some(mut s) = open else {
        return Ok(part);
    };
    let about_something_else = part.taken < ctx.pending.len();
    if s.stage != Stage::Done && (about_something_else || !s.open(now)) {
        // Closed unanswered: a low rating whose "solved?" never came is
        // still a rating.
        if s.stage == Stage::Solved {
            if let Some(c) = &complaint {
                part.events.push(rated(&s, c));
            }
        }
        s.stage = Stage::Done;
    } else if part.taken == 0 {
        return Ok(part);
    }
    part.answer = Some(SurveyAnswer {
        survey: s,
        lines,
        jobs,
    });
    Ok(part)
}

/// The timeline lines of what an answer changed.
fn timeline_lines(before: &Survey, after: &Survey) -> Vec<(&'static str, String)> {
    let mut lines = Vec::new();
    if let (None, Some(n)) = (before.rating, after.rating) {
        lines.push(("survey_rated", format!("{n}/5")));
    }
    if let (None, Some(solved)) = (before.solved, after.solved) {
        let said = if solved { "solved" } else { "not solved" };
        lines.push(("survey_solved", said.to_owned()));
    }
    if let (None, Some(text)) = (&before.comment, &after.comment) {
        lines.push(("survey_comment", text.clone()));
    }
    lines
}

fn rated(s: &Survey, c: &Complaint) -> NewEvent {
    NewEvent::of(&payload::ComplaintRated {
        complaint_id: c.id.to_string(),
        number: c.number.to_string(),
        survey_id: s.id.to_string(),
        rating: s.rating.unwrap_or_default(),
        solved: s.solved,
        reopened: s.reopened,
    })
}

/// Reopening goes through the complaint change operation, as a job made in
/// the run's transaction: never lost, never twice.
fn reopen_job(s: &Survey, contact: &ContactId, now: DateTime<Utc>) -> NewJob {
    NewJob {
        id: JobId::new(),
        kind: survey::REOPEN_JOB_KIND.into(),
        key: format!("survey.reopen:{}", s.id),
        tenant_id: Some(s.tenant_id.clone()),
        payload: serde_json::json!({"complaint_id": s.complaint_id, "contact_id": contact}),
        schedule: None,
        due_at: now,
        max_attempts: 5,
    }
}
