//! Row ↔ domain conversions and the text form of times.

use chrono::{DateTime, SecondsFormat, Utc};
use ombud_core::*;
use rusqlite::Row;

use crate::{AgentVersion, StoreError, StoreResult};

pub fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn now_text() -> String {
    time_text(Utc::now())
}

pub fn parse_time(s: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| conversion(e.to_string()))
}

fn conversion(msg: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        Box::<dyn std::error::Error + Send + Sync>::from(msg),
    )
}

/// Maps a domain parse failure of a stored value to a row error.
pub fn parsed<T, E: std::fmt::Display>(r: Result<T, E>) -> rusqlite::Result<T> {
    r.map_err(|e| conversion(e.to_string()))
}

fn time(row: &Row, col: &str) -> rusqlite::Result<DateTime<Utc>> {
    parse_time(&row.get::<_, String>(col)?)
}

fn opt_time(row: &Row, col: &str) -> rusqlite::Result<Option<DateTime<Utc>>> {
    row.get::<_, Option<String>>(col)?
        .map(|s| parse_time(&s))
        .transpose()
}

fn json(row: &Row, col: &str) -> rusqlite::Result<serde_json::Value> {
    parsed(serde_json::from_str(&row.get::<_, String>(col)?))
}

fn id<T: std::str::FromStr<Err = ValidationError>>(row: &Row, col: &str) -> rusqlite::Result<T> {
    parsed(row.get::<_, String>(col)?.parse())
}

fn opt_id<T: std::str::FromStr<Err = ValidationError>>(
    row: &Row,
    col: &str,
) -> rusqlite::Result<Option<T>> {
    row.get::<_, Option<String>>(col)?
        .map(|s| parsed(s.parse()))
        .transpose()
}

pub const TENANT_COLS: &str =
    "id, slug, name, complaint_prefix, default_language, timezone, created_at";

pub fn tenant(row: &Row) -> rusqlite::Result<Tenant> {
    Ok(Tenant {
        id: id(row, "id")?,
        slug: parsed(TenantSlug::parse(&row.get::<_, String>("slug")?))?,
        name: row.get("name")?,
        complaint_prefix: parsed(ComplaintPrefix::parse(
            &row.get::<_, String>("complaint_prefix")?,
        ))?,
        default_language: parsed(Language::parse(&row.get::<_, String>("default_language")?))?,
        timezone: parsed(TimeZoneName::parse(&row.get::<_, String>("timezone")?))?,
        created_at: time(row, "created_at")?,
    })
}

pub const CATEGORY_COLS: &str =
    "id, tenant_id, slug, names, keywords, default_priority, created_at";

pub fn category(row: &Row) -> rusqlite::Result<Category> {
    Ok(Category {
        id: id(row, "id")?,
        tenant_id: id(row, "tenant_id")?,
        slug: row.get("slug")?,
        names: parsed(serde_json::from_str(&row.get::<_, String>("names")?))?,
        keywords: parsed(serde_json::from_str(&row.get::<_, String>("keywords")?))?,
        default_priority: parsed(Priority::parse(&row.get::<_, String>("default_priority")?))?,
        created_at: time(row, "created_at")?,
    })
}

pub const AGENT_VERSION_COLS: &str =
    "v.id, v.tenant_id, v.agent_id, a.name, a.kind, v.number, v.config, v.created_at";

pub fn agent_version(row: &Row) -> rusqlite::Result<AgentVersion> {
    Ok(AgentVersion {
        id: id(row, "id")?,
        tenant_id: id(row, "tenant_id")?,
        agent_id: id(row, "agent_id")?,
        agent_name: row.get("name")?,
        kind: row.get("kind")?,
        number: row.get("number")?,
        config: json(row, "config")?,
        created_at: time(row, "created_at")?,
    })
}

pub const CHANNEL_COLS: &str = "id, tenant_id, kind, name, phone_number_id, app_secret, verify_token, access_token, graph_url, api_version, deployed_version_id, created_at";

pub fn channel(row: &Row) -> rusqlite::Result<Channel> {
    let kind: String = row.get("kind")?;
    Ok(Channel {
        id: id(row, "id")?,
        tenant_id: id(row, "tenant_id")?,
        kind: ChannelKind::parse(&kind)
            .ok_or_else(|| conversion(format!("channel kind {kind}")))?,
        name: row.get("name")?,
        whatsapp: WhatsAppConfig {
            phone_number_id: row.get("phone_number_id")?,
            app_secret: Secret::new(row.get::<_, String>("app_secret")?),
            verify_token: Secret::new(row.get::<_, String>("verify_token")?),
            access_token: Secret::new(row.get::<_, String>("access_token")?),
            graph_url: row.get("graph_url")?,
            api_version: row.get("api_version")?,
        },
        deployed_version: opt_id(row, "deployed_version_id")?,
        created_at: time(row, "created_at")?,
    })
}

pub const CONTACT_COLS: &str = "id, tenant_id, channel_id, external_id, profile_name, language, first_seen_at, last_seen_at, messages_in, messages_out";

pub fn contact(row: &Row) -> rusqlite::Result<Contact> {
    Ok(Contact {
        id: id(row, "id")?,
        tenant_id: id(row, "tenant_id")?,
        channel_id: id(row, "channel_id")?,
        external_id: row.get("external_id")?,
        profile_name: row.get("profile_name")?,
        language: row
            .get::<_, Option<String>>("language")?
            .map(|l| parsed(Language::parse(&l)))
            .transpose()?,
        first_seen_at: time(row, "first_seen_at")?,
        last_seen_at: time(row, "last_seen_at")?,
        messages_in: row.get("messages_in")?,
        messages_out: row.get("messages_out")?,
    })
}

pub const CONVERSATION_COLS: &str = "id, tenant_id, channel_id, contact_id, state, inbound_seq, run_cursor, agent_state, last_inbound_at, created_at, updated_at";

pub fn conversation(row: &Row) -> rusqlite::Result<Conversation> {
    let state: String = row.get("state")?;
    Ok(Conversation {
        id: id(row, "id")?,
        tenant_id: id(row, "tenant_id")?,
        channel_id: id(row, "channel_id")?,
        contact_id: id(row, "contact_id")?,
        state: ConversationState::parse(&state)
            .ok_or_else(|| conversion(format!("conversation state {state}")))?,
        inbound_seq: row.get("inbound_seq")?,
        run_cursor: row.get("run_cursor")?,
        agent_state: json(row, "agent_state")?,
        last_inbound_at: opt_time(row, "last_inbound_at")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

pub const MESSAGE_COLS: &str = "id, tenant_id, channel_id, conversation_id, direction, seq, provider_id, kind, body, in_reply_to, status, error, created_at";

pub fn message(row: &Row) -> rusqlite::Result<Message> {
    let direction: String = row.get("direction")?;
    let status: String = row.get("status")?;
    Ok(Message {
        id: id(row, "id")?,
        tenant_id: id(row, "tenant_id")?,
        channel_id: id(row, "channel_id")?,
        conversation_id: id(row, "conversation_id")?,
        direction: Direction::parse(&direction)
            .ok_or_else(|| conversion(format!("direction {direction}")))?,
        seq: row.get("seq")?,
        provider_id: row.get("provider_id")?,
        kind: MessageKind::parse(&row.get::<_, String>("kind")?),
        body: row.get("body")?,
        in_reply_to: opt_id(row, "in_reply_to")?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| conversion(format!("delivery status {status}")))?,
        error: row.get("error")?,
        created_at: time(row, "created_at")?,
    })
}

pub const COMPLAINT_COLS: &str = "id, tenant_id, number, channel_id, contact_id, conversation_id, category_id, description, location, language, priority, status, source, created_at, updated_at";

pub fn complaint(row: &Row) -> rusqlite::Result<Complaint> {
    Ok(Complaint {
        id: id(row, "id")?,
        tenant_id: id(row, "tenant_id")?,
        number: parsed(ComplaintNumber::parse(&row.get::<_, String>("number")?))?,
        channel_id: opt_id(row, "channel_id")?,
        contact_id: opt_id(row, "contact_id")?,
        conversation_id: opt_id(row, "conversation_id")?,
        category_id: opt_id(row, "category_id")?,
        description: row.get("description")?,
        location: row.get("location")?,
        language: parsed(Language::parse(&row.get::<_, String>("language")?))?,
        priority: parsed(Priority::parse(&row.get::<_, String>("priority")?))?,
        status: parsed(ComplaintStatus::parse(&row.get::<_, String>("status")?))?,
        source: parsed(Source::parse(&row.get::<_, String>("source")?))?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

pub fn complaint_event(row: &Row) -> rusqlite::Result<ComplaintEvent> {
    Ok(ComplaintEvent {
        complaint_id: id(row, "complaint_id")?,
        tenant_id: id(row, "tenant_id")?,
        actor: row.get("actor")?,
        action: row.get("action")?,
        from_value: row.get("from_value")?,
        to_value: row.get("to_value")?,
        created_at: time(row, "created_at")?,
    })
}

pub fn execution(row: &Row) -> rusqlite::Result<crate::Execution> {
    Ok(crate::Execution {
        id: id(row, "id")?,
        tenant_id: id(row, "tenant_id")?,
        conversation_id: id(row, "conversation_id")?,
        agent_version_id: opt_id(row, "agent_version_id")?,
        from_seq: row.get("from_seq")?,
        to_seq: row.get("to_seq")?,
        status: row.get("status")?,
        error: row.get("error")?,
        attempts: row.get("attempts")?,
        started_at: time(row, "started_at")?,
        finished_at: time(row, "finished_at")?,
    })
}

/// Collects a query's rows through `map`.
pub fn all<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: fn(&Row) -> rusqlite::Result<T>,
) -> StoreResult<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params, map)?;
    rows.collect::<rusqlite::Result<Vec<T>>>()
        .map_err(StoreError::from)
}

/// The first row through `map`, if any.
pub fn one<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: fn(&Row) -> rusqlite::Result<T>,
) -> StoreResult<Option<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query_map(params, map)?;
    rows.next().transpose().map_err(StoreError::from)
}

/// Writes a domain event row (the webhook outbox) inside the caller's transaction.
pub fn insert_event(
    conn: &rusqlite::Connection,
    tenant: &TenantId,
    kind: EventType,
    data: &serde_json::Value,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    conn.prepare_cached(
        "insert into events (id, tenant_id, type, data, created_at) values (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(rusqlite::params![
        EventId::new().as_str(),
        tenant.as_str(),
        kind.as_str(),
        data.to_string(),
        time_text(at)
    ])?;
    Ok(())
}
