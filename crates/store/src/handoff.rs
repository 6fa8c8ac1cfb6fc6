//! Conversations the bot handed over to people: the inbox, staff replies, and
//! handing a conversation back. The SQL is shared by both backends.

use ombud_core::*;

use crate::decode::{self, Columns, Decoded};

/// A handed-over conversation with the person on the other end.
#[derive(Debug, Clone, PartialEq)]
pub struct HandedOver {
    pub conversation: Conversation,
    /// The contact's address on the channel (a WhatsApp number).
    pub contact_address: String,
    pub contact_name: Option<String>,
    pub contact_language: Option<Language>,
}

/// A staff member's message into a conversation
/// (`HandoffStore::staff_reply`).
#[derive(Debug, Clone, Copy)]
pub struct StaffReply<'a> {
    pub conversation: &'a ConversationId,
    pub body: &'a str,
    /// Who wrote it, as the history names them (`user:<id>`, `api:<id>`).
    pub sender: &'a str,
    /// A conversation the bot answers is handed to people first.
    pub take_over: bool,
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
                ct.language as contact_language
         from conversations v join contacts ct on ct.id = v.contact_id
         where {condition}",
        cols.join(", ")
    )
}

pub(crate) fn handed_over(r: &dyn Columns) -> Decoded<HandedOver> {
    Ok(HandedOver {
        conversation: decode::conversation(r)?,
        contact_address: r.text("contact_address")?,
        contact_name: r.opt_text("contact_name")?,
        contact_language: r
            .opt_text("contact_language")?
            .and_then(|l| Language::parse(&l).ok()),
    })
}
