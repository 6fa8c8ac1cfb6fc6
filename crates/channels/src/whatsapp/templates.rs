//! Reading a business account's message templates:
//! `GET {graph_url}/{version}/{waba-id}/message_templates`, page by page
//! (`paging.next`), and the template status webhooks Meta sends to the same
//! callback URL as messages (`message_template_status_update`,
//! `template_category_update`).

use ombud_core::template::{TemplateUpdate, WaTemplate};
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

/// The template news in a webhook body, for the channel whose business
/// account is `waba_id` (entries of other accounts are left alone).
pub fn template_updates(body: &[u8], waba_id: Option<&str>) -> Vec<TemplateUpdate> {
    #[derive(Deserialize)]
    struct Payload {
        #[serde(default)]
        entry: Vec<Entry>,
    }
    #[derive(Deserialize)]
    struct Entry {
        #[serde(default)]
        id: String,
        #[serde(default)]
        changes: Vec<Change>,
    }
    #[derive(Deserialize)]
    struct Change {
        #[serde(default)]
        field: String,
        #[serde(default)]
        value: serde_json::Value,
    }
    let Ok(payload) = serde_json::from_slice::<Payload>(body) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in payload.entry {
        if waba_id.is_some_and(|w| w != entry.id) {
            continue;
        }
        for change in entry.changes {
            let v = &change.value;
            let text = |k: &str| v[k].as_str().map(str::to_owned);
            let (Some(name), Some(language)) = (
                text("message_template_name"),
                text("message_template_language"),
            ) else {
                continue;
            };
            let upper = |k: &str| text(k).map(|s| s.to_ascii_uppercase());
            let update = match change.field.as_str() {
                "message_template_status_update" => TemplateUpdate {
                    name,
                    language,
                    status: upper("event"),
                    category: None,
                },
                "template_category_update" => TemplateUpdate {
                    name,
                    language,
                    status: None,
                    category: upper("new_category").or_else(|| upper("correct_category")),
                },
                _ => continue,
            };
            out.push(update);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_and_category_webhooks_are_read() {
        let body = serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "1020", "time": 1764000000, "changes": [
                {"field": "message_template_status_update", "value": {
                    "event": "PAUSED", "message_template_id": 594425479261596_i64,
                    "message_template_name": "complaint_status", "message_template_language": "hi",
                    "reason": null, "other_info": {"title": "FIRST_PAUSE"}}},
                {"field": "template_category_update", "value": {
                    "message_template_id": 594425479261596_i64,
                    "message_template_name": "complaint_status", "message_template_language": "en_US",
                    "previous_category": "UTILITY", "new_category": "MARKETING"}},
                {"field": "messages", "value": {"messaging_product": "whatsapp"}}
            ]}, {"id": "9999", "changes": [
                {"field": "message_template_status_update", "value": {
                    "event": "APPROVED", "message_template_name": "elsewhere",
                    "message_template_language": "en"}}
            ]}]
        })
        .to_string();
        let updates = template_updates(body.as_bytes(), Some("1020"));
        assert_eq!(updates.len(), 2, "{updates:?}");
        assert_eq!(updates[0].status.as_deref(), Some("PAUSED"));
        assert_eq!(updates[0].language, "hi");
        assert_eq!(updates[1].category.as_deref(), Some("MARKETING"));
        assert_eq!(updates[1].status, None);
        assert!(template_updates(b"not json", Some("1020")).is_empty());
    }

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
