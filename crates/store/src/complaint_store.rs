//! The complaints' part of the store: numbering and creation, look-ups, the
//! staff's list and changes, service-level deadlines, and the overview.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::*;

use crate::*;

#[async_trait]
pub trait ComplaintStore: Send + Sync {
    /// Creates a complaint with the next number of the tenant's local day. With an
    /// `origin_key` already used, returns the existing complaint and `false`.
    async fn create_complaint(
        &self,
        tenant: &Tenant,
        new: NewComplaint,
    ) -> StoreResult<(Complaint, bool)>;
    async fn complaint_by_number(
        &self,
        tenant: &TenantId,
        number: &ComplaintNumber,
    ) -> StoreResult<Option<Complaint>>;
    async fn complaints_of_contact(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
        open_only: bool,
        limit: u32,
    ) -> StoreResult<Vec<Complaint>>;
    async fn complaints(&self, tenant: &TenantId, limit: u32) -> StoreResult<Vec<Complaint>>;
    async fn complaint(
        &self,
        tenant: &TenantId,
        id: &ComplaintId,
    ) -> StoreResult<Option<Complaint>>;
    /// A page of the tenant's complaints matching `filter`, after `after`.
    async fn list_complaints(
        &self,
        tenant: &TenantId,
        filter: &ComplaintFilter,
        sort: ComplaintSort,
        after: Option<&ComplaintCursor>,
        limit: u32,
    ) -> StoreResult<Vec<ComplaintRow>>;
    async fn count_complaints(
        &self,
        tenant: &TenantId,
        filter: &ComplaintFilter,
    ) -> StoreResult<u64>;
    /// Applies one change to each complaint of the batch, in one transaction:
    /// each changed complaint gets a history line and a domain event; a
    /// status change writes one notice per conversation to the outbox. A
    /// complaint the change does not fit (an illegal move, no change, not the
    /// tenant's) is skipped with the reason. An assignee who is no member, or a
    /// category not the tenant's, fails the whole batch as Invalid.
    async fn change_complaints(
        &self,
        tenant: &TenantId,
        batch: ChangeBatch,
    ) -> StoreResult<Vec<ChangeOutcome>>;
    /// Several changes to one complaint (`id`) in one transaction, in order:
    /// all of them or none. A change the complaint already has is passed
    /// over; one that does not fit (an illegal move, a member's capacity)
    /// undoes the others and is answered as Invalid, naming its field.
    /// Each batch names `id` alone. The complaint as it ends.
    async fn edit_complaint(
        &self,
        tenant: &TenantId,
        id: &ComplaintId,
        batches: Vec<ChangeBatch>,
    ) -> StoreResult<Complaint>;
    /// The warning or breach of a service-level deadline, when its job runs:
    /// in one transaction, checked against the complaint, marked on its clock
    /// and timeline with its event, and a breach escalated.
    async fn sla_due(&self, tenant: &TenantId, due: SlaDue) -> StoreResult<SlaFired>;
    /// Complaints of every tenant with a service-level alert due at `now`
    /// (`sla_next_at` at or before it), by that time and id, after `after`
    /// (the last of the page before), at most `limit`: what the sweep tells
    /// staff of.
    async fn sla_alerts_due(
        &self,
        now: DateTime<Utc>,
        after: Option<&SlaPending>,
        limit: u32,
    ) -> StoreResult<Vec<SlaPending>>;
    /// Each of `members`' open complaints in the tenant and when one was
    /// last assigned to them (for a team's choice, `ombud_core::routing`).
    async fn member_loads(
        &self,
        tenant: &TenantId,
        members: &[UserId],
    ) -> StoreResult<Vec<ombud_core::routing::Load>>;
    async fn complaint_events(
        &self,
        tenant: &TenantId,
        complaint: &ComplaintId,
    ) -> StoreResult<Vec<ComplaintEvent>>;
    /// The overview's numbers for complaints created since `since` (per day
    /// and durations) and for every open one (by category and age), with days
    /// counted at the tenant's UTC offset at `now`.
    async fn overview(
        &self,
        tenant: &Tenant,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Overview>;
    /// Complaints with a timeline line `action` in `[from, to)`, to
    /// `to_value` if one is given: moved to resolved
    /// (`status_changed`, `resolved`), a deadline missed (`sla_breached`).
    async fn complaints_with_line(
        &self,
        tenant: &TenantId,
        action: &str,
        to_value: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<u64>;
}
