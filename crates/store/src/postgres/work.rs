//! Staff work on complaints: the list, counts, and batched changes.

use chrono::{DateTime, Utc};
use ombud_core::*;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{PgConnection, Postgres};

use super::{decode_all, decode_opt, insert_event, PgStore};
use crate::list_query::{self, Param};
use crate::report;
use crate::work;
use crate::*;

pub(super) fn bind_all<'q>(
    mut q: Query<'q, Postgres, PgArguments>,
    params: &'q [Param],
) -> Query<'q, Postgres, PgArguments> {
    for p in params {
        q = match p {
            Param::Text(s) => q.bind(s.as_str()),
            Param::Time(t) => q.bind(*t),
            Param::Int(n) => q.bind(*n),
            Param::Null => q.bind(None::<String>),
        };
    }
    q
}

pub(super) async fn list(
    store: &PgStore,
    tenant: &TenantId,
    filter: &ComplaintFilter,
    sort: ComplaintSort,
    after: Option<&ComplaintCursor>,
    limit: u32,
) -> StoreResult<Vec<ComplaintRow>> {
    let (sql, params) = list_query::list_sql(
        &list_query::POSTGRES,
        list_query::TextPlan::Scan,
        tenant,
        filter,
        sort,
        after,
        limit,
    );
    let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &params)
        .fetch_all(&store.pool)
        .await?;
    decode_all(&rows, list_query::complaint_row)
}

pub(super) async fn count(
    store: &PgStore,
    tenant: &TenantId,
    filter: &ComplaintFilter,
) -> StoreResult<u64> {
    use sqlx::Row;
    let (sql, params) = list_query::count_sql(
        &list_query::POSTGRES,
        list_query::TextPlan::Scan,
        tenant,
        filter,
    );
    let row = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &params)
        .fetch_one(&store.pool)
        .await?;
    let n: i64 = row.try_get("n")?;
    Ok(n as u64)
}

pub(super) async fn change(
    store: &PgStore,
    tenant: &TenantId,
    batch: ChangeBatch,
) -> StoreResult<Vec<ChangeOutcome>> {
    let mut tx = store.pool.begin().await?;
    let outcomes = change_in(&mut tx, tenant, &batch).await?;
    tx.commit().await?;
    Ok(outcomes)
}

/// A complaint as the transaction sees it, locked until commit: two members
/// changing one complaint take turns, and the second sees the first's change
/// (a survey's or a reminder's job too).
pub(super) async fn complaint_in(
    tx: &mut PgConnection,
    t: &str,
    id: &ComplaintId,
) -> StoreResult<Option<Complaint>> {
    let sql = format!(
        "select {} from complaints where tenant_id = $1 and id = $2 for update",
        decode::COMPLAINT_COLS
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(t)
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    decode_opt(row, decode::complaint)
}

/// Several changes to one complaint in one transaction, all or none
/// (`ComplaintStore::edit_complaint`).
pub(super) async fn edit(
    store: &PgStore,
    tenant: &TenantId,
    id: &ComplaintId,
    batches: Vec<ChangeBatch>,
) -> StoreResult<Complaint> {
    let mut tx = store.pool.begin().await?;
    let mut now = None;
    for batch in &batches {
        let outcomes = change_in(&mut tx, tenant, batch).await?;
        now = work::edited(batch, outcomes)?.or(now);
    }
    let now = match now {
        Some(c) => c,
        None => complaint_in(&mut tx, tenant.as_str(), id)
            .await?
            .ok_or(StoreError::NotFound("complaint"))?,
    };
    tx.commit().await?;
    Ok(now)
}

/// A warning or breach of a deadline, in one transaction: checked, marked,
/// and for a breach the escalation's changes applied as staff changes are.
pub(super) async fn sla_due(
    store: &PgStore,
    tenant: &TenantId,
    due: crate::SlaDue,
) -> StoreResult<crate::SlaFired> {
    let t = tenant.as_str();
    let mut tx = store.pool.begin().await?;
    let event = match due.mark(complaint_in(&mut tx, t, &due.complaint).await?) {
        Ok(event) => event,
        Err(skipped) => return Ok(skipped),
    };
    let at = stored(due.at);
    write_complaint(&mut tx, tenant, &event.complaint, at).await?;
    timeline(&mut tx, t, due.line(), at).await?;
    super::emit(&mut tx, tenant, &event, at).await?;
    for mail in &due.mails {
        super::jobs::insert(&mut tx, mail, at).await?;
    }
    let mut now = event.complaint;
    for batch in due.escalation(&now) {
        if let Some(ChangeOutcome::Changed(c)) = change_in(&mut tx, tenant, &batch).await?.pop() {
            now = *c;
        }
    }
    tx.commit().await?;
    Ok(crate::SlaFired::Fired(Box::new(now)))
}

/// A change of complaints inside the caller's transaction.
async fn change_in(
    tx: &mut PgConnection,
    tenant: &TenantId,
    batch: &ChangeBatch,
) -> StoreResult<Vec<ChangeOutcome>> {
    let t = tenant.as_str();
    check_references(&mut *tx, t, &batch.change).await?;
    let at = stored(batch.at);
    let mut outcomes = Vec::with_capacity(batch.ids.len());
    let mut changed = Vec::new();
    let mut audit = Vec::new();
    for id in &batch.ids {
        let current = complaint_in(&mut *tx, t, id).await?;
        let loads = match batch.rule_team() {
            Some(team) => loads_in(&mut *tx, t, &team.members, true).await?,
            None => Vec::new(),
        };
        match batch.decide(tenant, id, current, &loads) {
            Err(skipped) => outcomes.push(skipped),
            Ok(work::Decided { applied, jobs }) => {
                record(&mut *tx, tenant, &batch.actor, &applied, at).await?;
                for job in &jobs {
                    super::jobs::insert(&mut *tx, job, at).await?;
                }
                audit.extend(batch.audit_entry(tenant, &applied, at));
                changed.push(applied.complaint.clone());
                outcomes.push(ChangeOutcome::Changed(Box::new(applied.complaint)));
            }
        }
    }
    for planned in work::notices_for(batch, &changed) {
        // Why one could not be sent is on its complaints' timelines.
        let _ = notify(&mut *tx, t, planned, None, at).await?;
    }
    super::audit::append(&mut *tx, &audit).await?;
    Ok(outcomes)
}

/// The loads of those of `members` still in the tenant: their open
/// complaints and their last assignment. With `lock`, their membership rows
/// are locked first (in one order, so two transactions cannot deadlock):
/// two replicas assigning to the same team take turns, and neither takes a
/// member past their capacity or out of their turn.
pub(crate) async fn loads_in(
    tx: &mut PgConnection,
    t: &str,
    members: &[UserId],
    lock: bool,
) -> StoreResult<Vec<ombud_core::routing::Load>> {
    let ids: Vec<&str> = members.iter().map(|u| u.as_str()).collect();
    let sql = format!(
        "select user_id from memberships where tenant_id = $1 and user_id = any($2)
         order by user_id {}",
        if lock { "for update" } else { "" }
    );
    let present: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(t)
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
    let open_sql = format!(
        "select count(*) from complaints where tenant_id = $1 and assignee_id = $2 and {}",
        crate::work::OPEN
    );
    let mut loads = Vec::with_capacity(members.len());
    for user in members
        .iter()
        .filter(|u| present.iter().any(|p| p == u.as_str()))
    {
        let open: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(open_sql.clone()))
            .bind(t)
            .bind(user.as_str())
            .fetch_one(&mut *tx)
            .await?;
        let last: Option<i64> = sqlx::query_scalar(
            "select max(id) from complaint_events
             where tenant_id = $1 and action = 'assigned' and to_value = $2",
        )
        .bind(t)
        .bind(user.as_str())
        .fetch_one(&mut *tx)
        .await?;
        loads.push(ombud_core::routing::Load {
            user: user.clone(),
            open: open as u32,
            last_assigned: last,
        });
    }
    Ok(loads)
}

async fn check_references(
    tx: &mut PgConnection,
    t: &str,
    change: &ComplaintChange,
) -> StoreResult<()> {
    let (sql, id, field, reason) = match change {
        ComplaintChange::Assign(Some(user)) => (
            "select exists (select 1 from memberships where tenant_id = $1 and user_id = $2)",
            user.as_str(),
            "assignee",
            "is not a member of this organisation",
        ),
        ComplaintChange::Category(Some(cat)) => (
            "select exists (select 1 from categories where tenant_id = $1 and id = $2)",
            cat.as_str(),
            "category",
            "no such category",
        ),
        _ => return Ok(()),
    };
    let found: bool = sqlx::query_scalar(sql)
        .bind(t)
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    if found {
        Ok(())
    } else {
        Err(StoreError::Invalid(ValidationError::new(field, reason)))
    }
}

async fn record(
    tx: &mut PgConnection,
    tenant: &TenantId,
    actor: &str,
    applied: &work::Applied,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    write_complaint(&mut *tx, tenant, &applied.complaint, at).await?;
    timeline(tx, tenant.as_str(), work::Line::of(applied, actor), at).await?;
    if let Some(kind) = applied.event {
        insert_event(tx, tenant, kind, &work::event_data(applied, actor), at).await?;
    }
    Ok(())
}

/// Writes what staff and service levels change on a complaint.
async fn write_complaint(
    tx: &mut PgConnection,
    tenant: &TenantId,
    c: &Complaint,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let sla = crate::sla::SlaColumns::of(c);
    sqlx::query(
        "update complaints set status = $3, priority = $4, category_id = $5, assignee_id = $6,
             area = $7, updated_at = $8, sla = $9, sla_state = $10, sla_due_at = $11, team = $12,
             sla_next_at = $13
         where tenant_id = $1 and id = $2",
    )
    .bind(tenant.as_str())
    .bind(c.id.as_str())
    .bind(c.status.as_str())
    .bind(c.priority.as_str())
    .bind(c.category_id.as_ref().map(|v| v.as_str()))
    .bind(c.assignee_id.as_ref().map(|v| v.as_str()))
    .bind(&c.area)
    .bind(at)
    .bind(&sla.clock)
    .bind(sla.state)
    .bind(sla.due_at)
    .bind(&c.team)
    .bind(sla.next_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Writes one line of a complaint's timeline.
pub(super) async fn timeline(
    tx: &mut PgConnection,
    t: &str,
    line: work::Line<'_>,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "insert into complaint_events (tenant_id, complaint_id, actor, action, from_value, to_value, created_at)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(t)
    .bind(line.complaint.as_str())
    .bind(line.actor)
    .bind(line.action)
    .bind(line.from)
    .bind(line.to)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Sends a planned notice into its conversation through the outbox: as
/// text (offering `choices`) inside WhatsApp's window and where there is
/// none, as its template outside. Or, when it cannot go, writes why on each
/// of its complaints' timelines and answers that (Err).
pub(super) async fn notify(
    tx: &mut PgConnection,
    t: &str,
    planned: work::PlannedNotice<'_>,
    choices: Option<&ombud_core::choice::Choices>,
    at: DateTime<Utc>,
) -> StoreResult<Result<(), String>> {
    let n = &planned.notice;
    let (channel, conversation, contact) =
        (n.channel.clone(), n.conversation.clone(), n.contact.clone());
    let last_inbound: Option<DateTime<Utc>> = sqlx::query_scalar(
        "select last_inbound_at from conversations where tenant_id = $1 and id = $2",
    )
    .bind(t)
    .bind(conversation.as_str())
    .fetch_optional(&mut *tx)
    .await?
    .flatten();
    match planned.decide(last_inbound, at) {
        work::NoticeAction::Send { body, template } => {
            let out = work::Outgoing::of(&body, template.as_ref(), choices);
            send(tx, t, &channel, &conversation, contact.as_ref(), out, at).await?;
            Ok(Ok(()))
        }
        work::NoticeAction::CannotNotify { complaints, reason } => {
            for c in &complaints {
                timeline(tx, t, work::Line::not_notified(c, &reason), at).await?;
            }
            Ok(Err(reason))
        }
    }
}

/// An outbound message from staff (or on their behalf) into a conversation,
/// and its outbox row: sent by the outbox worker like the bot's replies.
pub(super) async fn send(
    tx: &mut PgConnection,
    t: &str,
    channel: &ChannelId,
    conversation: &ConversationId,
    contact: Option<&ContactId>,
    out: work::Outgoing<'_>,
    at: DateTime<Utc>,
) -> StoreResult<MessageId> {
    let id = MessageId::new();
    let stored = out.stored()?;
    sqlx::query(
        "insert into messages (id, tenant_id, channel_id, conversation_id, direction, seq,
            kind, body, in_reply_to, status, created_at, updated_at, template, choices, sender, session)
         values ($1, $2, $3, $4, 'outbound', 0, $7, $5, null, 'pending', $6, $6, $8, $9, $10,
            (select session from conversations where id = $4))",
    )
    .bind(id.as_str())
    .bind(t)
    .bind(channel.as_str())
    .bind(conversation.as_str())
    .bind(out.body)
    .bind(at)
    .bind(stored.kind)
    .bind(stored.template)
    .bind(stored.choices)
    .bind(out.sender)
    .execute(&mut *tx)
    .await?;
    // Every message moves the conversation's `updated_at` (retention
    // visits a conversation again by it); a person's keeps its session on.
    sqlx::query(
        "update conversations set updated_at = $2,
            active_at = case when $4 then $2 else active_at end,
            session_closed_at = case when $4 then null else session_closed_at end
         where id = $1 and tenant_id = $3",
    )
    .bind(conversation.as_str())
    .bind(at)
    .bind(t)
    .bind(out.by_person)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "insert into outbox (tenant_id, channel_id, conversation_id, message_id, status,
            attempts, lease_until, next_attempt_at, created_at, updated_at)
         values ($1, $2, $3, $4, 'pending', 0, null, $5, $5, $5)",
    )
    .bind(t)
    .bind(channel.as_str())
    .bind(conversation.as_str())
    .bind(id.as_str())
    .bind(at)
    .execute(&mut *tx)
    .await?;
    if let Some(contact) = contact {
        sqlx::query("update contacts set messages_out = messages_out + 1 where id = $1")
            .bind(contact.as_str())
            .execute(&mut *tx)
            .await?;
    }
    Ok(id)
}

pub(super) async fn overview(
    store: &PgStore,
    tenant: &Tenant,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<Overview> {
    let q = report::queries(
        |n| format!("${n}"),
        |col, offset| {
            format!(
                "(({col} at time zone 'UTC') + make_interval(mins => {offset}::int))::date::text"
            )
        },
        &tenant.id,
        since,
        now,
        tenant.timezone.offset_minutes(now),
    );
    let fetch = |(sql, params): &(String, Vec<Param>)| {
        let (sql, params) = (sql.clone(), params.clone());
        async move {
            let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &params)
                .fetch_all(&store.pool)
                .await?;
            Ok::<_, StoreError>(rows)
        }
    };
    let per_day = decode_all(&fetch(&q.per_day).await?, report::day_row)?;
    let open_by_category = decode_all(&fetch(&q.by_category).await?, report::category_row)?;
    let open_by_age = decode_all(&fetch(&q.by_age).await?, report::age_row)?
        .into_iter()
        .next()
        .unwrap_or_default();
    let first_response_secs = decode_all(&fetch(&q.first_response).await?, report::duration_row)?;
    let resolution_secs = decode_all(&fetch(&q.resolution).await?, report::duration_row)?;
    let sla = decode_all(&fetch(&q.sla).await?, report::sla_row)?;
    Ok(Overview {
        per_day,
        open_by_category,
        open_by_age,
        first_response_secs,
        resolution_secs,
        sla,
    })
}
