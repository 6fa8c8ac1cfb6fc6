//! `ombud say`: sends a text to a running Ombud exactly as WhatsApp would, signed
//! with the channel's app secret, for trying a channel (and the demo) without a
//! phone.

use ombud_channels::whatsapp::{sign, text_message_payload};
use ombud_core::id::new_id_body;
use serde_json::json;

use crate::app::open_store;
use crate::Config;

pub async fn run(
    config: &Config,
    tenant: &str,
    from: &str,
    text: &str,
    url: Option<String>,
) -> anyhow::Result<serde_json::Value> {
    let store = open_store(config).await?;
    let tenant = crate::cli::tenant_by_slug(store.as_ref(), tenant).await?;
    let channel = store
        .channels(&tenant.id)
        .await?
        .into_iter()
        .find(|c| c.whatsapp().is_some())
        .ok_or_else(|| anyhow::anyhow!("tenant {} has no WhatsApp channel", tenant.slug))?;
    let Some(whatsapp) = channel.whatsapp() else {
        anyhow::bail!("tenant {} has no WhatsApp channel", tenant.slug);
    };
    let wamid = format!("wamid.SAY{}", new_id_body());
    let body = text_message_payload(&whatsapp.phone_number_id, from, &wamid, text).to_string();
    let base = url.unwrap_or_else(|| format!("http://{}", config.listen));
    let target = format!("{}{}", base.trim_end_matches('/'), channel.webhook_path());
    let response = reqwest::Client::new()
        .post(&target)
        .header("content-type", "application/json")
        .header(
            "x-hub-signature-256",
            sign(whatsapp.app_secret.expose(), body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "could not reach {target}: is `ombud serve` (or `ombud demo`) running? ({e})"
            )
        })?;
    let status = response.status().as_u16();
    let answer: serde_json::Value = response.json().await.unwrap_or(serde_json::Value::Null);
    if status != 200 {
        anyhow::bail!("{target} answered {status}: {answer}");
    }
    Ok(json!({"sent": wamid, "to": target, "answer": answer}))
}
