//! Satisfaction surveys and tenant settings on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::survey::Survey;
use ombud_core::*;
use rusqlite::params;
use serde_json::Value;

use super::rows::{all, one, time_text};
use super::SqliteStore;
use crate::reminders::RemindFacts;
use crate::surveys::{self, AskFacts, AskPlan, CsatGroup, SurveyStore, SURVEY_COLS};
use crate::work::{self, PlannedNotice};
use crate::{
    stored, AskSurvey, Asked, Audit, RemindCitizen, Reminded, StoreError, StoreResult, SurveyAnswer,
};
use ombud_core::reminder;

#[async_trait]
impl SurveyStore for SqliteStore {
    async fn tenant_setting(&self, tenant: &TenantId, key: &str) -> StoreResult<Option<Value>> {
        let shelf_key = (tenant.clone(), key.to_owned());
        let shelf = &self.catalog().settings;
        if let Some(kept) = shelf.get(&shelf_key) {
            return Ok((*kept).clone());
        }
        let generation = shelf.generation();
        let (tenant, key) = shelf_key.clone();
        let value = self
            .read(move |conn| {
                one(
                    conn,
                    "select value from tenant_settings where tenant_id = ?1 and key = ?2",
                    params![tenant.as_str(), key],
                    |r| r.json("value"),
                )
            })
            .await?;
        Ok((*shelf.put_if(shelf_key, value, generation)).clone())
    }

    async fn set_tenant_setting(
        &self,
        tenant: &TenantId,
        key: &str,
        value: Value,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<()> {
        let shelf_key = (tenant.clone(), key.to_owned());
        let (tenant, key) = shelf_key.clone();
        self.write(move |conn| {
            conn.prepare_cached(
                "insert into tenant_settings (tenant_id, key, value, updated_at) values (?1, ?2, ?3, ?4)
                 on conflict (tenant_id, key) do update set value = excluded.value, updated_at = excluded.updated_at",
            )?
            .execute(params![tenant.as_str(), key, value.to_string(), time_text(stored(at))])?;
            super::audit::append(conn, &audit)?;
            Ok(())
        })
        .await?;
        self.catalog().settings.forget(&shelf_key);
        Ok(())
    }

    async fn ask_survey(&self, tenant: &TenantId, ask: AskSurvey) -> StoreResult<Asked> {
        let tenant = tenant.clone();
        self.write(move |conn| {
            let t = tenant.as_str();
            let c = ask.complaint.as_str();
            let at = stored(ask.at);
            let complaint = super::work::complaint_in(conn, t, &ask.complaint)?;
            let last_resolved_at = last_move_to(conn, t, c, ComplaintStatus::Resolved)?;
            let (asked, already) = one(
                conn,
                "select count(*) as n, coalesce(sum(resolved_at = ?3), 0) as same
                 from surveys where tenant_id = ?1 and complaint_id = ?2",
                params![t, c, time_text(stored(ask.resolved_at))],
                |r| Ok((r.int("n")?, r.int("same")?)),
            )?
            .unwrap_or((0, 0));
            let facts = AskFacts {
                complaint,
                last_resolved_at,
                asked: asked as u32,
                already: already > 0,
            };
            let (survey, notice) = match ask.plan(&tenant, facts) {
                AskPlan::Skip(why) => return Ok(Asked::Skipped(why)),
                AskPlan::Send { survey, notice } => (survey, notice),
            };
            let choices = surveys::question_choices(&survey);
            let planned = PlannedNotice::new(&ask.notice, notice);
            if let Err(reason) = super::work::notify(conn, t, planned, choices.as_ref(), at)? {
                return Ok(Asked::CannotNotify(reason));
            }
            insert(conn, &survey)?;
            conn.prepare_cached(
                "update conversations set survey_id = ?3 where tenant_id = ?1 and id = ?2",
            )?
            .execute(params![
                t,
                survey.conversation_id.as_str(),
                survey.id.as_str()
            ])?;
            super::work::timeline(
                conn,
                t,
                work::Line::survey(&survey.complaint_id, surveys::SURVEY_SENT, None),
                at,
            )?;
            Ok(Asked::Sent(survey.id.clone()))
        })
        .await
    }

    async fn remind_citizen(
        &self,
        tenant: &TenantId,
        remind: RemindCitizen,
    ) -> StoreResult<Reminded> {
        let tenant = tenant.clone();
        self.write(move |conn| {
            let t = tenant.as_str();
            let c = remind.complaint.as_str();
            let at = stored(remind.at);
            let complaint = super::work::complaint_in(conn, t, &remind.complaint)?;
            let held_since = last_move_to(conn, t, c, ComplaintStatus::OnHold)?;
            let reminded = one(
                conn,
                "select count(*) as n from complaint_events
                 where tenant_id = ?1 and complaint_id = ?2 and action = ?3 and created_at >= ?4",
                params![t, c, reminder::SENT, time_text(stored(remind.held_at))],
                |r| r.int("n"),
            )?
            .unwrap_or(0);
            let conversation = complaint.as_ref().and_then(|c| c.conversation_id.clone());
            let last_inbound = match conversation {
                Some(id) => one(
                    conn,
                    "select last_inbound_at from conversations where tenant_id = ?1 and id = ?2",
                    params![t, id.as_str()],
                    |r| r.opt_time("last_inbound_at"),
                )?
                .flatten(),
                None => None,
            };
            let facts = RemindFacts {
                complaint,
                held_since,
                reminded: reminded > 0,
                last_inbound,
            };
            let notice = match remind.plan(facts) {
                Ok(notice) => notice,
                Err(why) => return Ok(Reminded::Skipped(why)),
            };
            let planned = PlannedNotice::new(&remind.notice, notice);
            if let Err(reason) = super::work::notify(conn, t, planned, None, at)? {
                return Ok(Reminded::CannotNotify(reason));
            }
            super::work::timeline(conn, t, remind.line(), at)?;
            Ok(Reminded::Sent)
        })
        .await
    }

    async fn survey(&self, tenant: &TenantId, id: &SurveyId) -> StoreResult<Option<Survey>> {
        let (tenant, id) = (tenant.clone(), id.clone());
        self.read(move |conn| {
            let sql = format!("select {SURVEY_COLS} from surveys where tenant_id = ?1 and id = ?2");
            one(
                conn,
                &sql,
                params![tenant.as_str(), id.as_str()],
                surveys::survey_row,
            )
        })
        .await
    }

    async fn complaint_surveys(
        &self,
        tenant: &TenantId,
        complaint: &ComplaintId,
    ) -> StoreResult<Vec<Survey>> {
        let (tenant, complaint) = (tenant.clone(), complaint.clone());
        self.read(move |conn| {
            let sql = format!(
                "select {SURVEY_COLS} from surveys where tenant_id = ?1 and complaint_id = ?2
                 order by sent_at desc limit 100"
            );
            all(
                conn,
                &sql,
                params![tenant.as_str(), complaint.as_str()],
                surveys::survey_row,
            )
        })
        .await
    }

    async fn csat(
        &self,
        tenant: &Tenant,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<CsatGroup>> {
        let t = tenant.id.clone();
        let offset = format!("{} minutes", tenant.timezone.offset_minutes(to));
        self.read(move |conn| {
            all(
                conn,
                "select c.category_id, c.assignee_id, c.team, strftime('%Y-%m', s.answered_at, ?3) as month,
                        count(*) as ratings, sum(s.rating) as total,
                        sum(case when s.rating >= 4 then 1 else 0 end) as satisfied
                 from surveys s join complaints c on c.id = s.complaint_id and c.tenant_id = s.tenant_id
                 where s.tenant_id = ?1 and s.rating is not null
                   and s.answered_at >= ?2 and s.answered_at < ?4
                 group by c.category_id, c.assignee_id, c.team, month
                 order by month",
                params![t.as_str(), time_text(from), offset, time_text(to)],
                surveys::csat_group,
            )
        })
        .await
    }
}

fn insert(conn: &rusqlite::Connection, s: &Survey) -> StoreResult<()> {
    conn.prepare_cached(
        "insert into surveys (id, tenant_id, complaint_id, conversation_id, channel_id, resolved_at,
            language, stage, sent_at)
         values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        s.id.as_str(),
        s.tenant_id.as_str(),
        s.complaint_id.as_str(),
        s.conversation_id.as_str(),
        s.channel_id.as_str(),
        time_text(stored(s.resolved_at)),
        s.language.as_str(),
        s.stage.as_str(),
        time_text(stored(s.sent_at))
    ])?;
    Ok(())
}

/// Writes a run's answers to its conversation's survey (inside the run's
/// commit): the survey, the conversation's open survey, timeline lines and
/// the work they leave.
pub(super) fn answer(
    conn: &rusqlite::Connection,
    a: &SurveyAnswer,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let s = &a.survey;
    let t = s.tenant_id.as_str();
    let n = conn
        .prepare_cached(
            "update surveys set stage = ?3, rating = ?4, solved = ?5, comment = ?6, reopened = ?7,
                answered_at = ?8
             where tenant_id = ?1 and id = ?2",
        )?
        .execute(params![
            t,
            s.id.as_str(),
            s.stage.as_str(),
            s.rating,
            s.solved,
            s.comment,
            s.reopened,
            s.answered_at.map(|a| time_text(stored(a)))
        ])?;
    if n == 0 {
        return Err(StoreError::NotFound("survey"));
    }
    let open = (s.stage != ombud_core::survey::Stage::Done).then(|| s.id.as_str());
    conn.prepare_cached(
        "update conversations set survey_id = ?3 where tenant_id = ?1 and id = ?2",
    )?
    .execute(params![t, s.conversation_id.as_str(), open])?;
    for (action, value) in &a.lines {
        super::work::timeline(
            conn,
            t,
            work::Line::survey(&s.complaint_id, action, Some(value.as_str())),
            at,
        )?;
    }
    for job in &a.jobs {
        super::jobs::insert(conn, job, at)?;
    }
    Ok(())
}

/// When the complaint `c` last moved to `status`, from its timeline.
fn last_move_to(
    conn: &rusqlite::Connection,
    t: &str,
    c: &str,
    status: ComplaintStatus,
) -> StoreResult<Option<DateTime<Utc>>> {
    Ok(one(
        conn,
        "select max(created_at) as at from complaint_events
         where tenant_id = ?1 and complaint_id = ?2 and action = 'status_changed' and to_value = ?3",
        params![t, c, status.as_str()],
        |r| r.opt_time("at"),
    )?
    .flatten())
}
