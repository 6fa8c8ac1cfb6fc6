//! The outbound guard: URLs that tenants give Ombud (webhook receivers, LLM
//! endpoints) must not reach the machine's own network — loopback, private,
//! link-local (cloud metadata at 169.254.169.254), unique-local, multicast,
//! documentation or any other special-purpose address (see [`ranges`]) — unless the operator allows a range
//! (`outbound.allow_cidrs`). A URL is checked when it is saved, and every
//! connection is checked again where its name is resolved, so a name that
//! later resolves elsewhere (DNS rebinding) is still refused.

mod ranges;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;

/// How long a URL's name may take to resolve when it is saved.
const LOOKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy {
    allow: Vec<IpNet>,
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
        Self { allow }
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

    /// A resolver for `reqwest` that drops every address the policy refuses,
    /// and fails when none is left.
    pub fn resolver(self: &Arc<Self>) -> Arc<GuardedResolver> {
        Arc::new(GuardedResolver {
            policy: self.clone(),
        })
    }
}

pub struct GuardedResolver {
    policy: Arc<OutboundPolicy>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match policy.refuses(a.ip()) {
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

    #[tokio::test]
    async fn the_resolver_drops_refused_addresses() {
        use reqwest::dns::Resolve;
        let strict = Arc::new(OutboundPolicy::default());
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let err = match strict.resolver().resolve(name).await {
            Ok(_) => panic!("localhost resolved through the guard"),
            Err(e) => e,
        };
        assert!(err.to_string().contains("loopback"), "{err}");
        let open = Arc::new(OutboundPolicy::new(
            OutboundPolicy::parse_cidrs("127.0.0.0/8,::1").unwrap(),
        ));
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let addrs: Vec<SocketAddr> = match open.resolver().resolve(name).await {
            Ok(a) => a.collect(),
            Err(e) => panic!("{e}"),
        };
        assert!(!addrs.is_empty());
    }
}
