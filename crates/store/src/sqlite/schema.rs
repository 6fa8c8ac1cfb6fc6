//! Embedded, versioned migrations. Each runs once, in its own transaction, recorded
//! in `schema_migrations`.

use rusqlite::Connection;

use crate::StoreResult;

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("migrations/0001_init.sql")),
    (
        2,
        "conversation_leases",
        include_str!("migrations/0002_conversation_leases.sql"),
    ),
    (
        3,
        "conversations_by_creation",
        include_str!("migrations/0003_conversations_by_creation.sql"),
    ),
    (
        4,
        "due_by_last_inbound",
        include_str!("migrations/0004_due_by_last_inbound.sql"),
    ),
    (5, "accounts", include_str!("migrations/0005_accounts.sql")),
    (6, "sessions", include_str!("migrations/0006_sessions.sql")),
    (
        7,
        "complaint_work",
        include_str!("migrations/0007_complaint_work.sql"),
    ),
    (
        8,
        "invitations",
        include_str!("migrations/0008_invitations.sql"),
    ),
    (
        9,
        "onboarding",
        include_str!("migrations/0009_onboarding.sql"),
    ),
    (
        10,
        "complaint_search",
        include_str!("migrations/0010_complaint_search.sql"),
    ),
    (11, "api_keys", include_str!("migrations/0011_api_keys.sql")),
    (12, "webhooks", include_str!("migrations/0012_webhooks.sql")),
    (
        13,
        "idempotency",
        include_str!("migrations/0013_idempotency.sql"),
    ),
    (
        14,
        "agent_platform",
        include_str!("migrations/0014_agent_platform.sql"),
    ),
    (
        15,
        "test_chats",
        include_str!("migrations/0015_test_chats.sql"),
    ),
    (
        16,
        "channel_kinds",
        include_str!("migrations/0016_channel_kinds.sql"),
    ),
    (
        17,
        "rate_counters",
        include_str!("migrations/0017_rate_counters.sql"),
    ),
    (18, "audit", include_str!("migrations/0018_audit.sql")),
    (19, "jobs", include_str!("migrations/0019_jobs.sql")),
    (
        20,
        "password_resets",
        include_str!("migrations/0020_password_resets.sql"),
    ),
    (
        21,
        "daily_summary",
        include_str!("migrations/0021_daily_summary.sql"),
    ),
    (
        22,
        "whatsapp_templates",
        include_str!("migrations/0022_whatsapp_templates.sql"),
    ),
    (23, "surveys", include_str!("migrations/0023_surveys.sql")),
    (
        24,
        "summary_language",
        include_str!("migrations/0024_summary_language.sql"),
    ),
    (25, "sla", include_str!("migrations/0025_sla.sql")),
    (
        26,
        "contact_blocks",
        include_str!("migrations/0026_contact_blocks.sql"),
    ),
    (27, "routing", include_str!("migrations/0027_routing.sql")),
    (
        28,
        "field_worker",
        include_str!("migrations/0028_field_worker.sql"),
    ),
    (
        29,
        "sla_sweep",
        include_str!("migrations/0029_sla_sweep.sql"),
    ),
    (
        30,
        "message_sender",
        include_str!("migrations/0030_message_sender.sql"),
    ),
    (31, "inbox", include_str!("migrations/0031_inbox.sql")),
    (
        32,
        "retention",
        include_str!("migrations/0032_retention.sql"),
    ),
    (33, "sessions", include_str!("migrations/0033_sessions.sql")),
    (34, "erasure", include_str!("migrations/0034_erasure.sql")),
    (
        35,
        "redaction",
        include_str!("migrations/0035_redaction.sql"),
    ),
    (
        36,
        "forgetting",
        include_str!("migrations/0036_forgetting.sql"),
    ),
    (37, "points", include_str!("migrations/0037_points.sql")),
    (
        38,
        "replies_unchecked",
        include_str!("migrations/0038_replies_unchecked.sql"),
    ),
    (
        39,
        "attachments",
        include_str!("migrations/0039_attachments.sql"),
    ),
    (
        40,
        "transcripts",
        include_str!("migrations/0040_transcripts.sql"),
    ),
    (
        41,
        "media_garbage",
        include_str!("migrations/0041_media_garbage.sql"),
    ),
];

pub fn latest_version() -> i64 {
    MIGRATIONS.last().map(|m| m.0).unwrap_or(0)
}

pub fn applied_version(conn: &Connection) -> StoreResult<i64> {
    let exists: bool = conn.query_row(
        "select count(*) > 0 from sqlite_master where type = 'table' and name = 'schema_migrations'",
        [],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(0);
    }
    Ok(conn.query_row(
        "select coalesce(max(version), 0) from schema_migrations",
        [],
        |r| r.get(0),
    )?)
}

/// Applies every migration newer than the database; returns how many ran.
pub fn migrate(conn: &Connection) -> StoreResult<usize> {
    conn.execute_batch(
        "create table if not exists schema_migrations (
            version integer primary key, name text not null, applied_at text not null)",
    )?;
    let applied = applied_version(conn)?;
    let mut ran = 0;
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > applied) {
        conn.execute_batch("begin immediate")?;
        let result = conn.execute_batch(sql).and_then(|_| {
            // A migration may change a table's text in the schema directly
            // (see 0038); moving the version makes every connection read
            // the schema again, as any other change of it does.
            let schema: i64 = conn.query_row("pragma schema_version", [], |r| r.get(0))?;
            conn.execute_batch(&format!("pragma schema_version = {}", schema + 1))?;
            conn.execute(
                "insert into schema_migrations (version, name, applied_at) values (?1, ?2, ?3)",
                rusqlite::params![version, name, super::rows::now_text()],
            )
        });
        match result {
            Ok(_) => conn.execute_batch("commit")?,
            Err(e) => {
                let _ = conn.execute_batch("rollback");
                return Err(e.into());
            }
        }
        ran += 1;
    }
    Ok(ran)
}
