//! Which addresses tenants' URLs may not reach: every range of IANA's IPv4 and
//! IPv6 special-purpose address registries (as of 2026), multicast, and every
//! way an IPv6 address can carry an IPv4 one. An address in an IPv4-in-IPv6
//! form is judged as the IPv4 address it carries, so `[::ffff:127.0.0.1]` is
//! "a loopback address", not an IPv6 curiosity.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use ipnet::{Ipv4Net, Ipv6Net};

/// IPv4 ranges and why each is refused. Private, shared and loopback space
/// are internal networks; the rest are not anybody's web server.
const V4: &[(&str, &str)] = &[
    ("0.0.0.0/8", "an unspecified (\"this network\") address"),
    ("10.0.0.0/8", "a private address"),
    ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
    ("127.0.0.0/8", "a loopback address"),
    (
        "169.254.0.0/16",
        "a link-local address (cloud metadata lives there)",
    ),
    ("172.16.0.0/12", "a private address"),
    ("192.0.0.0/24", "an IETF protocol address"),
    ("192.0.2.0/24", "a documentation address (TEST-NET-1)"),
    ("192.31.196.0/24", "an AS112 address"),
    ("192.52.193.0/24", "an AMT address"),
    ("192.88.99.0/24", "a 6to4 relay anycast address"),
    ("192.168.0.0/16", "a private address"),
    ("192.175.48.0/24", "an AS112 address"),
    ("198.18.0.0/15", "a benchmarking address"),
    ("198.51.100.0/24", "a documentation address (TEST-NET-2)"),
    ("203.0.113.0/24", "a documentation address (TEST-NET-3)"),
    ("224.0.0.0/4", "a multicast address"),
    ("240.0.0.0/4", "a reserved address"),
];

/// IPv6 ranges and why each is refused. The IPv4-in-IPv6 forms come first:
/// [`forbidden`] judges those by the IPv4 address inside, and only falls
/// back to the reason here when that address is itself allowed.
const V6: &[(&str, &str)] = &[
    ("::/128", "an unspecified address"),
    ("::1/128", "a loopback address"),
    ("::ffff:0:0/96", "an IPv4-mapped address"),
    ("::ffff:0:0:0/96", "an IPv4-translated address"),
    ("::/96", "an IPv4-compatible address"),
    ("64:ff9b::/96", "a NAT64 address"),
    ("64:ff9b:1::/48", "a local-use NAT64 address"),
    ("100::/64", "a discard-only address"),
    ("100:0:0:1::/64", "a dummy address"),
    ("2001::/32", "a Teredo address"),
    ("2001::/23", "an IETF protocol address"),
    ("2001:db8::/32", "a documentation address"),
    ("2002::/16", "a 6to4 address"),
    ("2620:4f:8000::/48", "an AS112 address"),
    ("3fff::/20", "a documentation address"),
    ("5f00::/16", "a segment-routing (SRv6) address"),
    ("fc00::/7", "a unique-local (private) address"),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a site-local address"),
    ("ff00::/8", "a multicast address"),
];

struct Table {
    v4: Vec<(Ipv4Net, &'static str)>,
    v6: Vec<(Ipv6Net, &'static str)>,
}

static TABLE: LazyLock<Table> = LazyLock::new(|| Table {
    v4: V4
        .iter()
        .filter_map(|(net, why)| Some((net.parse().ok()?, *why)))
        .collect(),
    v6: V6
        .iter()
        .filter_map(|(net, why)| Some((net.parse().ok()?, *why)))
        .collect(),
});

/// Why an address is not for tenants' URLs, if it is not.
pub(super) fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                if let Some(why) = forbidden_v4(v4) {
                    return Some(why);
                }
            }
            TABLE
                .v6
                .iter()
                .find(|(net, _)| net.contains(&v6))
                .map(|(_, why)| *why)
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    if ip.is_broadcast() {
        return Some("a broadcast address");
    }
    TABLE
        .v4
        .iter()
        .find(|(net, _)| net.contains(&ip))
        .map(|(_, why)| *why)
}

/// The IPv4 address an IPv6 address carries, in any of the forms that stacks,
/// translators or tunnels act on: mapped, compatible, translated, NAT64
/// (both prefixes), 6to4 and Teredo (its client address, inverted).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => Some(low(hi, lo)),
        [0, 0, 0, 0, 0xffff, 0, hi, lo] => Some(low(hi, lo)),
        [0, 0, 0, 0, 0, 0, hi, lo] if (hi, lo) != (0, 0) && (hi, lo) != (0, 1) => Some(low(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(low(hi, lo)),
        [0x64, 0xff9b, 1, ..] => Some(low(s[6], s[7])),
        [0x2002, hi, lo, ..] => Some(low(hi, lo)),
        [0x2001, 0, _, _, _, _, hi, lo] => Some(low(!hi, !lo)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_range_in_the_tables_parses() {
        assert_eq!(TABLE.v4.len(), V4.len());
        assert_eq!(TABLE.v6.len(), V6.len());
    }

    /// Each form of an address, and what the guard says of it.
    #[test]
    fn address_forms_are_judged_by_what_they_reach() {
        let refused: &[(&str, &str)] = &[
            ("127.0.0.1", "loopback"),
            ("127.255.255.254", "loopback"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("10.1.2.3", "private"),
            ("172.31.255.255", "private"),
            ("192.168.0.1", "private"),
            ("100.64.0.1", "shared"),
            ("169.254.169.254", "link-local"),
            ("192.0.0.170", "IETF protocol"),
            ("192.0.2.1", "TEST-NET-1"),
            ("198.51.100.7", "TEST-NET-2"),
            ("203.0.113.9", "TEST-NET-3"),
            ("198.18.0.1", "benchmarking"),
            ("192.88.99.1", "6to4 relay"),
            ("192.31.196.1", "AS112"),
            ("224.0.0.1", "multicast"),
            ("240.0.0.1", "reserved"),
            ("255.255.255.255", "broadcast"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            // IPv4 inside IPv6: judged as the IPv4 address.
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:7f00:1", "loopback"),
            ("::127.0.0.1", "loopback"),
            ("::ffff:0:127.0.0.1", "loopback"),
            ("::ffff:0:a00:1", "private"),
            ("64:ff9b::127.0.0.1", "loopback"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
            ("64:ff9b:1::10.0.0.1", "private"),
            ("2002:7f00:1::", "loopback"),
            ("2002:a9fe:a9fe::1", "link-local"),
            ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"),
            // Embedding a public IPv4 address is still not a web server.
            ("::ffff:93.184.215.14", "IPv4-mapped"),
            ("::93.184.215.14", "IPv4-compatible"),
            ("64:ff9b::93.184.215.14", "NAT64"),
            ("64:ff9b:1::5db8:d70e", "NAT64"),
            ("2002:5db8:d70e::1", "6to4"),
            ("2001:0:4136:e378:8000:63bf:a247:2af1", "Teredo"),
            ("2001::1", "reserved"),
            ("2001:2::1", "IETF protocol"),
            ("2001:db8::1", "documentation"),
            ("3fff::1", "documentation"),
            ("100::1", "discard"),
            ("5f00::1", "segment-routing"),
            ("fd00:ec2::254", "unique-local"),
            ("fe80::1", "link-local"),
            ("fec0::1", "site-local"),
            ("ff02::1", "multicast"),
            ("2620:4f:8000::1", "AS112"),
        ];
        for (addr, reason) in refused {
            let ip: IpAddr = addr.parse().unwrap();
            let why = forbidden(ip).unwrap_or_else(|| panic!("{addr} was allowed"));
            assert!(why.contains(reason), "{addr}: {why}, expected {reason}");
        }
        for addr in [
            "93.184.215.14",
            "8.8.8.8",
            "1.1.1.1",
            "192.0.3.1",
            "198.51.101.1",
            "203.0.114.1",
            "100.128.0.1",
            "2606:4700::1111",
            "2a03:2880:f10c:83:face:b00c:0:25de",
            "2001:4860:4860::8888",
        ] {
            let ip: IpAddr = addr.parse().unwrap();
            assert_eq!(forbidden(ip), None, "{addr}");
        }
    }
}
