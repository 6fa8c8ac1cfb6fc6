//! Where a channel's provider API may live. A WhatsApp channel talks to
//! Meta's Graph API and a Telegram channel to the Bot API, each at its public
//! https address; any other host (a local stand-in in tests, the demo, a
//! proxy) only when the operator lists it in `outbound.provider_hosts`. A
//! tenant admin can therefore never point Ombud's senders, with a bearer
//! token of their choosing, at a service inside the operator's network.

use crate::{ChannelKind, ValidationError};

/// The operator's extra provider hosts; the public ones are always allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderHosts {
    listed: Vec<String>,
}

impl ProviderHosts {
    /// `127.0.0.1, graph-proxy.internal, [::1]`: host names or addresses,
    /// without scheme or port (a listed host may be used on any port).
    pub fn parse(list: &str) -> Result<Self, String> {
        let listed = list
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(|h| {
                let bracketed = match h.parse::<std::net::Ipv6Addr>() {
                    Ok(ip) => format!("[{ip}]"),
                    Err(_) => h.to_owned(),
                };
                let parsed = url::Host::parse(&bracketed).ok().filter(|_| {
                    !h.contains(['/', '@']) && (!h.contains(':') || bracketed.starts_with('['))
                });
                match parsed {
                    Some(host) => Ok(host_text(&host)),
                    None => Err(format!(
                        "{h:?} is not a host name or address like graph-proxy.internal or 127.0.0.1"
                    )),
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { listed })
    }

    /// The public API of a channel kind, which every channel may use.
    pub fn official(kind: ChannelKind) -> Option<&'static str> {
        match kind {
            ChannelKind::Whatsapp => Some("graph.facebook.com"),
            ChannelKind::Telegram => Some("api.telegram.org"),
            ChannelKind::Webchat => None,
        }
    }

    /// Whether the operator listed `host` (as a URL spells it).
    pub fn is_listed(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.listed.contains(&host)
    }

    /// Checks a channel's provider URL (`field` names it in the error) and
    /// returns it without a trailing slash. The public API must be reached
    /// over https; a listed host may use http (a stand-in on loopback).
    pub fn check(
        &self,
        kind: ChannelKind,
        field: &'static str,
        raw: &str,
    ) -> Result<String, ValidationError> {
        let invalid = |reason: String| ValidationError::new(field, reason);
        let trimmed = raw.trim().trim_end_matches('/');
        let url = url::Url::parse(trimmed)
            .map_err(|_| invalid("must be an http:// or https:// URL".into()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("must be an http:// or https:// URL".into()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("must not carry a user name or password".into()));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("must not have a query or a fragment".into()));
        }
        let host = url
            .host()
            .map(|h| host_text(&h.to_owned()))
            .ok_or_else(|| invalid("must name a host".into()))?;
        let official = Self::official(kind);
        if official == Some(host.as_str()) {
            if url.scheme() != "https" {
                return Err(invalid(format!("must use https to reach {host}")));
            }
        } else if !self.is_listed(&host) {
            let public = official.map_or_else(String::new, |o| format!("not {o}, and "));
            return Err(invalid(format!(
                "{host} is {public}not a provider host this server allows (the operator lists others in outbound.provider_hosts)"
            )));
        }
        Ok(trimmed.to_owned())
    }
}

/// A host as URLs spell it: lower case, IPv6 in brackets.
fn host_text(host: &url::Host<String>) -> String {
    match host {
        url::Host::Domain(d) => d.to_ascii_lowercase(),
        url::Host::Ipv4(ip) => ip.to_string(),
        url::Host::Ipv6(ip) => format!("[{ip}]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ChannelKind::*;

    #[test]
    fn the_public_apis_are_allowed_over_https_only() {
        let none = ProviderHosts::default();
        assert_eq!(
            none.check(Whatsapp, "graph_url", "https://graph.facebook.com/")
                .unwrap(),
            "https://graph.facebook.com"
        );
        assert!(none
            .check(Telegram, "api_url", "https://API.telegram.org")
            .is_ok());
        let e = none
            .check(Whatsapp, "graph_url", "http://graph.facebook.com")
            .unwrap_err();
        assert!(e.reason.contains("https"), "{e}");
        // Each kind has its own.
        assert!(none
            .check(Whatsapp, "graph_url", "https://api.telegram.org")
            .is_err());
    }

    #[test]
    fn other_hosts_only_when_the_operator_lists_them() {
        let none = ProviderHosts::default();
        for url in [
            "http://127.0.0.1:18091",
            "http://localhost:8080/graph",
            "https://graph.facebook.com.evil.example",
            "http://[::1]:9000",
            "http://169.254.169.254/latest",
            "http://internal-graph.corp",
        ] {
            let e = none.check(Whatsapp, "graph_url", url).unwrap_err();
            assert_eq!(e.field, "graph_url");
            assert!(e.reason.contains("outbound.provider_hosts"), "{url}: {e}");
        }
        let listed = ProviderHosts::parse("127.0.0.1, Graph-Proxy.internal, [::1]").unwrap();
        assert!(listed
            .check(Whatsapp, "graph_url", "http://127.0.0.1:18091/")
            .is_ok());
        assert!(listed
            .check(Telegram, "api_url", "https://graph-proxy.internal:8443")
            .is_ok());
        assert!(listed
            .check(Whatsapp, "graph_url", "http://[::1]:9000")
            .is_ok());
        // The same address spelled another way is parsed to the same host.
        assert!(listed
            .check(Whatsapp, "graph_url", "http://2130706433:18091")
            .is_ok());
        assert!(listed
            .check(Whatsapp, "graph_url", "http://127.0.0.2")
            .is_err());
    }

    #[test]
    fn urls_with_credentials_queries_or_other_schemes_are_refused() {
        let listed = ProviderHosts::parse("127.0.0.1").unwrap();
        for (url, why) in [
            ("ftp://127.0.0.1", "http"),
            ("file:///etc/passwd", "http"),
            ("graph.facebook.com", "http"),
            ("https://user:pw@graph.facebook.com", "password"),
            ("https://graph.facebook.com?x=1", "query"),
            ("http://127.0.0.1/#frag", "fragment"),
        ] {
            let e = listed.check(Whatsapp, "graph_url", url).unwrap_err();
            assert!(e.reason.contains(why), "{url}: {e}");
        }
    }

    #[test]
    fn the_operators_list_is_checked() {
        assert!(ProviderHosts::parse("").unwrap().listed.is_empty());
        for bad in ["http://127.0.0.1", "127.0.0.1:8080", "a b", "x/y"] {
            let e = ProviderHosts::parse(bad).unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
    }
}
