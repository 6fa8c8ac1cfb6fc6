//! A person's data (their right of access and erasure): what an export of
//! a contact holds, which lines of a complaint's timeline the person may
//! see, and the pseudonym an erasure leaves in place of their address.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// What an export says it is, so a reader knows the shape.
pub const EXPORT_FORMAT: &str = "ombud.person/1";

/// An erased contact's address starts with this.
pub const ERASED: &str = "erased:";

/// The timeline actions a person sees of their own complaint: its status,
/// category and area as they moved. Internal notes, assignments, teams,
/// priorities and service-level alerts are the office's own.
pub const PUBLIC_ACTIONS: [&str; 4] = [
    "created",
    "status_changed",
    "category_changed",
    "area_changed",
];

/// Timeline actions whose values are someone's words (a member's note, a
/// citizen's survey comment): an erasure removes them.
pub const WORDED_ACTIONS: [&str; 2] = ["note", "survey_comment"];

/// One JSON document with everything Ombud holds about a person.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PersonExport {
    pub format: &'static str,
    pub exported_at: DateTime<Utc>,
    /// The organisation that holds the data.
    pub organisation: String,
    pub contact: ContactRecord,
    /// Every message, both ways, oldest first.
    pub messages: Vec<MessageRecord>,
    pub complaints: Vec<ComplaintRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContactRecord {
    pub id: String,
    /// WhatsApp, Telegram or the web chat.
    pub channel: String,
    /// Their number (or chat or visitor id) on it.
    pub address: String,
    pub name: Option<String>,
    pub language: Option<String>,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub messages_in: i64,
    pub messages_out: i64,
    /// A pause staff put on the channel for them, until then.
    pub blocked_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageRecord {
    pub at: DateTime<Utc>,
    /// `from_you` or `to_you`.
    pub direction: &'static str,
    /// Who wrote a message to them: the bot, the office's notices, or a member.
    pub by: Option<&'static str>,
    pub text: String,
    pub session: i64,
    /// Of a message to them: sent, delivered, read, failed…
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ComplaintRecord {
    pub number: String,
    /// The category, named in their language.
    pub category: Option<String>,
    /// The status code, and as their language names it.
    pub status: String,
    pub status_label: String,
    pub description: String,
    pub location: Option<String>,
    /// Where their location pin put it.
    pub point: Option<crate::geo::GeoPoint>,
    pub area: Option<String>,
    pub language: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// What happened to it that they may see, oldest first.
    pub timeline: Vec<TimelineRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimelineRecord {
    pub at: DateTime<Utc>,
    /// `created`, `status_changed`, `category_changed` or `area_changed`.
    pub what: String,
    /// The values, as their language names them (statuses and categories).
    pub from: Option<String>,
    pub to: Option<String>,
}

/// Who wrote an outbound message, as the person reads it (see
/// `Message::sender`).
pub fn written_by(sender: Option<&str>) -> Option<&'static str> {
    match sender? {
        crate::message::BOT => Some("bot"),
        crate::message::SYSTEM => Some("office_notice"),
        _ => Some("office_staff"),
    }
}

/// Whether `address` is what an erasure left.
pub fn is_erased(address: &str) -> bool {
    address.starts_with(ERASED)
}
