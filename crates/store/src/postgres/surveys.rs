//! Satisfaction surveys and tenant settings on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::survey::Survey;
use ombud_core::*;
use serde_json::Value;
use sqlx::{PgConnection, Row};

use super::{decode_all, decode_opt, PgStore};
use crate::reminders::RemindFacts;
use crate::surveys::{self, AskFacts, AskPlan, CsatGroup, SurveyStore, SURVEY_COLS};
use crate::work::{self, PlannedNotice};
use crate::{
    stored, AskSurvey, Asked, Audit, RemindCitizen, Reminded, StoreError, StoreResult, SurveyAnswer,
};
use ombud_core::reminder;

#[async_trait]
impl SurveyStore for PgStore {
    async fn tenant_setting(&self, tenant: &TenantId, key: &str) -> StoreResult<Option<Value>> {
        let shelf_key = (tenant.clone(), key.to_owned());
        let shelf = &self.catalog.settings;
        if let Some(kept) = shelf.get(&shelf_key) {
            return Ok((*kept).clone());
        }
        let generation = shelf.generation();
        let value: Option<String> = sqlx::query_scalar(
            "select value from tenant_settings where tenant_id = $1 and key = $2",
        )
        .bind(tenant.as_str())
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        let value = value
            .map(|v| {
                serde_json::from_str(&v).map_err(|e| {
                    StoreError::Internal(format!("stored setting {key} is not JSON: {e}"))
                })
            })
            .transpose()?;
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
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "insert into tenant_settings (tenant_id, key, value, updated_at) values ($1, $2, $3, $4)
             on conflict (tenant_id, key) do update set value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(tenant.as_str())
        .bind(key)
        .bind(value.to_string())
        .bind(stored(at))
        .execute(&mut *tx)
        .await?;
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        self.catalog
            .settings
            .forget(&(tenant.clone(), key.to_owned()));
        Ok(())
    }

    async fn ask_survey(&self, tenant: &TenantId, ask: AskSurvey) -> StoreResult<Asked> {
        let (t, c) = (tenant.as_str(), ask.complaint.as_str());
        let at = stored(ask.at);
        let mut tx = self.pool.begin().await?;
        let complaint = super::work::complaint_in(&mut tx, t, &ask.complaint).await?;
        let last_resolved_at = last_move_to(&mut tx, t, c, ComplaintStatus::Resolved).await?;
        let counts = sqlx::query(
            "select count(*) as n, count(*) filter (where resolved_at = $3) as same
             from surveys where tenant_id = $1 and complaint_id = $2",
        )
        .bind(t)
        .bind(c)
        .bind(stored(ask.resolved_at))
        .fetch_one(&mut *tx)
        .await?;
        let (asked, already): (i64, i64) = (counts.try_get("n")?, counts.try_get("same")?);
        let facts = AskFacts {
            complaint,
            last_resolved_at,
            asked: asked as u32,
            already: already > 0,
        };
        let (survey, notice) = match ask.plan(tenant, facts) {
            AskPlan::Skip(why) => return Ok(Asked::Skipped(why)),
            AskPlan::Send { survey, notice } => (survey, notice),
        };
        let choices = surveys::question_choices(&survey);
        let planned = PlannedNotice::new(&ask.notice, notice);
        if let Err(reason) = super::work::notify(&mut tx, t, planned, choices.as_ref(), at).await? {
            tx.commit().await?;
            return Ok(Asked::CannotNotify(reason));
        }
        insert(&mut tx, &survey).await?;
        sqlx::query("update conversations set survey_id = $3 where tenant_id = $1 and id = $2")
            .bind(t)
            .bind(survey.conversation_id.as_str())
            .bind(survey.id.as_str())
            .execute(&mut *tx)
            .await?;
        let line = work::Line::survey(&survey.complaint_id, surveys::SURVEY_SENT, None);
        super::work::timeline(&mut tx, t, line, at).await?;
        tx.commit().await?;
        Ok(Asked::Sent(survey.id.clone()))
    }

    async fn remind_citizen(
        &self,
        tenant: &TenantId,
        remind: RemindCitizen,
    ) -> StoreResult<Reminded> {
        let (t, c) = (tenant.as_str(), remind.complaint.as_str());
        let at = stored(remind.at);
        let mut tx = self.pool.begin().await?;
        let complaint = super::work::complaint_in(&mut tx, t, &remind.complaint).await?;
        let held_since = last_move_to(&mut tx, t, c, ComplaintStatus::OnHold).await?;
        let reminded: i64 = sqlx::query_scalar(
            "select count(*) from complaint_events
             where tenant_id = $1 and complaint_id = $2 and action = $3 and created_at >= $4",
        )
        .bind(t)
        .bind(c)
        .bind(reminder::SENT)
        .bind(stored(remind.held_at))
        .fetch_one(&mut *tx)
        .await?;
        let last_inbound: Option<DateTime<Utc>> =
            match complaint.as_ref().and_then(|c| c.conversation_id.as_ref()) {
                Some(id) => sqlx::query_scalar(
                    "select last_inbound_at from conversations where tenant_id = $1 and id = $2",
                )
                .bind(t)
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await?
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
        if let Err(reason) = super::work::notify(&mut tx, t, planned, None, at).await? {
            tx.commit().await?;
            return Ok(Reminded::CannotNotify(reason));
        }
        super::work::timeline(&mut tx, t, remind.line(), at).await?;
        tx.commit().await?;
        Ok(Reminded::Sent)
    }

    async fn survey(&self, tenant: &TenantId, id: &SurveyId) -> StoreResult<Option<Survey>> {
        let sql = format!("select {SURVEY_COLS} from surveys where tenant_id = $1 and id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        decode_opt(row, surveys::survey_row)
    }

    async fn complaint_surveys(
        &self,
        tenant: &TenantId,
        complaint: &ComplaintId,
    ) -> StoreResult<Vec<Survey>> {
        let sql = format!(
            "select {SURVEY_COLS} from surveys where tenant_id = $1 and complaint_id = $2
             order by sent_at desc limit 100"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(complaint.as_str())
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, surveys::survey_row)
    }

    async fn csat(
        &self,
        tenant: &Tenant,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<CsatGroup>> {
        let rows = sqlx::query(
            "select c.category_id, c.assignee_id, c.team,
                    to_char((s.answered_at at time zone 'UTC') + make_interval(mins => $3::int), 'YYYY-MM') as month,
                    count(*)::bigint as ratings, sum(s.rating)::bigint as total,
                    count(*) filter (where s.rating >= 4)::bigint as satisfied
             from surveys s join complaints c on c.id = s.complaint_id and c.tenant_id = s.tenant_id
             where s.tenant_id = $1 and s.rating is not null
               and s.answered_at >= $2 and s.answered_at < $4
             group by c.category_id, c.assignee_id, c.team, month
             order by month",
        )
        .bind(tenant.id.as_str())
        .bind(from)
        .bind(tenant.timezone.offset_minutes(to))
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        decode_all(&rows, surveys::csat_group)
    }
}

async fn insert(tx: &mut PgConnection, s: &Survey) -> StoreResult<()> {
    sqlx::query(
        "insert into surveys (id, tenant_id, complaint_id, conversation_id, channel_id, resolved_at,
            language, stage, sent_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(s.id.as_str())
    .bind(s.tenant_id.as_str())
    .bind(s.complaint_id.as_str())
    .bind(s.conversation_id.as_str())
    .bind(s.channel_id.as_str())
    .bind(stored(s.resolved_at))
    .bind(s.language.as_str())
    .bind(s.stage.as_str())
    .bind(stored(s.sent_at))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Writes a run's answers to its conversation's survey (inside the run's
/// commit): the survey, the conversation's open survey, timeline lines and
/// the work they leave.
pub(super) async fn answer(
    tx: &mut PgConnection,
    a: &SurveyAnswer,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let s = &a.survey;
    let t = s.tenant_id.as_str();
    let n = sqlx::query(
        "update surveys set stage = $3, rating = $4, solved = $5, comment = $6, reopened = $7,
            answered_at = $8
         where tenant_id = $1 and id = $2",
    )
    .bind(t)
    .bind(s.id.as_str())
    .bind(s.stage.as_str())
    .bind(s.rating.map(i64::from))
    .bind(s.solved)
    .bind(&s.comment)
    .bind(s.reopened)
    .bind(s.answered_at.map(stored))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound("survey"));
    }
    let open = (s.stage != ombud_core::survey::Stage::Done).then(|| s.id.as_str());
    sqlx::query("update conversations set survey_id = $3 where tenant_id = $1 and id = $2")
        .bind(t)
        .bind(s.conversation_id.as_str())
        .bind(open)
        .execute(&mut *tx)
        .await?;
    for (action, value) in &a.lines {
        let line = work::Line::survey(&s.complaint_id, action, Some(value.as_str()));
        super::work::timeline(&mut *tx, t, line, at).await?;
    }
    for job in &a.jobs {
        super::jobs::insert(&mut *tx, job, at).await?;
    }
    Ok(())
}

/// When the complaint `c` last moved to `status`, from its timeline.
async fn last_move_to(
    tx: &mut PgConnection,
    t: &str,
    c: &str,
    status: ComplaintStatus,
) -> StoreResult<Option<DateTime<Utc>>> {
    Ok(sqlx::query_scalar(
        "select max(created_at) from complaint_events
         where tenant_id = $1 and complaint_id = $2 and action = 'status_changed' and to_value = $3",
    )
    .bind(t)
    .bind(c)
    .bind(status.as_str())
    .fetch_one(&mut *tx)
    .await?)
}
