//! A consistent copy of a live SQLite database, for backups: `VACUUM INTO`
//! from a connection of its own, one read transaction, so the server's writer
//! keeps writing (to the WAL) the whole time and the copy is the database as
//! of the moment the read began, compacted.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::Connection;

use super::{open_connection, schema};
use crate::{StoreError, StoreResult};

/// What a snapshot holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The schema version it was made at (its latest migration).
    pub schema_version: i64,
    /// Rows per table.
    pub tables: BTreeMap<String, u64>,
}

/// Copies the database at `from` into a new file `into` (which must not
/// exist) and says what the copy holds.
pub fn snapshot(from: &Path, into: &Path) -> StoreResult<Snapshot> {
    if into.exists() {
        return Err(StoreError::Internal(format!(
            "{} exists; a snapshot goes into a new file",
            into.display()
        )));
    }
    let conn = open_connection(from, true)?;
    let target = into
        .to_str()
        .ok_or_else(|| StoreError::Internal(format!("{} is not UTF-8", into.display())))?;
    conn.execute("vacuum into ?1", [target])
        .map_err(|e| StoreError::Unavailable(format!("copying {}: {e}", from.display())))?;
    drop(conn);
    let copy = open_connection(into, true)?;
    Ok(Snapshot {
        schema_version: schema::applied_version(&copy)?,
        tables: table_counts(&copy)?,
    })
}

/// Rows in each of the database's own tables (not SQLite's).
pub fn table_counts(conn: &Connection) -> StoreResult<BTreeMap<String, u64>> {
    let mut names = conn.prepare(
        "select name from sqlite_master where type = 'table' and name not like 'sqlite_%'
         order by name",
    )?;
    let names: Vec<String> = names
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut counts = BTreeMap::new();
    for name in names {
        // Names come from sqlite_master, quoted as identifiers.
        let n: i64 = conn.query_row(
            &format!("select count(*) from \"{}\"", name.replace('"', "\"\"")),
            [],
            |r| r.get(0),
        )?;
        counts.insert(name, n as u64);
    }
    Ok(counts)
}

/// The schema version of the database file at `path`, and the latest this
/// build knows.
pub fn schema_versions(path: &Path) -> StoreResult<(i64, i64)> {
    let conn = open_connection(path, true)?;
    Ok((schema::applied_version(&conn)?, schema::latest_version()))
}

/// `pragma integrity_check` on the file at `path`: Ok, or what is wrong.
pub fn integrity(path: &Path) -> StoreResult<Result<(), String>> {
    let conn = open_connection(path, true)?;
    let mut stmt = conn.prepare("pragma integrity_check")?;
    let found: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(match found.as_slice() {
        [ok] if ok == "ok" => Ok(()),
        problems => Err(problems.join("; ")),
    })
}

/// Opens a file read-only, for counting what a restored copy holds.
pub fn open_read_only(path: &Path) -> StoreResult<Connection> {
    open_connection(path, true)
}

/// Folds the WAL of the database at `path` back into its file, once every
/// other connection to it has closed (waiting up to `patience`), so the file
/// alone holds everything and may be moved.
pub fn settle(path: &Path, patience: std::time::Duration) -> StoreResult<()> {
    let started = std::time::Instant::now();
    loop {
        let conn = open_connection(path, false)?;
        let busy: i64 = conn.query_row("pragma wal_checkpoint(truncate)", [], |r| r.get(0))?;
        if busy == 0 {
            return Ok(());
        }
        if started.elapsed() > patience {
            return Err(StoreError::Unavailable(format!(
                "{} is still in use: its WAL cannot be folded in",
                path.display()
            )));
        }
        drop(conn);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
