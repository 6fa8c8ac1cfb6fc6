//! Conversations in the hands of people: staff replies (the same checks from
//! the API, the inbox and a complaint's page, which takes the conversation
//! over from the bot) and handing back to the bot. The trail records
//! that a reply was sent and how long it was, not its words, nor the
//! citizen's number: those stay with the conversation, which can be erased.

use ombud_core::audit::{FieldChange, Target};
use ombud_core::conversation::{self, window, ConversationSettings, MAX_REPLY};
use ombud_core::template::{choose, NoticeKind, NoticeValues, TemplateMessage};
use ombud_core::*;
use ombud_store::{HandedOver, StoreError, StoreResult};

use super::{Acting, Operations};

fn target(h: &HandedOver) -> Target {
    Target::new("conversation", &h.conversation.id, None)
}

impl Operations {
    /// Sends a staff reply into a handed-over conversation, through the
    /// outbox, while the channel accepts one (WhatsApp's 24-hour window).
    pub async fn staff_reply(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        h: &HandedOver,
        body: &str,
    ) -> StoreResult<MessageId> {
        if h.conversation.state != ConversationState::Human {
            return Err(ValidationError::new(
                "conversation",
                "the bot answers this conversation; staff write only into handed-over ones",
            )
            .into());
        }
        self.write_into(acting, tenant, h, body, None).await
    }

    /// Writes to the citizen of a complaint, from its page: into the
    /// conversation it came from, taken over from the bot if the bot had it
    /// (the citizen's answers then reach the inbox, until someone hands it
    /// back). The same checks as a reply from the inbox.
    pub async fn write_to_citizen(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        complaint: &ComplaintId,
        body: &str,
    ) -> StoreResult<MessageId> {
        let c = self
            .store
            .complaint(tenant, complaint)
            .await?
            .ok_or(StoreError::NotFound("complaint"))?;
        let Some(conversation) = &c.conversation_id else {
            return Err(ValidationError::new(
                "body",
                "this complaint came from no conversation, so there is nobody to write to",
            )
            .into());
        };
        let h = self
            .store
            .conversation(tenant, conversation)
            .await?
            .ok_or(StoreError::NotFound("conversation"))?;
        self.write_into(acting, tenant, &h, body, Some(&c)).await
    }

    /// A staff member's message into `h` (the inbox's reply box), checked
    /// (not empty, not too long, inside the channel's window) and audited; a
    /// conversation the bot answers is taken over first, which the trail
    /// records too. The writer becomes its assignee unless it has one.
    ///
    /// Outside WhatsApp's window the words go as the channel's approved
    /// `staff_message` template, which names `about` (the complaint written
    /// from) or else the citizen's latest complaint; without one, nothing is
    /// sent and the error says why.
    pub async fn write_into(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        h: &HandedOver,
        body: &str,
        about: Option<&Complaint>,
    ) -> StoreResult<MessageId> {
        let body = body.trim();
        let invalid = |field: &str, reason: String| {
            Err(StoreError::Invalid(ValidationError::new(field, reason)))
        };
        if body.is_empty() {
            return invalid("body", "write a reply first".into());
        }
        if body.chars().count() > MAX_REPLY {
            return invalid(
                "body",
                format!("WhatsApp takes at most {MAX_REPLY} characters"),
            );
        }
        let channel = self
            .store
            .channel(&h.conversation.channel_id)
            .await?
            .ok_or(StoreError::NotFound("channel"))?;
        let now = self.now();
        let w = window(channel.kind(), h.conversation.last_inbound_at, now);
        let template = match (w.open, channel.kind()) {
            (true, _) => None,
            (false, ChannelKind::Whatsapp) => {
                match self.staff_template(&channel, h, body, about, now).await? {
                    Ok(t) => Some(t),
                    Err(why) => return invalid("body", format!("not sent: {}; {why}", w.text)),
                }
            }
            (false, _) => return invalid("body", format!("not sent: {}", w.text)),
        };
        let take_over = h.conversation.state != ConversationState::Human;
        let mut audit = Vec::new();
        if take_over {
            audit.push(acting.entry(tenant, now, "conversation.taken_over", target(h)));
        }
        audit.push(
            acting
                .entry(tenant, now, "conversation.staff_replied", target(h))
                .with_changes(
                    [
                        Some(FieldChange::set(
                            "reply",
                            format!("{} characters", body.chars().count()),
                        )),
                        template.as_ref().map(|t| {
                            FieldChange::set("template", format!("{} ({})", t.name, t.language))
                        }),
                    ]
                    .into_iter()
                    .flatten(),
                ),
        );
        let assignee = acting.actor.user_id();
        let id = self
            .store
            .staff_reply(
                tenant,
                ombud_store::StaffReply {
                    conversation: &h.conversation.id,
                    body: template.as_ref().map_or(body, |t| &t.text),
                    template: template.as_ref(),
                    sender: &acting.actor.history_name(),
                    take_over,
                    assignee: assignee.as_ref(),
                },
                now,
                audit,
            )
            .await?;
        self.wake_outbox();
        self.wake_webhooks();
        Ok(id)
    }

    /// The approved template that carries a member's `body` to the citizen
    /// of `h` on a WhatsApp channel whose window has closed, filled; or why
    /// there is none.
    async fn staff_template(
        &self,
        channel: &Channel,
        h: &HandedOver,
        body: &str,
        about: Option<&Complaint>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<Result<TemplateMessage, String>> {
        let store = self.store.as_ref();
        let kind = NoticeKind::StaffMessage;
        let templates = crate::complaints::channel_templates(store, channel, kind)
            .await?
            .unwrap_or_default();
        let number = match about {
            Some(c) => Some(c.number.clone()),
            None => store
                .complaints_of_contact(&channel.tenant_id, &h.conversation.contact_id, false, 1)
                .await?
                .into_iter()
                .next()
                .map(|c| c.number),
        };
        let values = NoticeValues {
            numbers: number.map(|n| n.to_string()).unwrap_or_default(),
            status_label: String::new(),
            category: String::new(),
            date: crate::complaints::notice_date(store, &channel.tenant_id, now).await?,
            message: body.to_owned(),
        };
        let language = h.contact_language.clone().unwrap_or_else(Language::en);
        Ok(choose(kind, &templates, &language, &values).map_err(|why| {
            why.strip_prefix("could not notify: ")
                .unwrap_or(&why)
                .to_owned()
        }))
    }

    /// The member has read the conversation up to the citizen's message at
    /// `upto` (what the page showed them), so it no longer counts as unread
    /// for them. Not audited: a read mark changes nothing anyone else sees.
    pub async fn mark_read(
        &self,
        tenant: &TenantId,
        user: &UserId,
        h: &HandedOver,
    ) -> StoreResult<()> {
        let Some(upto) = h.conversation.last_inbound_at else {
            return Ok(());
        };
        self.store
            .mark_read(tenant, user, &h.conversation.id, upto)
            .await
    }

    /// Gives the conversation back to the bot. NotFound unless it was in the
    /// hands of people.
    pub async fn hand_back(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        h: &HandedOver,
    ) -> StoreResult<()> {
        let now = self.now();
        let entry = acting
            .entry(tenant, now, "conversation.handed_back", target(h))
            .with_changes(
                [FieldChange::changed("state", "human", "bot")]
                    .into_iter()
                    .flatten(),
            );
        if self
            .store
            .hand_back(tenant, &h.conversation.id, now, vec![entry])
            .await?
        {
            Ok(())
        } else {
            Err(StoreError::NotFound("handed-over conversation"))
        }
    }
}

impl Operations {
    /// The tenant's choices about its conversations (unset: the operator's).
    pub async fn conversation_settings(
        &self,
        tenant: &TenantId,
    ) -> StoreResult<ConversationSettings> {
        super::settings::read_setting(self.store.as_ref(), tenant, conversation::SETTINGS_KEY).await
    }

    /// What the tenant's conversations follow: its own quiet spell, else the
    /// operator's.
    pub async fn session_idle(&self, tenant: &TenantId) -> StoreResult<SessionIdle> {
        Ok(self
            .conversation_settings(tenant)
            .await?
            .idle(self.session_idle))
    }

    /// The operator's quiet spell, which tenants follow unless they choose.
    pub fn default_session_idle(&self) -> SessionIdle {
        self.session_idle
    }

    /// Replaces the tenant's choices about its conversations (admins).
    pub async fn set_conversation_settings(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        settings: ConversationSettings,
    ) -> StoreResult<ConversationSettings> {
        settings.validate()?;
        let key = conversation::SETTINGS_KEY;
        self.set_setting(
            acting,
            tenant,
            key,
            "settings.conversations_changed",
            &settings,
        )
        .await?;
        Ok(settings)
    }

    /// Ends the conversation's current session (staff): the citizen's next
    /// message starts a new one, which the agent meets afresh; one in the
    /// hands of people goes back to the bot. False if it was closed already.
    pub async fn close_session(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        h: &HandedOver,
    ) -> StoreResult<bool> {
        let now = self.now();
        let entry = acting
            .entry(tenant, now, "conversation.session_closed", target(h))
            .with_changes(FieldChange::changed("session_open", true, false));
        self.store
            .close_session(tenant, &h.conversation.id, now, vec![entry])
            .await
    }
}

/// A complaint filed through the API, its fields checked by the caller.
#[derive(Debug, Clone)]
pub struct FiledComplaint {
    pub channel_id: Option<ChannelId>,
    pub contact_id: Option<ContactId>,
    pub conversation_id: Option<ConversationId>,
    pub category_id: Option<CategoryId>,
    pub description: String,
    pub location: Option<String>,
    pub language: Language,
    pub priority: Priority,
}

impl Operations {
    /// Records a complaint someone files through the API (not a citizen
    /// through an agent: the agents' tools make theirs themselves).
    pub async fn record_complaint(
        &self,
        acting: &Acting,
        tenant: &Tenant,
        f: FiledComplaint,
    ) -> StoreResult<Complaint> {
        let routing = super::routing::Routing::read(self.store.as_ref(), &tenant.id).await?;
        let new = ombud_store::NewComplaint {
            origin_key: None,
            area: routing.area_for(f.location.as_deref(), None),
            route: routing.active(),
            channel_id: f.channel_id,
            contact_id: f.contact_id,
            conversation_id: f.conversation_id,
            category_id: f.category_id,
            description: f.description,
            location: f.location,
            point: None,
            language: f.language,
            priority: f.priority,
            source: Source::Api,
            actor: acting.actor.history_name(),
            at: self.now(),
            audit: Some(acting.clone()),
            sla: Some(super::sla::rules(self.store.as_ref(), &tenant.id).await?),
            verification: super::verification::for_new(self.store.as_ref(), &tenant.id).await?,
            media: Vec::new(),
        };
        let (complaint, _) = self.store.create_complaint(tenant, new).await?;
        self.wake_webhooks();
        Ok(complaint)
    }
}
