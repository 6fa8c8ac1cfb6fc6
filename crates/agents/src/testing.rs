//! What the runtimes' unit tests share: tools over memory, a tenant, messages.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::*;

use crate::{ComplaintDraft, ToolError, Tools};

pub struct FakeTools {
    pub categories: Vec<Category>,
    pub created: Mutex<Vec<(String, Complaint)>>,
    /// (number, text) of every `add_to_complaint`.
    pub added: Mutex<Vec<(String, String)>>,
    /// The media messages each complaint made took, in order.
    pub media: Mutex<Vec<Vec<MessageId>>>,
}

pub fn category(slug: &str, en: &str, keywords: &[&str]) -> Category {
    Category {
        id: CategoryId::new(),
        tenant_id: TenantId::new(),
        slug: slug.into(),
        names: BTreeMap::from([("en".to_owned(), en.to_owned())]),
        keywords: keywords.iter().map(|k| (*k).to_owned()).collect(),
        default_priority: Priority::Normal,
        created_at: Utc::now(),
    }
}

impl FakeTools {
    pub fn new() -> Self {
        Self {
            categories: vec![
                category("roads", "Roads", &["road", "pothole", "रस्ता", "खड्डा"]),
                category(
                    "streetlight",
                    "Street lights",
                    &["street light", "light", "lamp", "दिवा", "बत्ती"],
                ),
            ],
            created: Mutex::new(Vec::new()),
            added: Mutex::new(Vec::new()),
            media: Mutex::new(Vec::new()),
        }
    }
}

#[async_trait]
impl Tools for FakeTools {
    async fn categories(&self) -> Result<Arc<Vec<Category>>, ToolError> {
        Ok(Arc::new(self.categories.clone()))
    }
    async fn create_complaint(&self, key: &str, d: ComplaintDraft) -> Result<Complaint, ToolError> {
        let mut created = self.created.lock().unwrap();
        if let Some((_, c)) = created.iter().find(|(k, _)| k == key) {
            return Ok(c.clone());
        }
        let n = created.len() as u32 + 1;
        self.media.lock().unwrap().push(d.media.clone());
        let c = Complaint {
            area: None,
            assignee_id: None,
            team: None,
            id: ComplaintId::new(),
            tenant_id: TenantId::new(),
            number: ComplaintNumber::new(
                &ComplaintPrefix::parse("PUNE").unwrap(),
                chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
                n,
            ),
            channel_id: None,
            contact_id: None,
            conversation_id: None,
            category_id: d.category_id,
            description: d.description,
            location: d.location,
            language: d.language,
            priority: d.priority,
            status: ComplaintStatus::New,
            source: Source::Text,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            sla: None,
            point: d.point,
        };
        created.push((key.to_owned(), c.clone()));
        Ok(c)
    }
    async fn complaint_status(&self, n: &ComplaintNumber) -> Result<Option<Complaint>, ToolError> {
        Ok(self
            .created
            .lock()
            .unwrap()
            .iter()
            .map(|(_, c)| c.clone())
            .find(|c| &c.number == n))
    }
    async fn add_to_complaint(
        &self,
        n: &ComplaintNumber,
        text: &str,
    ) -> Result<Complaint, ToolError> {
        let found = self.complaint_status(n).await?;
        let c =
            found.ok_or_else(|| ToolError(format!("the person has no complaint numbered {n}")))?;
        self.added
            .lock()
            .unwrap()
            .push((n.to_string(), text.to_owned()));
        Ok(c)
    }
    async fn open_complaints(&self) -> Result<Vec<Complaint>, ToolError> {
        Ok(self
            .created
            .lock()
            .unwrap()
            .iter()
            .map(|(_, c)| c.clone())
            .collect())
    }
}

pub fn tenant() -> Arc<Tenant> {
    Arc::new(Tenant {
        id: TenantId::new(),
        slug: TenantSlug::parse("pune").unwrap(),
        name: "Pune Ward Office".into(),
        complaint_prefix: ComplaintPrefix::parse("PUNE").unwrap(),
        default_language: Language::en(),
        timezone: TimeZoneName::parse("Asia/Kolkata").unwrap(),
        created_at: Utc::now(),
    })
}

pub fn message(seq: i64, body: &str, kind: MessageKind) -> Message {
    message_at(seq, body, kind, Utc::now())
}

pub fn message_at(seq: i64, body: &str, kind: MessageKind, at: DateTime<Utc>) -> Message {
    Message {
        id: MessageId::new(),
        tenant_id: TenantId::new(),
        channel_id: ChannelId::new(),
        conversation_id: ConversationId::new(),
        direction: Direction::Inbound,
        seq,
        provider_id: Some(format!("wamid.{seq}")),
        kind,
        body: body.into(),
        in_reply_to: None,
        status: DeliveryStatus::Received,
        error: None,
        created_at: at,
        payload: None,
        choices: None,
        sender: None,
        session: 1,
        media: None,
    }
}
