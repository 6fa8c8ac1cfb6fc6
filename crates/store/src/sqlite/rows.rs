//! SQLite's side of row decoding: times and JSON are stored as text.

use chrono::{DateTime, SecondsFormat, Utc};
use ombud_core::*;
use rusqlite::Row;

use crate::decode::{Columns, Decoded};
use crate::{StoreError, StoreResult};

pub fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn now_text() -> String {
    time_text(Utc::now())
}

pub fn parse_time(col: &str, s: &str) -> Decoded<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Internal(format!("stored {col} is not a time: {e}")))
}

/// A rusqlite row seen through [`Columns`]. rusqlite finds a column by
/// name by asking SQLite for the name of every column before it, which for
/// a wide row cost more than reading the row; mappers read in select
/// order, so the search starts after the column read last.
struct SqliteRow<'a> {
    row: &'a Row<'a>,
    next: std::cell::Cell<usize>,
}

impl<'a> SqliteRow<'a> {
    fn new(row: &'a Row<'a>) -> Self {
        SqliteRow {
            row,
            next: std::cell::Cell::new(0),
        }
    }

    fn index(&self, col: &str) -> Decoded<usize> {
        let stmt = self.row.as_ref();
        let n = stmt.column_count();
        let start = self.next.get();
        let found = (0..n)
            .map(|k| (start + k) % n)
            .find(|&i| {
                stmt.column_name(i)
                    .is_ok_and(|name| name.eq_ignore_ascii_case(col))
            })
            .ok_or_else(|| StoreError::Internal(format!("no column {col} in the query")))?;
        self.next.set(found + 1);
        Ok(found)
    }

    fn get<T: rusqlite::types::FromSql>(&self, col: &str) -> Decoded<T> {
        Ok(self.row.get(self.index(col)?)?)
    }
}

impl Columns for SqliteRow<'_> {
    fn text(&self, col: &str) -> Decoded<String> {
        self.get(col)
    }
    fn opt_text(&self, col: &str) -> Decoded<Option<String>> {
        self.get(col)
    }
    fn int(&self, col: &str) -> Decoded<i64> {
        self.get(col)
    }
    fn opt_int(&self, col: &str) -> Decoded<Option<i64>> {
        self.get(col)
    }
    fn opt_real(&self, col: &str) -> Decoded<Option<f64>> {
        self.get(col)
    }
    fn flag(&self, col: &str) -> Decoded<bool> {
        Ok(self.int(col)? != 0)
    }
    fn opt_flag(&self, col: &str) -> Decoded<Option<bool>> {
        Ok(self.opt_int(col)?.map(|n| n != 0))
    }
    fn time(&self, col: &str) -> Decoded<DateTime<Utc>> {
        parse_time(col, &self.text(col)?)
    }
    fn opt_time(&self, col: &str) -> Decoded<Option<DateTime<Utc>>> {
        self.opt_text(col)?.map(|s| parse_time(col, &s)).transpose()
    }
    fn json(&self, col: &str) -> Decoded<serde_json::Value> {
        serde_json::from_str(&self.text(col)?)
            .map_err(|e| StoreError::Internal(format!("stored {col} is not JSON: {e}")))
    }
}

/// Collects a query's rows through `map`.
pub fn all<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: impl Fn(&dyn Columns) -> Decoded<T>,
) -> StoreResult<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(map(&SqliteRow::new(row))?);
    }
    Ok(out)
}

/// The first row through `map`, if any.
pub fn one<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: impl Fn(&dyn Columns) -> Decoded<T>,
) -> StoreResult<Option<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    match rows.next()? {
        Some(row) => Ok(Some(map(&SqliteRow::new(row))?)),
        None => Ok(None),
    }
}

/// Writes a domain event inside the caller's transaction, with a webhook
/// delivery for each of the tenant's enabled endpoints that takes its type.
pub fn insert_event(
    conn: &rusqlite::Connection,
    tenant: &TenantId,
    kind: EventType,
    data: &serde_json::Value,
    at: DateTime<Utc>,
) -> StoreResult<EventId> {
    insert_event_as(conn, EventId::new(), tenant, kind, data, at)
}

/// [`insert_event`] with the event's id given.
pub fn insert_event_as(
    conn: &rusqlite::Connection,
    id: EventId,
    tenant: &TenantId,
    kind: EventType,
    data: &serde_json::Value,
    at: DateTime<Utc>,
) -> StoreResult<EventId> {
    write_event_as(conn, &id, tenant, kind, data, at)?;
    conn.prepare_cached(
        "insert into webhook_deliveries (tenant_id, endpoint_id, event_id, status, attempts,
            next_attempt_at, created_at, updated_at)
         select ?1, id, ?2, 'pending', 0, ?3, ?3, ?3 from webhook_endpoints
         where tenant_id = ?1 and enabled = 1
           and ((event_types = '[]' and not ?5) or instr(event_types, ?4) > 0)",
    )?
    .execute(rusqlite::params![
        tenant.as_str(),
        id.as_str(),
        time_text(at),
        format!("\"{}\"", kind.as_str()),
        kind.opt_in()
    ])?;
    Ok(id)
}

/// Writes an event of a typed payload (see [`insert_event`]).
pub fn emit(
    conn: &rusqlite::Connection,
    tenant: &TenantId,
    payload: &impl ombud_core::event::payload::Payload,
    at: DateTime<Utc>,
) -> StoreResult<EventId> {
    insert_event(conn, tenant, payload.kind(), &payload.data(), at)
}

/// The event row alone.
pub fn write_event(
    conn: &rusqlite::Connection,
    tenant: &TenantId,
    kind: EventType,
    data: &serde_json::Value,
    at: DateTime<Utc>,
) -> StoreResult<EventId> {
    let id = EventId::new();
    write_event_as(conn, &id, tenant, kind, data, at)?;
    Ok(id)
}

fn write_event_as(
    conn: &rusqlite::Connection,
    id: &EventId,
    tenant: &TenantId,
    kind: EventType,
    data: &serde_json::Value,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    conn.prepare_cached(
        "insert into events (id, tenant_id, type, data, created_at) values (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(rusqlite::params![
        id.as_str(),
        tenant.as_str(),
        kind.as_str(),
        data.to_string(),
        time_text(at)
    ])?;
    Ok(())
}
