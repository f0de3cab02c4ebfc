//! Which `callback_url` a partner may give (PROTOCOL.md "Input and abuse"):
//! `https`, without user info, to a host that is not an IP literal inside a
//! private, loopback, link-local, multicast, reserved or cloud-metadata
//! range. Plain `http` (and any loopback host) only to `localhost` or
//! `127.0.0.1`, and only when the deployment allows it
//! (`ALLOW_HTTP_CALLBACKS=1`, for local development).
//!
//! The host is read by the `url` crate, the WHATWG URL parser browsers use,
//! so every spelling of an IPv4 address (`2852039166`, `0xA9FEA9FE`,
//! `0251.254.169.254`, `169.254.43518`, full-width digits, a trailing dot)
//! comes out as the one address it is, and IDN names come out in punycode.

use std::net::{Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use super::invalid::Invalid;

/// Longest callback URL accepted.
pub const MAX_CALLBACK_URL_CHARS: usize = 2048;

/// Whether the deployment accepts callbacks to the local machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallbackPolicy {
    /// Production: `https` to public hosts only.
    #[default]
    PublicHttpsOnly,
    /// Local development (`ALLOW_HTTP_CALLBACKS=1`): also `http` or `https`
    /// to `localhost` or `127.0.0.1`.
    AllowLocalHttp,
}

/// Checks a `callback_url`; the URL in its normal form when it is allowed.
pub fn callback_url(raw: &str, policy: CallbackPolicy) -> Result<String, Invalid> {
    let refuse = |rule: &str| Invalid::field("callback_url", rule);
    if raw.len() > MAX_CALLBACK_URL_CHARS {
        return Err(refuse("must be at most 2048 characters"));
    }
    let url = Url::parse(raw).map_err(|_| refuse("must be an absolute https URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("must not carry user info (user:password@)"));
    }
    let local = is_local_dev_host(&url);
    match (url.scheme(), policy, local) {
        ("https", _, false) => {}
        ("http" | "https", CallbackPolicy::AllowLocalHttp, true) => return Ok(url.to_string()),
        ("http", _, _) => {
            return Err(refuse(
                "must be https (plain http only to localhost or 127.0.0.1 when ALLOW_HTTP_CALLBACKS is 1)",
            ))
        }
        (_, _, true) => return Err(refuse("must not point at this machine (localhost)")),
        _ => return Err(refuse("must be an absolute https URL")),
    }
    if url.port() == Some(0) {
        return Err(refuse("must not use port 0"));
    }
    match url.host() {
        Some(Host::Domain(_)) => Ok(url.to_string()),
        Some(Host::Ipv4(ip)) if ipv4_is_public(ip) => Ok(url.to_string()),
        Some(Host::Ipv6(ip)) if ipv6_is_public(ip) => Ok(url.to_string()),
        Some(_) => Err(refuse(
            "must not be an IP address in a private, loopback, link-local, multicast, reserved or cloud-metadata range",
        )),
        None => Err(refuse("must be an absolute https URL")),
    }
}

/// `localhost`, any name under it, and `127.0.0.1`: the hosts local
/// development may call back.
fn is_local_dev_host(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.');
            name == "localhost" || name.ends_with(".localhost")
        }
        Some(Host::Ipv4(ip)) => ip == Ipv4Addr::LOCALHOST,
        _ => false,
    }
}

/// Whether an IPv4 address is globally reachable: none of the IANA
/// special-purpose blocks that are not (this network, private, CGNAT with
/// Alibaba's metadata `100.100.100.200`, loopback, link-local with the
/// common metadata `169.254.169.254`, IETF assignments with Oracle's
/// `192.0.0.192`, documentation, benchmarking, multicast, reserved,
/// broadcast).
pub fn ipv4_is_public(ip: Ipv4Addr) -> bool {
    const BLOCKED: [(u32, u8); 15] = [
        (0x0000_0000, 8),  // 0.0.0.0/8 this network, unspecified
        (0x0A00_0000, 8),  // 10.0.0.0/8 private
        (0x6440_0000, 10), // 100.64.0.0/10 shared address space (CGNAT)
        (0x7F00_0000, 8),  // 127.0.0.0/8 loopback
        (0xA9FE_0000, 16), // 169.254.0.0/16 link-local, cloud metadata
        (0xAC10_0000, 12), // 172.16.0.0/12 private
        (0xC000_0000, 24), // 192.0.0.0/24 IETF protocol assignments
        (0xC000_0200, 24), // 192.0.2.0/24 documentation
        (0xC058_6300, 24), // 192.88.99.0/24 6to4 relay anycast
        (0xC0A8_0000, 16), // 192.168.0.0/16 private
        (0xC612_0000, 15), // 198.18.0.0/15 benchmarking
        (0xC633_6400, 24), // 198.51.100.0/24 documentation
        (0xCB00_7100, 24), // 203.0.113.0/24 documentation
        (0xE000_0000, 4),  // 224.0.0.0/4 multicast
        (0xF000_0000, 4),  // 240.0.0.0/4 reserved, broadcast
    ];
    let bits = u32::from(ip);
    !BLOCKED.iter().any(|&(net, len)| bits >> (32 - len) == net >> (32 - len))
}

/// Whether an IPv6 address is globally reachable. Addresses that carry an
/// IPv4 one (mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4
/// `2002:AABB:CCDD::`) are judged by that address.
pub fn ipv6_is_public(ip: Ipv6Addr) -> bool {
    let bits = u128::from(ip);
    let in_block = |net: u128, len: u32| bits >> (128 - len) == net >> (128 - len);
    let embedded_v4 = |shift: u32| Ipv4Addr::from((bits >> shift) as u32);
    if in_block(0xffff << 32, 96) || in_block(0x0064_ff9b << 96, 96) {
        return ipv4_is_public(embedded_v4(0));
    }
    if in_block(0x2002 << 112, 16) {
        return ipv4_is_public(embedded_v4(80));
    }
    const BLOCKED: [(u128, u32); 10] = [
        (0, 96),                      // ::/96 unspecified, loopback, IPv4-compatible
        (0x0064_ff9b_0001 << 80, 48), // 64:ff9b:1::/48 local-use NAT64
        (0x0100 << 112, 64),          // 100::/64 discard
        (0x2001 << 112, 23),          // 2001::/23 IETF assignments (Teredo, ...)
        (0x2001_0db8 << 96, 32),      // 2001:db8::/32 documentation
        (0x3fff << 112, 20),          // 3fff::/20 documentation
        (0xfc00 << 112, 7),           // fc00::/7 unique local (AWS metadata fd00:ec2::254)
        (0xfe80 << 112, 10),          // fe80::/10 link-local
        (0xfec0 << 112, 10),          // fec0::/10 site-local (deprecated)
        (0xff00 << 112, 8),           // ff00::/8 multicast
    ];
    !BLOCKED.iter().any(|&(net, len)| in_block(net, len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use CallbackPolicy::{AllowLocalHttp, PublicHttpsOnly};

    fn accepted(raw: &str, policy: CallbackPolicy) -> bool {
        callback_url(raw, policy).is_ok()
    }

    #[test]
    fn public_https_urls_are_accepted_in_normal_form() {
        for raw in [
            "https://partner.example/hooks",
            "https://partner.example:8443/hooks?x=1",
            "https://8.8.8.8/h",
            "https://[2606:4700:4700::1111]/h",
            "https://1.1.1.1:443/",
            "https://münchen.example/hook",
        ] {
            assert!(accepted(raw, PublicHttpsOnly), "{raw}");
        }
        assert_eq!(callback_url("HTTPS://Partner.Example/h", PublicHttpsOnly).unwrap(), "https://partner.example/h");
        assert_eq!(
            callback_url("https://münchen.example/hook", PublicHttpsOnly).unwrap(),
            "https://xn--mnchen-3ya.example/hook",
            "IDN hosts are kept in punycode"
        );
    }

    #[test]
    fn ipv4_literals_in_reserved_ranges_are_refused_in_every_spelling() {
        for raw in [
            "https://169.254.169.254/latest/meta-data",
            "https://2852039166/",                  // 169.254.169.254 as one decimal number
            "https://0xA9FEA9FE/",                  // ... as hex
            "https://0xa9.0xfe.0xa9.0xfe/",         // ... hex per part
            "https://0251.0376.0251.0376/",         // ... octal
            "https://169.254.43518/",               // ... short form
            "https://169.254.169.254./",            // trailing dot
            "https://１６９.２５４.１６９.２５４/", // full-width digits
            "https://127.0.0.1/",
            "https://127.1/",
            "https://0177.0.0.1/",
            "https://2130706433/",
            "https://0.0.0.0/",
            "https://0/",
            "https://10.0.0.1/",
            "https://172.16.0.1/",
            "https://172.31.255.255/",
            "https://192.168.1.1/",
            "https://100.64.0.1/",
            "https://100.100.100.200/", // Alibaba metadata
            "https://192.0.0.192/",     // Oracle metadata
            "https://198.18.0.1/",
            "https://192.0.2.1/",
            "https://224.0.0.1/",
            "https://239.255.255.250/",
            "https://240.0.0.1/",
            "https://255.255.255.255/",
        ] {
            assert!(!accepted(raw, PublicHttpsOnly), "{raw}");
        }
    }

    #[test]
    fn ipv6_literals_in_reserved_ranges_are_refused() {
        for raw in [
            "https://[::1]/",
            "https://[::]/",
            "https://[::ffff:169.254.169.254]/",
            "https://[::ffff:a9fe:a9fe]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:10.0.0.1]/",
            "https://[::127.0.0.1]/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "https://[2002:a9fe:a9fe::1]/",
            "https://[fd00:ec2::254]/", // AWS metadata over IPv6
            "https://[fc00::1]/",
            "https://[fe80::1]/",
            "https://[fec0::1]/",
            "https://[ff02::1]/",
            "https://[2001:db8::1]/",
            "https://[2001::1]/",
            "https://[100::1]/",
        ] {
            assert!(!accepted(raw, PublicHttpsOnly), "{raw}");
        }
        assert!(accepted("https://[::ffff:8.8.8.8]/", PublicHttpsOnly), "a mapped public address is public");
    }

    #[test]
    fn user_info_is_refused() {
        for raw in ["https://user@partner.example/", "https://user:pw@partner.example/", "https://:pw@partner.example/"]
        {
            let err = callback_url(raw, PublicHttpsOnly).unwrap_err();
            assert!(err.0.contains("user info"), "{raw}: {err}");
        }
    }

    #[test]
    fn only_https_is_accepted_in_production() {
        for raw in [
            "http://partner.example/h",
            "http://localhost/h",
            "http://127.0.0.1:8080/h",
            "https://localhost/h",
            "https://api.localhost/h",
            "ftp://partner.example/h",
            "javascript:alert(1)",
            "not a url",
            "https://",
            "//partner.example/h",
            "https://partner.example:0/h",
            "https://partner.example:65536/h",
        ] {
            assert!(!accepted(raw, PublicHttpsOnly), "{raw}");
        }
    }

    #[test]
    fn local_http_is_allowed_only_to_localhost_and_127_0_0_1_when_enabled() {
        for raw in ["http://localhost:9000/h", "http://127.0.0.1:9000/h", "https://localhost/h", "http://LOCALHOST/"] {
            assert!(accepted(raw, AllowLocalHttp), "{raw}");
        }
        for raw in [
            "http://partner.example/h",
            "http://127.0.0.2/h",
            "http://2130706433/h", // 127.0.0.1 spelled as a number is still 127.0.0.1: allowed below
            "http://[::1]/h",
            "http://10.0.0.1/h",
            "http://169.254.169.254/h",
            "http://user@localhost/h",
        ] {
            let ok = accepted(raw, AllowLocalHttp);
            assert_eq!(ok, raw == "http://2130706433/h", "{raw}");
        }
    }

    #[test]
    fn overlong_urls_are_refused() {
        let raw = format!("https://partner.example/{}", "a".repeat(MAX_CALLBACK_URL_CHARS));
        assert!(!accepted(&raw, PublicHttpsOnly));
    }
}
