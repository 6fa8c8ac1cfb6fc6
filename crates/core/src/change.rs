//! Staff changes to complaints, the rules once: what a change does to one
//! complaint (or why it is skipped), and what citizens are told when the
//! status of theirs moves. The stores apply these inside their transaction,
//! against the complaint as it stands there.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::event::payload::{Change, ComplaintChanged};
use crate::*;

/// One change, applied to each complaint of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum ComplaintChange {
    Status(ComplaintStatus),
    Priority(Priority),
    Category(Option<CategoryId>),
    Assign(Option<UserId>),
    Area(Option<String>),
    /// Sent to a team's queue (`ombud_core::routing`), or taken out of it.
    Team(Option<String>),
    /// An internal note (already sanitized): never sent to the citizen.
    Note(String),
}

impl ComplaintChange {
    /// The field it changes, as forms and errors name it.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Status(_) => "status",
            Self::Priority(_) => "priority",
            Self::Category(_) => "category",
            Self::Assign(_) => "assignee",
            Self::Area(_) => "area",
            Self::Team(_) => "team",
            Self::Note(_) => "note",
        }
    }
}

/// Whether a change was skipped only because the complaint already had its
/// value ([`apply`]'s "… already"): no error for an edit that asks for what
/// is there.
pub fn unchanged(reason: &str) -> bool {
    reason.ends_with(" already")
}

/// What a change does to one complaint, checked against its current state:
/// the complaint as it will be and the history line, or why it is skipped.
pub struct Applied {
    pub complaint: Complaint,
    pub action: &'static str,
    pub from: Option<String>,
    pub to: Option<String>,
    pub event: Option<EventType>,
}

impl Applied {
    /// The domain event: the complaint as it is now, what changed, and who
    /// changed it.
    pub fn event(&self, actor: &str) -> ComplaintChanged {
        ComplaintChanged {
            kind: self.event.unwrap_or(EventType::ComplaintUpdated),
            complaint: self.complaint.clone(),
            change: Change {
                action: self.action.to_owned(),
                from: self.from.clone(),
                to: self.to.clone(),
            },
            actor: actor.to_owned(),
        }
    }
}

pub fn apply(
    current: &Complaint,
    change: &ComplaintChange,
    at: DateTime<Utc>,
) -> Result<Applied, String> {
    let mut next = current.clone();
    next.updated_at = at;
    let same = |what: &str| Err(format!("{what} already"));
    let (action, from, to, event) = match change {
        ComplaintChange::Status(to) => {
            if current.status == *to {
                return same(&format!("is {to}"));
            }
            next.status = current.status.transition(*to).map_err(|e| e.reason)?;
            (
                "status_changed",
                Some(current.status.to_string()),
                Some(to.to_string()),
                Some(EventType::ComplaintStatusChanged),
            )
        }
        ComplaintChange::Priority(p) => {
            if current.priority == *p {
                return same(&format!("is {p} priority"));
            }
            next.priority = *p;
            (
                "priority_changed",
                Some(current.priority.to_string()),
                Some(p.to_string()),
                Some(EventType::ComplaintUpdated),
            )
        }
        ComplaintChange::Category(c) => {
            if current.category_id == *c {
                return same("is in this category");
            }
            next.category_id = c.clone();
            (
                "category_changed",
                current.category_id.as_ref().map(|c| c.to_string()),
                c.as_ref().map(|c| c.to_string()),
                Some(EventType::ComplaintUpdated),
            )
        }
        ComplaintChange::Assign(u) => {
            if current.assignee_id == *u {
                return same(if u.is_some() {
                    "is assigned to them"
                } else {
                    "is unassigned"
                });
            }
            next.assignee_id = u.clone();
            (
                "assigned",
                current.assignee_id.as_ref().map(|u| u.to_string()),
                u.as_ref().map(|u| u.to_string()),
                Some(EventType::ComplaintAssigned),
            )
        }
        ComplaintChange::Area(a) => {
            if current.area == *a {
                return same("is in this area");
            }
            next.area = a.clone();
            (
                "area_changed",
                current.area.clone(),
                a.clone(),
                Some(EventType::ComplaintUpdated),
            )
        }
        ComplaintChange::Team(t) => {
            if current.team == *t {
                return same("is with this team");
            }
            next.team = t.clone();
            (
                "team_changed",
                current.team.clone(),
                t.clone(),
                Some(EventType::ComplaintUpdated),
            )
        }
        ComplaintChange::Note(text) => ("note", None, Some(text.clone()), None),
    };
    Ok(Applied {
        complaint: next,
        action,
        from,
        to,
        event,
    })
}

/// What citizens are told when staff move their complaints to a status:
/// the text in each language, decided before the change (from the tenant's
/// intake templates), with `{numbers}` where the complaint numbers go; and,
/// for WhatsApp channels, the template that carries it outside the window.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatusNotice {
    pub by_language: BTreeMap<String, String>,
    /// For a language the map lacks.
    pub fallback: String,
    /// `status_changed`, or `rejected` for a rejection.
    pub kind: crate::template::NoticeKind,
    /// The new status as each language names it (a template's `status_label`).
    pub status_labels: BTreeMap<String, String>,
    pub status_fallback: String,
    /// The tenant's categories, for a template's `category` (named in the
    /// citizen's language).
    pub categories: Vec<Category>,
    /// The day of the change, tenant-local, for a template's `date`.
    pub date: String,
    /// Every WhatsApp channel of the tenant with its templates for this
    /// notice; a channel not here has no window (Telegram, the web chat).
    pub whatsapp: BTreeMap<ChannelId, crate::template::ChannelTemplates>,
}

/// Numbers named in one notice; past it, "(+N)" (a WhatsApp text holds 4,096
/// characters).
pub const NAMED: usize = 10;

impl StatusNotice {
    /// The notice for a citizen writing in `language`, naming `numbers`.
    pub fn body(&self, language: &Language, numbers: &[&str]) -> String {
        self.by_language
            .get(language.as_str())
            .unwrap_or(&self.fallback)
            .replace("{numbers}", &named(numbers))
    }

    /// How `notice` goes out at `now`, the conversation's citizen having last
    /// written at `last_inbound`: text, a template, or not at all (and why).
    pub fn delivery(
        &self,
        notice: &Notice,
        last_inbound: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> crate::template::Delivery {
        use crate::template::{choose, Delivery, NoticeValues};
        let Some(templates) = self.whatsapp.get(&notice.channel) else {
            return Delivery::Text;
        };
        if crate::conversation::window(ChannelKind::Whatsapp, last_inbound, now).open {
            return Delivery::Text;
        }
        let values = NoticeValues {
            numbers: notice.numbers.clone(),
            status_label: self
                .status_labels
                .get(notice.language.as_str())
                .unwrap_or(&self.status_fallback)
                .clone(),
            category: notice
                .category
                .as_ref()
                .and_then(|id| self.categories.iter().find(|c| &c.id == id))
                .map(|c| c.name_in(&notice.language).to_owned())
                .unwrap_or_default(),
            date: self.date.clone(),
            message: String::new(),
        };
        match choose(self.kind, templates, &notice.language, &values) {
            Ok(message) => Delivery::Template(message),
            Err(why) => Delivery::CannotNotify(why),
        }
    }
}

/// `numbers` joined, the first [`NAMED`] of them and "(+N)" for the rest.
fn named(numbers: &[&str]) -> String {
    let mut named = numbers[..numbers.len().min(NAMED)].join(", ");
    if numbers.len() > NAMED {
        named.push_str(&format!(" (+{})", numbers.len() - NAMED));
    }
    named
}

/// A status notice to send into a conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub conversation: ConversationId,
    pub channel: ChannelId,
    pub contact: Option<ContactId>,
    pub body: String,
    /// The complaints it names (where "could not notify" is recorded).
    pub complaints: Vec<ComplaintId>,
    pub numbers: String,
    pub language: Language,
    pub category: Option<CategoryId>,
}

/// What a status change tells citizens: one notice per conversation, naming
/// each of its complaints that changed (complaints from no conversation are
/// told nothing).
pub fn notices(notice: &StatusNotice, changed: &[Complaint]) -> Vec<Notice> {
    let mut groups: Vec<(&ConversationId, &ChannelId, Vec<&Complaint>)> = Vec::new();
    for c in changed {
        let (Some(conv), Some(chan)) = (&c.conversation_id, &c.channel_id) else {
            continue;
        };
        match groups.iter_mut().find(|(id, _, _)| *id == conv) {
            Some((_, _, list)) => list.push(c),
            None => groups.push((conv, chan, vec![c])),
        }
    }
    groups
        .into_iter()
        .map(|(conversation, channel, list)| {
            let numbers: Vec<&str> = list.iter().map(|c| c.number.as_str()).collect();
            Notice {
                conversation: conversation.clone(),
                channel: channel.clone(),
                contact: list[0].contact_id.clone(),
                body: notice.body(&list[0].language, &numbers),
                complaints: list.iter().map(|c| c.id.clone()).collect(),
                numbers: named(&numbers),
                language: list[0].language.clone(),
                category: list[0].category_id.clone(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_that_finds_its_value_there_already_is_told_apart() {
        let c = Complaint {
            id: ComplaintId::new(),
            tenant_id: TenantId::new(),
            number: ComplaintNumber::parse("PUNE-20261207-0001").unwrap(),
            channel_id: None,
            contact_id: None,
            conversation_id: None,
            category_id: None,
            description: "x".into(),
            location: None,
            area: None,
            assignee_id: None,
            team: None,
            language: Language::en(),
            priority: Priority::Normal,
            status: ComplaintStatus::New,
            source: Source::Api,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            sla: None,
            point: None,
        };
        let at = Utc::now();
        for change in [
            ComplaintChange::Status(ComplaintStatus::New),
            ComplaintChange::Priority(Priority::Normal),
            ComplaintChange::Category(None),
            ComplaintChange::Assign(None),
            ComplaintChange::Area(None),
            ComplaintChange::Team(None),
        ] {
            let reason = apply(&c, &change, at).err().unwrap();
            assert!(unchanged(&reason), "{}: {reason}", change.field());
        }
        let closed = ComplaintChange::Status(ComplaintStatus::Closed);
        let illegal = apply(&c, &closed, at).err().unwrap();
        assert!(!unchanged(&illegal), "{illegal}");
        assert_eq!(ComplaintChange::Assign(None).field(), "assignee");
    }

    #[test]
    fn a_notice_names_ten_numbers_and_counts_the_rest() {
        let n = StatusNotice {
            by_language: BTreeMap::from([("hi".into(), "हिं {numbers}".into())]),
            fallback: "Now resolved: {numbers}".into(),
            ..Default::default()
        };
        let numbers: Vec<String> = (1..=12).map(|i| format!("P-{i}")).collect();
        let refs: Vec<&str> = numbers.iter().map(String::as_str).collect();
        let body = n.body(&Language::en(), &refs);
        assert!(body.starts_with("Now resolved: P-1, P-2"), "{body}");
        assert!(body.ends_with("P-10 (+2)"), "{body}");
        assert!(n
            .body(&Language::parse("hi").unwrap(), &refs[..1])
            .starts_with("हिं P-1"));
    }

    /// Text inside WhatsApp's window and on channels without one; outside
    /// it, the mapped template, or nothing and why.
    #[test]
    fn the_window_decides_between_text_and_a_template() {
        use crate::template::{
            ChannelTemplates, Delivery, NoticeKind, ParamValue, TemplateMapping, WaTemplate,
        };
        let (whatsapp, telegram) = (ChannelId::new(), ChannelId::new());
        let synced = WaTemplate {
            name: "complaint_status".into(),
            language: "en_US".into(),
            status: "APPROVED".into(),
            category: "UTILITY".into(),
            body: Some("{{1}} is now {{2}}".into()),
            header: None,
            named_params: false,
        };
        let plan = StatusNotice {
            fallback: "{numbers} is now resolved".into(),
            status_fallback: "resolved".into(),
            whatsapp: BTreeMap::from([(
                whatsapp.clone(),
                ChannelTemplates {
                    mapping: Some(TemplateMapping {
                        name: "complaint_status".into(),
                        languages: vec!["en_US".into()],
                        body: vec![ParamValue::ComplaintNumber, ParamValue::StatusLabel],
                        header: vec![],
                        buttons: vec![],
                    }),
                    synced: vec![synced],
                },
            )]),
            ..Default::default()
        };
        let notice = |channel: &ChannelId| Notice {
            conversation: ConversationId::new(),
            channel: channel.clone(),
            contact: None,
            body: "P-1 is now resolved".into(),
            complaints: vec![ComplaintId::new()],
            numbers: "P-1".into(),
            language: Language::en(),
            category: None,
        };
        let now = Utc::now();
        let (recent, old) = (
            Some(now - chrono::Duration::hours(23)),
            Some(now - chrono::Duration::hours(25)),
        );
        assert_eq!(
            plan.delivery(&notice(&whatsapp), recent, now),
            Delivery::Text
        );
        assert_eq!(plan.delivery(&notice(&telegram), old, now), Delivery::Text);
        assert_eq!(plan.delivery(&notice(&telegram), None, now), Delivery::Text);
        let Delivery::Template(m) = plan.delivery(&notice(&whatsapp), old, now) else {
            panic!("a template outside the window")
        };
        assert_eq!(m.text, "P-1 is now resolved");
        // A rejection goes by the channel's `rejected` mapping; it has none.
        let mut unmapped = StatusNotice {
            kind: NoticeKind::Rejected,
            ..plan.clone()
        };
        unmapped
            .whatsapp
            .values_mut()
            .for_each(|t| t.mapping = None);
        assert!(matches!(
            unmapped.delivery(&notice(&whatsapp), None, now),
            Delivery::CannotNotify(why) if why.starts_with("could not notify: no approved template for rejected in en")
        ));
    }
}
