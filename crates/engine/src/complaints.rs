//! Staff changes to complaints, one or many: the same rules either way. A
//! change to "everything matching a filter" covers every match, not just the
//! page on screen; it runs in batches of one transaction each, and keeps each
//! citizen's complaints in one batch so that a status change tells each
//! citizen once.

use ombud_agents::intake::IntakeConfig;
use ombud_core::template::{ChannelTemplates, NoticeKind};
use ombud_core::*;
use ombud_store::{
    ChangeBatch, ChangeOutcome, ComplaintChange, ComplaintCursor, ComplaintFilter, ComplaintSort,
    StatusNotice, Store, StoreResult,
};

use crate::{Acting, Engine, Operations};

/// Complaints per transaction.
const BATCH: usize = 200;
/// Complaints read per page while collecting a filter's matches.
const PAGE: u32 = 1000;

/// Which complaints a change is for.
pub enum Selection {
    Ids(Vec<ComplaintId>),
    Matching(ComplaintFilter),
}

/// What a change did: how many complaints changed, and each skipped one with why.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ChangeReport {
    pub changed: Vec<Complaint>,
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Skipped {
    pub id: ComplaintId,
    pub number: Option<ComplaintNumber>,
    pub reason: String,
}

/// What citizens are told when staff move their complaints to `status`, in
/// each language of the intake agent's built-in templates (English, Hindi,
/// Marathi), decided before the change.
pub(crate) fn texts(status: ComplaintStatus) -> StatusNotice {
    let intake = IntakeConfig::default();
    let text = |lang: &Language| intake.status_notice(lang, "{numbers}", status.as_str());
    let label = |lang: &Language| intake.status_label(lang, status.as_str());
    StatusNotice {
        by_language: intake
            .templates
            .keys()
            .filter_map(|l| Language::parse(l).ok())
            .map(|l| (l.as_str().to_owned(), text(&l)))
            .collect(),
        fallback: text(&intake.default_language()),
        kind: match status {
            ComplaintStatus::Rejected => NoticeKind::Rejected,
            ComplaintStatus::Validated => NoticeKind::Validated,
            _ => NoticeKind::StatusChanged,
        },
        status_labels: intake
            .templates
            .keys()
            .filter_map(|l| Language::parse(l).ok())
            .map(|l| (l.as_str().to_owned(), label(&l)))
            .collect(),
        status_fallback: label(&intake.default_language()),
        ..Default::default()
    }
}

/// The satisfaction survey's question, as a notice of kind `survey` (its
/// `status_label` is "resolved" in the citizen's language).
pub(crate) fn survey_texts() -> StatusNotice {
    let resolved = texts(ComplaintStatus::Resolved);
    let by_language: std::collections::BTreeMap<String, String> =
        ombud_core::survey::question_texts()
            .into_iter()
            .map(|(l, q)| (l.to_owned(), q.to_owned()))
            .collect();
    StatusNotice {
        fallback: by_language.get("en").cloned().unwrap_or_default(),
        by_language,
        kind: NoticeKind::Survey,
        ..resolved
    }
}

/// The reminder to a citizen whose complaint is on hold, as a notice of
/// kind `reminder` (its `status_label` is "on hold" in the citizen's
/// language).
pub(crate) fn reminder_texts() -> StatusNotice {
    let on_hold = texts(ComplaintStatus::OnHold);
    let by_language: std::collections::BTreeMap<String, String> = ombud_core::reminder::texts()
        .into_iter()
        .map(|(l, text)| (l.to_owned(), text.to_owned()))
        .collect();
    StatusNotice {
        fallback: by_language.get("en").cloned().unwrap_or_default(),
        by_language,
        kind: NoticeKind::Reminder,
        ..on_hold
    }
}

impl Operations {
    /// What citizens of `tenant` are told when staff move complaints to
    /// `status`: the text, and for each WhatsApp channel the template that
    /// carries it outside the 24-hour window, with the values it is filled with.
    pub async fn status_notice(
        &self,
        tenant: &TenantId,
        status: ComplaintStatus,
    ) -> StoreResult<StatusNotice> {
        notice_plan(self.store.as_ref(), tenant, self.now(), texts(status)).await
    }
}

/// Completes a notice's plan for `tenant` at `now`: the day, the categories,
/// and each WhatsApp channel's template for the notice's kind.
pub(crate) async fn notice_plan(
    store: &dyn Store,
    tenant: &TenantId,
    now: chrono::DateTime<chrono::Utc>,
    mut notice: StatusNotice,
) -> StoreResult<StatusNotice> {
    notice.date = notice_date(store, tenant, now).await?;
    notice.categories = store.categories(tenant).await?.to_vec();
    for channel in store.channels(tenant).await? {
        if let Some(templates) = channel_templates(store, &channel, notice.kind).await? {
            notice.whatsapp.insert(channel.id.clone(), templates);
        }
    }
    Ok(notice)
}

/// The day of a notice sent at `now`, tenant-local (`6 Dec 2026`): a
/// template's `date`.
pub(crate) async fn notice_date(
    store: &dyn Store,
    tenant: &TenantId,
    now: chrono::DateTime<chrono::Utc>,
) -> StoreResult<String> {
    Ok(match store.tenant(tenant).await? {
        Some(t) => now
            .with_timezone(&t.timezone.tz())
            .format("%-d %b %Y")
            .to_string(),
        None => String::new(),
    })
}

/// The template mapped to notices of `kind` on a WhatsApp channel, and
/// Meta's templates of its name; None for a channel of another kind.
pub(crate) async fn channel_templates(
    store: &dyn Store,
    channel: &Channel,
    kind: NoticeKind,
) -> StoreResult<Option<ChannelTemplates>> {
    let Some(wa) = channel.whatsapp() else {
        return Ok(None);
    };
    let mapping = wa.templates.get(&kind).cloned();
    let synced = match &mapping {
        Some(m) => store
            .wa_templates(&channel.tenant_id, &channel.id)
            .await?
            .into_iter()
            .filter(|t| t.name == m.name)
            .collect(),
        None => Vec::new(),
    };
    Ok(Some(ChannelTemplates { mapping, synced }))
}

impl Engine {
    /// Applies `change` to the selected complaints of `tenant` on behalf of
    /// `acting`; a status change notifies citizens through the outbox. Each
    /// complaint changed has its audit entry; those of a change to many are
    /// linked by one bulk id.
    pub async fn change_complaints(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        selection: Selection,
        change: ComplaintChange,
    ) -> StoreResult<ChangeReport> {
        let actor = acting.actor.history_name();
        let report = self
            .ops()
            .change_complaints(acting, &actor, tenant, selection, change)
            .await?;
        self.events_written();
        Ok(report)
    }

    /// Several changes to one complaint, saved together: all of them or
    /// none (one that does not fit is refused as Invalid, naming its field,
    /// and the others are undone). A change to the value the complaint has
    /// is no change. Each change is audited and tells the citizen as alone.
    pub async fn edit_complaint(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        id: &ComplaintId,
        changes: Vec<ComplaintChange>,
    ) -> StoreResult<Complaint> {
        let actor = acting.actor.history_name();
        let c = self
            .ops()
            .edit_complaint(acting, &actor, tenant, id, changes)
            .await?;
        self.events_written();
        Ok(c)
    }
}

/// A change with what the tenant's settings make of it (its notice, the
/// work it leaves, the deadlines and assignment rules), read once for
/// every batch it goes out in.
struct PlannedChange {
    change: ComplaintChange,
    notices: Option<StatusNotice>,
    follow_ups: ombud_store::FollowUps,
    sla: ombud_core::sla::SlaRules,
    routing: Option<ombud_store::routing::BatchRouting>,
    verification: Option<ombud_core::verification::VerificationSettings>,
}

impl PlannedChange {
    /// The batch that makes the change to `ids` at `at`.
    fn batch(
        &self,
        (acting, actor): (&Acting, &str),
        at: chrono::DateTime<chrono::Utc>,
        ids: Vec<ComplaintId>,
        bulk_id: Option<String>,
    ) -> ChangeBatch {
        ChangeBatch {
            actor: actor.to_owned(),
            at,
            change: self.change.clone(),
            ids,
            notices: self.notices.clone(),
            audit: Some(acting.clone()),
            bulk_id,
            follow_ups: self.follow_ups,
            sla: Some(self.sla.clone()),
            routing: self.routing.clone(),
            verification: self.verification.clone(),
        }
    }
}

impl Operations {
    /// [`Engine::change_complaints`], with the complaints' history naming
    /// `actor` (Ombud's own jobs name themselves: `system:verification`).
    pub async fn change_complaints(
        &self,
        acting: &Acting,
        actor: &str,
        tenant: &TenantId,
        selection: Selection,
        change: ComplaintChange,
    ) -> StoreResult<ChangeReport> {
        let store = &self.store;
        let bulk_id = match &selection {
            Selection::Ids(ids) if ids.len() == 1 => None,
            _ => Some(format!("blk_{}", ombud_core::id::new_id_body())),
        };
        let batches = match selection {
            Selection::Ids(ids) => ids.chunks(BATCH).map(<[_]>::to_vec).collect(),
            Selection::Matching(filter) => {
                matching_batches(store.as_ref(), tenant, &filter).await?
            }
        };
        let planned = self.plan_change(tenant, change).await?;
        let mut report = ChangeReport::default();
        for ids in batches {
            let batch = planned.batch((acting, actor), self.now(), ids, bulk_id.clone());
            let outcomes = store.change_complaints(tenant, batch).await?;
            for outcome in outcomes {
                match outcome {
                    ChangeOutcome::Changed(c) => report.changed.push(*c),
                    ChangeOutcome::Skipped { id, number, reason } => {
                        report.skipped.push(Skipped { id, number, reason })
                    }
                }
            }
            if planned.notices.is_some() {
                self.wake_outbox();
            }
        }
        Ok(report)
    }

    /// [`Engine::edit_complaint`], with the history naming `actor`.
    pub async fn edit_complaint(
        &self,
        acting: &Acting,
        actor: &str,
        tenant: &TenantId,
        id: &ComplaintId,
        changes: Vec<ComplaintChange>,
    ) -> StoreResult<Complaint> {
        let at = self.now();
        let mut batches = Vec::with_capacity(changes.len());
        let mut notifies = false;
        for change in changes {
            let planned = self.plan_change(tenant, change).await?;
            notifies |= planned.notices.is_some();
            batches.push(planned.batch((acting, actor), at, vec![id.clone()], None));
        }
        let c = self.store.edit_complaint(tenant, id, batches).await?;
        if notifies {
            self.wake_outbox();
        }
        Ok(c)
    }

    /// Reads what the tenant's settings make of `change`; refuses a change
    /// the assignment rules forbid (a member with no room, a team unknown).
    async fn plan_change(
        &self,
        tenant: &TenantId,
        change: ComplaintChange,
    ) -> StoreResult<PlannedChange> {
        let store = self.store.as_ref();
        let notices = match change {
            ComplaintChange::Status(status) => Some(self.status_notice(tenant, status).await?),
            _ => None,
        };
        let mut follow_ups = ombud_store::FollowUps::default();
        match change {
            ComplaintChange::Status(ComplaintStatus::Resolved) => {
                let settings = self.survey_settings(tenant).await?;
                follow_ups.survey_after = settings.enabled.then(|| settings.delay());
            }
            ComplaintChange::Status(ComplaintStatus::OnHold) => {
                let settings = self.reminder_settings(tenant).await?;
                follow_ups.remind_after = settings.enabled.then(|| settings.delay());
            }
            _ => {}
        }
        let routing = crate::ops::routing::Routing::read(store, tenant).await?;
        routing.check(&change)?;
        let verification = match change {
            ComplaintChange::Status(ComplaintStatus::PendingValidation) => {
                Some(self.verification_settings(tenant).await?)
            }
            _ => None,
        };
        Ok(PlannedChange {
            notices,
            follow_ups,
            sla: crate::ops::sla::rules(store, tenant).await?,
            routing: routing.batch(),
            verification,
            change,
        })
    }
}

/// Every complaint matching `filter`, in batches that keep each
/// conversation's complaints together.
async fn matching_batches(
    store: &dyn Store,
    tenant: &TenantId,
    filter: &ComplaintFilter,
) -> StoreResult<Vec<Vec<ComplaintId>>> {
    let mut found: Vec<(Option<ConversationId>, ComplaintId)> = Vec::new();
    let mut after: Option<ComplaintCursor> = None;
    loop {
        let page = store
            .list_complaints(tenant, filter, ComplaintSort::Oldest, after.as_ref(), PAGE)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(ComplaintCursor::of(&last.complaint));
        let full = page.len() == PAGE as usize;
        found.extend(
            page.into_iter()
                .map(|r| (r.complaint.conversation_id, r.complaint.id)),
        );
        if !full {
            break;
        }
    }
    // Stable: within a conversation, oldest first.
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let mut batches: Vec<Vec<ComplaintId>> = Vec::new();
    let mut current: Vec<ComplaintId> = Vec::new();
    let mut i = 0;
    while i < found.len() {
        let conversation = &found[i].0;
        let mut j = i + 1;
        while j < found.len() && conversation.is_some() && found[j].0 == *conversation {
            j += 1;
        }
        if !current.is_empty() && current.len() + (j - i) > BATCH {
            batches.push(std::mem::take(&mut current));
        }
        current.extend(found[i..j].iter().map(|(_, id)| id.clone()));
        i = j;
    }
    if !current.is_empty() {
        batches.push(current);
    }
    Ok(batches)
}
