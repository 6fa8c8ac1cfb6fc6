//! Erasing a person (`DirectoryStore::erase_contact`): what goes, written
//! once as SQL both backends run (`?1` the tenant, `?2` the contact;
//! PostgreSQL's are `$1`, `$2`). The events' JSON payloads are each
//! backend's own (`json_set` against `jsonb_set`), and so is what only
//! SQLite needs (its search index, its free pages, its WAL).

use ombud_core::person::WORDED_ACTIONS;

/// Their address becomes the pseudonym (`?3`), erased at `?4`; their name
/// and the reason of a pause go.
pub(crate) const CONTACT: &str = "update contacts set external_id = ?3, profile_name = null,
        block_reason = null, erased_at = ?4
     where tenant_id = ?1 and id = ?2";

/// Their conversations' and complaints' ids, for `in (…)`.
const THEIRS: &str = "select id from conversations where tenant_id = ?1 and contact_id = ?2";
const MINE: &str = "select id from complaints where tenant_id = ?1 and contact_id = ?2";

/// The words of every message both ways (counted).
pub(crate) fn messages() -> String {
    format!(
        "update messages set body = '', payload = null, provider_id = null, template = null,
            error = null, media = null
         where tenant_id = ?1 and conversation_id in ({THEIRS})"
    )
}

/// Their complaints' descriptions and locations, pins too (counted).
pub(crate) const COMPLAINTS: &str = "update complaints set description = '', location = null,
        latitude = null, longitude = null
     where tenant_id = ?1 and contact_id = ?2";

/// The rest, after the contact's row, in order: their photos and voice
/// notes (the rows, with transcripts; the stored objects left to the
/// media.collect job), sends still waiting,
/// runs' outputs, survey comments, the conversation (closed for good: the
/// same address writing again is a new contact), words on the complaints'
/// timelines, and kept API answers that hold one of the complaints.
pub(crate) fn the_rest() -> Vec<String> {
    let worded: Vec<String> = WORDED_ACTIONS.iter().map(|a| format!("'{a}'")).collect();
    vec![
        format!(
            "insert into media_garbage (tenant_id, sha256, created_at)
             select tenant_id, sha256, (select erased_at from contacts where id = ?2)
             from attachments
             where tenant_id = ?1 and conversation_id in ({THEIRS}) and sha256 is not null
             on conflict do nothing"
        ),
        format!("delete from attachments where tenant_id = ?1 and conversation_id in ({THEIRS})"),
        format!(
            "update outbox set status = 'failed', lease_until = null, last_error = '{}'
             where tenant_id = ?1 and conversation_id in ({THEIRS})
               and status in ('pending', 'sending')",
            crate::ERASED_SEND
        ),
        format!(
            "update executions set output = '{{}}', tool_calls = '[]', trimmed = 1
             where tenant_id = ?1 and conversation_id in ({THEIRS})"
        ),
        format!("update surveys set comment = null where tenant_id = ?1 and conversation_id in ({THEIRS})"),
        "update conversations set agent_state = '{}', state = 'closed', assignee_id = null,
            updated_at = (select erased_at from contacts where id = ?2)
         where tenant_id = ?1 and contact_id = ?2"
            .to_owned(),
        format!(
            "update complaint_events set from_value = null, to_value = null
             where tenant_id = ?1 and complaint_id in ({MINE}) and action in ({})",
            worded.join(", ")
        ),
        format!(
            "delete from idempotency_keys where tenant_id = ?1 and exists (
                select 1 from ({MINE}) m where idempotency_keys.body like '%' || m.id || '%')"
        ),
    ]
}

/// The complaints' ids, for a backend's own statements.
pub(crate) fn mine() -> &'static str {
    MINE
}
