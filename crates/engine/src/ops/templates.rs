//! WhatsApp templates: which approved template carries each notice outside
//! the 24-hour window (set by staff), what Meta holds for the business
//! account (synced on demand and daily, kept current by status webhooks), and
//! the notices that could not be sent for want of one.

use std::sync::Arc;

use async_trait::async_trait;
use ombud_channels::SendError;
use ombud_core::audit::{FieldChange, Target};
use ombud_core::template::{TemplateMappings, TemplateUpdate};
use ombud_core::*;
use ombud_store::{Job, NotifyFailures, StoreError, StoreResult};

use super::{Acting, Operations};
use crate::scheduler::{JobHandler, Recurring};

/// The daily sync of every WhatsApp channel's templates.
pub const SYNC: &str = "templates.sync";
/// How far back the staff banner looks for notices that could not be sent.
pub const BANNER_DAYS: i64 = 7;

fn target(channel: &Channel) -> Target {
    Target::new("channel", &channel.id, Some(channel.name.clone()))
}

/// Why a sync did not happen.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the Graph API: {0}")]
    Graph(String),
}

impl Operations {
    /// Sets a WhatsApp channel's business account id and which template
    /// carries each notice, checked field by field.
    pub async fn set_channel_templates(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        channel: &ChannelId,
        waba_id: Option<String>,
        templates: TemplateMappings,
    ) -> StoreResult<Channel> {
        let before = self.whatsapp_channel(tenant, channel).await?;
        let waba_id = waba_id
            .map(|w| w.trim().to_owned())
            .filter(|w| !w.is_empty());
        if let Some(w) = &waba_id {
            if w.len() > 32 || !w.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ValidationError::new(
                    "waba_id",
                    "must be the business account's numeric id",
                )
                .into());
            }
        }
        for (kind, m) in &templates {
            m.validate(*kind, &format!("templates.{}", kind.as_str()))?;
        }
        let now = self.now();
        let old = before
            .whatsapp()
            .map(|w| (w.waba_id.clone(), w.templates.clone()));
        let (old_waba, old_templates) = old.unwrap_or_default();
        let entry = acting
            .entry(tenant, now, "channel.templates_set", target(&before))
            .with_changes(
                [
                    FieldChange::changed("waba_id", &old_waba, &waba_id),
                    FieldChange::changed("templates", &old_templates, &templates),
                ]
                .into_iter()
                .flatten(),
            );
        let mut after = before.clone();
        if let ChannelConfig::Whatsapp(w) = &mut after.config {
            w.waba_id = waba_id;
            w.templates = templates;
        }
        self.store
            .set_channel_settings(tenant, &after, now, vec![entry])
            .await
    }

    /// Reads the channel's templates from the Graph API and keeps them; how
    /// many there are. `acting`: staff who asked (audited), or None for the
    /// daily sync.
    pub async fn sync_templates(
        &self,
        acting: Option<&Acting>,
        tenant: &TenantId,
        channel: &ChannelId,
    ) -> Result<usize, SyncError> {
        let channel = self.whatsapp_channel(tenant, channel).await?;
        let sender = self
            .sender
            .as_ref()
            .ok_or_else(|| SyncError::Graph("this process sends nothing".into()))?;
        let listed = sender.list_templates(&channel).await.map_err(|e| match e {
            SendError::Retryable { reason, .. } | SendError::Permanent { reason } => {
                SyncError::Graph(reason)
            }
        })?;
        let n = listed.len();
        let now = self.now();
        let audit = acting
            .map(|a| {
                a.entry(tenant, now, "channel.templates_synced", target(&channel))
                    .with_changes([FieldChange::set("templates", n)])
            })
            .into_iter()
            .collect();
        self.store
            .replace_wa_templates(tenant, &channel.id, listed, now, audit)
            .await?;
        Ok(n)
    }

    /// Applies Meta's template status webhooks for `channel`.
    pub async fn template_news(
        &self,
        channel: &Channel,
        updates: Vec<TemplateUpdate>,
    ) -> StoreResult<()> {
        for u in updates {
            tracing::info!(channel = %channel.id, template = %u.name, language = %u.language,
                status = ?u.status, category = ?u.category, "template news from Meta");
            self.store
                .update_wa_template(&channel.tenant_id, &channel.id, u, self.now())
                .await?;
        }
        Ok(())
    }

    /// Notices that could not be sent in the last [`BANNER_DAYS`] days.
    pub async fn notify_failures(&self, tenant: &TenantId) -> StoreResult<NotifyFailures> {
        let since = self.now() - chrono::Duration::days(BANNER_DAYS);
        self.store.notify_failures(tenant, since).await
    }

    /// The tenant's WhatsApp channel `id` (NotFound for any other).
    pub async fn whatsapp_channel(
        &self,
        tenant: &TenantId,
        id: &ChannelId,
    ) -> StoreResult<Channel> {
        self.channel_of_kind(tenant, id, ChannelKind::Whatsapp, "WhatsApp channel")
            .await
    }
}

/// Syncs every WhatsApp channel that has a business account id, once a day
/// (03:30 UTC). One channel's failure does not stop the others; the job
/// fails (and is retried) if any did.
pub struct SyncJob {
    pub ops: Operations,
}

pub fn daily() -> Recurring {
    Recurring::utc(SYNC, "30 3 * * *")
}

#[async_trait]
impl JobHandler for SyncJob {
    async fn run(&self, _job: &Job) -> Result<(), String> {
        let store = &self.ops.store;
        let mut failed = Vec::new();
        for tenant in store.tenants().await.map_err(|e| e.to_string())? {
            let channels = store
                .channels(&tenant.id)
                .await
                .map_err(|e| e.to_string())?;
            for c in channels {
                if c.whatsapp().and_then(|w| w.waba_id.as_ref()).is_none() {
                    continue;
                }
                if let Err(e) = self.ops.sync_templates(None, &tenant.id, &c.id).await {
                    tracing::warn!(tenant = %tenant.slug, channel = %c.id, error = %e, "could not sync WhatsApp templates");
                    failed.push(format!("{}: {e}", c.id));
                }
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(failed.join("; "))
        }
    }
}

/// Adds the daily template sync to `jobs`.
pub fn with_sync_job(jobs: crate::scheduler::Jobs, ops: Operations) -> crate::scheduler::Jobs {
    jobs.handle(SYNC, Arc::new(SyncJob { ops })).every(daily())
}
