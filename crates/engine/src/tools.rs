//! The agent tools, bound to one tenant, contact and conversation.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_agents::{ComplaintDraft, ToolError, Tools};
use ombud_core::*;
use ombud_store::{
    ChangeBatch, ChangeOutcome, ComplaintChange, ConversationKey, NewComplaint, Store,
};

pub struct StoreTools<'a> {
    pub store: &'a dyn Store,
    pub tenant: &'a Tenant,
    pub contact: &'a Contact,
    pub key: &'a ConversationKey,
    pub now: DateTime<Utc>,
}

fn tool_error(e: impl std::fmt::Display) -> ToolError {
    ToolError(e.to_string())
}

#[async_trait]
impl Tools for StoreTools<'_> {
    async fn categories(&self) -> Result<Arc<Vec<Category>>, ToolError> {
        self.store
            .categories(&self.tenant.id)
            .await
            .map_err(tool_error)
    }

    async fn create_complaint(&self, key: &str, d: ComplaintDraft) -> Result<Complaint, ToolError> {
        let routing = crate::ops::routing::Routing::read(self.store, &self.tenant.id)
            .await
            .map_err(tool_error)?;
        let area = routing.area_for(d.location.as_deref(), d.point.as_ref());
        let new = NewComplaint {
            origin_key: Some(key.to_owned()),
            channel_id: Some(self.contact.channel_id.clone()),
            contact_id: Some(self.contact.id.clone()),
            conversation_id: Some(self.key.conversation_id.clone()),
            category_id: d.category_id,
            description: d.description,
            location: d.location,
            point: d.point,
            media: d.media,
            area,
            language: d.language,
            priority: d.priority,
            source: if d.voice { Source::Voice } else { Source::Text },
            actor: format!("contact:{}", self.contact.id),
            at: self.now,
            audit: None,
            sla: Some(
                crate::ops::sla::rules(self.store, &self.tenant.id)
                    .await
                    .map_err(tool_error)?,
            ),
            route: routing.active(),
            verification: crate::ops::verification::for_new(self.store, &self.tenant.id)
                .await
                .map_err(tool_error)?,
        };
        self.store
            .create_complaint(self.tenant, new)
            .await
            .map(|(c, _)| c)
            .map_err(tool_error)
    }

    async fn complaint_status(&self, n: &ComplaintNumber) -> Result<Option<Complaint>, ToolError> {
        let found = self
            .store
            .complaint_by_number(&self.tenant.id, n)
            .await
            .map_err(tool_error)?;
        // A citizen sees only their own complaints, never a neighbour's by guessing.
        Ok(found.filter(|c| c.contact_id.as_ref() == Some(&self.contact.id)))
    }

    async fn open_complaints(&self) -> Result<Vec<Complaint>, ToolError> {
        self.store
            .complaints_of_contact(&self.tenant.id, &self.contact.id, true, 10)
            .await
            .map_err(tool_error)
    }

    async fn add_to_complaint(
        &self,
        n: &ComplaintNumber,
        text: &str,
    ) -> Result<Complaint, ToolError> {
        let theirs = self
            .complaint_status(n)
            .await?
            .ok_or_else(|| ToolError(format!("the person has no complaint numbered {n}")))?;
        // Kept as a note in the complaint's history under the contact's name;
        // notes are HTML, and the citizen's words are plain text.
        let batch = ChangeBatch {
            actor: format!("contact:{}", self.contact.id),
            at: self.now,
            change: ComplaintChange::Note(ombud_core::html::escape(text)),
            ids: vec![theirs.id.clone()],
            notices: None,
            audit: None,
            bulk_id: None,
            follow_ups: Default::default(),
            sla: None,
            routing: None,
            verification: None,
        };
        let outcomes = self
            .store
            .change_complaints(&self.tenant.id, batch)
            .await
            .map_err(tool_error)?;
        match outcomes.into_iter().next() {
            Some(ChangeOutcome::Changed(c)) => Ok(*c),
            Some(ChangeOutcome::Skipped { reason, .. }) => Err(ToolError(reason)),
            None => Ok(theirs),
        }
    }
}
