//! Conversations the bot handed over to people: the inbox, staff replies, and
//! handing a conversation back. The SQL is shared by both backends.

use ombud_core::*;

use chrono::{DateTime, Utc};

use crate::decode::{self, Columns, Decoded};

/// A handed-over conversation with the person on the other end.
#[derive(Debug, Clone, PartialEq)]
pub struct HandedOver {
    pub conversation: Conversation,
    /// The contact's address on the channel (a WhatsApp number).
    pub contact_address: String,
    pub contact_name: Option<String>,
    pub contact_language: Option<Language>,
    /// The member who took it over or first wrote into it.
    pub assignee_id: Option<UserId>,
}

impl HandedOver {
    /// The citizen as staff read them: name and number, or a web visitor's
    /// readable label (`conversation::person_label`).
    pub fn person(&self) -> String {
        ombud_core::conversation::person_label(self.contact_name.as_deref(), &self.contact_address)
    }
}

/// A staff member's message into a conversation
/// (`HandoffStore::staff_reply`).
#[derive(Debug, Clone, Copy)]
pub struct StaffReply<'a> {
    pub conversation: &'a ConversationId,
    pub body: &'a str,
    /// The approved template it goes as, outside WhatsApp's window (then
    /// `body` is the template's text as the citizen reads it).
    pub template: Option<&'a ombud_core::template::TemplateMessage>,
    /// Who wrote it, as the history names them (`user:<id>`, `api:<id>`).
    pub sender: &'a str,
    /// A conversation the bot answers is handed to people first.
    pub take_over: bool,
    /// The member writing, who becomes the conversation's assignee unless
    /// it has one (None for an API key).
    pub assignee: Option<&'a UserId>,
}

/// Most conversations the inbox lists.
pub const INBOX_LIMIT: u32 = 200;

/// `where` is appended: the conversation's conditions, with placeholders.
pub(crate) fn handed_over_sql(condition: &str) -> String {
    let cols: Vec<String> = decode::CONVERSATION_COLS
        .split(", ")
        .map(|c| format!("v.{c}"))
        .collect();
    format!(
        "select {}, ct.external_id as contact_address, ct.profile_name as contact_name,
                ct.language as contact_language, v.assignee_id
         from conversations v join contacts ct on ct.id = v.contact_id
         where {condition}",
        cols.join(", ")
    )
}

/// Which conversations the inbox lists (`HandoffStore::inbox`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxFilter {
    /// In the hands of people (the bot handed over, or staff took over).
    NeedsPerson,
    /// Assigned to the reader.
    Mine,
    /// In the hands of people with nobody assigned.
    Unassigned,
    /// Every conversation, the bot's too.
    All,
}

impl InboxFilter {
    pub const ALL: [InboxFilter; 4] = [Self::NeedsPerson, Self::Mine, Self::Unassigned, Self::All];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NeedsPerson => "needs-person",
            Self::Mine => "mine",
            Self::Unassigned => "unassigned",
            Self::All => "all",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::NeedsPerson => "Needs a person",
            Self::Mine => "Mine",
            Self::Unassigned => "Unassigned",
            Self::All => "All",
        }
    }

    /// The filter's condition; `user` is the reader's placeholder.
    fn condition(self, user: &str) -> String {
        match self {
            Self::NeedsPerson => "v.state = 'human'".into(),
            Self::Mine => format!("v.assignee_id = {user}"),
            Self::Unassigned => "v.state = 'human' and v.assignee_id is null".into(),
            Self::All => "true".into(),
        }
    }
}

/// A row of the inbox: the conversation and its citizen, the channel, the
/// citizen's latest words, and how far the reader has read.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxItem {
    pub handed: HandedOver,
    pub channel_kind: ChannelKind,
    pub channel_name: String,
    pub preview: Option<String>,
    pub read_at: Option<DateTime<Utc>>,
}

impl InboxItem {
    /// The citizen wrote after the reader last read the conversation.
    pub fn unread(&self) -> bool {
        unread(self.handed.conversation.last_inbound_at, self.read_at)
    }
}

fn unread(last_inbound: Option<DateTime<Utc>>, read_at: Option<DateTime<Utc>>) -> bool {
    match (last_inbound, read_at) {
        (Some(last), Some(read)) => last > read,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// The inbox's query: `p(1)` the tenant, `p(2)` the reader, `p(3)` the limit.
pub(crate) fn inbox_sql(filter: InboxFilter, p: impl Fn(usize) -> String) -> String {
    let (tenant, user, limit) = (p(1), p(2), p(3));
    let condition = filter.condition(&user);
    let base = handed_over_sql(&format!(
        "v.tenant_id = {tenant} and {condition}
         order by v.last_inbound_at desc nulls last, v.id limit {limit}"
    ));
    // The extra columns go in the select list, the joins after the contact's.
    base.replacen(
        " from conversations v join contacts ct on ct.id = v.contact_id",
        &format!(
            ", ch.kind as channel_kind, ch.name as channel_name, r.read_at,
                (select m.body from messages m
                 where m.conversation_id = v.id and m.direction = 'inbound'
                 order by m.seq desc limit 1) as preview
         from conversations v join contacts ct on ct.id = v.contact_id
         join channels ch on ch.id = v.channel_id
         left join conversation_reads r on r.user_id = {user} and r.conversation_id = v.id"
        ),
        1,
    )
}

pub(crate) fn inbox_item(r: &dyn Columns) -> Decoded<InboxItem> {
    let kind = r.text("channel_kind")?;
    Ok(InboxItem {
        handed: handed_over(r)?,
        channel_kind: ChannelKind::parse(&kind).ok_or_else(|| {
            crate::StoreError::Internal(format!("channel_kind: not a channel kind: {kind}"))
        })?,
        channel_name: r.text("channel_name")?,
        preview: r.opt_text("preview")?,
        read_at: r.opt_time("read_at")?,
    })
}

/// Conversations in the hands of people that the reader has not read since
/// the citizen last wrote: `p(1)` the tenant, `p(2)` the reader.
pub(crate) fn unread_sql(p: impl Fn(usize) -> String) -> String {
    let (tenant, user) = (p(1), p(2));
    format!(
        "select count(*) as n from conversations v
         left join conversation_reads r on r.user_id = {user} and r.conversation_id = v.id
         where v.tenant_id = {tenant} and v.state = 'human' and v.last_inbound_at is not null
           and (r.read_at is null or r.read_at < v.last_inbound_at)"
    )
}

/// A change the live dashboard shows: which conversation or complaint an
/// event touched (`HandoffStore::live_events`).
#[derive(Debug, Clone, PartialEq)]
pub struct LiveEvent {
    pub id: String,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub conversation: Option<String>,
    pub complaint: Option<String>,
    /// A message event's message, whose conversation the store looks up.
    pub message: Option<String>,
    /// The event may change a member's unread count: its conversation is
    /// in people's hands, or it changed whose hands it is in.
    pub with_people: bool,
}

/// Most events one `live_events` call returns.
pub const LIVE_PAGE: u32 = 500;

/// What an event touches, from its type and data.
pub(crate) fn live_event(
    id: String,
    at: DateTime<Utc>,
    kind: String,
    data: &serde_json::Value,
) -> LiveEvent {
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    let (mut conversation, mut complaint, mut message) = (None, None, None);
    match kind.as_str() {
        "message.received" | "conversation.handoff" | "execution.failed" => {
            conversation = text(&data["conversation_id"]);
        }
        "message.sent" | "message.failed" => message = text(&data["message_id"]),
        "complaint.created" => complaint = text(&data["id"]),
        "complaint.rated" => complaint = text(&data["complaint_id"]),
        k if k.starts_with("complaint.") => complaint = text(&data["complaint"]["id"]),
        "audit.recorded" => match data["target"]["kind"].as_str() {
            Some("conversation") => conversation = text(&data["target"]["id"]),
            Some("complaint") => complaint = text(&data["target"]["id"]),
            _ => {}
        },
        _ => {}
    }
    LiveEvent {
        id,
        at,
        kind,
        conversation,
        complaint,
        message,
        with_people: false,
    }
}

impl LiveEvent {
    /// Sets `with_people` from the conversation's state now (`human` or
    /// not): a hand-off, a take-over or a hand-back counts whatever the
    /// state.
    pub(crate) fn set_people(&mut self, state: Option<&str>) {
        let handing = matches!(
            self.kind.as_str(),
            "conversation.handoff" | "audit.recorded"
        );
        self.with_people = self.conversation.is_some()
            && (handing || state == Some(ConversationState::Human.as_str()));
    }
}

pub(crate) fn handed_over(r: &dyn Columns) -> Decoded<HandedOver> {
    Ok(HandedOver {
        conversation: decode::conversation(r)?,
        contact_address: r.text("contact_address")?,
        contact_name: r.opt_text("contact_name")?,
        contact_language: r
            .opt_text("contact_language")?
            .and_then(|l| Language::parse(&l).ok()),
        assignee_id: r
            .opt_text("assignee_id")?
            .map(|a| decode::stored_id("assignee_id", &a))
            .transpose()?,
    })
}
