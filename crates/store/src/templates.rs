//! WhatsApp message templates: a channel's mapping of notices to templates
//! (kept with the channel), what Meta holds for its business account (synced
//! from the Graph API, updated by status webhooks), and the notices that
//! could not be sent for want of one.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::template::{TemplateUpdate, WaTemplate};
use ombud_core::*;

use crate::decode::{Columns, Decoded};
use crate::{Audit, StoreResult};

/// Notices that could not be sent, for the staff banner.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NotifyFailures {
    pub count: u64,
    /// The latest one's reason and complaint number.
    pub latest: Option<(String, String)>,
}

#[async_trait]
pub trait TemplateStore: Send + Sync {
    /// Meta's templates for the channel as last synced, by name and language.
    async fn wa_templates(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
    ) -> StoreResult<Vec<WaTemplate>>;
    /// Replaces the channel's templates with what the Graph API listed.
    async fn replace_wa_templates(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        templates: Vec<WaTemplate>,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<()>;
    /// Applies a status webhook's news; a template not heard of before is
    /// kept with what the news says (its text comes with the next sync).
    /// False if it was new.
    async fn update_wa_template(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        update: TemplateUpdate,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Notices that could not be sent since `since`.
    async fn notify_failures(
        &self,
        tenant: &TenantId,
        since: DateTime<Utc>,
    ) -> StoreResult<NotifyFailures>;
}

pub(crate) const WA_TEMPLATE_COLS: &str =
    "name, language, status, category, body, header, named_params";

pub(crate) fn wa_template(r: &dyn Columns) -> Decoded<WaTemplate> {
    Ok(WaTemplate {
        name: r.text("name")?,
        language: r.text("language")?,
        status: r.text("status")?,
        category: r.text("category")?,
        body: r.opt_text("body")?,
        header: r.opt_text("header")?,
        named_params: r.flag("named_params")?,
    })
}

/// How many templates one channel keeps (Meta allows 250 per account, more
/// on higher tiers): a sync that lists more keeps the first this many.
pub const MAX_TEMPLATES: usize = 2000;
