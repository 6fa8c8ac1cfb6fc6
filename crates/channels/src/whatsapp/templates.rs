//! Reading a business account's message templates:
//! `GET {graph_url}/{version}/{waba-id}/message_templates`, page by page
//! (`paging.next`). Their status webhooks come with the messages' (`payload`).

use ombud_core::template::WaTemplate;
use ombud_core::{Channel, ChannelKind};
use serde::Deserialize;

use super::WhatsAppSender;
use crate::SendError;

/// Pages read at most (100 templates each).
const MAX_PAGES: usize = 25;

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    data: Vec<Listed>,
    #[serde(default)]
    paging: Option<Paging>,
}

#[derive(Deserialize)]
struct Paging {
    #[serde(default)]
    cursors: Option<Cursors>,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
struct Cursors {
    #[serde(default)]
    after: Option<String>,
}

#[derive(Deserialize)]
struct Listed {
    name: String,
    language: String,
    status: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    parameter_format: Option<String>,
    #[serde(default)]
    components: Vec<Component>,
}

#[derive(Deserialize)]
struct Component {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    text: Option<String>,
}

impl From<Listed> for WaTemplate {
    fn from(t: Listed) -> Self {
        let part = |kind: &str| {
            t.components
                .iter()
                .find(|c| c.kind.eq_ignore_ascii_case(kind))
                .filter(|c| {
                    c.format
                        .as_deref()
                        .is_none_or(|f| f.eq_ignore_ascii_case("TEXT"))
                })
                .and_then(|c| c.text.clone())
        };
        WaTemplate {
            body: part("BODY").or_else(|| Some(String::new())),
            header: part("HEADER"),
            named_params: t
                .parameter_format
                .as_deref()
                .is_some_and(|f| f.eq_ignore_ascii_case("NAMED")),
            name: t.name,
            language: t.language,
            status: t.status.to_ascii_uppercase(),
            category: t.category.to_ascii_uppercase(),
        }
    }
}

impl WhatsAppSender {
    /// Every template of the channel's business account, with its status,
    /// category and texts.
    pub async fn list_templates(&self, channel: &Channel) -> Result<Vec<WaTemplate>, SendError> {
        let cfg = channel.whatsapp().ok_or_else(|| SendError::Permanent {
            reason: format!("{} is not a WhatsApp channel", channel.id),
        })?;
        let waba = cfg.waba_id.as_deref().ok_or_else(|| SendError::Permanent {
            reason: "the channel has no WhatsApp Business Account id (waba_id)".into(),
        })?;
        let graph_url = crate::provider_url(
            &self.providers,
            ChannelKind::Whatsapp,
            "graph_url",
            &cfg.graph_url,
        )?;
        let base = format!("{graph_url}/{}/{waba}/message_templates", cfg.api_version);
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![
                (
                    "fields",
                    "name,language,status,category,parameter_format,components".to_owned(),
                ),
                ("limit", "100".to_owned()),
            ];
            if let Some(a) = &after {
                query.push(("after", a.clone()));
            }
            let request = self
                .http
                .get(&base)
                .query(&query)
                .bearer_auth(cfg.access_token.expose());
            let (status, text) = super::sender::graph_call(request).await?;
            let page: Page = serde_json::from_str(&text).map_err(|e| SendError::Permanent {
                reason: format!("HTTP {status} with a body that is not a template list: {e}"),
            })?;
            out.extend(page.data.into_iter().map(WaTemplate::from));
            let paging = page.paging.unwrap_or(Paging {
                cursors: None,
                next: None,
            });
            // Meta gives `next` only while there is more.
            match (paging.next, paging.cursors.and_then(|c| c.after)) {
                (Some(_), Some(a)) if after.as_ref() != Some(&a) => after = Some(a),
                _ => return Ok(out),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listed_template_keeps_its_texts() {
        let listed: Listed = serde_json::from_value(serde_json::json!({
            "name": "complaint_status", "language": "en_US", "status": "APPROVED",
            "category": "UTILITY", "id": "1",
            "components": [
                {"type": "HEADER", "format": "TEXT", "text": "Complaint {{1}}"},
                {"type": "BODY", "text": "Your complaint {{1}} is now {{2}}."},
                {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Thanks"}]}
            ]
        }))
        .unwrap();
        let t = WaTemplate::from(listed);
        assert_eq!(
            t.body.as_deref(),
            Some("Your complaint {{1}} is now {{2}}.")
        );
        assert_eq!(t.header.as_deref(), Some("Complaint {{1}}"));
        assert!(t.approved() && !t.named_params);
    }
}
