use chrono::{DateTime, Duration, Utc};

use crate::{ChannelId, ChannelKind, ContactId, ConversationId, Language, TenantId};

/// A person writing to one channel, known by the channel's own id for them
/// (`wa_id` on WhatsApp).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Contact {
    pub id: ContactId,
    pub tenant_id: TenantId,
    pub channel_id: ChannelId,
    pub external_id: String,
    pub profile_name: Option<String>,
    pub language: Option<Language>,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub messages_in: i64,
    pub messages_out: i64,
    /// Staff paused the channel for this person (None: not blocked).
    #[serde(default)]
    pub block: Option<Block>,
}

/// A temporary block: until then the person's messages are kept and the bot
/// says once that the channel is paused for them, and nothing else.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Block {
    pub until: DateTime<Utc>,
    pub reason: String,
    /// They were told (once per block).
    pub told: bool,
}

/// Longest block, in days.
pub const MAX_BLOCK_DAYS: u32 = 90;
/// Longest reason, in characters.
pub const MAX_BLOCK_REASON: usize = 300;

impl Block {
    /// A block of `days` from `now` for `reason`, checked.
    pub fn new(
        days: u32,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Self, crate::ValidationError> {
        if !(1..=MAX_BLOCK_DAYS).contains(&days) {
            return Err(crate::ValidationError::new("days", "must be 1 to 90 days"));
        }
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > MAX_BLOCK_REASON {
            return Err(crate::ValidationError::new(
                "reason",
                "say why, in at most 300 characters",
            ));
        }
        Ok(Self {
            until: now + Duration::days(i64::from(days)),
            reason: reason.to_owned(),
            told: false,
        })
    }

    /// What the person is told, once, in their language: the channel is
    /// paused for them until `until` (a date, as they read it).
    pub fn notice(language: Option<&Language>, until: &str) -> String {
        let text = match language.map(Language::as_str) {
            Some("hi") => "इस चैनल पर आपके लिए बातचीत {until} तक रोक दी गई है। आपके संदेश सहेजे जा रहे हैं और कार्यालय उन्हें देखेगा।",
            Some("mr") => "या चॅनेलवर तुमच्यासाठी संवाद {until} पर्यंत थांबवला आहे. तुमचे संदेश जतन केले जात आहेत आणि कार्यालय ते पाहील.",
            _ => "This channel is paused for you until {until}. Your messages are kept, and the office will see them.",
        };
        text.replace("{until}", until)
    }
}

/// A person as staff read them: their name and their number when both
/// are known ("Asha Patil · 919800000003"), else whichever is; a web-chat
/// visitor, who has no number, as "web visitor" and the last four
/// characters of their id, never the id itself.
pub fn person_label(name: Option<&str>, address: &str) -> String {
    let address = match address.strip_prefix("vis_") {
        Some(id) => {
            let tail: String = id
                .chars()
                .rev()
                .take(4)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            format!("web visitor {}", tail.to_ascii_uppercase())
        }
        None => address.to_owned(),
    };
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) if name != address => format!("{name} · {address}"),
        _ => address,
    }
}

impl Contact {
    /// The block in force at `now`, if any (a block ends by itself).
    pub fn blocked(&self, now: DateTime<Utc>) -> Option<&Block> {
        self.block.as_ref().filter(|b| b.until > now)
    }
}

/// Who answers a conversation: the bot, a human (the bot stays silent), or nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationState {
    Bot,
    Human,
    Closed,
}

impl ConversationState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bot => "bot",
            Self::Human => "human",
            Self::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "bot" => Some(Self::Bot),
            "human" => Some(Self::Human),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }
}

/// The thread between a contact and a channel. Inbound messages are numbered
/// `1..=inbound_seq`; the agent has handled those up to `run_cursor`, so the
/// conversation is *due* while the bot answers it and `inbound_seq > run_cursor`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Conversation {
    pub id: ConversationId,
    pub tenant_id: TenantId,
    pub channel_id: ChannelId,
    pub contact_id: ContactId,
    pub state: ConversationState,
    pub inbound_seq: i64,
    pub run_cursor: i64,
    /// The agent's own memory between runs (the intake dialogue's step and draft).
    pub agent_state: serde_json::Value,
    /// WhatsApp allows free-form replies only within 24 hours of this.
    pub last_inbound_at: Option<DateTime<Utc>>,
    /// The satisfaction survey waiting for the citizen's answer.
    pub survey_id: Option<crate::SurveyId>,
    /// The current session (1, 2, …): see [`SessionIdle`].
    pub session: i64,
    /// The session `agent_state` belongs to.
    pub agent_session: i64,
    /// When a person (the citizen, or a member) last wrote.
    pub active_at: Option<DateTime<Utc>>,
    /// When staff closed the current session (None: open).
    pub session_closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Conversation {
    pub fn is_due(&self) -> bool {
        self.state == ConversationState::Bot && self.inbound_seq > self.run_cursor
    }
}

/// How long a conversation stays quiet before its session ends. The
/// session is what the agent remembers: a citizen who writes after the
/// quiet spell (or after staff closed the session) starts the next one, and
/// the agent meets them afresh; the history keeps every session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionIdle(Duration);

impl SessionIdle {
    /// The default quiet spell, in hours.
    pub const DEFAULT_HOURS: u32 = 24;
    /// The longest a tenant may set: 90 days.
    pub const MAX_HOURS: u32 = 90 * 24;

    /// `hours` of quiet, checked (1 to 90 days).
    pub fn hours(hours: u32) -> Result<Self, crate::ValidationError> {
        if !(1..=Self::MAX_HOURS).contains(&hours) {
            return Err(crate::ValidationError::new(
                "session_idle_hours",
                "must be 1 to 2160 hours (90 days)",
            ));
        }
        Ok(Self(Duration::hours(i64::from(hours))))
    }

    pub fn as_hours(&self) -> i64 {
        self.0.num_hours()
    }

    /// Whether a citizen's message at `now` starts a new session of a
    /// conversation a person last wrote in at `active_at`, whose current
    /// session staff closed (`closed`) or not.
    pub fn starts_new(
        &self,
        active_at: Option<DateTime<Utc>>,
        closed: bool,
        now: DateTime<Utc>,
    ) -> bool {
        closed || active_at.is_some_and(|a| now - a >= self.0)
    }
}

impl Default for SessionIdle {
    fn default() -> Self {
        Self(Duration::hours(i64::from(Self::DEFAULT_HOURS)))
    }
}

/// Where a tenant keeps its [`ConversationSettings`].
pub const SETTINGS_KEY: &str = "conversations";

/// A tenant's own choices about its conversations; what it leaves unset
/// follows the operator's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConversationSettings {
    /// Hours of quiet that end a session (None: the operator's default).
    pub session_idle_hours: Option<u32>,
    /// Days after which messages' words are removed (0: kept; None: the
    /// operator's default, which is to keep them).
    pub message_bodies_days: Option<u32>,
    /// Days after which messages are deleted, with their sends and the
    /// agent's runs on them (0: kept; None: the operator's default, which
    /// is to keep them). Complaints stay.
    pub messages_days: Option<u32>,
}

/// The longest retention a tenant may set, in days (100 years).
pub const MAX_RETENTION_DAYS: u32 = 36_500;

impl ConversationSettings {
    pub fn validate(&self) -> Result<(), crate::ValidationError> {
        for (field, days) in [
            ("message_bodies_days", self.message_bodies_days),
            ("messages_days", self.messages_days),
        ] {
            if days.is_some_and(|d| d > MAX_RETENTION_DAYS) {
                return Err(crate::ValidationError::new(
                    field,
                    "must be 0 (kept) to 36500 days",
                ));
            }
        }
        self.session_idle_hours
            .map(SessionIdle::hours)
            .transpose()
            .map(|_| ())
    }

    /// How long messages' words are kept: the tenant's days, else the
    /// operator's (`default`). None: for ever.
    pub fn bodies_kept(&self, default: Option<Duration>) -> Option<Duration> {
        kept(self.message_bodies_days, default)
    }

    /// How long messages themselves are kept: the tenant's days, else the
    /// operator's (`default`). None: for ever.
    pub fn messages_kept(&self, default: Option<Duration>) -> Option<Duration> {
        kept(self.messages_days, default)
    }

    /// The quiet spell that ends a session: the tenant's, else `default`.
    pub fn idle(&self, default: SessionIdle) -> SessionIdle {
        self.session_idle_hours
            .and_then(|h| SessionIdle::hours(h).ok())
            .unwrap_or(default)
    }
}

/// A tenant's days (0: for ever), else the operator's default.
fn kept(days: Option<u32>, default: Option<Duration>) -> Option<Duration> {
    match days {
        Some(0) => None,
        Some(days) => Some(Duration::days(i64::from(days))),
        None => default,
    }
}

pub fn kind_name(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Whatsapp => "WhatsApp",
        ChannelKind::Telegram => "Telegram",
        ChannelKind::Webchat => "the web chat",
    }
}

/// WhatsApp accepts free-form messages only this long after the citizen's
/// last message; after it, only approved templates.
pub const WINDOW_HOURS: i64 = 24;
/// The longest staff reply (WhatsApp's limit for a text).
pub const MAX_REPLY: usize = 4096;

/// Where the 24-hour window stands for a conversation at `now`.
pub struct Window {
    pub open: bool,
    pub text: String,
    /// Seconds until an open WhatsApp window closes (the dashboard counts
    /// them down); None for a closed one or a channel without a window.
    pub closes_in_secs: Option<i64>,
    /// Outside a WhatsApp window: the template a member's message goes as
    /// (the channel's `staff_message` mapping), when there is one.
    pub template: Option<String>,
}

impl Window {
    /// Whether a member can write now: free-form, or as a template.
    pub fn writable(&self) -> bool {
        self.open || self.template.is_some()
    }
}

/// Where a member's message to the person of a conversation on `channel`
/// stands at `now`: the channel's window and, outside WhatsApp's, the
/// template mapped to a member's message that carries it instead.
pub fn staff_window(
    channel: &crate::Channel,
    last_inbound: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Window {
    let mut w = window(channel.kind(), last_inbound, now);
    let mapped = channel
        .whatsapp()
        .and_then(|wa| wa.templates.get(&crate::template::NoticeKind::StaffMessage));
    if let (false, Some(m)) = (w.open, mapped) {
        w.text = format!(
            "{}, so what you write goes as the template {} (Meta charges for each)",
            w.text, m.name
        );
        w.template = Some(m.name.clone());
    }
    w
}

/// Telegram and the web chat have no window: a bot may write to a chat that
/// wrote to it, and the web chat shows a reply at the visitor's next visit.
pub fn window(
    kind: ChannelKind,
    last_inbound: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Window {
    if kind != ChannelKind::Whatsapp {
        return Window {
            closes_in_secs: None,
            template: None,
            open: last_inbound.is_some(),
            text: match last_inbound {
                Some(_) => format!("{} has no reply window", kind_name(kind)),
                None => "the person has not written yet".into(),
            },
        };
    }
    let Some(last) = last_inbound else {
        return Window {
            closes_in_secs: None,
            template: None,
            open: false,
            text: "the citizen has not written yet, so WhatsApp accepts no free-form reply".into(),
        };
    };
    let closes = last + Duration::hours(WINDOW_HOURS);
    if now < closes {
        let left = closes - now;
        Window {
            closes_in_secs: Some(left.num_seconds()),
            template: None,
            open: true,
            text: format!(
                "reply window open for {}h {:02}m more",
                left.num_hours(),
                left.num_minutes() % 60
            ),
        }
    } else {
        Window {
            closes_in_secs: None,
            template: None,
            open: false,
            text: format!(
                "the 24-hour reply window closed {} ago: WhatsApp accepts no free-form message until the citizen writes again",
                ago(now - closes)
            ),
        }
    }
}

fn ago(d: Duration) -> String {
    if d.num_hours() >= 48 {
        format!("{} days", d.num_days())
    } else if d.num_hours() >= 1 {
        format!("{}h", d.num_hours())
    } else {
        format!("{}m", d.num_minutes().max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_ends_after_the_quiet_spell_or_when_staff_close_it() {
        let idle = SessionIdle::hours(24).unwrap();
        let last = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let later = |h: i64, m: i64| last + Duration::hours(h) + Duration::minutes(m);
        assert!(!idle.starts_new(Some(last), false, later(23, 59)));
        assert!(idle.starts_new(Some(last), false, later(24, 0)));
        assert!(idle.starts_new(Some(last), true, later(0, 1)));
        // A conversation nobody wrote in yet has its first session.
        assert!(!idle.starts_new(None, false, later(1000, 0)));
        assert_eq!(SessionIdle::default().as_hours(), 24);
        for bad in [0, SessionIdle::MAX_HOURS + 1] {
            assert_eq!(
                SessionIdle::hours(bad).unwrap_err().field,
                "session_idle_hours"
            );
        }
    }

    #[test]
    fn a_person_is_named_by_name_and_number_and_a_visitor_never_by_an_id() {
        assert_eq!(
            person_label(Some("Asha Patil"), "919800000003"),
            "Asha Patil · 919800000003"
        );
        let number = "919800000003";
        assert_eq!(person_label(Some(number), number), number);
        assert_eq!(person_label(None, number), number);
        assert_eq!(person_label(Some("  "), number), number);
        // A visitor id's shape: vis_ and 26 characters.
        let visitor = format!("vis_{}7R1C", "0".repeat(22));
        let visitor = visitor.as_str();
        assert_eq!(person_label(None, visitor), "web visitor 7R1C");
        assert_eq!(
            person_label(Some("Ravi"), visitor),
            "Ravi · web visitor 7R1C"
        );
    }
}
