//! Copies a SQLite deployment into PostgreSQL (`ombud migrate-db`). The source is
//! read inside one read transaction, a consistent snapshot even while a server
//! writes to it. Tables go over in insertion order (so every foreign key, and every
//! reply's `in_reply_to`, points at a row already copied), all in one PostgreSQL
//! transaction: the target gets everything or nothing. Then each table is counted
//! and checksummed on both sides over a canonical rendering of its rows.

use std::path::Path;

use sha2::{Digest, Sha256};
use sqlx::postgres::PgRow;
use sqlx::{QueryBuilder, Row};
use tokio::sync::mpsc;

use crate::postgres::PgStore;
use crate::{StoreError, StoreResult};

/// Tables in dependency order, with the key that orders them for checksums.
const TABLES: &[(&str, &str)] = &[
    ("tenants", "id"),
    ("users", "id"),
    ("memberships", "tenant_id, user_id"),
    ("sessions", "token_hash"),
    ("invitations", "id"),
    ("api_keys", "id"),
    ("onboarding_steps", "tenant_id, step"),
    ("tenant_settings", "tenant_id, key"),
    ("categories", "id"),
    ("agents", "id"),
    ("agent_versions", "id"),
    ("channels", "id"),
    ("whatsapp_templates", "channel_id, name, language"),
    ("deployments", "id"),
    ("contacts", "id"),
    ("conversations", "id"),
    ("messages", "id"),
    ("conversation_reads", "user_id, conversation_id"),
    ("complaint_counters", "tenant_id, day"),
    ("complaints", "id"),
    ("complaint_events", "id"),
    ("attachments", "id"),
    ("media_garbage", "tenant_id, sha256"),
    ("surveys", "id"),
    ("executions", "id"),
    ("test_chats", "id"),
    ("test_turns", "test_chat_id, seq"),
    ("outbox", "id"),
    ("events", "id"),
    ("webhook_endpoints", "id"),
    ("webhook_deliveries", "id"),
    ("webhook_attempts", "id"),
    ("idempotency_keys", "tenant_id, caller, key"),
    ("audit_events", "tenant_id, seq"),
    ("audit_heads", "tenant_id"),
    ("audit_checkpoints", "tenant_id, seq"),
    ("jobs", "id"),
];
/// Tables whose `id` comes from a sequence on PostgreSQL, moved past the copy.
const SERIAL: &[&str] = &[
    "complaint_events",
    "outbox",
    "webhook_deliveries",
    "webhook_attempts",
    "deployments",
];
const BATCH: usize = 1000;

#[derive(Debug, Clone, serde::Serialize)]
pub struct TableReport {
    pub table: String,
    pub rows: u64,
    pub source_sha256: String,
    pub target_sha256: String,
}

impl TableReport {
    pub fn matches(&self) -> bool {
        self.source_sha256 == self.target_sha256
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct CopyReport {
    pub tables: Vec<TableReport>,
}

impl CopyReport {
    pub fn ok(&self) -> bool {
        self.tables.iter().all(TableReport::matches)
    }
}

#[derive(Debug, Clone)]
enum Val {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

/// Progress: (table, rows copied so far, rows in the table).
pub type Progress = Box<dyn Fn(&str, u64, u64) + Send + Sync>;

/// Copies every table from the SQLite file at `source` into `target` (migrated,
/// and empty unless `allow_non_empty`), then verifies counts and checksums.
pub async fn sqlite_to_postgres(
    source: &Path,
    target: &PgStore,
    allow_non_empty: bool,
    progress: Progress,
) -> StoreResult<CopyReport> {
    let pool = target.pool();
    if !allow_non_empty {
        let mut busy = Vec::new();
        for (table, _) in TABLES {
            let any: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "select exists (select 1 from {table})"
            )))
            .fetch_one(pool)
            .await?;
            if any {
                busy.push(*table);
            }
        }
        if !busy.is_empty() {
            return Err(StoreError::Conflict {
                field: "to".into(),
                reason: format!(
                    "the target database already has data in {}; copy into an empty database, or pass --allow-non-empty",
                    busy.join(", ")
                ),
            });
        }
    }
    // The target's columns and their types decide what is read and how values are
    // cast and rendered, on both sides.
    let mut schema = Vec::new();
    for (table, _) in TABLES {
        schema.push(columns_of(pool, table).await?);
    }
    let source = source.to_owned();
    let (tx, mut rx) = mpsc::channel::<Chunk>(4);
    let source_schema = schema.clone();
    let reader = tokio::task::spawn_blocking(move || read_source(&source, &source_schema, tx));
    let mut db = pool.begin().await?;
    let mut copied = 0u64;
    let mut sums: Vec<(usize, u64, String)> = Vec::new();
    while let Some(chunk) = rx.recv().await {
        match chunk {
            Chunk::Start => copied = 0,
            Chunk::Rows { index, rows, total } => {
                let (table, columns) = (TABLES[index].0, &schema[index]);
                let names: Vec<&str> = columns.iter().map(|c| c.0.as_str()).collect();
                let mut q: QueryBuilder<sqlx::Postgres> =
                    QueryBuilder::new(format!("insert into {table} ({}) ", names.join(", ")));
                q.push_values(rows.iter(), |mut b, row| {
                    for (value, (_, ty)) in row.iter().zip(columns) {
                        match value {
                            Val::Null => b.push_bind(None::<String>),
                            Val::Int(i) => b.push_bind(*i),
                            Val::Real(r) => b.push_bind(*r),
                            Val::Text(t) => b.push_bind(t.clone()),
                        };
                        // SQLite's flags are 0 or 1; PostgreSQL casts an
                        // integer to boolean, not a bigint.
                        if ty == "boolean" {
                            b.push_unseparated("::integer::boolean");
                        } else {
                            b.push_unseparated(format!("::{ty}"));
                        }
                    }
                });
                q.build().execute(&mut *db).await?;
                copied += rows.len() as u64;
                progress(table, copied, total);
            }
            Chunk::Done {
                index,
                rows,
                sha256,
            } => sums.push((index, rows, sha256)),
        }
    }
    reader.await.map_err(StoreError::internal)??;
    for table in SERIAL {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "select setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false) from {table}"
        )))
        .execute(&mut *db)
        .await?;
    }
    db.commit().await?;

    let mut tables = Vec::new();
    for (index, rows, source_sha256) in sums {
        let (table, order) = TABLES[index];
        let (target_rows, target_sha256) =
            target_checksum(target, table, order, &schema[index]).await?;
        if target_rows != rows {
            return Err(StoreError::Internal(format!(
                "{table}: {rows} rows read but {target_rows} in the target"
            )));
        }
        tables.push(TableReport {
            table: table.to_owned(),
            rows,
            source_sha256,
            target_sha256,
        });
    }
    Ok(CopyReport { tables })
}

/// (column, PostgreSQL type) in the target's column order.
type Columns = Vec<(String, String)>;

/// What the reader sends; `index` is the table's place in `TABLES`.
enum Chunk {
    Start,
    Rows {
        index: usize,
        rows: Vec<Vec<Val>>,
        total: u64,
    },
    Done {
        index: usize,
        rows: u64,
        sha256: String,
    },
}

/// Reads every table inside one read transaction: rows in insertion order for the
/// copy, then in key order for the checksum.
fn read_source(path: &Path, schema: &[Columns], tx: mpsc::Sender<Chunk>) -> StoreResult<()> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| StoreError::Unavailable(format!("{}: {e}", path.display())))?;
    conn.execute_batch("begin")?;
    for (index, ((table, order), columns)) in TABLES.iter().zip(schema).enumerate() {
        let list = columns
            .iter()
            .map(|c| c.0.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let total: u64 = conn.query_row(&format!("select count(*) from {table}"), [], |r| {
            r.get::<_, i64>(0)
        })? as u64;
        send(&tx, Chunk::Start)?;
        let mut stmt = conn.prepare(&format!("select {list} from {table} order by rowid"))?;
        let mut rows = stmt.query([])?;
        let mut batch = Vec::with_capacity(BATCH);
        while let Some(row) = rows.next()? {
            batch.push(values(row, columns.len())?);
            if batch.len() == BATCH {
                let rows = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                send(&tx, Chunk::Rows { index, rows, total })?;
            }
        }
        if !batch.is_empty() {
            send(
                &tx,
                Chunk::Rows {
                    index,
                    rows: batch,
                    total,
                },
            )?;
        }
        let mut hash = Checksum::default();
        let mut stmt = conn.prepare(&format!("select {list} from {table} order by {order}"))?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let vals = values(row, columns.len())?;
            hash.row(vals.iter().zip(columns).map(|(v, (_, ty))| match v {
                Val::Null => None,
                Val::Int(i) => Some(i.to_string()),
                Val::Real(r) => Some(r.to_string()),
                Val::Text(t) => Some(canonical_text(t, ty)),
            }));
        }
        send(
            &tx,
            Chunk::Done {
                index,
                rows: hash.rows,
                sha256: hash.finish(),
            },
        )?;
    }
    conn.execute_batch("commit")?;
    Ok(())
}

fn send(tx: &mpsc::Sender<Chunk>, chunk: Chunk) -> StoreResult<()> {
    tx.blocking_send(chunk)
        .map_err(|_| StoreError::Internal("the copy stopped on the PostgreSQL side".into()))
}

fn values(row: &rusqlite::Row, n: usize) -> StoreResult<Vec<Val>> {
    use rusqlite::types::ValueRef;
    (0..n)
        .map(|i| {
            Ok(match row.get_ref(i)? {
                ValueRef::Null => Val::Null,
                ValueRef::Integer(v) => Val::Int(v),
                ValueRef::Real(v) => Val::Real(v),
                ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Val::Text(hex::encode(b)),
            })
        })
        .collect()
}

/// A target table's columns and their PostgreSQL types, in column order.
async fn columns_of(pool: &sqlx::PgPool, table: &str) -> StoreResult<Columns> {
    let columns: Columns = sqlx::query_as(
        "select column_name::text, data_type::text from information_schema.columns
         where table_schema = current_schema() and table_name = $1 order by ordinal_position",
    )
    .bind(table)
    .fetch_all(pool)
    .await?;
    if columns.is_empty() {
        return Err(StoreError::Internal(format!(
            "table {table} is missing in PostgreSQL"
        )));
    }
    Ok(columns)
}

async fn target_checksum(
    target: &PgStore,
    table: &str,
    order: &str,
    columns: &Columns,
) -> StoreResult<(u64, String)> {
    let list = columns
        .iter()
        .map(|c| c.0.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {list} from {table} order by {order}"
    )))
    .fetch_all(target.pool())
    .await?;
    let mut hash = Checksum::default();
    for row in &rows {
        hash.row(columns.iter().map(|(name, ty)| pg_canonical(row, name, ty)));
    }
    Ok((hash.rows, hash.finish()))
}

fn pg_canonical(row: &PgRow, col: &str, ty: &str) -> Option<String> {
    match ty {
        "bigint" | "integer" => row
            .try_get::<Option<i64>, _>(col)
            .ok()
            .flatten()
            .map(|v| v.to_string()),
        "boolean" => row
            .try_get::<Option<bool>, _>(col)
            .ok()
            .flatten()
            .map(|b| u8::from(b).to_string()),
        "timestamp with time zone" => row
            .try_get::<Option<chrono::DateTime<chrono::Utc>>, _>(col)
            .ok()
            .flatten()
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        "jsonb" | "json" => row
            .try_get::<Option<serde_json::Value>, _>(col)
            .ok()
            .flatten()
            .map(|v| canonical_json(&v)),
        _ => row.try_get::<Option<String>, _>(col).ok().flatten(),
    }
}

/// SQLite's text for a column of PostgreSQL type `ty`, as both sides render it:
/// times in UTC with microseconds, JSON with sorted keys and no spaces, anything
/// else as it is.
fn canonical_text(t: &str, ty: &str) -> String {
    match ty {
        "timestamp with time zone" => chrono::DateTime::parse_from_rfc3339(t)
            .map(|time| {
                time.with_timezone(&chrono::Utc)
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            })
            .unwrap_or_else(|_| t.to_owned()),
        "jsonb" | "json" => serde_json::from_str::<serde_json::Value>(t)
            .map(|v| canonical_json(&v))
            .unwrap_or_else(|_| t.to_owned()),
        _ => t.to_owned(),
    }
}

fn canonical_json(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        serde_json::Value::String((*k).clone()),
                        canonical_json(&map[*k])
                    )
                })
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        serde_json::Value::Array(items) => {
            format!(
                "[{}]",
                items
                    .iter()
                    .map(canonical_json)
                    .collect::<Vec<_>>()
                    .join(",")
            )
        }
        other => other.to_string(),
    }
}

#[derive(Default)]
struct Checksum {
    hasher: Sha256,
    rows: u64,
}

impl Checksum {
    fn row(&mut self, values: impl Iterator<Item = Option<String>>) {
        for v in values {
            match v {
                Some(s) => {
                    self.hasher.update(b"v");
                    self.hasher.update((s.len() as u64).to_le_bytes());
                    self.hasher.update(s.as_bytes());
                }
                None => self.hasher.update(b"n"),
            }
        }
        self.hasher.update(b"\n");
        self.rows += 1;
    }

    fn finish(self) -> String {
        hex::encode(self.hasher.finalize())
    }
}
