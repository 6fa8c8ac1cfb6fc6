//! Webhook endpoints: where a tenant's domain events are delivered, signed per
//! Standard Webhooks with the endpoint's secret (`whsec_` and base64 of 24
//! random bytes). After a rotation the previous secret signs too, for a day, so
//! receivers can switch without losing a message.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::RngCore;

use crate::{EventType, Secret, TenantId, ValidationError, WebhookEndpointId};

/// How long the previous secret keeps signing after a rotation.
pub const SECRET_OVERLAP_HOURS: i64 = 24;
/// Longest URL an endpoint may have.
pub const MAX_URL_LEN: usize = 2048;
pub const MAX_DESCRIPTION_LEN: usize = 500;

#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEndpoint {
    pub id: WebhookEndpointId,
    pub tenant_id: TenantId,
    pub url: String,
    pub description: String,
    /// The events it receives; empty means all of them.
    pub event_types: Vec<EventType>,
    pub enabled: bool,
    /// Deliveries go out one at a time in the order the events happened (the
    /// default); an endpoint that opts out receives them in parallel.
    pub ordered: bool,
    pub secret: Secret,
    /// The secret before the last rotation, and until when it still signs.
    pub previous_secret: Option<(Secret, DateTime<Utc>)>,
    /// Why Ombud disabled it (410, or failing for days); None if it did not.
    pub disabled_reason: Option<String>,
    /// Since when every attempt has failed; None after a success.
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl WebhookEndpoint {
    pub fn receives(&self, event: EventType) -> bool {
        self.event_types.is_empty() || self.event_types.contains(&event)
    }

    /// The secrets that sign a delivery at `now`: the current one, and the
    /// previous one during its overlap.
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> Vec<&Secret> {
        let mut out = vec![&self.secret];
        if let Some((old, until)) = &self.previous_secret {
            if now < *until {
                out.push(old);
            }
        }
        out
    }
}

/// Why an attempt disables its endpoint, if it does: a receiver that
/// answered 410 Gone, or one whose every attempt has failed for
/// `disable_after` (the failing streak started at `failing_since`). An
/// endpoint disabled already is left as it is.
pub fn disable_reason(
    endpoint: &WebhookEndpoint,
    gone: bool,
    attempted_at: DateTime<Utc>,
    disable_after: chrono::Duration,
) -> Option<String> {
    if !endpoint.enabled {
        return None;
    }
    if gone {
        return Some("the receiver answered 410 Gone".into());
    }
    let since = endpoint.failing_since?;
    let failing = attempted_at - since;
    (failing >= disable_after).then(|| {
        format!(
            "every attempt failed for {} hours (since {})",
            failing.num_hours(),
            since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    })
}

/// A fresh endpoint secret.
pub fn new_secret() -> Secret {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    Secret::new(format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

/// Checks an endpoint URL's form: absolute http(s), a host, no credentials,
/// not too long. Where it points is the outbound guard's business.
pub fn validate_url(raw: &str) -> Result<String, ValidationError> {
    let raw = raw.trim();
    let bad = |reason: &str| Err(ValidationError::new("url", reason));
    if raw.is_empty() {
        return bad("a URL is required");
    }
    if raw.len() > MAX_URL_LEN {
        return bad("at most 2048 characters");
    }
    let parsed = match url::Url::parse(raw) {
        Ok(u) => u,
        Err(e) => return Err(ValidationError::new("url", format!("not a URL: {e}"))),
    };
    if !matches!(parsed.scheme(), "http" | "https") {
        return bad("must start with http:// or https://");
    }
    if parsed.host().is_none() {
        return bad("must name a host");
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return bad("must not carry a user name or password");
    }
    Ok(parsed.to_string())
}

pub fn validate_description(raw: &str) -> Result<String, ValidationError> {
    let d = raw.trim();
    if d.chars().count() > MAX_DESCRIPTION_LEN {
        return Err(ValidationError::new(
            "description",
            "at most 500 characters",
        ));
    }
    Ok(d.to_owned())
}

/// Event type names, sorted and without repeats; unknown names are refused,
/// and so are more than [`limits::EVENT_TYPES`](crate::limits::EVENT_TYPES).
pub fn parse_event_types<S: AsRef<str>>(names: &[S]) -> Result<Vec<EventType>, ValidationError> {
    crate::limits::at_most("event_types", names.len(), crate::limits::EVENT_TYPES)?;
    let mut out: Vec<EventType> = names
        .iter()
        .map(|n| EventType::parse(n.as_ref().trim()))
        .collect::<Result<_, _>>()?;
    out.sort_by_key(|t| t.as_str());
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_absolute_http_without_credentials() {
        assert_eq!(
            validate_url(" https://erp.example.org/hooks ").unwrap(),
            "https://erp.example.org/hooks"
        );
        for bad in [
            "",
            "ftp://x.org/",
            "/relative",
            "https://user:pw@x.org/",
            "not a url",
        ] {
            let e = validate_url(bad).unwrap_err();
            assert_eq!(e.field, "url", "{bad}");
        }
        assert!(validate_url(&format!("https://x.org/{}", "a".repeat(2100))).is_err());
    }

    #[test]
    fn secrets_are_standard_webhooks_keys() {
        let s = new_secret();
        let body = s.expose().strip_prefix("whsec_").unwrap();
        let key = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        assert_eq!(key.len(), 24);
        assert_ne!(new_secret(), s);
    }

    #[test]
    fn event_types_parse_and_name_the_bad_one() {
        let t =
            parse_event_types(&["complaint.created", "message.sent", "complaint.created"]).unwrap();
        assert_eq!(t, vec![EventType::ComplaintCreated, EventType::MessageSent]);
        let e = parse_event_types(&["complaint.deleted"]).unwrap_err();
        assert_eq!(e.field, "event_types");
        assert!(e.reason.contains("complaint.deleted"));
    }

    #[test]
    fn the_previous_secret_signs_only_during_its_overlap() {
        let now = Utc::now();
        let mut e = WebhookEndpoint {
            id: WebhookEndpointId::new(),
            tenant_id: TenantId::new(),
            url: "https://x.org/".into(),
            description: String::new(),
            event_types: vec![],
            enabled: true,
            ordered: true,
            secret: new_secret(),
            previous_secret: Some((new_secret(), now + chrono::Duration::hours(1))),
            disabled_reason: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
        };
        assert_eq!(e.signing_secrets(now).len(), 2);
        assert_eq!(e.signing_secrets(now + chrono::Duration::hours(2)).len(), 1);
        assert!(e.receives(EventType::MessageSent));
        e.event_types = vec![EventType::ComplaintCreated];
        assert!(!e.receives(EventType::MessageSent));
    }

    #[test]
    fn a_410_or_a_long_failing_streak_disables_an_enabled_endpoint() {
        let now = Utc::now();
        let day = chrono::Duration::days(1);
        let mut e = WebhookEndpoint {
            id: WebhookEndpointId::new(),
            tenant_id: TenantId::new(),
            url: "https://x.org/".into(),
            description: String::new(),
            event_types: vec![],
            enabled: true,
            ordered: true,
            secret: new_secret(),
            previous_secret: None,
            disabled_reason: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
        };
        assert_eq!(disable_reason(&e, false, now, day), None, "no streak");
        assert!(disable_reason(&e, true, now, day)
            .unwrap()
            .contains("410 Gone"));
        e.failing_since = Some(now - chrono::Duration::hours(23));
        assert_eq!(disable_reason(&e, false, now, day), None, "not long enough");
        e.failing_since = Some(now - chrono::Duration::hours(25));
        assert!(disable_reason(&e, false, now, day)
            .unwrap()
            .starts_with("every attempt failed for 25 hours"));
        e.enabled = false;
        assert_eq!(disable_reason(&e, true, now, day), None, "disabled already");
    }
}
