//! A person's data (DESIGN.md, "Data lifecycle"): the export of everything
//! Ombud holds about a contact, and its erasure. Both are audited; the
//! trail names an erased person by pseudonym only.

use ombud_agents::intake::IntakeConfig;
use ombud_core::audit::Target;
use ombud_core::event::payload;
use ombud_core::person::*;
use ombud_core::*;
use ombud_store::{EraseOutcome, Erasure, NewEvent, StoreError, StoreResult};

use super::{Acting, Operations};

/// Most complaints an export lists (a person with more is not a citizen).
const EXPORT_COMPLAINTS: u32 = 10_000;

impl Operations {
    /// Everything held about contact `id`: their profile, every message,
    /// every complaint with the timeline they may see, in their language's
    /// labels. The export is recorded in the audit trail.
    pub async fn export_contact(
        &self,
        acting: &Acting,
        tenant: &Tenant,
        id: &ContactId,
    ) -> StoreResult<PersonExport> {
        let t = &tenant.id;
        let contact = self
            .store
            .contact(t, id)
            .await?
            .ok_or(StoreError::NotFound("contact"))?;
        let lang = contact
            .language
            .clone()
            .unwrap_or_else(|| tenant.default_language.clone());
        let channel = self
            .store
            .channel(&contact.channel_id)
            .await?
            .map_or("a channel since removed", |c| c.kind().label());
        let mut messages = Vec::new();
        if let Some(conversation) = self.store.conversation_of_contact(t, id).await? {
            for m in self.store.messages(t, &conversation).await? {
                let inbound = m.direction == Direction::Inbound;
                messages.push(MessageRecord {
                    at: m.created_at,
                    direction: if inbound { "from_you" } else { "to_you" },
                    by: if inbound {
                        None
                    } else {
                        written_by(m.sender.as_deref())
                    },
                    text: m.body,
                    session: m.session,
                    status: m.status.as_str().to_owned(),
                });
            }
        }
        let categories = self.store.categories(t).await?;
        let category = |id: &str| {
            categories
                .iter()
                .find(|c| c.id.as_str() == id)
                .map(|c| c.name_in(&lang).to_owned())
        };
        let intake = IntakeConfig::default();
        let status = |s: &str| intake.status_label(&lang, s);
        let mut complaints = Vec::new();
        for c in self
            .store
            .complaints_of_contact(t, id, false, EXPORT_COMPLAINTS)
            .await?
        {
            let timeline = self
                .store
                .complaint_events(t, &c.id)
                .await?
                .into_iter()
                .filter(|e| PUBLIC_ACTIONS.contains(&e.action.as_str()))
                .map(|e| {
                    let label = |v: Option<String>| match e.action.as_str() {
                        "created" | "status_changed" => v.map(|v| status(&v)),
                        "category_changed" => v.and_then(|v| category(&v)),
                        _ => v,
                    };
                    TimelineRecord {
                        at: e.created_at,
                        from: label(e.from_value.clone()),
                        to: label(e.to_value.clone()),
                        what: e.action,
                    }
                })
                .collect();
            complaints.push(ComplaintRecord {
                number: c.number.to_string(),
                category: c.category_id.as_ref().and_then(|id| category(id.as_str())),
                status: c.status.as_str().to_owned(),
                status_label: status(c.status.as_str()),
                description: c.description,
                location: c.location,
                point: c.point,
                area: c.area,
                language: c.language.as_str().to_owned(),
                created_at: c.created_at,
                updated_at: c.updated_at,
                timeline,
            });
        }
        let now = self.now();
        let entry = acting.entry(t, now, "contact.exported", Target::new("contact", id, None));
        self.store.record_audit(vec![entry]).await?;
        Ok(PersonExport {
            format: EXPORT_FORMAT,
            exported_at: now,
            organisation: tenant.name.clone(),
            contact: ContactRecord {
                id: contact.id.to_string(),
                channel: channel.to_owned(),
                address: contact.external_id,
                name: contact.profile_name,
                language: contact.language.map(|l| l.as_str().to_owned()),
                first_seen_at: contact.first_seen_at,
                last_seen_at: contact.last_seen_at,
                messages_in: contact.messages_in,
                messages_out: contact.messages_out,
                blocked_until: contact.block.map(|b| b.until),
            },
            messages,
            complaints,
        })
    }

    /// Erases contact `id`: their name and address (replaced by a keyed
    /// pseudonym), their messages' words, their complaints' descriptions
    /// and locations, their runs' inputs and outputs; the complaints stay
    /// with their numbers, categories, statuses, dates, areas and service
    /// levels, so reports do not change. A `contact.erased` event goes out
    /// and the trail records the erasure under the pseudonym. Erasing an
    /// erased contact changes nothing (`Already`).
    pub async fn erase_contact(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        id: &ContactId,
    ) -> StoreResult<EraseOutcome> {
        let key = self.seal_key.as_ref().ok_or_else(|| {
            StoreError::Unavailable("erasing needs the server's secret key (secret_key)".into())
        })?;
        let contact = self
            .store
            .contact(tenant, id)
            .await?
            .ok_or(StoreError::NotFound("contact"))?;
        if is_erased(&contact.external_id) {
            return Ok(EraseOutcome::Already);
        }
        let pseudonym = pseudonym(key, tenant, &contact);
        let now = self.now();
        let target = Target::new("contact", id, Some(pseudonym.clone()));
        let erasure = Erasure {
            at: now,
            audit: vec![acting.entry(tenant, now, "contact.erased", target)],
            event: NewEvent::of(&payload::ContactErased {
                contact_id: id.to_string(),
                erased_at: now,
            }),
            pseudonym,
        };
        let outcome = self.store.erase_contact(tenant, id, erasure).await?;
        if let EraseOutcome::Erased(_) = outcome {
            self.wake_webhooks();
        }
        Ok(outcome)
    }
}

/// What an erased contact's address becomes: a keyed hash of the tenant
/// and the address (the same person, erased twice, has the same first
/// part, so counts of distinct people stay right without the key telling
/// who), then the end of the contact's id (unique on the channel).
fn pseudonym(key: &ombud_core::seal::SealKey, tenant: &TenantId, c: &Contact) -> String {
    let hash = key.pseudonym(tenant.as_str(), &c.external_id);
    let id = c.id.to_string();
    let tail = &id[id.len().saturating_sub(6)..];
    format!("{ERASED}{}.{}", &hash[..20], tail.to_ascii_lowercase())
}
