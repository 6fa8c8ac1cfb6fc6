//! Rows to domain types, written once for every backend. A backend implements
//! [`Columns`] for its row type (SQLite keeps times and JSON as text, PostgreSQL has
//! native types); the mappers here do the rest.

use chrono::{DateTime, Utc};
use ombud_core::*;
use serde_json::Value;

use crate::sealing::Sealer;
use crate::webhooks::{WebhookAttempt, WebhookDelivery, WebhookStatus};
use crate::{AgentVersion, Execution, StoreError};

pub type Decoded<T> = Result<T, StoreError>;

/// Typed access to a row's columns by name.
pub trait Columns {
    fn text(&self, col: &str) -> Decoded<String>;
    fn opt_text(&self, col: &str) -> Decoded<Option<String>>;
    fn int(&self, col: &str) -> Decoded<i64>;
    fn opt_int(&self, col: &str) -> Decoded<Option<i64>>;
    fn opt_real(&self, col: &str) -> Decoded<Option<f64>>;
    fn time(&self, col: &str) -> Decoded<DateTime<Utc>>;
    fn opt_time(&self, col: &str) -> Decoded<Option<DateTime<Utc>>>;
    fn json(&self, col: &str) -> Decoded<Value>;
    /// A yes/no column (0 or 1 on SQLite).
    fn flag(&self, col: &str) -> Decoded<bool>;
    fn opt_flag(&self, col: &str) -> Decoded<Option<bool>>;
}

fn bad(col: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("stored {col} is unreadable: {e}"))
}

fn parse<T, E: std::fmt::Display>(col: &str, r: Result<T, E>) -> Decoded<T> {
    r.map_err(|e| bad(col, e))
}

pub fn id<T: std::str::FromStr<Err = ValidationError>>(r: &dyn Columns, col: &str) -> Decoded<T> {
    parse(col, r.text(col)?.parse())
}

pub fn opt_id<T: std::str::FromStr<Err = ValidationError>>(
    r: &dyn Columns,
    col: &str,
) -> Decoded<Option<T>> {
    r.opt_text(col)?.map(|s| parse(col, s.parse())).transpose()
}

fn from_json<T: serde::de::DeserializeOwned>(r: &dyn Columns, col: &str) -> Decoded<T> {
    parse(col, serde_json::from_value(r.json(col)?))
}

pub const USER_COLS: &str =
    "id, email, name, password_hash, must_change_password, platform_admin, created_at";

pub fn user(r: &dyn Columns) -> Decoded<User> {
    Ok(User {
        id: id(r, "id")?,
        email: parse("email", Email::parse(&r.text("email")?))?,
        name: r.text("name")?,
        password_hash: r.text("password_hash")?,
        must_change_password: r.flag("must_change_password")?,
        platform_admin: r.flag("platform_admin")?,
        created_at: r.time("created_at")?,
    })
}

pub const MEMBERSHIP_COLS: &str =
    "tenant_id, user_id, role, created_at, daily_summary, summary_language";

pub fn membership(r: &dyn Columns) -> Decoded<Membership> {
    Ok(Membership {
        tenant_id: id(r, "tenant_id")?,
        user_id: id(r, "user_id")?,
        role: parse("role", Role::parse(&r.text("role")?))?,
        created_at: r.time("created_at")?,
        daily_summary: r.flag("daily_summary")?,
        summary_language: summary_language(r)?,
    })
}

pub const API_KEY_COLS: &str = "id, tenant_id, name, prefix, scopes, rate_limit_per_minute, created_by, created_at, expires_at, last_used_at, revoked_at";

pub fn api_key(r: &dyn Columns) -> Decoded<ApiKey> {
    Ok(ApiKey {
        id: id(r, "id")?,
        tenant_id: id(r, "tenant_id")?,
        name: r.text("name")?,
        prefix: r.text("prefix")?,
        scopes: from_json(r, "scopes")?,
        rate_limit_per_minute: parse(
            "rate_limit_per_minute",
            u32::try_from(r.int("rate_limit_per_minute")?),
        )?,
        created_by: opt_id(r, "created_by")?,
        created_at: r.time("created_at")?,
        expires_at: r.opt_time("expires_at")?,
        last_used_at: r.opt_time("last_used_at")?,
        revoked_at: r.opt_time("revoked_at")?,
    })
}

pub const INVITATION_COLS: &str =
    "id, tenant_id, email, role, invited_by, token_hash, created_at, expires_at, accepted_at";

pub fn invitation(r: &dyn Columns) -> Decoded<Invitation> {
    Ok(Invitation {
        id: id(r, "id")?,
        tenant_id: id(r, "tenant_id")?,
        email: parse("email", Email::parse(&r.text("email")?))?,
        role: parse("role", Role::parse(&r.text("role")?))?,
        invited_by: id(r, "invited_by")?,
        token_hash: r.text("token_hash")?,
        created_at: r.time("created_at")?,
        expires_at: r.time("expires_at")?,
        accepted_at: r.opt_time("accepted_at")?,
    })
}

/// The one query behind `SessionStore::session`; `{p}` is the backend's first
/// placeholder (`?1` or `$1`).
pub fn signed_in_sql(p: &str) -> String {
    format!(
        "select s.token_hash, s.user_id, s.tenant_id, s.csrf_token, s.created_at, s.last_seen_at,
                s.expires_at, u.email, u.name, u.password_hash, u.must_change_password,
                u.platform_admin, u.created_at as user_created_at, m.role
         from sessions s
         join users u on u.id = s.user_id
         left join memberships m on m.tenant_id = s.tenant_id and m.user_id = s.user_id
         where s.token_hash = {p}"
    )
}

pub fn signed_in(r: &dyn Columns) -> Decoded<crate::SignedIn> {
    let session = session(r)?;
    let user = User {
        id: session.user_id.clone(),
        email: parse("email", Email::parse(&r.text("email")?))?,
        name: r.text("name")?,
        password_hash: r.text("password_hash")?,
        must_change_password: r.flag("must_change_password")?,
        platform_admin: r.flag("platform_admin")?,
        created_at: r.time("user_created_at")?,
    };
    let role = r
        .opt_text("role")?
        .map(|s| parse("role", Role::parse(&s)))
        .transpose()?;
    Ok(crate::SignedIn {
        session,
        user,
        role,
    })
}

/// A member: the user's columns, `u.` prefixed, and the membership's role.
pub fn member_sql(p: &str) -> String {
    format!(
        "select u.id, u.email, u.name, u.password_hash, u.must_change_password, u.platform_admin,
                u.created_at, m.role, m.daily_summary, m.summary_language
         from memberships m join users u on u.id = m.user_id
         where m.tenant_id = {p}
         order by u.name, u.email"
    )
}

pub fn member(r: &dyn Columns) -> Decoded<crate::Member> {
    Ok(crate::Member {
        user: user(r)?,
        role: parse("role", Role::parse(&r.text("role")?))?,
        daily_summary: r.flag("daily_summary")?,
        summary_language: summary_language(r)?,
    })
}

fn summary_language(r: &dyn Columns) -> Decoded<Option<Language>> {
    r.opt_text("summary_language")?
        .map(|l| parse("summary_language", Language::parse(&l)))
        .transpose()
}

pub fn session(r: &dyn Columns) -> Decoded<crate::Session> {
    Ok(crate::Session {
        token_hash: r.text("token_hash")?,
        user_id: id(r, "user_id")?,
        tenant_id: id(r, "tenant_id")?,
        csrf_token: r.text("csrf_token")?,
        created_at: r.time("created_at")?,
        last_seen_at: r.time("last_seen_at")?,
        expires_at: r.time("expires_at")?,
    })
}

pub const TENANT_COLS: &str =
    "id, slug, name, complaint_prefix, default_language, timezone, created_at";

pub fn tenant(r: &dyn Columns) -> Decoded<Tenant> {
    Ok(Tenant {
        id: id(r, "id")?,
        slug: parse("slug", TenantSlug::parse(&r.text("slug")?))?,
        name: r.text("name")?,
        complaint_prefix: parse(
            "complaint_prefix",
            ComplaintPrefix::parse(&r.text("complaint_prefix")?),
        )?,
        default_language: parse(
            "default_language",
            Language::parse(&r.text("default_language")?),
        )?,
        timezone: parse("timezone", TimeZoneName::parse(&r.text("timezone")?))?,
        created_at: r.time("created_at")?,
    })
}

pub const CATEGORY_COLS: &str =
    "id, tenant_id, slug, names, keywords, default_priority, created_at";

pub fn category(r: &dyn Columns) -> Decoded<Category> {
    Ok(Category {
        id: id(r, "id")?,
        tenant_id: id(r, "tenant_id")?,
        slug: r.text("slug")?,
        names: from_json(r, "names")?,
        keywords: from_json(r, "keywords")?,
        default_priority: parse(
            "default_priority",
            Priority::parse(&r.text("default_priority")?),
        )?,
        created_at: r.time("created_at")?,
    })
}

pub const AGENT_VERSION_COLS: &str =
    "v.id, v.tenant_id, v.agent_id, a.name, a.kind, v.number, v.config, v.changelog, v.author, v.created_at";

pub fn agent_version(r: &dyn Columns) -> Decoded<AgentVersion> {
    Ok(AgentVersion {
        id: id(r, "id")?,
        tenant_id: id(r, "tenant_id")?,
        agent_id: id(r, "agent_id")?,
        agent_name: r.text("name")?,
        kind: r.text("kind")?,
        number: r.int("number")?,
        config: std::sync::Arc::new(r.json("config")?),
        changelog: r.text("changelog")?,
        author: r.text("author")?,
        created_at: r.time("created_at")?,
    })
}

pub const CHANNEL_COLS: &str = "id, tenant_id, kind, name, phone_number_id, app_secret, verify_token, access_token, graph_url, api_version, settings, deployed_version_id, created_at";

/// A channel row; what each column holds per kind is `ChannelColumns::of`'s.
/// Its secrets are opened with `sealer`.
pub fn channel(r: &dyn Columns, sealer: &Sealer) -> Decoded<Channel> {
    let kind = r.text("kind")?;
    let tenant_id: TenantId = id(r, "tenant_id")?;
    let secret = |col: &str| sealer.open(tenant_id.as_str(), &r.text(col)?);
    let mut settings = r.json("settings")?;
    let mut setting = |key: &str| settings[key].take();
    let config = match ChannelKind::parse(&kind).ok_or_else(|| bad("kind", &kind))? {
        ChannelKind::Whatsapp => ChannelConfig::Whatsapp(WhatsAppConfig {
            phone_number_id: r.text("phone_number_id")?,
            app_secret: secret("app_secret")?,
            verify_token: secret("verify_token")?,
            access_token: secret("access_token")?,
            graph_url: r.text("graph_url")?,
            api_version: r.text("api_version")?,
            waba_id: parse("settings", serde_json::from_value(setting("waba_id")))?,
            templates: parse(
                "settings",
                serde_json::from_value::<Option<_>>(setting("templates")),
            )?
            .unwrap_or_default(),
        }),
        ChannelKind::Telegram => ChannelConfig::Telegram(TelegramConfig {
            bot_token: secret("access_token")?,
            secret_token: secret("app_secret")?,
            api_url: r.text("graph_url")?,
        }),
        ChannelKind::Webchat => ChannelConfig::Webchat(WebchatConfig {
            signing_key: secret("app_secret")?,
            allowed_origins: parse(
                "settings",
                serde_json::from_value(setting("allowed_origins")),
            )
            .map(|o: Option<Vec<String>>| o.unwrap_or_default())?,
            greetings: parse(
                "settings",
                serde_json::from_value::<Option<_>>(setting("greetings")),
            )?
            .unwrap_or_default(),
        }),
    };
    Ok(Channel {
        id: id(r, "id")?,
        tenant_id,
        name: r.text("name")?,
        config,
        deployed_version: opt_id(r, "deployed_version_id")?,
        created_at: r.time("created_at")?,
    })
}

pub const CONTACT_COLS: &str = "id, tenant_id, channel_id, external_id, profile_name, language, first_seen_at, last_seen_at, messages_in, messages_out, blocked_until, block_reason, block_told";

pub fn contact(r: &dyn Columns) -> Decoded<Contact> {
    Ok(Contact {
        id: id(r, "id")?,
        tenant_id: id(r, "tenant_id")?,
        channel_id: id(r, "channel_id")?,
        external_id: r.text("external_id")?,
        profile_name: r.opt_text("profile_name")?,
        language: r
            .opt_text("language")?
            .map(|l| parse("language", Language::parse(&l)))
            .transpose()?,
        first_seen_at: r.time("first_seen_at")?,
        last_seen_at: r.time("last_seen_at")?,
        messages_in: r.int("messages_in")?,
        messages_out: r.int("messages_out")?,
        block: match r.opt_time("blocked_until")? {
            None => None,
            Some(until) => Some(ombud_core::conversation::Block {
                until,
                reason: r.opt_text("block_reason")?.unwrap_or_default(),
                told: r.flag("block_told")?,
            }),
        },
    })
}

pub const CONVERSATION_COLS: &str = "id, tenant_id, channel_id, contact_id, state, inbound_seq, run_cursor, agent_state, last_inbound_at, survey_id, session, agent_session, active_at, session_closed_at, created_at, updated_at";

pub fn conversation(r: &dyn Columns) -> Decoded<Conversation> {
    let state = r.text("state")?;
    Ok(Conversation {
        id: id(r, "id")?,
        tenant_id: id(r, "tenant_id")?,
        channel_id: id(r, "channel_id")?,
        contact_id: id(r, "contact_id")?,
        state: ConversationState::parse(&state).ok_or_else(|| bad("state", &state))?,
        inbound_seq: r.int("inbound_seq")?,
        run_cursor: r.int("run_cursor")?,
        agent_state: r.json("agent_state")?,
        last_inbound_at: r.opt_time("last_inbound_at")?,
        survey_id: opt_id(r, "survey_id")?,
        session: r.int("session")?,
        agent_session: r.int("agent_session")?,
        active_at: r.opt_time("active_at")?,
        session_closed_at: r.opt_time("session_closed_at")?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
    })
}

pub const MESSAGE_COLS: &str = "id, tenant_id, channel_id, conversation_id, direction, seq, provider_id, kind, body, in_reply_to, status, error, created_at, payload, choices, sender, session, media";

pub fn message(r: &dyn Columns) -> Decoded<Message> {
    let direction = r.text("direction")?;
    let status = r.text("status")?;
    Ok(Message {
        id: id(r, "id")?,
        tenant_id: id(r, "tenant_id")?,
        channel_id: id(r, "channel_id")?,
        conversation_id: id(r, "conversation_id")?,
        direction: Direction::parse(&direction).ok_or_else(|| bad("direction", &direction))?,
        seq: r.int("seq")?,
        provider_id: r.opt_text("provider_id")?,
        kind: MessageKind::parse(&r.text("kind")?),
        body: r.text("body")?,
        in_reply_to: opt_id(r, "in_reply_to")?,
        status: DeliveryStatus::parse(&status).ok_or_else(|| bad("status", &status))?,
        error: r.opt_text("error")?,
        created_at: r.time("created_at")?,
        payload: r.opt_text("payload")?,
        choices: r
            .opt_text("choices")?
            .map(|j| parse("choices", serde_json::from_str(&j)))
            .transpose()?,
        sender: r.opt_text("sender")?,
        session: r.int("session")?,
        media: r
            .opt_text("media")?
            .map(|j| parse("media", serde_json::from_str(&j)))
            .transpose()?,
    })
}

pub const COMPLAINT_COLS: &str = "id, tenant_id, number, channel_id, contact_id, conversation_id, category_id, description, location, area, assignee_id, team, language, priority, status, source, created_at, updated_at, sla, latitude, longitude";

pub fn complaint(r: &dyn Columns) -> Decoded<Complaint> {
    Ok(Complaint {
        id: id(r, "id")?,
        tenant_id: id(r, "tenant_id")?,
        number: parse("number", ComplaintNumber::parse(&r.text("number")?))?,
        channel_id: opt_id(r, "channel_id")?,
        contact_id: opt_id(r, "contact_id")?,
        conversation_id: opt_id(r, "conversation_id")?,
        category_id: opt_id(r, "category_id")?,
        description: r.text("description")?,
        location: r.opt_text("location")?,
        area: r.opt_text("area")?,
        assignee_id: opt_id(r, "assignee_id")?,
        team: r.opt_text("team")?,
        language: parse("language", Language::parse(&r.text("language")?))?,
        priority: parse("priority", Priority::parse(&r.text("priority")?))?,
        status: parse("status", ComplaintStatus::parse(&r.text("status")?))?,
        source: parse("source", Source::parse(&r.text("source")?))?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
        sla: r
            .opt_text("sla")?
            .map(|j| parse("sla", serde_json::from_str(&j)))
            .transpose()?,
        point: match (r.opt_real("latitude")?, r.opt_real("longitude")?) {
            (Some(lat), Some(lon)) => ombud_core::geo::GeoPoint::new(lat, lon),
            _ => None,
        },
    })
}

pub const COMPLAINT_EVENT_COLS: &str =
    "complaint_id, tenant_id, actor, action, from_value, to_value, created_at";

pub fn complaint_event(r: &dyn Columns) -> Decoded<ComplaintEvent> {
    Ok(ComplaintEvent {
        complaint_id: id(r, "complaint_id")?,
        tenant_id: id(r, "tenant_id")?,
        actor: r.text("actor")?,
        action: r.text("action")?,
        from_value: r.opt_text("from_value")?,
        to_value: r.opt_text("to_value")?,
        created_at: r.time("created_at")?,
    })
}

pub const EXECUTION_COLS: &str = "id, tenant_id, conversation_id, agent_id, agent_version_id, from_seq, to_seq, input_ids, status, output, tool_calls, tokens_in, tokens_out, error, attempts, started_at, finished_at, trimmed";

pub fn execution(r: &dyn Columns) -> Decoded<Execution> {
    Ok(Execution {
        id: id(r, "id")?,
        tenant_id: id(r, "tenant_id")?,
        conversation_id: id(r, "conversation_id")?,
        agent_id: opt_id(r, "agent_id")?,
        agent_version_id: opt_id(r, "agent_version_id")?,
        from_seq: r.int("from_seq")?,
        to_seq: r.int("to_seq")?,
        input_ids: from_json(r, "input_ids")?,
        status: r.text("status")?,
        output: r.json("output")?,
        tool_calls: r.json("tool_calls")?,
        tokens: tokens(r)?,
        error: r.opt_text("error")?,
        attempts: r.int("attempts")?,
        started_at: r.time("started_at")?,
        finished_at: r.time("finished_at")?,
        trimmed: r.int("trimmed")? != 0,
    })
}

/// The columns the outbox sender needs, joined from the message and contact.
pub const OUTBOX_ITEM_COLS: &str = "o.id, o.tenant_id, o.channel_id, o.message_id, c.external_id, m.body, m.template, m.choices, o.attempts, o.created_at, r.created_at as reply_to_at";

pub fn outbox_item(r: &dyn Columns) -> Decoded<crate::OutboxItem> {
    Ok(crate::OutboxItem {
        id: r.int("id")?,
        tenant_id: id(r, "tenant_id")?,
        channel_id: id(r, "channel_id")?,
        message_id: id(r, "message_id")?,
        to: r.text("external_id")?,
        body: r.text("body")?,
        template: r
            .opt_text("template")?
            .map(|t| parse("template", serde_json::from_str(&t)))
            .transpose()?,
        choices: r
            .opt_text("choices")?
            .map(|t| parse("choices", serde_json::from_str(&t)))
            .transpose()?,
        attempts: r.int("attempts")? as u32 + 1,
        created_at: r.time("created_at")?,
        reply_to_at: r.opt_time("reply_to_at")?,
    })
}

/// An id read back from storage outside a row mapper.
pub fn stored_id<T: std::str::FromStr<Err = ValidationError>>(col: &str, s: &str) -> Decoded<T> {
    parse(col, s.parse())
}

pub const WEBHOOK_ENDPOINT_COLS: &str = "id, tenant_id, url, description, event_types, enabled, ordered, secret, previous_secret, previous_secret_until, disabled_reason, failing_since, created_at, updated_at";

/// An endpoint row, its secrets opened with `sealer`.
pub fn webhook_endpoint(r: &dyn Columns, sealer: &Sealer) -> Decoded<WebhookEndpoint> {
    let tenant_id: TenantId = id(r, "tenant_id")?;
    let open = |stored: String| sealer.open(tenant_id.as_str(), &stored);
    let previous = match (
        r.opt_text("previous_secret")?,
        r.opt_time("previous_secret_until")?,
    ) {
        (Some(s), Some(until)) => Some((open(s)?, until)),
        _ => None,
    };
    Ok(WebhookEndpoint {
        id: id(r, "id")?,
        tenant_id: tenant_id.clone(),
        url: r.text("url")?,
        description: r.text("description")?,
        event_types: from_json(r, "event_types")?,
        enabled: r.flag("enabled")?,
        ordered: r.flag("ordered")?,
        secret: open(r.text("secret")?)?,
        previous_secret: previous,
        disabled_reason: r.opt_text("disabled_reason")?,
        failing_since: r.opt_time("failing_since")?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
    })
}

/// A delivery's columns, from `webhook_deliveries d join events e`.
pub const WEBHOOK_DELIVERY_COLS: &str = "d.id, d.tenant_id, d.endpoint_id, d.event_id, e.type as event_type, d.status, d.attempts, d.next_attempt_at, d.last_status, d.last_error, d.created_at, d.delivered_at";

pub fn webhook_delivery(r: &dyn Columns) -> Decoded<WebhookDelivery> {
    let status = r.text("status")?;
    Ok(WebhookDelivery {
        id: r.int("id")?,
        tenant_id: id(r, "tenant_id")?,
        endpoint_id: id(r, "endpoint_id")?,
        event_id: id(r, "event_id")?,
        event_type: parse("event_type", EventType::parse(&r.text("event_type")?))?,
        status: WebhookStatus::parse(&status).ok_or_else(|| bad("status", &status))?,
        attempts: parse("attempts", u32::try_from(r.int("attempts")?))?,
        next_attempt_at: r.time("next_attempt_at")?,
        last_status: r
            .opt_int("last_status")?
            .map(|v| parse("last_status", u16::try_from(v)))
            .transpose()?,
        last_error: r.opt_text("last_error")?,
        created_at: r.time("created_at")?,
        delivered_at: r.opt_time("delivered_at")?,
    })
}

pub const WEBHOOK_ATTEMPT_COLS: &str = "attempted_at, status_code, latency_ms, response, error";

pub fn webhook_attempt(r: &dyn Columns) -> Decoded<WebhookAttempt> {
    Ok(WebhookAttempt {
        attempted_at: r.time("attempted_at")?,
        status_code: r
            .opt_int("status_code")?
            .map(|v| parse("status_code", u16::try_from(v)))
            .transpose()?,
        latency_ms: parse("latency_ms", u64::try_from(r.int("latency_ms")?))?,
        response: r.opt_text("response")?,
        error: r.opt_text("error")?,
    })
}

/// An agent with its newest version's number (`latest`, null before the first).
pub const AGENT_COLS: &str = "a.id, a.tenant_id, a.name, a.kind, a.created_at, (select max(number) from agent_versions v where v.agent_id = a.id) as latest";

pub fn agent(r: &dyn Columns) -> Decoded<crate::Agent> {
    Ok(crate::Agent {
        id: id(r, "id")?,
        tenant_id: id(r, "tenant_id")?,
        name: r.text("name")?,
        kind: r.text("kind")?,
        latest_version: r.opt_int("latest")?,
        created_at: r.time("created_at")?,
    })
}

pub const DEPLOYMENT_COLS: &str = "d.id, d.tenant_id, d.channel_id, v.agent_id, a.name, d.agent_version_id, v.number, d.previous_version_id, d.actor, d.created_at";
/// What `DEPLOYMENT_COLS` reads from.
pub const DEPLOYMENT_FROM: &str = "deployments d join agent_versions v on v.id = d.agent_version_id join agents a on a.id = v.agent_id";

pub fn deployment(r: &dyn Columns) -> Decoded<crate::Deployment> {
    Ok(crate::Deployment {
        id: r.int("id")?,
        tenant_id: id(r, "tenant_id")?,
        channel_id: id(r, "channel_id")?,
        agent_id: id(r, "agent_id")?,
        agent_name: r.text("name")?,
        agent_version_id: id(r, "agent_version_id")?,
        version_number: r.int("number")?,
        previous_version_id: opt_id(r, "previous_version_id")?,
        actor: r.text("actor")?,
        created_at: r.time("created_at")?,
    })
}

pub const TEST_CHAT_COLS: &str = "id, tenant_id, agent_id, agent_version_id, contact_id, conversation_id, created_by, agent_state, language, handed_off, complaints, turns, created_at, updated_at";

pub fn test_chat(r: &dyn Columns) -> Decoded<crate::TestChat> {
    Ok(crate::TestChat {
        id: id(r, "id")?,
        tenant_id: id(r, "tenant_id")?,
        agent_id: id(r, "agent_id")?,
        agent_version_id: id(r, "agent_version_id")?,
        contact_id: id(r, "contact_id")?,
        conversation_id: id(r, "conversation_id")?,
        created_by: r.text("created_by")?,
        agent_state: r.json("agent_state")?,
        language: r
            .opt_text("language")?
            .map(|l| parse("language", Language::parse(&l)))
            .transpose()?,
        handed_off: r.flag("handed_off")?,
        complaints: from_json(r, "complaints")?,
        turns: r.int("turns")?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
    })
}

pub const TEST_TURN_COLS: &str = "seq, said, replies, tool_calls, handoff, status, error, latency_ms, tokens_in, tokens_out, created_at";

pub fn test_turn(r: &dyn Columns) -> Decoded<crate::TestTurn> {
    Ok(crate::TestTurn {
        seq: r.int("seq")?,
        said: r.text("said")?,
        replies: from_json(r, "replies")?,
        tool_calls: r.json("tool_calls")?,
        handoff: r.flag("handoff")?,
        status: r.text("status")?,
        error: r.opt_text("error")?,
        latency_ms: r.int("latency_ms")?,
        tokens: tokens(r)?,
        created_at: r.time("created_at")?,
    })
}

/// `tokens_in` and `tokens_out`, None when the run counted none.
fn tokens(r: &dyn Columns) -> Decoded<Option<crate::Tokens>> {
    Ok(match (r.opt_int("tokens_in")?, r.opt_int("tokens_out")?) {
        (None, None) => None,
        (i, o) => Some(crate::Tokens {
            input: i.unwrap_or(0),
            output: o.unwrap_or(0),
        }),
    })
}
