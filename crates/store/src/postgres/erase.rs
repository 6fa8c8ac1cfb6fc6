//! Erasing a person on PostgreSQL (see `DirectoryStore::erase_contact`):
//! `crate::erase`'s statements and the events' payloads, in one transaction. Updated rows leave dead
//! versions until vacuum, which no query reads.

use chrono::{DateTime, Utc};
use ombud_core::*;
use sqlx::PgConnection;

use crate::*;

/// The contact's conversations, locked first.
const THEIRS: &str = "select id from conversations where tenant_id = $1 and contact_id = $2";

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
    let pg = |sql: &str| sql.replace('?', "$");
    sqlx::query(sqlx::AssertSqlSafe(pg(crate::erase::CONTACT)))
        .bind(t)
        .bind(c)
        .bind(&e.pseudonym)
        .bind(e.at)
        .execute(&mut *tx)
        .await?;
    let mine = crate::erase::mine();
    let mut statements = vec![
        crate::erase::messages(),
        crate::erase::COMPLAINTS.to_owned(),
    ];
    statements.extend(crate::erase::the_rest());
    // Events that carry one of the complaints (the webhooks' payloads).
    statements.push(format!(
        "update events set data = jsonb_set(jsonb_set(data, '{{description}}', '\"\"'),
            '{{location}}', 'null')
         where tenant_id = ?1 and type = 'complaint.created' and data->>'id' in ({mine})"
    ));
    statements.push(format!(
        "update events set data = jsonb_set(jsonb_set(data, '{{complaint,description}}', '\"\"'),
            '{{complaint,location}}', 'null')
         where tenant_id = ?1 and type like 'complaint.%'
           and data->'complaint'->>'id' in ({mine})"
    ));
    let mut counts = Vec::with_capacity(statements.len());
    for sql in statements {
        let n = sqlx::query(sqlx::AssertSqlSafe(pg(&sql)))
            .bind(t)
            .bind(c)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        counts.push(n);
    }
    super::insert_event(tx, tenant, e.event.kind, &e.event.data, e.at).await?;
    super::audit::append(tx, &e.audit).await?;
    // The first two are the messages and the complaints.
    Ok(EraseOutcome::Erased(Erased {
        messages: counts[0],
        complaints: counts[1],
    }))
}
