//! Erasing a person (see `DirectoryStore::erase_contact`). Their words go
//! with `secure_delete` on, pages the database had already freed are
//! overwritten with zeros, and the WAL is emptied after the commit: the
//! erased text stays in no page of the database file or its WAL.

use ombud_core::*;
use rusqlite::{params, Connection, OptionalExtension};

use super::rows::{self, time_text};
use crate::*;

/// Erases contact `id` of `tenant` inside the caller's transaction.
pub(super) fn erase(
    conn: &Connection,
    tenant: &TenantId,
    id: &ContactId,
    e: &Erasure,
) -> StoreResult<EraseOutcome> {
    let t = tenant.as_str();
    let c = id.as_str();
    let found: Option<Option<String>> = conn
        .prepare_cached("select erased_at from contacts where tenant_id = ?1 and id = ?2")?
        .query_row([t, c], |r| r.get(0))
        .optional()?;
    match found {
        None => return Ok(EraseOutcome::NotFound),
        Some(Some(_)) => return Ok(EraseOutcome::Already),
        Some(None) => {}
    }
    conn.execute_batch("pragma secure_delete = on")?;
    let erased = erase_rows(conn, tenant, c, e);
    // Back to the writer's everyday setting (see `secrets::seal_in_place`).
    conn.execute_batch("pragma secure_delete = fast")?;
    erased.map(EraseOutcome::Erased)
}

fn erase_rows(conn: &Connection, tenant: &TenantId, c: &str, e: &Erasure) -> StoreResult<Erased> {
    let t = tenant.as_str();
    conn.execute(
        crate::erase::CONTACT,
        params![t, c, e.pseudonym, time_text(e.at)],
    )?;
    let messages = conn.execute(&crate::erase::messages(), params![t, c])?;
    let complaints = conn.execute(crate::erase::COMPLAINTS, params![t, c])?;
    for sql in crate::erase::the_rest() {
        conn.execute(&sql, params![t, c])?;
    }
    let mine = crate::erase::mine();
    // The search finds them by number only now; `optimize` merges the
    // index, dropping the entries deleted here (their pages zeroed).
    conn.execute(
        &format!("delete from complaint_search where complaint_id in ({mine})"),
        params![t, c],
    )?;
    conn.execute(
        &format!(
            "insert into complaint_search (complaint_id, body)
             select id, number from complaints where id in ({mine})"
        ),
        params![t, c],
    )?;
    conn.execute_batch("insert into complaint_search (complaint_search) values ('optimize')")?;
    // Events that carry one of the complaints (the webhooks' payloads).
    conn.execute(
        &format!(
            "update events set data = json_set(data, '$.description', '', '$.location', null)
             where tenant_id = ?1 and type = 'complaint.created'
               and json_extract(data, '$.id') in ({mine})"
        ),
        params![t, c],
    )?;
    conn.execute(
        &format!(
            "update events set data = json_set(data, '$.complaint.description', '',
                '$.complaint.location', null)
             where tenant_id = ?1 and type like 'complaint.%'
               and json_extract(data, '$.complaint.id') in ({mine})"
        ),
        params![t, c],
    )?;
    rows::insert_event(conn, tenant, e.event.kind, &e.event.data, e.at)?;
    super::audit::append(conn, &e.audit)?;
    wipe_free_pages(conn)?;
    Ok(Erased {
        messages: messages as u64,
        complaints: complaints as u64,
    })
}

/// Overwrites the database's free pages with zeros: pages freed before
/// this erasure (with `secure_delete` at `fast`, which leaves them as they
/// were) may still hold what it erased. A blob of zeros as large as the
/// free list takes every free page, and gives them back zeroed.
fn wipe_free_pages(conn: &Connection) -> StoreResult<()> {
    let free: i64 = conn.query_row("pragma freelist_count", [], |r| r.get(0))?;
    if free == 0 {
        return Ok(());
    }
    let page: i64 = conn.query_row("pragma page_size", [], |r| r.get(0))?;
    // Two pages more than the free list holds: part of the row stays on its
    // table's page, and the free list's last page (a trunk page, which
    // keeps what it held besides its list) is taken only when nothing else
    // is left. The two new pages stay free, zeroed.
    conn.execute(
        "insert into wipe (b) values (zeroblob(?1))",
        [(free + 2) * page],
    )?;
    conn.execute("delete from wipe", [])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holds(path: &std::path::Path, needle: &str) -> bool {
        let bytes = std::fs::read(path).unwrap();
        bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
    }

    #[test]
    fn free_pages_are_zeroed_by_the_wipe() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wipe.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "pragma journal_mode = wal; pragma secure_delete = fast;
             create table wipe (b blob); create table notes (t text);",
        )
        .unwrap();
        // A long text lives on overflow pages; deleted with secure_delete
        // at `fast`, those pages go to the free list as they were.
        let text = "Zebrafinch Lane ".repeat(2000);
        conn.execute("insert into notes (t) values (?1)", [&text])
            .unwrap();
        conn.execute("delete from notes", []).unwrap();
        conn.query_row("pragma wal_checkpoint(truncate)", [], |_| Ok(()))
            .unwrap();
        let free: i64 = conn
            .query_row("pragma freelist_count", [], |r| r.get(0))
            .unwrap();
        assert!(free > 0);
        assert!(holds(&path, "Zebrafinch Lane"), "the free pages keep it");

        wipe_free_pages(&conn).unwrap();
        conn.query_row("pragma wal_checkpoint(truncate)", [], |_| Ok(()))
            .unwrap();
        assert!(!holds(&path, "Zebrafinch Lane"));
        let after: i64 = conn
            .query_row("pragma freelist_count", [], |r| r.get(0))
            .unwrap();
        assert!(after >= free, "the pages are free again: {after} of {free}");
    }
}
