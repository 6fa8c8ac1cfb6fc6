//! The outbound guard: URLs that tenants give Ombud (webhook receivers, LLM
//! endpoints, channel providers) must not reach the machine's own network —
//! loopback, private, link-local (cloud metadata at 169.254.169.254),
//! unique-local, multicast, documentation or any other special-purpose
//! address (see [`ranges`]) — unless the operator allows a range
//! (`outbound.allow_cidrs`). A URL is checked when it is saved, and every
//! connection is checked again where its name is resolved, so a name that
//! later resolves elsewhere (DNS rebinding) is still refused.
//!
//! Every HTTP client Ombud makes for such URLs comes from [`OutboundPolicy::client`]:
//! resolved through the guard, redirects not followed, and no proxy from the
//! environment (through a proxy the guard would only see the proxy's name).
//! Channel providers have their own rule on top ([`ombud_core::ProviderHosts`]):
//! only the public API or a host the operator lists; a listed host is the
//! operator's word, so [`OutboundPolicy::provider_client`] reaches it
//! wherever it resolves.

mod ranges;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use ombud_core::ProviderHosts;

/// How long a URL's name may take to resolve when it is saved.
const LOOKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy {
    allow: Vec<IpNet>,
    providers: ProviderHosts,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OutboundError {
    #[error("{} {why}; the operator can allow its range in outbound.allow_cidrs", named(.host, .address))]
    Blocked {
        host: String,
        address: IpAddr,
        why: &'static str,
    },
    #[error("{host} could not be resolved: {reason}")]
    Unresolved { host: String, reason: String },
    #[error("not a usable URL: {0}")]
    BadUrl(String),
    #[error("the HTTP client could not be made: {0}")]
    Client(String),
}

/// "10.0.0.1 is", or "intranet.local is 10.0.0.1,".
fn named(host: &str, address: &IpAddr) -> String {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare == address.to_string() {
        format!("{host} is")
    } else {
        format!("{host} is {address},")
    }
}

impl OutboundPolicy {
    pub fn new(allow: Vec<IpNet>) -> Self {
        Self {
            allow,
            providers: ProviderHosts::default(),
        }
    }

    /// The hosts other than the public APIs that channels may use.
    pub fn with_provider_hosts(mut self, providers: ProviderHosts) -> Self {
        self.providers = providers;
        self
    }

    pub fn providers(&self) -> &ProviderHosts {
        &self.providers
    }

    /// The HTTP client for tenants' URLs, built from `builder` (timeouts,
    /// user agent): every name through the guard, no redirects, no proxy.
    pub fn client(
        self: &Arc<Self>,
        builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::Client, OutboundError> {
        self.build(builder, false)
    }

    /// The channel senders' client: as [`client`](Self::client), except that
    /// a host the operator lists as a provider is reached wherever it
    /// resolves (the public APIs are guarded like any name).
    pub fn provider_client(
        self: &Arc<Self>,
        builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::Client, OutboundError> {
        self.build(builder, true)
    }

    fn build(
        self: &Arc<Self>,
        builder: reqwest::ClientBuilder,
        trust_listed: bool,
    ) -> Result<reqwest::Client, OutboundError> {
        builder
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                policy: self.clone(),
                trust_listed,
            }))
            .build()
            .map_err(|e| OutboundError::Client(e.to_string()))
    }

    /// A comma-separated list of CIDR ranges (`127.0.0.0/8, ::1/128`); a bare
    /// address is a range of one.
    pub fn parse_cidrs(list: &str) -> Result<Vec<IpNet>, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{s:?} is not a CIDR range like 10.1.0.0/16"))
            })
            .collect()
    }

    /// Why `ip` may not be reached, unless an allowed range holds it.
    pub fn refuses(&self, ip: IpAddr) -> Option<&'static str> {
        let why = ranges::forbidden(ip)?;
        if self.allow.iter().any(|net| net.contains(&ip)) {
            return None;
        }
        Some(why)
    }

    /// Checks a URL before it is saved: its host, or every address its name
    /// resolves to, must be allowed.
    pub async fn check_url(&self, raw: &str) -> Result<(), OutboundError> {
        let url = url::Url::parse(raw).map_err(|e| OutboundError::BadUrl(e.to_string()))?;
        let host = url
            .host()
            .ok_or_else(|| OutboundError::BadUrl("no host".into()))?;
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs: Vec<IpAddr> = match host {
            url::Host::Ipv4(ip) => vec![IpAddr::V4(ip)],
            url::Host::Ipv6(ip) => vec![IpAddr::V6(ip)],
            url::Host::Domain(name) => {
                let unresolved = |reason: String| OutboundError::Unresolved {
                    host: name.to_owned(),
                    reason,
                };
                tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((name, port)))
                    .await
                    .map_err(|_| unresolved("the lookup timed out".into()))?
                    .map_err(|e| unresolved(e.to_string()))?
                    .map(|a| a.ip())
                    .collect()
            }
        };
        let host = host.to_string();
        for address in addrs {
            if let Some(why) = self.refuses(address) {
                return Err(OutboundError::Blocked { host, address, why });
            }
        }
        Ok(())
    }

    /// Checks a URL's host when it is a literal address, which no resolver
    /// sees; names are checked by [`resolver`](Self::resolver) at connection.
    pub fn check_literal(&self, url: &str) -> Result<(), OutboundError> {
        let Ok(parsed) = url::Url::parse(url) else {
            return Ok(());
        };
        let literal = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            _ => return Ok(()),
        };
        match self.refuses(literal) {
            Some(why) => Err(OutboundError::Blocked {
                host: literal.to_string(),
                address: literal,
                why,
            }),
            None => Ok(()),
        }
    }
}

/// A resolver for `reqwest` that drops every address the policy refuses, and
/// fails when none is left.
struct GuardedResolver {
    policy: Arc<OutboundPolicy>,
    /// Let the operator's provider hosts resolve anywhere.
    trust_listed: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let trusted = self.trust_listed && policy.providers.is_listed(name.as_str());
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match policy.refuses(a.ip()).filter(|_| !trusted) {
                    Some(why) => {
                        refused = Some((a.ip(), why));
                        false
                    }
                    None => true,
                })
                .collect();
            if allowed.is_empty() {
                let err: Box<dyn std::error::Error + Send + Sync> = match refused {
                    Some((address, why)) => Box::new(OutboundError::Blocked { host, address, why }),
                    None => Box::new(OutboundError::Unresolved {
                        host,
                        reason: "no addresses".into(),
                    }),
                };
                return Err(err);
            }
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

impl ombud_agents::llm::UrlGuard for OutboundPolicy {
    fn check(&self, url: &str) -> Result<(), String> {
        self.check_literal(url).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn internal_addresses_are_refused_unless_allowed() {
        let strict = OutboundPolicy::default();
        for url in [
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/",
            "http://[::1]/",
            "http://127.0.0.1:8080/",
            "http://192.168.1.10/",
            "http://172.16.5.4/",
            "http://[fd00:ec2::254]/",
            "http://[::ffff:10.0.0.1]/",
            "http://0.0.0.0/",
            "http://100.64.0.1/",
            "http://localhost/",
            // The tester's gaps, and other spellings URL parsers accept.
            "http://[::127.0.0.1]/",
            "http://192.0.2.1/",
            "http://198.51.100.1/",
            "http://203.0.113.1/",
            "http://[64:ff9b:1::a00:1]/",
            "http://[2001::1]/",
            "http://127.1/",
            "http://0x7f.0.0.1/",
            "http://2130706433/",
            "http://017700000001/",
            "http://[::ffff:7f00:1]/",
            "http://[0:0:0:0:0:ffff:127.0.0.1]/",
        ] {
            let e = strict.check_url(url).await.unwrap_err();
            assert!(matches!(e, OutboundError::Blocked { .. }), "{url}: {e}");
            assert!(e.to_string().contains("outbound.allow_cidrs"), "{e}");
        }
        for url in ["https://93.184.215.14/", "http://[2606:4700::1111]/"] {
            strict.check_url(url).await.unwrap();
        }

        let allow = OutboundPolicy::new(OutboundPolicy::parse_cidrs("127.0.0.0/8, ::1").unwrap());
        allow
            .check_url("http://127.0.0.1:9000/hooks")
            .await
            .unwrap();
        allow.check_url("http://[::1]:9000/").await.unwrap();
        assert!(allow.check_url("http://10.0.0.1/").await.is_err());
        assert!(allow.check_url("http://169.254.169.254/").await.is_err());
    }

    #[test]
    fn cidr_lists_parse_and_name_the_bad_entry() {
        let nets = OutboundPolicy::parse_cidrs(" 127.0.0.0/8 ,10.1.0.0/16,,::1").unwrap();
        assert_eq!(nets.len(), 3);
        let e = OutboundPolicy::parse_cidrs("127.0.0.0/8,localhost").unwrap_err();
        assert!(e.contains("localhost"), "{e}");
    }

    async fn resolve(
        policy: OutboundPolicy,
        trust_listed: bool,
        name: &str,
    ) -> Result<Vec<SocketAddr>, String> {
        use reqwest::dns::Resolve;
        let resolver = GuardedResolver {
            policy: Arc::new(policy),
            trust_listed,
        };
        match resolver.resolve(name.parse().unwrap()).await {
            Ok(a) => Ok(a.collect()),
            Err(e) => Err(e.to_string()),
        }
    }

    #[tokio::test]
    async fn the_resolver_drops_refused_addresses() {
        let err = resolve(OutboundPolicy::default(), false, "localhost")
            .await
            .unwrap_err();
        assert!(err.contains("loopback"), "{err}");
        let open = OutboundPolicy::new(OutboundPolicy::parse_cidrs("127.0.0.0/8,::1").unwrap());
        assert!(!resolve(open, false, "localhost").await.unwrap().is_empty());
    }

    /// A provider name that resolves inside (rebinding, or a hosts file) is
    /// refused at connection unless the operator lists that very name, and
    /// only the senders' client honours the list.
    #[tokio::test]
    async fn provider_hosts_resolve_inside_only_when_listed_and_only_for_senders() {
        let listed = OutboundPolicy::default()
            .with_provider_hosts(ProviderHosts::parse("localhost").unwrap());
        assert!(!resolve(listed.clone(), true, "localhost")
            .await
            .unwrap()
            .is_empty());
        let err = resolve(listed, false, "localhost").await.unwrap_err();
        assert!(err.contains("loopback"), "{err}");
        let other = OutboundPolicy::default()
            .with_provider_hosts(ProviderHosts::parse("127.0.0.1").unwrap());
        let err = resolve(other, true, "localhost").await.unwrap_err();
        assert!(err.contains("loopback"), "{err}");
    }
}
