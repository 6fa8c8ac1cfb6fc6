//! Secrets in SQLite rows: sealed in place where rows from before sealing
//! hold them in plain text, and re-sealed under a new key on rotation (see
//! [`crate::sealing`]). Both rewrite with `secure_delete` on and then empty
//! the WAL, so no page image of a plain or old value stays in the files.

use std::path::Path;

use rusqlite::{params, Connection};

use crate::sealing::SEALED_COLUMNS;
use crate::{Sealer, StoreError, StoreResult};

/// Re-seals every secret of the database at `path` under `next` (key
/// rotation, with no server running on it); returns how many values.
pub fn reseal_secrets(path: &Path, current: &Sealer, next: &Sealer) -> StoreResult<usize> {
    let conn = super::open_connection(path, false)?;
    super::schema::migrate(&conn)?;
    reseal(&conn, current, next)
}

/// Seals what is still plain; returns how many values were.
pub(super) fn seal_in_place(conn: &Connection, sealer: &Sealer) -> StoreResult<usize> {
    let changed = rewrite(conn, |tenant, stored| {
        Ok(sealer.seal_if_plain(tenant, stored))
    })?;
    if changed > 0 {
        forget_old_pages(conn)?;
        tracing::info!(
            values = changed,
            "sealed secrets that were stored in plain text"
        );
    }
    // From now on deleted content is zeroed where that costs no extra I/O.
    conn.execute_batch("pragma secure_delete = fast")
        .map_err(StoreError::internal)?;
    Ok(changed)
}

/// Re-seals every secret (and every sealed value in an agent version's
/// configuration) under `next`, in one transaction; returns how many.
fn reseal(conn: &Connection, current: &Sealer, next: &Sealer) -> StoreResult<usize> {
    let mut changed = rewrite(conn, |tenant, stored| current.reseal(next, tenant, stored))?;
    let tx = conn.unchecked_transaction()?;
    let versions: Vec<(i64, String, String)> = {
        let mut stmt = tx.prepare(
            "select rowid, tenant_id, config from agent_versions where config like '%sealed:v1:%'",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (rowid, tenant, config) in versions {
        let mut value: serde_json::Value =
            serde_json::from_str(&config).map_err(StoreError::internal)?;
        if current.reseal_json(next, &tenant, &mut value)? {
            tx.execute(
                "update agent_versions set config = ?1 where rowid = ?2",
                params![value.to_string(), rowid],
            )?;
            changed += 1;
        }
    }
    tx.commit()?;
    forget_old_pages(conn)?;
    Ok(changed)
}

/// Rewrites each secret column whose value `f` changes, in one transaction.
fn rewrite(
    conn: &Connection,
    f: impl Fn(&str, Option<&str>) -> StoreResult<Option<String>>,
) -> StoreResult<usize> {
    conn.execute_batch("pragma secure_delete = on")
        .map_err(StoreError::internal)?;
    let tx = conn.unchecked_transaction()?;
    let mut changed = 0;
    for (table, columns) in SEALED_COLUMNS {
        for column in *columns {
            let rows: Vec<(i64, String, Option<String>)> = {
                let mut stmt = tx.prepare(&format!(
                    "select rowid, tenant_id, {column} from {table} where {column} <> ''"
                ))?;
                let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                rows.collect::<Result<_, _>>()?
            };
            for (rowid, tenant, stored) in rows {
                if let Some(sealed) = f(&tenant, stored.as_deref())? {
                    tx.execute(
                        &format!("update {table} set {column} = ?1 where rowid = ?2"),
                        params![sealed, rowid],
                    )?;
                    changed += 1;
                }
            }
        }
    }
    tx.commit()?;
    Ok(changed)
}

/// Copies the WAL into the database and empties it.
fn forget_old_pages(conn: &Connection) -> StoreResult<()> {
    conn.query_row("pragma wal_checkpoint(truncate)", [], |_| Ok(()))
        .map_err(StoreError::internal)
}
