//! Staff work on complaints: the list, counts, and batched changes.

use chrono::{DateTime, Utc};
use ombud_core::*;
use rusqlite::params;
use rusqlite::types::ToSqlOutput;

use super::rows::{self, all, one, time_text};
use super::SqliteStore;
use crate::list_query::{self, Param};
use crate::report;
use crate::work;
use crate::*;

impl rusqlite::ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Param::Text(s) => ToSqlOutput::from(s.as_str()),
            Param::Time(t) => ToSqlOutput::from(time_text(*t)),
            Param::Int(n) => ToSqlOutput::from(*n),
            Param::Null => ToSqlOutput::from(rusqlite::types::Null),
        })
    }
}

pub(super) async fn list(
    store: &SqliteStore,
    tenant: &TenantId,
    filter: &ComplaintFilter,
    sort: ComplaintSort,
    after: Option<&ComplaintCursor>,
    limit: u32,
) -> StoreResult<Vec<ComplaintRow>> {
    let (tenant, filter, after) = (tenant.clone(), filter.clone(), after.cloned());
    store
        .read(move |conn| {
            let plan = text_plan(conn, &filter, true)?;
            let (sql, params) = list_query::list_sql(
                &list_query::SQLITE,
                plan,
                &tenant,
                &filter,
                sort,
                after.as_ref(),
                limit,
            );
            all(
                conn,
                &sql,
                rusqlite::params_from_iter(params.iter()),
                list_query::complaint_row,
            )
        })
        .await
}

pub(super) async fn count(
    store: &SqliteStore,
    tenant: &TenantId,
    filter: &ComplaintFilter,
) -> StoreResult<u64> {
    let (tenant, filter) = (tenant.clone(), filter.clone());
    store
        .read(move |conn| {
            let plan = text_plan(conn, &filter, false)?;
            let (sql, params) = list_query::count_sql(&list_query::SQLITE, plan, &tenant, &filter);
            let n: i64 = conn
                .prepare_cached(&sql)?
                .query_row(rusqlite::params_from_iter(params.iter()), |r| r.get(0))?;
            Ok(n as u64)
        })
        .await
}

/// Complaints the index may name before scanning in list order is the better
/// plan for a page: that many matches fill a page within a few thousand rows.
const DENSE: i64 = 5000;

/// How to match the filter's text: through the trigram index when it can
/// serve the text and, for a page, when few complaints contain it. A count
/// reads every match either way, so it always takes the index.
fn text_plan(
    conn: &rusqlite::Connection,
    filter: &ComplaintFilter,
    for_page: bool,
) -> StoreResult<list_query::TextPlan> {
    let Some(text) = &filter.text else {
        return Ok(list_query::TextPlan::Scan);
    };
    if text.chars().count() < list_query::INDEXED_MIN_CHARS {
        return Ok(list_query::TextPlan::Scan);
    }
    if !for_page {
        return Ok(list_query::TextPlan::Index);
    }
    let found: i64 = conn
        .prepare_cached(
            "select count(*) from (select 1 from complaint_search where complaint_search match ?1 limit ?2)",
        )?
        .query_row(params![list_query::search_phrase(text), DENSE + 1], |r| r.get(0))?;
    Ok(if found > DENSE {
        list_query::TextPlan::Scan
    } else {
        list_query::TextPlan::Index
    })
}

pub(super) async fn change(
    store: &SqliteStore,
    tenant: &TenantId,
    batch: ChangeBatch,
) -> StoreResult<Vec<ChangeOutcome>> {
    let tenant = tenant.clone();
    store
        .write(move |conn| change_in(conn, &tenant, &batch))
        .await
}

/// Several changes to one complaint in one transaction, all or none
/// (`ComplaintStore::edit_complaint`).
pub(super) async fn edit(
    store: &SqliteStore,
    tenant: &TenantId,
    id: &ComplaintId,
    batches: Vec<ChangeBatch>,
) -> StoreResult<Complaint> {
    let (tenant, id) = (tenant.clone(), id.clone());
    store
        .write(move |conn| {
            let mut now = None;
            for batch in &batches {
                let outcomes = change_in(conn, &tenant, batch)?;
                now = work::edited(batch, outcomes)?.or(now);
            }
            match now {
                Some(c) => Ok(c),
                None => complaint_in(conn, tenant.as_str(), &id)?
                    .ok_or(StoreError::NotFound("complaint")),
            }
        })
        .await
}

/// A complaint as the transaction sees it (the writer's lock keeps it true
/// until the transaction ends).
pub(super) fn complaint_in(
    conn: &rusqlite::Connection,
    t: &str,
    id: &ComplaintId,
) -> StoreResult<Option<Complaint>> {
    let sql = format!(
        "select {} from complaints where tenant_id = ?1 and id = ?2",
        decode::COMPLAINT_COLS
    );
    one(conn, &sql, params![t, id.as_str()], decode::complaint)
}

/// A warning or breach of a deadline, in one transaction: checked, marked,
/// and for a breach the escalation's changes applied as staff changes are.
pub(super) async fn sla_due(
    store: &SqliteStore,
    tenant: &TenantId,
    due: crate::SlaDue,
) -> StoreResult<crate::SlaFired> {
    let tenant = tenant.clone();
    store
        .write(move |conn| {
            let t = tenant.as_str();
            let event = match due.mark(complaint_in(conn, t, &due.complaint)?) {
                Ok(event) => event,
                Err(skipped) => return Ok(skipped),
            };
            let at = stored(due.at);
            write_complaint(conn, &tenant, &event.complaint, at)?;
            timeline(conn, t, due.line(), at)?;
            rows::emit(conn, &tenant, &event, at)?;
            for mail in &due.mails {
                super::jobs::insert(conn, mail, at)?;
            }
            let mut now = event.complaint;
            for batch in due.escalation(&now) {
                if let Some(ChangeOutcome::Changed(c)) = change_in(conn, &tenant, &batch)?.pop() {
                    now = *c;
                }
            }
            Ok(crate::SlaFired::Fired(Box::new(now)))
        })
        .await
}

/// A change of complaints inside the caller's transaction.
fn change_in(
    conn: &rusqlite::Connection,
    tenant: &TenantId,
    batch: &ChangeBatch,
) -> StoreResult<Vec<ChangeOutcome>> {
    let t = tenant.as_str();
    check_references(conn, t, &batch.change)?;
    let at = stored(batch.at);
    let mut outcomes = Vec::with_capacity(batch.ids.len());
    let mut changed = Vec::new();
    let mut audit = Vec::new();
    for id in &batch.ids {
        let current = complaint_in(conn, t, id)?;
        let loads = match batch.rule_team() {
            Some(team) => loads_in(conn, t, &team.members)?,
            None => Vec::new(),
        };
        match batch.decide(tenant, id, current, &loads) {
            Err(skipped) => outcomes.push(skipped),
            Ok(work::Decided { applied, jobs }) => {
                record(conn, tenant, &batch.actor, &applied, at)?;
                for job in &jobs {
                    super::jobs::insert(conn, job, at)?;
                }
                audit.extend(batch.audit_entry(tenant, &applied, at));
                changed.push(applied.complaint.clone());
                outcomes.push(ChangeOutcome::Changed(Box::new(applied.complaint)));
            }
        }
    }
    for planned in work::notices_for(batch, &changed) {
        // Why one could not be sent is on its complaints' timelines.
        let _ = notify(conn, t, planned, None, at)?;
    }
    super::audit::append(conn, &audit)?;
    Ok(outcomes)
}

/// The loads of those of `members` still in the tenant: their open
/// complaints and their last assignment (the writer's lock keeps them true
/// until the transaction ends).
pub(crate) fn loads_in(
    conn: &rusqlite::Connection,
    t: &str,
    members: &[UserId],
) -> StoreResult<Vec<ombud_core::routing::Load>> {
    let open_sql = format!(
        "select count(*) from complaints where tenant_id = ?1 and assignee_id = ?2 and {}",
        crate::work::OPEN
    );
    let mut loads = Vec::with_capacity(members.len());
    for user in members {
        let params = params![t, user.as_str()];
        let member = conn
            .prepare_cached("select 1 from memberships where tenant_id = ?1 and user_id = ?2")?
            .exists(params)?;
        if !member {
            continue;
        }
        let open: i64 = conn
            .prepare_cached(&open_sql)?
            .query_row(params, |r| r.get(0))?;
        let last: Option<i64> = conn
            .prepare_cached(
                "select max(id) from complaint_events
                 where tenant_id = ?1 and action = 'assigned' and to_value = ?2",
            )?
            .query_row(params, |r| r.get(0))?;
        loads.push(ombud_core::routing::Load {
            user: user.clone(),
            open: open as u32,
            last_assigned: last,
        });
    }
    Ok(loads)
}

fn check_references(
    conn: &rusqlite::Connection,
    t: &str,
    change: &ComplaintChange,
) -> StoreResult<()> {
    let invalid =
        |field: &str, reason: &str| Err(StoreError::Invalid(ValidationError::new(field, reason)));
    match change {
        ComplaintChange::Assign(Some(user)) => {
            let member = conn
                .prepare_cached("select 1 from memberships where tenant_id = ?1 and user_id = ?2")?
                .exists(params![t, user.as_str()])?;
            if !member {
                return invalid("assignee", "is not a member of this organisation");
            }
        }
        ComplaintChange::Category(Some(cat)) => {
            let owned = conn
                .prepare_cached("select 1 from categories where id = ?1 and tenant_id = ?2")?
                .exists(params![cat.as_str(), t])?;
            if !owned {
                return invalid("category", "no such category");
            }
        }
        _ => {}
    }
    Ok(())
}

/// Writes a changed complaint, its history line and its domain event.
fn record(
    conn: &rusqlite::Connection,
    tenant: &TenantId,
    actor: &str,
    applied: &work::Applied,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    write_complaint(conn, tenant, &applied.complaint, at)?;
    timeline(conn, tenant.as_str(), work::Line::of(applied, actor), at)?;
    if let Some(kind) = applied.event {
        rows::insert_event(conn, tenant, kind, &work::event_data(applied, actor), at)?;
    }
    Ok(())
}

/// Writes what staff and service levels change on a complaint.
fn write_complaint(
    conn: &rusqlite::Connection,
    tenant: &TenantId,
    c: &Complaint,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let sla = crate::sla::SlaColumns::of(c);
    conn.prepare_cached(
        "update complaints set status = ?3, priority = ?4, category_id = ?5, assignee_id = ?6,
             area = ?7, updated_at = ?8, sla = ?9, sla_state = ?10, sla_due_at = ?11, team = ?12,
             sla_next_at = ?13
         where tenant_id = ?1 and id = ?2",
    )?
    .execute(params![
        tenant.as_str(),
        c.id.as_str(),
        c.status.as_str(),
        c.priority.as_str(),
        c.category_id.as_ref().map(|v| v.as_str()),
        c.assignee_id.as_ref().map(|v| v.as_str()),
        c.area,
        time_text(at),
        sla.clock,
        sla.state,
        sla.due_at.map(time_text),
        c.team,
        sla.next_at.map(time_text)
    ])?;
    Ok(())
}

/// Sends a planned notice into its conversation through the outbox: as
/// text (offering `choices`) inside WhatsApp's window and where there is
/// none, as its template outside. Or, when it cannot go, writes why on each
/// of its complaints' timelines and answers that (Err).
pub(super) fn notify(
    conn: &rusqlite::Connection,
    t: &str,
    planned: work::PlannedNotice<'_>,
    choices: Option<&ombud_core::choice::Choices>,
    at: DateTime<Utc>,
) -> StoreResult<Result<(), String>> {
    let n = &planned.notice;
    let (channel, conversation, contact) =
        (n.channel.clone(), n.conversation.clone(), n.contact.clone());
    let last_inbound = one(
        conn,
        "select last_inbound_at from conversations where tenant_id = ?1 and id = ?2",
        params![t, conversation.as_str()],
        |r| r.opt_time("last_inbound_at"),
    )?
    .flatten();
    match planned.decide(last_inbound, at) {
        work::NoticeAction::Send { body, template } => {
            let out = work::Outgoing::of(&body, template.as_ref(), choices);
            send(conn, t, &channel, &conversation, contact.as_ref(), out, at)?;
            Ok(Ok(()))
        }
        work::NoticeAction::CannotNotify { complaints, reason } => {
            for c in &complaints {
                timeline(conn, t, work::Line::not_notified(c, &reason), at)?;
            }
            Ok(Err(reason))
        }
    }
}

/// An outbound message from staff (or on their behalf) into a conversation,
/// and its outbox row: sent by the outbox worker like the bot's replies.
pub(super) fn send(
    conn: &rusqlite::Connection,
    t: &str,
    channel: &ChannelId,
    conversation: &ConversationId,
    contact: Option<&ContactId>,
    out: work::Outgoing<'_>,
    at: DateTime<Utc>,
) -> StoreResult<MessageId> {
    let id = MessageId::new();
    let at = time_text(at);
    let stored = out.stored()?;
    conn.prepare_cached(
        "insert into messages (id, tenant_id, channel_id, conversation_id, direction, seq,
            kind, body, in_reply_to, status, created_at, updated_at, template, choices, sender, session)
         values (?1, ?2, ?3, ?4, 'outbound', 0, ?7, ?5, null, 'pending', ?6, ?6, ?8, ?9, ?10,
            (select session from conversations where id = ?4))",
    )?
    .execute(params![
        id.as_str(),
        t,
        channel.as_str(),
        conversation.as_str(),
        out.body,
        at,
        stored.kind,
        stored.template,
        stored.choices,
        out.sender
    ])?;
    // Every message moves the conversation's `updated_at` (retention
    // visits a conversation again by it); a person's keeps its session on.
    conn.prepare_cached(
        "update conversations set updated_at = ?2,
            active_at = case when ?4 then ?2 else active_at end,
            session_closed_at = case when ?4 then null else session_closed_at end
         where id = ?1 and tenant_id = ?3",
    )?
    .execute(params![conversation.as_str(), at, t, out.by_person])?;
    conn.prepare_cached(
        "insert into outbox (tenant_id, channel_id, conversation_id, message_id, status,
            attempts, lease_until, next_attempt_at, created_at, updated_at)
         values (?1, ?2, ?3, ?4, 'pending', 0, null, ?5, ?5, ?5)",
    )?
    .execute(params![
        t,
        channel.as_str(),
        conversation.as_str(),
        id.as_str(),
        at
    ])?;
    if let Some(contact) = contact {
        conn.prepare_cached("update contacts set messages_out = messages_out + 1 where id = ?1")?
            .execute([contact.as_str()])?;
    }
    Ok(id)
}

pub(super) async fn overview(
    store: &SqliteStore,
    tenant: &Tenant,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<Overview> {
    let q = report::queries(
        |n| format!("?{n}"),
        |col, offset| format!("date({col}, {offset} || ' minutes')"),
        &tenant.id,
        since,
        now,
        tenant.timezone.offset_minutes(now),
    );
    store
        .read(move |conn| {
            let run = |(sql, params): &(String, Vec<Param>)| (sql.clone(), params.clone());
            let (sql, p) = run(&q.per_day);
            let per_day = all(
                conn,
                &sql,
                rusqlite::params_from_iter(p.iter()),
                report::day_row,
            )?;
            let (sql, p) = run(&q.by_category);
            let open_by_category = all(
                conn,
                &sql,
                rusqlite::params_from_iter(p.iter()),
                report::category_row,
            )?;
            let (sql, p) = run(&q.by_age);
            let open_by_age = one(
                conn,
                &sql,
                rusqlite::params_from_iter(p.iter()),
                report::age_row,
            )?
            .unwrap_or_default();
            let (sql, p) = run(&q.first_response);
            let first_response_secs = all(
                conn,
                &sql,
                rusqlite::params_from_iter(p.iter()),
                report::duration_row,
            )?;
            let (sql, p) = run(&q.resolution);
            let resolution_secs = all(
                conn,
                &sql,
                rusqlite::params_from_iter(p.iter()),
                report::duration_row,
            )?;
            let (sql, p) = run(&q.sla);
            let sla = all(
                conn,
                &sql,
                rusqlite::params_from_iter(p.iter()),
                report::sla_row,
            )?;
            Ok(Overview {
                per_day,
                open_by_category,
                open_by_age,
                first_response_secs,
                resolution_secs,
                sla,
            })
        })
        .await
}

/// Writes one line of a complaint's timeline.
pub(super) fn timeline(
    conn: &rusqlite::Connection,
    t: &str,
    line: work::Line<'_>,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    conn.prepare_cached(
        "insert into complaint_events (tenant_id, complaint_id, actor, action, from_value, to_value, created_at)
         values (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        t,
        line.complaint.as_str(),
        line.actor,
        line.action,
        line.from,
        line.to,
        time_text(at)
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests;
