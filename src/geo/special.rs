//! Special-purpose addresses: owns the IANA IPv4/IPv6 Special-Purpose Address Registry tables
//! (RFC 6890 and successors, snapshot of the registries as published in July 2026, newest row
//! 100:0:0:1::/64 from 2025-04), plus both multicast blocks, and their most-specific-match lookup.
//! It never geolocates and never reads databases; lookups parse no strings and allocate nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialRange {
    /// Short stable machine name, snake_case ("private", "documentation", "loopback", ...).
    /// Not unique: the three RFC 1918 blocks are all "private", and IPv4 and IPv6 share names
    /// such as "loopback" and "link_local".
    pub name: &'static str,
    /// The range in CIDR text, e.g. "192.0.2.0/24".
    pub network: &'static str,
    /// The RFC(s) defining it, e.g. "RFC 5737".
    pub rfc: &'static str,
    /// The registry's "Globally Reachable" column. `None` where the registry says N/A or leaves
    /// it blank (terminated rows), and for the multicast blocks, which are not in the registry.
    pub global: Option<bool>,
}

const fn r(
    name: &'static str,
    network: &'static str,
    rfc: &'static str,
    global: Option<bool>,
) -> SpecialRange {
    SpecialRange {
        name,
        network,
        rfc,
        global,
    }
}

const F: Option<bool> = Some(false);
const T: Option<bool> = Some(true);
const NA: Option<bool> = None;

/// Every range: IPv4 first, then IPv6, each in address order. Edit only this table. The numeric
/// tables below are derived from it at compile time, and a malformed network or one with host
/// bits set fails the build.
const TABLE: [SpecialRange; 53] = [
    // IPv4 special-purpose registry.
    r("this_network", "0.0.0.0/8", "RFC 791", F),
    r("this_host_on_this_network", "0.0.0.0/32", "RFC 1122", F),
    r("private", "10.0.0.0/8", "RFC 1918", F),
    r("shared_address_space", "100.64.0.0/10", "RFC 6598", F),
    r("loopback", "127.0.0.0/8", "RFC 1122", F),
    r("link_local", "169.254.0.0/16", "RFC 3927", F),
    r("private", "172.16.0.0/12", "RFC 1918", F),
    // The /24 is not globally reachable "unless a more specific entry says so" (the two anycast
    // /32s below); most-specific matching gives exactly that.
    r("ietf_protocol_assignments", "192.0.0.0/24", "RFC 6890", F),
    r("ipv4_service_continuity", "192.0.0.0/29", "RFC 7335", F),
    r("dummy_ipv4", "192.0.0.8/32", "RFC 7600", F),
    r(
        "port_control_protocol_anycast",
        "192.0.0.9/32",
        "RFC 7723",
        T,
    ),
    r(
        "traversal_using_relays_nat_anycast",
        "192.0.0.10/32",
        "RFC 8155",
        T,
    ),
    r(
        "nat64_dns64_discovery",
        "192.0.0.170/32",
        "RFC 7050, RFC 8880",
        F,
    ),
    r(
        "nat64_dns64_discovery",
        "192.0.0.171/32",
        "RFC 7050, RFC 8880",
        F,
    ),
    r("documentation", "192.0.2.0/24", "RFC 5737", F),
    r("as112", "192.31.196.0/24", "RFC 7535", T),
    r("amt", "192.52.193.0/24", "RFC 7450", T),
    // Terminated 2015-03; the registry leaves its attribute columns blank.
    r(
        "deprecated_6to4_relay_anycast",
        "192.88.99.0/24",
        "RFC 7526",
        NA,
    ),
    r("6a44_relay_anycast", "192.88.99.2/32", "RFC 6751", F),
    r("private", "192.168.0.0/16", "RFC 1918", F),
    r("direct_delegation_as112", "192.175.48.0/24", "RFC 7534", T),
    r("benchmarking", "198.18.0.0/15", "RFC 2544", F),
    r("documentation", "198.51.100.0/24", "RFC 5737", F),
    r("documentation", "203.0.113.0/24", "RFC 5737", F),
    // IPv4 multicast address space registry, not the special-purpose one; reachability
    // depends on scope.
    r("multicast", "224.0.0.0/4", "RFC 5771", NA),
    r("reserved", "240.0.0.0/4", "RFC 1112", F),
    r(
        "limited_broadcast",
        "255.255.255.255/32",
        "RFC 919, RFC 8190",
        F,
    ),
    // IPv6 special-purpose registry.
    r("unspecified", "::/128", "RFC 4291", F),
    r("loopback", "::1/128", "RFC 4291", F),
    r("ipv4_mapped", "::ffff:0:0/96", "RFC 4291", F),
    r("nat64_well_known", "64:ff9b::/96", "RFC 6052", T),
    r("nat64_local_use", "64:ff9b:1::/48", "RFC 8215", F),
    r("discard_only", "100::/64", "RFC 6666", F),
    r("dummy_ipv6", "100:0:0:1::/64", "RFC 9780", F),
    // Not globally reachable unless a more specific entry says so, as for 192.0.0.0/24.
    r("ietf_protocol_assignments", "2001::/23", "RFC 2928", F),
    r("teredo", "2001::/32", "RFC 4380, RFC 8190", NA),
    r(
        "port_control_protocol_anycast",
        "2001:1::1/128",
        "RFC 7723",
        T,
    ),
    r(
        "traversal_using_relays_nat_anycast",
        "2001:1::2/128",
        "RFC 8155",
        T,
    ),
    r("dns_sd_srp_anycast", "2001:1::3/128", "RFC 9665", T),
    r("benchmarking", "2001:2::/48", "RFC 5180", F),
    r("amt", "2001:3::/32", "RFC 7450", T),
    r("as112", "2001:4:112::/48", "RFC 7535", T),
    // Terminated 2014-03; the registry leaves its attribute columns blank.
    r("deprecated_orchid", "2001:10::/28", "RFC 4843", NA),
    r("orchid_v2", "2001:20::/28", "RFC 7343", T),
    r("drone_remote_id", "2001:30::/28", "RFC 9374", T),
    r("documentation", "2001:db8::/32", "RFC 3849", F),
    r("6to4", "2002::/16", "RFC 3056", NA),
    r(
        "direct_delegation_as112",
        "2620:4f:8000::/48",
        "RFC 7534",
        T,
    ),
    r("documentation_ipv6_2", "3fff::/20", "RFC 9637", F),
    r("segment_routing_sids", "5f00::/16", "RFC 9602", F),
    r("unique_local", "fc00::/7", "RFC 4193, RFC 8190", F),
    r("link_local", "fe80::/10", "RFC 4291", F),
    // IPv6 multicast address space registry, not the special-purpose one; reachability
    // depends on scope.
    r("multicast", "ff00::/8", "RFC 4291", NA),
];

static ALL: [SpecialRange; TABLE.len()] = TABLE;

/// One numeric prefix: `base` has no host bits set; `index` points into [`ALL`].
#[derive(Debug, Clone, Copy)]
struct Prefix<A> {
    base: A,
    len: u8,
    index: usize,
}

const V4_COUNT: usize = count_v4(&TABLE);
const V6_COUNT: usize = TABLE.len() - V4_COUNT;

/// IPv4 prefixes, longest first, so the first match is the most specific.
static V4: [Prefix<u32>; V4_COUNT] = build_v4(&TABLE);
/// IPv6 prefixes, longest first, so the first match is the most specific.
static V6: [Prefix<u128>; V6_COUNT] = build_v6(&TABLE);

/// Most specific special-purpose range containing `ip`, if any.
pub fn lookup(ip: IpAddr) -> Option<&'static SpecialRange> {
    match ip {
        IpAddr::V4(v4) => lookup_v4(v4),
        IpAddr::V6(v6) => lookup_v6(v6),
    }
}

/// Most specific IPv4 special-purpose range (including 224.0.0.0/4 multicast) containing `ip`.
pub fn lookup_v4(ip: Ipv4Addr) -> Option<&'static SpecialRange> {
    let a = u32::from(ip);
    V4.iter()
        .find(|p| a & mask_v4(p.len) == p.base)
        .and_then(|p| ALL.get(p.index))
}

/// Most specific IPv6 special-purpose range (including ff00::/8 multicast) containing `ip`.
/// Addresses that embed IPv4 (::ffff:0:0/96, 64:ff9b::/96, 2002::/16) get their IPv6 range;
/// extracting the IPv4 address is the caller's job.
pub fn lookup_v6(ip: Ipv6Addr) -> Option<&'static SpecialRange> {
    let a = u128::from(ip);
    V6.iter()
        .find(|p| a & mask_v6(p.len) == p.base)
        .and_then(|p| ALL.get(p.index))
}

/// Every range in the tables, IPv4 first, then IPv6 (for tests and documentation).
pub fn all() -> &'static [SpecialRange] {
    &ALL
}

const fn mask_v4(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - len as u32)
    }
}

const fn mask_v6(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - len as u32)
    }
}

// ---- Compile-time derivation of the numeric tables from TABLE. A panic here is a build error.

const fn is_v6(network: &str) -> bool {
    let b = network.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b':' {
            return true;
        }
        i += 1;
    }
    false
}

const fn count_v4(t: &[SpecialRange]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < t.len() {
        if !is_v6(t[i].network) {
            n += 1;
        }
        i += 1;
    }
    n
}

/// Position of '/' in a CIDR string.
const fn slash(b: &[u8]) -> usize {
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' {
            return i;
        }
        i += 1;
    }
    panic!("special-purpose network without a prefix length")
}

/// Decimal prefix length after the '/'.
const fn prefix_len(b: &[u8], slash: usize, max: u32) -> u8 {
    let mut i = slash + 1;
    if i == b.len() || b.len() - i > 3 {
        panic!("bad prefix length");
    }
    let mut v: u32 = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            panic!("bad prefix length");
        }
        v = v * 10 + (b[i] - b'0') as u32;
        i += 1;
    }
    if v > max {
        panic!("prefix length too long");
    }
    v as u8
}

/// (base, len) of an IPv4 CIDR string; panics on malformed input or host bits.
const fn parse_v4(network: &str) -> (u32, u8) {
    let b = network.as_bytes();
    let end = slash(b);
    let mut value: u32 = 0;
    let mut octets = 0;
    let mut i = 0;
    while i < end {
        let mut octet: u32 = 0;
        let mut digits = 0;
        while i < end && b[i] != b'.' {
            if !b[i].is_ascii_digit() || digits == 3 {
                panic!("bad IPv4 octet");
            }
            octet = octet * 10 + (b[i] - b'0') as u32;
            digits += 1;
            i += 1;
        }
        if digits == 0 || octet > 255 || octets == 4 {
            panic!("bad IPv4 address");
        }
        value = (value << 8) | octet;
        octets += 1;
        if i < end {
            // Skip the '.', which must be followed by another octet.
            i += 1;
            if i == end {
                panic!("bad IPv4 address");
            }
        }
    }
    if octets != 4 {
        panic!("bad IPv4 address");
    }
    let len = prefix_len(b, end, 32);
    if value & !mask_v4(len) != 0 {
        panic!("IPv4 special-purpose network has host bits set");
    }
    (value, len)
}

const fn hex_digit(c: u8) -> u32 {
    match c {
        b'0'..=b'9' => (c - b'0') as u32,
        b'a'..=b'f' => (c - b'a') as u32 + 10,
        b'A'..=b'F' => (c - b'A') as u32 + 10,
        _ => panic!("bad IPv6 hex digit"),
    }
}

/// (base, len) of an IPv6 CIDR string in hex-group notation (at most one "::", no dotted
/// IPv4 tail); panics on malformed input or host bits.
const fn parse_v6(network: &str) -> (u128, u8) {
    let b = network.as_bytes();
    let end = slash(b);
    let mut groups = [0u16; 8];
    let mut n = 0; // groups parsed
    let mut gap = usize::MAX; // number of groups before "::"
    let mut i = 0;
    if end >= 2 && b[0] == b':' && b[1] == b':' {
        gap = 0;
        i = 2;
    } else if end >= 1 && b[0] == b':' {
        panic!("bad IPv6 address");
    }
    while i < end {
        let mut v: u32 = 0;
        let mut digits = 0;
        while i < end && b[i] != b':' {
            if digits == 4 {
                panic!("bad IPv6 group");
            }
            v = (v << 4) | hex_digit(b[i]);
            digits += 1;
            i += 1;
        }
        if digits == 0 || n == 8 {
            panic!("bad IPv6 address");
        }
        groups[n] = v as u16;
        n += 1;
        if i < end {
            i += 1; // ':'
            if i < end && b[i] == b':' {
                if gap != usize::MAX {
                    panic!("IPv6 address with two '::'");
                }
                gap = n;
                i += 1;
            } else if i == end {
                panic!("bad IPv6 address");
            }
        }
    }
    let mut value: u128 = 0;
    if gap == usize::MAX {
        if n != 8 {
            panic!("IPv6 address without 8 groups");
        }
        let mut k = 0;
        while k < 8 {
            value = (value << 16) | groups[k] as u128;
            k += 1;
        }
    } else {
        if n > 7 {
            panic!("'::' must stand for at least one group");
        }
        let zeros = 8 - n;
        let mut k = 0;
        while k < gap {
            value = (value << 16) | groups[k] as u128;
            k += 1;
        }
        let mut z = 0;
        while z < zeros {
            value <<= 16;
            z += 1;
        }
        while k < n {
            value = (value << 16) | groups[k] as u128;
            k += 1;
        }
    }
    let len = prefix_len(b, end, 128);
    if value & !mask_v6(len) != 0 {
        panic!("IPv6 special-purpose network has host bits set");
    }
    (value, len)
}

const fn build_v4<const N: usize>(t: &[SpecialRange]) -> [Prefix<u32>; N] {
    let mut out = [Prefix {
        base: 0,
        len: 0,
        index: 0,
    }; N];
    let mut n = 0;
    let mut i = 0;
    while i < t.len() {
        if !is_v6(t[i].network) {
            let (base, len) = parse_v4(t[i].network);
            out[n] = Prefix {
                base,
                len,
                index: i,
            };
            n += 1;
        }
        i += 1;
    }
    if n != N {
        panic!("IPv4 table size mismatch");
    }
    // Insertion sort, longest prefix first (stable, so table order breaks ties).
    let mut a = 1;
    while a < N {
        let mut b = a;
        while b > 0 && out[b - 1].len < out[b].len {
            let tmp = out[b - 1];
            out[b - 1] = out[b];
            out[b] = tmp;
            b -= 1;
        }
        a += 1;
    }
    out
}

const fn build_v6<const N: usize>(t: &[SpecialRange]) -> [Prefix<u128>; N] {
    let mut out = [Prefix {
        base: 0,
        len: 0,
        index: 0,
    }; N];
    let mut n = 0;
    let mut i = 0;
    while i < t.len() {
        if is_v6(t[i].network) {
            let (base, len) = parse_v6(t[i].network);
            out[n] = Prefix {
                base,
                len,
                index: i,
            };
            n += 1;
        }
        i += 1;
    }
    if n != N {
        panic!("IPv6 table size mismatch");
    }
    let mut a = 1;
    while a < N {
        let mut b = a;
        while b > 0 && out[b - 1].len < out[b].len {
            let tmp = out[b - 1];
            out[b - 1] = out[b];
            out[b] = tmp;
            b -= 1;
        }
        a += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipnet::IpNet;

    fn net(s: &str) -> IpNet {
        match s.parse() {
            Ok(n) => n,
            Err(e) => panic!("{s} does not parse: {e}"),
        }
    }

    fn ip(s: &str) -> IpAddr {
        match s.parse() {
            Ok(a) => a,
            Err(e) => panic!("{s} does not parse: {e}"),
        }
    }

    fn name(s: &str) -> Option<&'static str> {
        lookup(ip(s)).map(|r| r.name)
    }

    fn network(s: &str) -> Option<&'static str> {
        lookup(ip(s)).map(|r| r.network)
    }

    #[test]
    fn every_entry_parses_and_agrees_with_its_numeric_prefix() {
        assert_eq!(all().len(), V4.len() + V6.len());
        let mut seen = vec![false; all().len()];
        for p in V4.iter() {
            let r = &all()[p.index];
            match net(r.network) {
                IpNet::V4(n) => {
                    assert_eq!(n.network(), n.addr(), "{} has host bits set", r.network);
                    assert_eq!(
                        (u32::from(n.network()), n.prefix_len()),
                        (p.base, p.len),
                        "{}",
                        r.network
                    );
                    assert_eq!(n.to_string(), r.network, "{} is not canonical", r.network);
                }
                IpNet::V6(_) => panic!("{} is in the IPv4 table", r.network),
            }
            seen[p.index] = true;
        }
        for p in V6.iter() {
            let r = &all()[p.index];
            match net(r.network) {
                IpNet::V6(n) => {
                    assert_eq!(n.network(), n.addr(), "{} has host bits set", r.network);
                    assert_eq!(
                        (u128::from(n.network()), n.prefix_len()),
                        (p.base, p.len),
                        "{}",
                        r.network
                    );
                    assert_eq!(r.network, r.network.to_ascii_lowercase(), "{}", r.network);
                }
                IpNet::V4(_) => panic!("{} is in the IPv6 table", r.network),
            }
            seen[p.index] = true;
        }
        assert!(
            seen.iter().all(|s| *s),
            "every entry is in exactly one numeric table"
        );
    }

    #[test]
    fn entries_are_well_formed_and_unique() {
        for (i, r) in all().iter().enumerate() {
            assert!(
                !r.name.is_empty()
                    && r.name
                        .bytes()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_'),
                "{}",
                r.name
            );
            assert!(r.rfc.starts_with("RFC "), "{}", r.rfc);
            assert!(
                all()[..i].iter().all(|o| o.network != r.network),
                "{} listed twice",
                r.network
            );
        }
        // IPv4 first, then IPv6, as documented.
        let first_v6 = all()
            .iter()
            .position(|r| r.network.contains(':'))
            .unwrap_or(all().len());
        assert_eq!(first_v6, V4.len());
    }

    #[test]
    fn tables_are_sorted_longest_prefix_first() {
        assert!(V4.windows(2).all(|w| w[0].len >= w[1].len));
        assert!(V6.windows(2).all(|w| w[0].len >= w[1].len));
    }

    #[test]
    fn lookup_agrees_with_a_brute_force_longest_match() {
        // For each entry, probe its first and last address and the neighbours just outside;
        // the answer must be the longest entry containing the probe.
        let nets: Vec<(IpNet, &SpecialRange)> = all().iter().map(|r| (net(r.network), r)).collect();
        let mut probes = Vec::new();
        for (n, _) in &nets {
            match n {
                IpNet::V4(n) => {
                    let (lo, hi) = (u32::from(n.network()), u32::from(n.broadcast()));
                    probes.extend(
                        [lo, hi, lo.wrapping_sub(1), hi.wrapping_add(1)]
                            .map(|a| IpAddr::V4(Ipv4Addr::from(a))),
                    );
                }
                IpNet::V6(n) => {
                    let (lo, hi) = (u128::from(n.network()), u128::from(n.broadcast()));
                    probes.extend(
                        [lo, hi, lo.wrapping_sub(1), hi.wrapping_add(1)]
                            .map(|a| IpAddr::V6(Ipv6Addr::from(a))),
                    );
                }
            }
        }
        for a in probes {
            let want = nets
                .iter()
                .filter(|(n, _)| n.contains(&a))
                .max_by_key(|(n, _)| n.prefix_len())
                .map(|(_, r)| *r);
            assert_eq!(lookup(a), want, "{a}");
        }
    }

    #[test]
    fn representative_lookups() {
        assert_eq!(name("10.1.2.3"), Some("private"));
        assert_eq!(name("172.31.255.255"), Some("private"));
        assert_eq!(name("192.168.1.1"), Some("private"));
        assert_eq!(name("192.0.2.1"), Some("documentation"));
        assert_eq!(name("198.51.100.7"), Some("documentation"));
        assert_eq!(name("203.0.113.9"), Some("documentation"));
        assert_eq!(name("100.64.0.1"), Some("shared_address_space"));
        assert_eq!(name("127.0.0.1"), Some("loopback"));
        assert_eq!(name("169.254.169.254"), Some("link_local"));
        assert_eq!(name("198.18.0.1"), Some("benchmarking"));
        assert_eq!(name("0.1.2.3"), Some("this_network"));
        assert_eq!(name("0.0.0.0"), Some("this_host_on_this_network"));
        assert_eq!(name("224.0.0.251"), Some("multicast"));
        assert_eq!(name("239.255.255.250"), Some("multicast"));
        assert_eq!(name("240.0.0.1"), Some("reserved"));
        assert_eq!(name("255.255.255.254"), Some("reserved"));
        assert_eq!(name("255.255.255.255"), Some("limited_broadcast"));
        assert_eq!(name("192.88.99.1"), Some("deprecated_6to4_relay_anycast"));
        assert_eq!(name("192.88.99.2"), Some("6a44_relay_anycast"));
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "223.255.255.255",
        ] {
            assert_eq!(name(public), None, "{public}");
        }

        assert_eq!(name("2001:db8::1"), Some("documentation"));
        assert_eq!(name("3fff:fff:ffff::1"), Some("documentation_ipv6_2"));
        assert_eq!(name("2001:0::1"), Some("teredo"));
        assert_eq!(name("2001:1::1"), Some("port_control_protocol_anycast"));
        assert_eq!(name("2001:1::4"), Some("ietf_protocol_assignments"));
        assert_eq!(name("2001:4:112::1"), Some("as112"));
        assert_eq!(name("2001:1ff:ffff::1"), Some("ietf_protocol_assignments"));
        assert_eq!(name("ff02::1"), Some("multicast"));
        assert_eq!(name("ff0e::1"), Some("multicast"));
        assert_eq!(name("::ffff:1.2.3.4"), Some("ipv4_mapped"));
        assert_eq!(name("::"), Some("unspecified"));
        assert_eq!(name("::1"), Some("loopback"));
        assert_eq!(name("fe80::1"), Some("link_local"));
        assert_eq!(name("fd00::1"), Some("unique_local"));
        assert_eq!(name("fc00::1"), Some("unique_local"));
        assert_eq!(name("64:ff9b::8.8.8.8"), Some("nat64_well_known"));
        assert_eq!(name("64:ff9b:1::1"), Some("nat64_local_use"));
        assert_eq!(name("100::1"), Some("discard_only"));
        assert_eq!(name("100:0:0:1::1"), Some("dummy_ipv6"));
        assert_eq!(name("2002:c000:0201::1"), Some("6to4"));
        assert_eq!(name("2620:4f:8000::6"), Some("direct_delegation_as112"));
        assert_eq!(name("5f00::1"), Some("segment_routing_sids"));
        for public in [
            "2a00:1450::1",
            "2001:200::1",
            "2003::1",
            "2620:4f:8001::1",
            "3fff:1000::1",
            "3ffe::1",
            "::2",
            "fec0::1",
            "fe7f:ffff::1",
        ] {
            assert_eq!(name(public), None, "{public}");
        }
    }

    #[test]
    fn most_specific_entry_wins() {
        assert_eq!(network("192.0.0.9"), Some("192.0.0.9/32"));
        assert_eq!(lookup(ip("192.0.0.9")).and_then(|r| r.global), Some(true));
        assert_eq!(network("192.0.0.10"), Some("192.0.0.10/32"));
        assert_eq!(network("192.0.0.8"), Some("192.0.0.8/32"));
        assert_eq!(network("192.0.0.7"), Some("192.0.0.0/29"));
        assert_eq!(network("192.0.0.11"), Some("192.0.0.0/24"));
        assert_eq!(network("192.0.0.170"), Some("192.0.0.170/32"));
        assert_eq!(network("192.0.0.171"), Some("192.0.0.171/32"));
        assert_eq!(network("192.0.0.172"), Some("192.0.0.0/24"));
        assert_eq!(network("0.0.0.0"), Some("0.0.0.0/32"));
        assert_eq!(network("0.0.0.1"), Some("0.0.0.0/8"));
        assert_eq!(network("2001::"), Some("2001::/32"));
        assert_eq!(network("2001:1::"), Some("2001::/23"));
        assert_eq!(network("2001:3::1"), Some("2001:3::/32"));
        assert_eq!(network("2001:20::1"), Some("2001:20::/28"));
        // Disjoint neighbours.
        assert_eq!(network("64:ff9b::1"), Some("64:ff9b::/96"));
        assert_eq!(network("64:ff9b:0:0:0:1::"), None);
        assert_eq!(network("64:ff9b:1:ffff::1"), Some("64:ff9b:1::/48"));
        assert_eq!(network("64:ff9b:2::"), None);
    }

    #[test]
    fn boundaries() {
        let cases: [(&str, Option<&str>); 24] = [
            ("9.255.255.255", None),
            ("10.0.0.0", Some("10.0.0.0/8")),
            ("10.255.255.255", Some("10.0.0.0/8")),
            ("11.0.0.0", None),
            ("100.63.255.255", None),
            ("100.64.0.0", Some("100.64.0.0/10")),
            ("100.127.255.255", Some("100.64.0.0/10")),
            ("100.128.0.0", None),
            ("172.15.255.255", None),
            ("172.32.0.0", None),
            ("198.17.255.255", None),
            ("198.19.255.255", Some("198.18.0.0/15")),
            ("198.20.0.0", None),
            ("223.255.255.255", None),
            ("224.0.0.0", Some("224.0.0.0/4")),
            ("239.255.255.255", Some("224.0.0.0/4")),
            ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", None),
            ("2001:db8::", Some("2001:db8::/32")),
            (
                "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
                Some("2001:db8::/32"),
            ),
            ("2001:db9::", None),
            ("2001:2:0:ffff:ffff:ffff:ffff:ffff", Some("2001:2::/48")),
            ("2001:2:1::", Some("2001::/23")),
            ("2001:200::", None),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some("ff00::/8")),
        ];
        for (a, want) in cases {
            assert_eq!(network(a), want, "{a}");
        }
        assert_eq!(
            network("3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff"),
            Some("3fff::/20")
        );
        assert_eq!(network("3fff:1000::"), None);
        assert_eq!(
            network("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            Some("fe80::/10")
        );
        assert_eq!(network("fec0::"), None);
        assert_eq!(network("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), None);
        assert_eq!(network("feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), None);
        assert_eq!(
            network("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            Some("fc00::/7")
        );
    }

    #[test]
    fn dispatch_matches_the_family_lookups() {
        assert_eq!(
            lookup(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))),
            lookup_v4(Ipv4Addr::new(10, 0, 0, 1))
        );
        assert_eq!(
            lookup(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            lookup_v6(Ipv6Addr::LOCALHOST)
        );
        // An IPv4 address is never matched against IPv6 ranges, and the other way round.
        assert_eq!(
            lookup_v6(Ipv6Addr::UNSPECIFIED).map(|r| r.network),
            Some("::/128")
        );
        assert_eq!(
            lookup_v4(Ipv4Addr::UNSPECIFIED).map(|r| r.network),
            Some("0.0.0.0/32")
        );
    }

    #[test]
    fn const_parsers_match_std() {
        for s in ["1.2.3.4/32", "255.255.255.255/32", "0.0.0.0/0"] {
            let (b, l) = parse_v4(s);
            let n = net(s);
            assert_eq!(
                (IpAddr::V4(Ipv4Addr::from(b)), l),
                (n.network(), n.prefix_len()),
                "{s}"
            );
        }
        for s in [
            "::/0",
            "1:2:3:4:5:6:7:8/128",
            "1::8/128",
            "1:2::/32",
            "::8/128",
            "abcd:EF01::/32",
            "1:2:3:4:5:6:7::/128",
            "::2:3:4:5:6:7:8/128",
        ] {
            let (b, l) = parse_v6(s);
            let n = net(s);
            assert_eq!(
                (IpAddr::V6(Ipv6Addr::from(b)), l),
                (n.network(), n.prefix_len()),
                "{s}"
            );
        }
    }
}
