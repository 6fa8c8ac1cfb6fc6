//! Embedded, versioned migrations, numbered like SQLite's. Replicas starting
//! together serialize on an advisory lock so each migration runs once.

use sqlx::PgPool;

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
const LOCK: i64 = 0x0_6d62_7564; // "ombud"

pub fn latest_version() -> i64 {
    MIGRATIONS.last().map(|m| m.0).unwrap_or(0)
}

pub async fn applied_version(pool: &PgPool) -> StoreResult<i64> {
    let exists: bool = sqlx::query_scalar("select to_regclass('schema_migrations') is not null")
        .fetch_one(pool)
        .await?;
    if !exists {
        return Ok(0);
    }
    Ok(
        sqlx::query_scalar("select coalesce(max(version), 0)::bigint from schema_migrations")
            .fetch_one(pool)
            .await?,
    )
}

pub async fn migrate(pool: &PgPool) -> StoreResult<usize> {
    let mut conn = pool.acquire().await?;
    sqlx::query("select pg_advisory_lock($1)")
        .bind(LOCK)
        .execute(&mut *conn)
        .await?;
    let result = run(&mut conn).await;
    let _ = sqlx::query("select pg_advisory_unlock($1)")
        .bind(LOCK)
        .execute(&mut *conn)
        .await;
    result
}

async fn run(conn: &mut sqlx::PgConnection) -> StoreResult<usize> {
    sqlx::raw_sql(
        "create table if not exists schema_migrations (
            version bigint primary key, name text not null, applied_at timestamptz not null default now())",
    )
    .execute(&mut *conn)
    .await?;
    let applied: i64 =
        sqlx::query_scalar("select coalesce(max(version), 0)::bigint from schema_migrations")
            .fetch_one(&mut *conn)
            .await?;
    let mut ran = 0;
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > applied) {
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        sqlx::raw_sql(*sql).execute(&mut *tx).await?;
        sqlx::query("insert into schema_migrations (version, name) values ($1, $2)")
            .bind(version)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        ran += 1;
    }
    Ok(ran)
}
