//! Erasing a person on PostgreSQL (see `DirectoryStore::erase_contact`):
//! the same rows as SQLite's, in one transaction. Updated rows leave dead
//! versions until vacuum, which no query reads.

use chrono::{DateTime, Utc};
use ombud_core::person::WORDED_ACTIONS;
use ombud_core::*;
use sqlx::PgConnection;

use crate::*;

/// The contact's conversations and complaints, for `in (…)`.
const THEIRS: &str = "select id from conversations where tenant_id = $1 and contact_id = $2";
const MINE: &str = "select id from complaints where tenant_id = $1 and contact_id = $2";

pub(super) async fn erase(
    tx: &mut PgConnection,
    tenant: &TenantId,
    id: &ContactId,
    e: &Erasure,
) -> StoreResult<EraseOutcome> {
    let (t, c) = (tenant.as_str(), id.as_str());
    // Lock order, as ingest's: the conversation, then the contact.
    sqlx::query(sqlx::AssertSqlSafe(format!("{THEIRS} for update")))
        .bind(t)
        .bind(c)
        .fetch_all(&mut *tx)
        .await?;
    let found: Option<(Option<DateTime<Utc>>,)> = sqlx::query_as(
        "select erased_at from contacts where tenant_id = $1 and id = $2 for update",
    )
    .bind(t)
    .bind(c)
    .fetch_optional(&mut *tx)
    .await?;
    match found {
        None => return Ok(EraseOutcome::NotFound),
        Some((Some(_),)) => return Ok(EraseOutcome::Already),
        Some((None,)) => {}
    }
    sqlx::query(
        "update contacts set external_id = $3, profile_name = null, block_reason = null,
            erased_at = $4
         where tenant_id = $1 and id = $2",
    )
    .bind(t)
    .bind(c)
    .bind(&e.pseudonym)
    .bind(e.at)
    .execute(&mut *tx)
    .await?;
    let statements = [
        format!(
            "update messages set body = '', payload = null, provider_id = null, template = null,
                error = null
             where tenant_id = $1 and conversation_id in ({THEIRS})"
        ),
        format!(
            "update outbox set status = 'failed', lease_until = null,
                last_error = '{}'
             where tenant_id = $1 and conversation_id in ({THEIRS})
               and status in ('pending', 'sending')",
            crate::ERASED_SEND
        ),
        format!(
            "update executions set output = '{{}}', tool_calls = '[]', trimmed = 1
             where tenant_id = $1 and conversation_id in ({THEIRS})"
        ),
        format!(
            "update surveys set comment = null where tenant_id = $1 and conversation_id in ({THEIRS})"
        ),
        "update conversations set agent_state = '{}', state = 'closed', assignee_id = null
         where tenant_id = $1 and contact_id = $2"
            .to_owned(),
        "update complaints set description = '', location = null
         where tenant_id = $1 and contact_id = $2"
            .to_owned(),
        format!(
            "update complaint_events set from_value = null, to_value = null
             where tenant_id = $1 and complaint_id in ({MINE}) and action in ({})",
            WORDED_ACTIONS
                .iter()
                .map(|a| format!("'{a}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        format!(
            "update events set data = jsonb_set(jsonb_set(data, '{{description}}', '\"\"'),
                '{{location}}', 'null')
             where tenant_id = $1 and type = 'complaint.created' and data->>'id' in ({MINE})"
        ),
        format!(
            "update events set data = jsonb_set(jsonb_set(data, '{{complaint,description}}', '\"\"'),
                '{{complaint,location}}', 'null')
             where tenant_id = $1 and type like 'complaint.%'
               and data->'complaint'->>'id' in ({MINE})"
        ),
        format!(
            "delete from idempotency_keys where tenant_id = $1 and exists (
                select 1 from ({MINE}) m where strpos(idempotency_keys.body, m.id) > 0)"
        ),
    ];
    let mut counts = Vec::with_capacity(statements.len());
    for sql in statements {
        let n = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(t)
            .bind(c)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        counts.push(n);
    }
    super::insert_event(tx, tenant, e.event.kind, &e.event.data, e.at).await?;
    super::audit::append(tx, &e.audit).await?;
    Ok(EraseOutcome::Erased(Erased {
        messages: counts[0],
        complaints: counts[5],
    }))
}
