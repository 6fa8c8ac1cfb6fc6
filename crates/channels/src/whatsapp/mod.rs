//! WhatsApp Cloud API: webhook verification, payload parsing, outbound sends.

mod payload;
pub(crate) mod sender;
mod signature;
mod templates;

pub use payload::{parse_webhook, ParseError, WebhookContent};
pub use sender::WhatsAppSender;
pub use signature::{sign, verify_signature, SignatureError, SIGNATURE_HEADER};

/// The GET handshake Meta makes when a webhook URL is saved: echo `hub.challenge`
/// when the mode is `subscribe` and the token matches, else refuse.
pub fn verify_subscription(
    mode: Option<&str>,
    token: Option<&str>,
    challenge: Option<&str>,
    expected_token: &str,
) -> Option<String> {
    use subtle::ConstantTimeEq;
    let token_ok = token
        .map(|t| bool::from(t.as_bytes().ct_eq(expected_token.as_bytes())))
        .unwrap_or(false);
    match (mode, challenge) {
        (Some("subscribe"), Some(challenge)) if token_ok => Some(challenge.to_owned()),
        _ => None,
    }
}

/// The webhook body WhatsApp sends for one text message to `phone_number_id`:
/// for `ombud say`, the demo and load generators, which act as Meta does.
pub fn text_message_payload(
    phone_number_id: &str,
    from: &str,
    wamid: &str,
    text: &str,
) -> serde_json::Value {
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs().to_string())
        .unwrap_or_default();
    serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "0", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": phone_number_id, "phone_number_id": phone_number_id},
            "contacts": [{"profile": {"name": from}, "wa_id": from}],
            "messages": [{"from": from, "id": wamid, "timestamp": timestamp, "type": "text",
                          "text": {"body": text}}]
        }}]}]
    })
}

/// Merges single-message webhook bodies (as from `text_message_payload`) into
/// one, as Meta sends several updates of one business account: one entry, one
/// change, every contact and message. None if there are none.
pub fn batch_payload(payloads: Vec<serde_json::Value>) -> Option<serde_json::Value> {
    let mut payloads = payloads.into_iter();
    let mut first = payloads.next()?;
    let value = &mut first["entry"][0]["changes"][0]["value"];
    for p in payloads {
        let v = &p["entry"][0]["changes"][0]["value"];
        for key in ["contacts", "messages"] {
            if let (Some(into), Some(from)) = (value[key].as_array_mut(), v[key].as_array()) {
                into.extend(from.iter().cloned());
            }
        }
    }
    Some(first)
}

#[cfg(test)]
mod tests {
    use super::{batch_payload, text_message_payload, verify_subscription};

    #[test]
    fn a_batch_is_one_entry_with_every_message() {
        let body = batch_payload(vec![
            text_message_payload("555", "911", "wamid.a", "one"),
            text_message_payload("555", "912", "wamid.b", "two"),
        ])
        .unwrap();
        let value = &body["entry"][0]["changes"][0]["value"];
        assert_eq!(body["entry"].as_array().unwrap().len(), 1);
        assert_eq!(value["messages"][1]["id"], "wamid.b");
        assert_eq!(value["contacts"][1]["wa_id"], "912");
        assert_eq!(value["metadata"]["phone_number_id"], "555");
        assert!(batch_payload(Vec::new()).is_none());
    }

    #[test]
    fn subscription_needs_mode_token_and_challenge() {
        let ok = verify_subscription(Some("subscribe"), Some("tok"), Some("123"), "tok");
        assert_eq!(ok.as_deref(), Some("123"));
        assert!(verify_subscription(Some("subscribe"), Some("bad"), Some("1"), "tok").is_none());
        assert!(verify_subscription(Some("unsubscribe"), Some("tok"), Some("1"), "tok").is_none());
        assert!(verify_subscription(Some("subscribe"), None, Some("1"), "tok").is_none());
        assert!(verify_subscription(Some("subscribe"), Some("tok"), None, "tok").is_none());
    }
}
