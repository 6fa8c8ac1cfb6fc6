//! A channel's settings besides its credentials: a web chat's sites and
//! greetings (a WhatsApp number's templates are `templates`'s).

use std::collections::BTreeMap;

use ombud_core::audit::{FieldChange, Target};
use ombud_core::*;
use ombud_store::{StoreError, StoreResult};

use super::{Acting, Operations};

/// What a tenant admin sets of a web chat.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebchatSettings {
    /// The sites that may embed it (empty: any), one spelling or another
    /// (`WebchatConfig::origins_from`).
    pub allowed_origins: Vec<String>,
    /// The office's greeting by language; a language left out has none.
    pub greetings: BTreeMap<Language, String>,
}

impl Operations {
    /// The tenant's channel `id` if it is of `kind`; NotFound (as `what`)
    /// for another tenant's or another kind's.
    pub async fn channel_of_kind(
        &self,
        tenant: &TenantId,
        id: &ChannelId,
        kind: ChannelKind,
        what: &'static str,
    ) -> StoreResult<Channel> {
        match self.store.channel(id).await? {
            Some(c) if &c.tenant_id == tenant && c.kind() == kind => Ok((*c).clone()),
            _ => Err(StoreError::NotFound(what)),
        }
    }

    /// Sets a web chat's sites and greetings, checked (the error names the
    /// field) and audited with what changed. Greetings are trimmed; an
    /// empty one is left out.
    pub async fn set_webchat(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        id: &ChannelId,
        settings: WebchatSettings,
    ) -> StoreResult<Channel> {
        let before = self
            .channel_of_kind(tenant, id, ChannelKind::Webchat, "web chat channel")
            .await?;
        let mut after = before.clone();
        let ChannelConfig::Webchat(w) = &mut after.config else {
            return Err(StoreError::NotFound("web chat channel"));
        };
        w.allowed_origins = settings
            .allowed_origins
            .iter()
            .flat_map(|o| WebchatConfig::origins_from(o))
            .collect();
        w.greetings = settings
            .greetings
            .into_iter()
            .map(|(l, text)| (l, text.trim().replace("\r\n", "\n")))
            .filter(|(_, text)| !text.is_empty())
            .collect();
        w.check()?;
        let ChannelConfig::Webchat(old) = &before.config else {
            return Err(StoreError::NotFound("web chat channel"));
        };
        let now = self.now();
        let entry = acting
            .entry(
                tenant,
                now,
                "channel.webchat_set",
                Target::new("channel", &before.id, Some(before.name.clone())),
            )
            .with_changes(
                [
                    FieldChange::changed(
                        "allowed_origins",
                        &old.allowed_origins,
                        &w.allowed_origins,
                    ),
                    FieldChange::changed("greetings", &old.greetings, &w.greetings),
                ]
                .into_iter()
                .flatten(),
            );
        self.store
            .set_channel_settings(tenant, &after, now, vec![entry])
            .await
    }
}
