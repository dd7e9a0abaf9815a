//! Decode: one frame's bytes -> [`PacketMeta`] (VLAN ids, IP endpoints, transport, payload slice),
//! using etherparse's lax zero-copy slicing. Owns link-type framing (Ethernet, 802.1Q/QinQ,
//! Linux SLL/SLL2, raw IP, BSD null/loop). No I/O, no state across packets, no allocation, and
//! no panic on any input: every frame it cannot use gets a [`Skip`] reason, which the caller counts.

use std::net::IpAddr;

use etherparse::{EtherType, LaxLinkExtSlice, LaxNetSlice, LaxSlicedPacket, TransportSlice};

use crate::capture::LinkType;

/// IP protocol numbers the flow table distinguishes.
pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ICMPV6: u8 = 58;

/// TCP header fields the flow table needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpInfo {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
    pub seq: u32,
}

/// What decode extracts from one frame. Borrows the frame's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketMeta<'a> {
    /// Up to two VLAN ids, outermost first (0 when absent); part of the flow key, as in Suricata.
    pub vlan: [u16; 2],
    /// Number of VLAN tags seen (802.1Q 0x8100, 802.1ad 0x88a8, 0x9100), up to 3.
    pub vlan_depth: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IP protocol number of the transport (after IPv6 extension headers).
    pub proto: u8,
    pub src_port: u16,
    pub dst_port: u16,
    pub tcp: Option<TcpInfo>,
    /// Bytes of the IP packet as its header declares them (falls back to what was captured).
    pub ip_len: u32,
    /// Transport payload (may be shorter than on the wire when the snap length cut it).
    pub payload: &'a [u8],
}

/// Why a frame yields no [`PacketMeta`]. Each reason is a separate counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Skip {
    /// The capture's link type is not decoded (e.g. PPP).
    UnsupportedLinktype,
    /// Not IP (ARP, LLDP, STP, ...): normal traffic that carries no flow.
    NotIp,
    /// Link or IP header truncated or invalid.
    Malformed,
    /// Transport header truncated or invalid.
    MalformedTransport,
    /// IP fragment: not reassembled yet (fragment reassembly is a later stage).
    Fragment,
}

impl Skip {
    pub const ALL: [Skip; 5] = [
        Skip::UnsupportedLinktype,
        Skip::NotIp,
        Skip::Malformed,
        Skip::MalformedTransport,
        Skip::Fragment,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Skip::UnsupportedLinktype => "unsupported_linktype",
            Skip::NotIp => "not_ip",
            Skip::Malformed => "malformed",
            Skip::MalformedTransport => "malformed_transport",
            Skip::Fragment => "fragment",
        }
    }

    /// Whether this reason is a decode *error* (as opposed to traffic we do not track).
    pub fn is_error(self) -> bool {
        matches!(self, Skip::Malformed | Skip::MalformedTransport)
    }
}

const SLL_HEADER_LEN: usize = 16;
const SLL2_HEADER_LEN: usize = 20;

/// Decodes one frame. Pure: same bytes, same result.
pub fn decode(linktype: LinkType, data: &[u8]) -> Result<PacketMeta<'_>, Skip> {
    let sliced = match linktype {
        LinkType::Ethernet => LaxSlicedPacket::from_ethernet(data).map_err(|_| Skip::Malformed)?,
        LinkType::LinuxSll => {
            // packet type(2) ARPHRD(2) addr len(2) addr(8) protocol(2)
            let proto = be16(data, 14).ok_or(Skip::Malformed)?;
            let rest = data.get(SLL_HEADER_LEN..).ok_or(Skip::Malformed)?;
            LaxSlicedPacket::from_ether_type(EtherType(proto), rest)
        }
        LinkType::LinuxSll2 => {
            // protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1) addr len(1) addr(8)
            let proto = be16(data, 0).ok_or(Skip::Malformed)?;
            let rest = data.get(SLL2_HEADER_LEN..).ok_or(Skip::Malformed)?;
            LaxSlicedPacket::from_ether_type(EtherType(proto), rest)
        }
        LinkType::Null | LinkType::Loop => {
            // 4-byte address family (host or network order); the IP version nibble is enough.
            let rest = data.get(4..).ok_or(Skip::Malformed)?;
            from_ip(rest)?
        }
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => from_ip(data)?,
        LinkType::Unknown(_) => return Err(Skip::UnsupportedLinktype),
    };
    meta_from_sliced(&sliced)
}

fn from_ip(data: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    match data.first() {
        Some(b) if b >> 4 == 4 || b >> 4 == 6 => {
            LaxSlicedPacket::from_ip(data).map_err(|_| Skip::Malformed)
        }
        Some(_) => Err(Skip::NotIp),
        None => Err(Skip::Malformed),
    }
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

fn meta_from_sliced<'a>(p: &LaxSlicedPacket<'a>) -> Result<PacketMeta<'a>, Skip> {
    let mut vlan = [0u16; 2];
    let mut vlan_depth = 0u8;
    for ext in &p.link_exts {
        if let LaxLinkExtSlice::Vlan(v) = ext {
            if usize::from(vlan_depth) < vlan.len() {
                vlan[usize::from(vlan_depth)] = v.vlan_identifier().value();
            }
            vlan_depth = vlan_depth.saturating_add(1);
        }
    }

    let net = match &p.net {
        Some(n) => n,
        None => {
            return Err(match p.stop_err {
                // The link layer said IP but the IP header could not be read.
                Some((_, layer)) if layer_is_ip_or_below(layer) => Skip::Malformed,
                _ => Skip::NotIp,
            });
        }
    };
    let (src, dst, ip_len, payload) = match net {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            let hdr = u32::from(h.ihl()) * 4;
            let declared = u32::from(h.total_len());
            // TSO/LRO captures often carry total_len 0: fall back to what was captured.
            let total = if declared < hdr {
                hdr + v4.payload().payload.len() as u32
            } else {
                declared
            };
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                total,
                v4.payload(),
            )
        }
        LaxNetSlice::Ipv6(v6) => {
            let h = v6.header();
            let declared = u32::from(h.payload_length());
            let len = if declared == 0 {
                // Jumbogram or offloaded capture: header, extension headers and payload as seen.
                let start = h.slice().as_ptr() as usize;
                let end = v6.payload().payload.as_ptr() as usize + v6.payload().payload.len();
                end.saturating_sub(start) as u32
            } else {
                40 + declared
            };
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                len,
                v6.payload(),
            )
        }
        LaxNetSlice::Arp(_) => return Err(Skip::NotIp),
    };
    if payload.fragmented {
        return Err(Skip::Fragment);
    }
    let proto = payload.ip_number.0;

    let mut meta = PacketMeta {
        vlan,
        vlan_depth,
        src,
        dst,
        proto,
        src_port: 0,
        dst_port: 0,
        tcp: None,
        ip_len,
        payload: &[],
    };
    match &p.transport {
        Some(TransportSlice::Tcp(t)) => {
            meta.src_port = t.source_port();
            meta.dst_port = t.destination_port();
            meta.tcp = Some(TcpInfo {
                syn: t.syn(),
                ack: t.ack(),
                fin: t.fin(),
                rst: t.rst(),
                seq: t.sequence_number(),
            });
            meta.payload = t.payload();
        }
        Some(TransportSlice::Udp(u)) => {
            meta.src_port = u.source_port();
            meta.dst_port = u.destination_port();
            meta.payload = u.payload();
        }
        Some(TransportSlice::Icmpv4(i)) => meta.payload = i.payload(),
        Some(TransportSlice::Icmpv6(i)) => meta.payload = i.payload(),
        Some(_) => {}
        None => {
            // etherparse stopped inside the IP layer (e.g. a broken IPv6 extension header or
            // IPv4 AH): `ip_number` is then the failing header, not a transport.
            if let Some((_, layer)) = p.stop_err {
                if layer_is_ip_or_below(layer) {
                    return Err(Skip::Malformed);
                }
            }
            if matches!(proto, PROTO_TCP | PROTO_UDP | PROTO_ICMP | PROTO_ICMPV6) {
                // etherparse stopped at the transport header: truncated or invalid.
                return Err(Skip::MalformedTransport);
            }
            meta.payload = payload.payload;
        }
    }
    Ok(meta)
}

fn layer_is_ip_or_below(layer: etherparse::err::Layer) -> bool {
    use etherparse::err::Layer as L;
    matches!(
        layer,
        L::Ipv4Header
            | L::Ipv6Header
            | L::IpHeader
            | L::Ipv6ExtHeader
            | L::Ipv6HopByHopHeader
            | L::Ipv6DestOptionsHeader
            | L::Ipv6RouteHeader
            | L::Ipv6FragHeader
            | L::IpAuthHeader
            | L::MacsecHeader
            | L::MacsecPacket
            | L::Ipv4Packet
            | L::Ipv6Packet
            | L::VlanHeader
            | L::Ethernet2Header
            | L::LinuxSllHeader
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::frames;

    #[test]
    fn never_panics_on_any_prefix_or_random_bytes() {
        let f = frames::tcp_v4_eth([0; 2], 0, b"hello");
        let all = [
            LinkType::Ethernet,
            LinkType::LinuxSll,
            LinkType::LinuxSll2,
            LinkType::Null,
            LinkType::Raw,
            LinkType::Ipv6,
            LinkType::Unknown(9),
        ];
        for lt in all {
            for n in 0..=f.len() {
                let _ = decode(lt, &f[..n]);
            }
        }
        let mut x: u32 = 0x1234_5678;
        let mut buf = vec![0u8; 256];
        for _ in 0..20_000 {
            for b in buf.iter_mut() {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                *b = (x >> 24) as u8;
            }
            let n = (x as usize) % buf.len();
            for lt in all {
                let _ = decode(lt, &buf[..n]);
            }
        }
    }

    /// Every frame of every fixture scenario, each byte replaced by a few values: deep layers
    /// (VLAN, SLL/SLL2, IPv6, TCP options) get mutated, not just the first bytes.
    #[test]
    fn never_panics_on_mutated_fixture_frames() {
        use crate::capture::LinkType as L;
        for case in crate::fixture::cases::all() {
            let lt = L::from_dlt(match case.linktype {
                101 => 12,
                other => other as i32,
            });
            for (_, frame) in case.frames.iter().take(6) {
                let mut f = frame.clone();
                for i in 0..f.len().min(120) {
                    let orig = f[i];
                    for v in [0x00, 0xff, orig ^ 0x80, orig.wrapping_add(1)] {
                        f[i] = v;
                        let _ = decode(lt, &f);
                        let _ = decode(lt, &f[..i]);
                    }
                    f[i] = orig;
                }
            }
        }
    }

    #[test]
    fn ipv4_total_length_zero_falls_back_to_captured_length() {
        let mut f = frames::tcp_v4_eth([0; 2], 0, b"hello");
        f[16] = 0; // total length (Ethernet 14 + offset 2)
        f[17] = 0;
        let m = decode(LinkType::Ethernet, &f).expect("decodes");
        assert_eq!(m.ip_len, 20 + 20 + 5);
        assert_eq!(m.payload, b"hello");
    }

    #[test]
    fn broken_ipv6_extension_header_is_malformed() {
        // IPv6, next header 0 (hop-by-hop), payload length 8, but the extension header claims
        // 8 * (1 + 5) bytes.
        let mut ip = vec![0x60, 0, 0, 0, 0, 8, 0, 64];
        ip.extend_from_slice(&[0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5]);
        ip.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        ip.extend_from_slice(&[6, 5, 0, 0, 0, 0, 0, 0]);
        assert_eq!(decode(LinkType::Raw, &ip), Err(Skip::Malformed));
    }

    #[test]
    fn ethernet_tcp_v4() {
        let f = frames::tcp_v4_eth([0; 2], 0, b"hello");
        let m = decode(LinkType::Ethernet, &f).expect("decodes");
        assert_eq!(m.proto, PROTO_TCP);
        assert_eq!(m.payload, b"hello");
        assert_eq!(m.vlan_depth, 0);
        assert_eq!(m.ip_len, 20 + 20 + 5);
    }

    #[test]
    fn qinq_ids_outermost_first() {
        let f = frames::tcp_v4_eth([100, 200], 2, b"x");
        let m = decode(LinkType::Ethernet, &f).expect("decodes");
        assert_eq!(m.vlan, [100, 200]);
        assert_eq!(m.vlan_depth, 2);
    }

    #[test]
    fn truncated_tcp_header_is_malformed_transport() {
        let f = frames::tcp_v4_eth([0; 2], 0, b"");
        // Ethernet(14) + IPv4(20) + 10 bytes of the TCP header.
        assert_eq!(
            decode(LinkType::Ethernet, &f[..44]),
            Err(Skip::MalformedTransport)
        );
    }

    #[test]
    fn unsupported_and_non_ip() {
        assert_eq!(
            decode(LinkType::Unknown(9), &[0x45; 60]),
            Err(Skip::UnsupportedLinktype)
        );
        let mut arp = vec![0xffu8; 12];
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.extend_from_slice(&[0u8; 28]);
        assert_eq!(decode(LinkType::Ethernet, &arp), Err(Skip::NotIp));
    }
}
