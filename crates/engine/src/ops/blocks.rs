//! Temporary blocks: staff pause the channel for a contact for some days,
//! with a reason (an abusive sender). Their messages are still stored; the
//! run tells them once that the channel is paused and says nothing else
//! (see the runner); the block ends by itself, or when staff end it.

use ombud_core::audit::{FieldChange, Target};
use ombud_core::conversation::Block;
use ombud_core::*;
use ombud_store::{StoreError, StoreResult};

use super::{Acting, Operations};

fn target(contact: &ContactId) -> Target {
    Target::new("contact", contact, None)
}

impl Operations {
    /// Blocks the contact for `days` (1 to 90) for `reason`; a block in force
    /// is replaced (and the contact told again).
    pub async fn block_contact(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        contact: &ContactId,
        days: u32,
        reason: &str,
    ) -> StoreResult<Contact> {
        let now = self.now();
        let block = Block::new(days, reason, now)?;
        let entry = acting
            .entry(tenant, now, "contact.blocked", target(contact))
            .with_changes([
                FieldChange::set("blocked_until", block.until),
                FieldChange::set("reason", &block.reason),
            ]);
        self.store
            .set_contact_block(tenant, contact, Some(block), vec![entry])
            .await?
            .ok_or(StoreError::NotFound("contact"))
    }

    /// Ends the contact's block now (nothing to end is no error).
    pub async fn unblock_contact(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        contact: &ContactId,
    ) -> StoreResult<Contact> {
        let now = self.now();
        let entry = acting.entry(tenant, now, "contact.unblocked", target(contact));
        self.store
            .set_contact_block(tenant, contact, None, vec![entry])
            .await?
            .ok_or(StoreError::NotFound("contact"))
    }
}
