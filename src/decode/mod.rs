//! Decode: one frame's bytes -> [`PacketMeta`] (VLAN ids, encapsulation, IP endpoints,
//! transport, payload slice), using etherparse's lax zero-copy slicing. Owns link-type framing
//! (Ethernet, 802.1Q/QinQ, Linux SLL/SLL2, raw IP, BSD null/loop) and the encapsulations it
//! unwraps to reach the inner packet: MPLS (incl. Ethernet pseudowires), GRE (IP, transparent
//! Ethernet bridging, ERSPAN I/II/III, PPTP's enhanced GRE with PPP), VXLAN (udp/4789), Geneve
//! (udp/6081), IP-in-IP and IPv6-in-IPv4 (and IPv6-in-IPv6 / IPv4-in-IPv6). It also locates IP
//! fragments for the reassembly stage ([`fragment`], [`decode_reassembled`]). No I/O, no state
//! across packets, no allocation, and no panic on any input: every frame it cannot use gets a
//! [`Skip`] reason, which the caller counts.

use std::net::IpAddr;

use etherparse::{
    EtherType, IpNumber, LaxLinkExtSlice, LaxNetSlice, LaxSlicedPacket, TransportSlice,
};

use crate::capture::LinkType;

/// IP protocol numbers the flow table distinguishes.
pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ICMPV6: u8 = 58;

/// UDP ports of the UDP encapsulations decoded (IANA).
pub const VXLAN_PORT: u16 = 4789;
pub const GENEVE_PORT: u16 = 6081;

/// Most encapsulations unwrapped in one frame; a deeper frame is `malformed` (it is either an
/// attack on the decoder or a loop).
const MAX_ENCAPS: usize = 4;
/// Most MPLS labels popped.
const MAX_MPLS_LABELS: usize = 8;

/// TCP header fields the flow table needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpInfo {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
    pub seq: u32,
}

/// An encapsulation the inner packet travelled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TunnelKind {
    Mpls,
    Gre,
    Erspan,
    Vxlan,
    Geneve,
    /// IPv4 or IPv6 directly in IPv4 or IPv6 (protocols 4 and 41).
    IpInIp,
    /// PPPoE session (id: the session id).
    Pppoe,
}

impl TunnelKind {
    pub fn name(self) -> &'static str {
        match self {
            TunnelKind::Mpls => "mpls",
            TunnelKind::Gre => "gre",
            TunnelKind::Erspan => "erspan",
            TunnelKind::Vxlan => "vxlan",
            TunnelKind::Geneve => "geneve",
            TunnelKind::IpInIp => "ip-in-ip",
            TunnelKind::Pppoe => "pppoe",
        }
    }
}

/// The innermost encapsulation of a packet: its kind, the outer IP endpoints (none for MPLS)
/// and its identifier (VXLAN/Geneve VNI, GRE key, ERSPAN session, top MPLS label; 0 if none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tunnel {
    pub kind: TunnelKind,
    pub outer: Option<(IpAddr, IpAddr)>,
    pub id: u32,
    /// Encapsulations unwrapped in all (1 for a plain tunnel).
    pub depth: u8,
}

impl Tunnel {
    /// The part of the tunnel that separates overlapping inner address spaces (VNI, GRE key):
    /// it is part of the flow key.
    pub fn key_id(&self) -> u32 {
        match self.kind {
            TunnelKind::Vxlan | TunnelKind::Geneve | TunnelKind::Gre => self.id,
            _ => 0,
        }
    }
}

/// What decode extracts from one frame. Borrows the frame's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketMeta<'a> {
    /// Up to two VLAN ids, outermost first (0 when absent); part of the flow key, as in Suricata.
    pub vlan: [u16; 2],
    /// Number of VLAN tags seen (802.1Q 0x8100, 802.1ad 0x88a8, 0x9100), up to 3.
    pub vlan_depth: u8,
    /// The innermost encapsulation, when the packet was tunnelled.
    pub tunnel: Option<Tunnel>,
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
    /// The capture's link type is not decoded (e.g. IEEE 802.11, USB).
    UnsupportedLinktype,
    /// Not IP (ARP, LLDP, STP, ...): normal traffic that carries no flow.
    NotIp,
    /// Link or IP header truncated or invalid.
    Malformed,
    /// Transport header truncated or invalid.
    MalformedTransport,
    /// IP fragment: handed to reassembly; the reassembled packet is processed on its own.
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

/// Identity of the datagram an IP fragment belongs to (RFC 791 / 8200: source, destination,
/// protocol, identification; plus what separates address spaces: VLANs and tunnel key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub id: u32,
    pub proto: u8,
    pub vlan: [u16; 2],
    pub tunnel_id: u32,
}

/// One IP fragment, located in its frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment<'a> {
    pub key: FragKey,
    /// Byte offset of the fragment's data in the original datagram.
    pub offset: u32,
    pub more: bool,
    /// Where the fragmented IP header starts in the frame.
    pub ip_at: usize,
    /// The IP header to rebuild the datagram from: IPv4 header with options, or the fixed
    /// IPv6 header (extension headers before the fragment header are not kept).
    pub header: &'a [u8],
    /// The fragment's data.
    pub data: &'a [u8],
}

const SLL_HEADER_LEN: usize = 16;
const SLL2_HEADER_LEN: usize = 20;

/// Decodes one frame. Pure: same bytes, same result.
pub fn decode(linktype: LinkType, data: &[u8]) -> Result<PacketMeta<'_>, Skip> {
    match walk(linktype, data, None)? {
        Walked::Packet(m) => Ok(m),
        Walked::Fragment(_) => Err(Skip::Fragment),
    }
}

/// Decodes a captured or reassembled frame.
pub fn decode_frame(frame: &crate::capture::Frame) -> Result<PacketMeta<'_>, Skip> {
    match frame.reassembled_at {
        Some(at) => decode_reassembled(frame.linktype, &frame.data, at as usize),
        None => decode(frame.linktype, &frame.data),
    }
}

/// The IP fragment in a frame that [`decode`] skipped as [`Skip::Fragment`].
pub fn fragment(linktype: LinkType, data: &[u8]) -> Option<Fragment<'_>> {
    match walk(linktype, data, None) {
        Ok(Walked::Fragment(f)) => Some(f),
        _ => None,
    }
}

/// Decodes a frame rebuilt by reassembly: the headers before `ip_at` are the first fragment's
/// (their length fields still describe that fragment), the IP datagram from `ip_at` to the end
/// of `data` is whole.
pub fn decode_reassembled(
    linktype: LinkType,
    data: &[u8],
    ip_at: usize,
) -> Result<PacketMeta<'_>, Skip> {
    match walk(linktype, data, Some(ip_at))? {
        Walked::Packet(m) => Ok(m),
        // A fragment inside the reassembled datagram: not reassembled twice.
        Walked::Fragment(_) => Err(Skip::Fragment),
    }
}

enum Walked<'a> {
    Packet(PacketMeta<'a>),
    Fragment(Fragment<'a>),
}

/// Context collected while unwrapping layers.
struct Ctx {
    vlan: [u16; 2],
    vlan_depth: u8,
    tunnel: Option<Tunnel>,
}

impl Ctx {
    fn vlans(&mut self, p: &LaxSlicedPacket<'_>) {
        for ext in &p.link_exts {
            if let LaxLinkExtSlice::Vlan(v) = ext {
                if usize::from(self.vlan_depth) < self.vlan.len() {
                    self.vlan[usize::from(self.vlan_depth)] = v.vlan_identifier().value();
                }
                self.vlan_depth = self.vlan_depth.saturating_add(1);
            }
        }
    }

    fn enter(&mut self, kind: TunnelKind, outer: Option<(IpAddr, IpAddr)>, id: u32) {
        let depth = self.tunnel.map_or(1, |t| t.depth.saturating_add(1));
        self.tunnel = Some(Tunnel {
            kind,
            outer,
            id,
            depth,
        });
    }
}

fn walk(linktype: LinkType, data: &[u8], ip_at: Option<usize>) -> Result<Walked<'_>, Skip> {
    let mut sliced = match linktype {
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
        LinkType::Ppp => ppp(data)?,
        LinkType::Unknown(_) => return Err(Skip::UnsupportedLinktype),
    };
    let mut ctx = Ctx {
        vlan: [0; 2],
        vlan_depth: 0,
        tunnel: None,
    };
    for _ in 0..=MAX_ENCAPS {
        ctx.vlans(&sliced);
        match inner(&sliced, data, ip_at, &mut ctx)? {
            Some(next) => sliced = next,
            None => return finish(sliced, ctx, data),
        }
    }
    Err(Skip::Malformed)
}

/// The packet inside `p` when `p` is an encapsulation this module unwraps (recording it in
/// `ctx`), or `None` when `p` is the innermost packet.
fn inner<'a>(
    p: &LaxSlicedPacket<'a>,
    data: &'a [u8],
    ip_at: Option<usize>,
    ctx: &mut Ctx,
) -> Result<Option<LaxSlicedPacket<'a>>, Skip> {
    let Some(net) = &p.net else {
        // Not IP at the link layer: MPLS and PPPoE live here.
        return match p.ether_payload() {
            Some(e) if matches!(e.ether_type.0, 0x8847 | 0x8848) => {
                mpls(e.payload, data, ip_at, ctx).map(Some)
            }
            Some(e) if e.ether_type.0 == 0x8864 => {
                // PPPoE session (RFC 2516): ver/type, code, session id, length, then PPP.
                let session = u32::from(be16(e.payload, 2).ok_or(Skip::Malformed)?);
                ctx.enter(TunnelKind::Pppoe, None, session);
                let rest = tail(data, e.payload.get(6..).ok_or(Skip::Malformed)?, ip_at);
                ppp(rest).map(Some)
            }
            _ => Ok(None),
        };
    };
    let (outer, payload) = match net {
        LaxNetSlice::Ipv4(v4) => (
            (
                IpAddr::V4(v4.header().source_addr()),
                IpAddr::V4(v4.header().destination_addr()),
            ),
            v4.payload(),
        ),
        LaxNetSlice::Ipv6(v6) => (
            (
                IpAddr::V6(v6.header().source_addr()),
                IpAddr::V6(v6.header().destination_addr()),
            ),
            v6.payload(),
        ),
        LaxNetSlice::Arp(_) => return Ok(None),
    };
    if payload.fragmented {
        return Ok(None);
    }
    let rest = tail(data, payload.payload, ip_at);
    match payload.ip_number {
        IpNumber::IPV4 | IpNumber::IPV6 => {
            ctx.enter(TunnelKind::IpInIp, Some(outer), 0);
            from_ip(rest).map(Some)
        }
        IpNumber::GRE => gre(rest, data, ip_at, outer, ctx).map(Some),
        IpNumber::MPLS_IN_IP => mpls(rest, data, ip_at, ctx).map(Some),
        IpNumber::UDP => {
            let Some(TransportSlice::Udp(u)) = &p.transport else {
                return Ok(None);
            };
            let body = tail(data, u.payload(), ip_at);
            match u.destination_port() {
                VXLAN_PORT => Ok(vxlan(body, outer, ctx)),
                GENEVE_PORT => Ok(geneve(body, data, ip_at, outer, ctx)),
                _ => Ok(None),
            }
        }
        _ => Ok(None),
    }
}

/// `slice` (a sub-slice of `data`), or the rest of `data` from the same point when a reassembled
/// datagram starts at or after it: the outer length fields describe the first fragment and
/// would cut the datagram short.
fn tail<'a>(data: &'a [u8], slice: &'a [u8], ip_at: Option<usize>) -> &'a [u8] {
    let at = offset_in(data, slice);
    match ip_at {
        Some(i) if i >= at => data.get(at..).unwrap_or(slice),
        _ => slice,
    }
}

/// MPLS label stack (RFC 3032) up to the bottom-of-stack label, then IPv4/IPv6 by the version
/// nibble, or an Ethernet pseudowire (RFC 4448) after its zero control word.
fn mpls<'a>(
    b: &'a [u8],
    data: &'a [u8],
    ip_at: Option<usize>,
    ctx: &mut Ctx,
) -> Result<LaxSlicedPacket<'a>, Skip> {
    let mut at = 0;
    let mut top = None;
    for _ in 0..MAX_MPLS_LABELS {
        let e = b.get(at..at + 4).ok_or(Skip::Malformed)?;
        let entry = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
        top.get_or_insert(entry >> 12);
        at += 4;
        if entry & 0x100 != 0 {
            ctx.enter(TunnelKind::Mpls, None, top.unwrap_or(0));
            let rest = tail(data, b.get(at..).ok_or(Skip::Malformed)?, ip_at);
            return match rest.first().map(|v| v >> 4) {
                Some(4 | 6) => from_ip(rest),
                Some(0) => {
                    let eth = rest.get(4..).ok_or(Skip::Malformed)?;
                    LaxSlicedPacket::from_ethernet(eth).map_err(|_| Skip::Malformed)
                }
                Some(_) => Err(Skip::NotIp),
                None => Err(Skip::Malformed),
            };
        }
    }
    Err(Skip::Malformed)
}

/// GRE (RFC 2784/2890), ERSPAN I/II/III (draft-foschiano-erspan) and PPTP's enhanced GRE
/// (RFC 2637) carrying PPP.
fn gre<'a>(
    b: &'a [u8],
    data: &'a [u8],
    ip_at: Option<usize>,
    outer: (IpAddr, IpAddr),
    ctx: &mut Ctx,
) -> Result<LaxSlicedPacket<'a>, Skip> {
    let flags = be16(b, 0).ok_or(Skip::Malformed)?;
    let proto = be16(b, 2).ok_or(Skip::Malformed)?;
    let (c, k, s) = (
        flags & 0x8000 != 0,
        flags & 0x2000 != 0,
        flags & 0x1000 != 0,
    );
    let version = flags & 0x7;
    let mut at = 4;
    let mut key = 0;
    if version == 1 {
        // Enhanced GRE: payload length(2) call id(2), then sequence and ack numbers.
        key = u32::from(be16(b, 6).ok_or(Skip::Malformed)?);
        at = 8 + if s { 4 } else { 0 } + if flags & 0x0080 != 0 { 4 } else { 0 };
    } else if version == 0 {
        if c {
            at += 4;
        }
        if k {
            key = be32(b, at).ok_or(Skip::Malformed)?;
            at += 4;
        }
        if s {
            at += 4;
        }
    } else {
        return Err(Skip::NotIp);
    }
    let rest = tail(data, b.get(at..).ok_or(Skip::Malformed)?, ip_at);
    match proto {
        0x0800 | 0x86dd => {
            ctx.enter(TunnelKind::Gre, Some(outer), key);
            from_ip(rest)
        }
        0x6558 => {
            ctx.enter(TunnelKind::Gre, Some(outer), key);
            LaxSlicedPacket::from_ethernet(rest).map_err(|_| Skip::Malformed)
        }
        0x8847 | 0x8848 => {
            ctx.enter(TunnelKind::Gre, Some(outer), key);
            mpls(rest, data, ip_at, ctx)
        }
        0x88be if !s => {
            // ERSPAN type I: no ERSPAN header.
            ctx.enter(TunnelKind::Erspan, Some(outer), 0);
            LaxSlicedPacket::from_ethernet(rest).map_err(|_| Skip::Malformed)
        }
        0x88be | 0x22eb => {
            // Type II: 8-byte header; type III: 12 bytes plus an 8-byte platform-specific
            // subheader when its O flag (low bit of the last byte) is set. Session id: 10 bits.
            let session = u32::from(be16(rest, 2).ok_or(Skip::Malformed)? & 0x03ff);
            let len = if proto == 0x88be {
                8
            } else if rest.get(11).ok_or(Skip::Malformed)? & 1 != 0 {
                20
            } else {
                12
            };
            ctx.enter(TunnelKind::Erspan, Some(outer), session);
            let eth = rest.get(len..).ok_or(Skip::Malformed)?;
            LaxSlicedPacket::from_ethernet(eth).map_err(|_| Skip::Malformed)
        }
        0x880b => {
            ctx.enter(TunnelKind::Gre, Some(outer), key);
            ppp(rest)
        }
        _ => Err(Skip::NotIp),
    }
}

/// PPP in HDLC-like framing (address/control optional, protocol field 1 or 2 bytes).
fn ppp(b: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    let b = match b {
        [0xff, 0x03, rest @ ..] => rest,
        _ => b,
    };
    let (proto, rest) = match b {
        [p, rest @ ..] if p & 1 == 1 => (u16::from(*p), rest),
        [hi, lo, rest @ ..] => (u16::from_be_bytes([*hi, *lo]), rest),
        _ => return Err(Skip::Malformed),
    };
    match proto {
        0x21 | 0x57 => from_ip(rest),
        _ => Err(Skip::NotIp),
    }
}

/// VXLAN (RFC 7348): 8-byte header with the I flag, 24-bit VNI, inner Ethernet. A datagram to
/// udp/4789 without the I flag is left as plain UDP.
fn vxlan<'a>(b: &'a [u8], outer: (IpAddr, IpAddr), ctx: &mut Ctx) -> Option<LaxSlicedPacket<'a>> {
    let flags = *b.first()?;
    if flags & 0x08 == 0 {
        return None;
    }
    let vni = be32(b, 4)? >> 8;
    let eth = LaxSlicedPacket::from_ethernet(b.get(8..)?).ok()?;
    ctx.enter(TunnelKind::Vxlan, Some(outer), vni);
    Some(eth)
}

/// Geneve (RFC 8926): version 0, options of `opt_len` 4-byte words, protocol type, 24-bit VNI.
fn geneve<'a>(
    b: &'a [u8],
    data: &'a [u8],
    ip_at: Option<usize>,
    outer: (IpAddr, IpAddr),
    ctx: &mut Ctx,
) -> Option<LaxSlicedPacket<'a>> {
    let first = *b.first()?;
    if first >> 6 != 0 {
        return None;
    }
    let len = 8 + usize::from(first & 0x3f) * 4;
    let proto = be16(b, 2)?;
    let vni = be32(b, 4)? >> 8;
    let rest = tail(data, b.get(len..)?, ip_at);
    let inner = match proto {
        0x6558 => LaxSlicedPacket::from_ethernet(rest).ok()?,
        0x0800 | 0x86dd => from_ip(rest).ok()?,
        _ => return None,
    };
    ctx.enter(TunnelKind::Geneve, Some(outer), vni);
    Some(inner)
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
    let b = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

fn be32(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Offset of `slice` (a sub-slice of `data`) in `data`.
fn offset_in(data: &[u8], slice: &[u8]) -> usize {
    (slice.as_ptr() as usize).wrapping_sub(data.as_ptr() as usize)
}

fn finish<'a>(p: LaxSlicedPacket<'a>, ctx: Ctx, data: &'a [u8]) -> Result<Walked<'a>, Skip> {
    let Ctx {
        vlan,
        vlan_depth,
        tunnel,
    } = ctx;
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
            let payload = v4.payload();
            if payload.fragmented {
                let key = FragKey {
                    src: IpAddr::V4(h.source_addr()),
                    dst: IpAddr::V4(h.destination_addr()),
                    id: u32::from(h.identification()),
                    proto: payload.ip_number.0,
                    vlan,
                    tunnel_id: tunnel.map_or(0, |t| t.key_id()),
                };
                // (The header slice borrows `p`; take the same bytes from `data`.)
                let ip_at = offset_in(data, h.slice());
                let header = data
                    .get(ip_at..ip_at + h.slice().len())
                    .ok_or(Skip::Malformed)?;
                return Ok(Walked::Fragment(Fragment {
                    key,
                    offset: u32::from(h.fragments_offset().value()) * 8,
                    more: h.more_fragments(),
                    ip_at,
                    header,
                    data: payload.payload,
                }));
            }
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                total,
                payload,
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
            let payload = v6.payload();
            if payload.fragmented {
                let frag = v6.extensions().clone().into_iter().find_map(|e| match e {
                    etherparse::Ipv6ExtensionSlice::Fragment(f) => Some(f),
                    _ => None,
                });
                let Some(f) = frag else {
                    return Err(Skip::Malformed);
                };
                // The fragmentable part starts right after the fragment header (etherparse
                // goes on parsing extension headers past it, and would read data of later
                // fragments as headers); it ends where the IPv6 payload ends.
                let start = offset_in(data, f.slice()) + f.slice().len();
                let end = offset_in(data, payload.payload) + payload.payload.len();
                let frag_data = data.get(start..end.max(start)).ok_or(Skip::Malformed)?;
                let key = FragKey {
                    src: IpAddr::V6(h.source_addr()),
                    dst: IpAddr::V6(h.destination_addr()),
                    id: f.identification(),
                    proto: f.next_header().0,
                    vlan,
                    tunnel_id: tunnel.map_or(0, |t| t.key_id()),
                };
                return Ok(Walked::Fragment(Fragment {
                    key,
                    offset: u32::from(f.fragment_offset().value()) * 8,
                    more: f.more_fragments(),
                    ip_at: offset_in(data, h.slice()),
                    header: h.slice(),
                    data: frag_data,
                }));
            }
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                len,
                payload,
            )
        }
        LaxNetSlice::Arp(_) => return Err(Skip::NotIp),
    };
    let proto = payload.ip_number.0;

    let mut meta = PacketMeta {
        vlan,
        vlan_depth,
        tunnel,
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
    Ok(Walked::Packet(meta))
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
            LinkType::Unknown(147),
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

    /// Every encapsulation the generator makes decodes to the inner packet, and every byte of
    /// its headers mutated never panics.
    #[test]
    fn encapsulations_decode_and_survive_mutation() {
        use crate::fixture::{encapsulate, frame_ether, ip_tcp, Encap, Flags, Link};
        let ip = ip_tcp(
            "10.1.2.3:40000".parse().expect("addr"),
            "198.51.100.20:443".parse().expect("addr"),
            Flags::PSH_ACK,
            1,
            1,
            b"hello",
        );
        let all = [
            (Encap::Mpls { label: 100 }, TunnelKind::Mpls, 100),
            (Encap::MplsEthernet { label: 101 }, TunnelKind::Mpls, 101),
            (Encap::Gre { key: Some(7) }, TunnelKind::Gre, 7),
            (Encap::Gre { key: None }, TunnelKind::Gre, 0),
            (Encap::GreEthernet, TunnelKind::Gre, 0),
            (Encap::Erspan2 { session: 5 }, TunnelKind::Erspan, 5),
            (Encap::Erspan3 { session: 6 }, TunnelKind::Erspan, 6),
            (Encap::Vxlan { vni: 4242 }, TunnelKind::Vxlan, 4242),
            (Encap::Geneve { vni: 77 }, TunnelKind::Geneve, 77),
            (Encap::IpInIpv4, TunnelKind::IpInIp, 0),
        ];
        for (e, kind, id) in all {
            let (et, b) = encapsulate(e, true, &ip);
            let f = frame_ether(Link::Ethernet, &[(0x8100, 9)], true, et, &b);
            let m = decode(LinkType::Ethernet, &f).expect("decodes");
            assert_eq!(m.payload, b"hello", "{e:?}");
            assert_eq!(m.dst_port, 443, "{e:?}");
            assert_eq!(m.vlan[0], 9, "{e:?}");
            let t = m.tunnel.expect("tunnel");
            assert_eq!((t.kind, t.id, t.depth), (kind, id, 1), "{e:?}");
            let mut g = f.clone();
            for i in 0..g.len().min(120) {
                let orig = g[i];
                for v in [0x00, 0xff, orig ^ 0x80, orig.wrapping_add(1)] {
                    g[i] = v;
                    let _ = decode(LinkType::Ethernet, &g);
                    let _ = fragment(LinkType::Ethernet, &g);
                    let _ = decode_reassembled(LinkType::Ethernet, &g, i);
                }
                g[i] = orig;
            }
        }
        // Nested: VXLAN inside GRE inside MPLS... up to the limit, then malformed.
        let mut inner = ip.clone();
        let mut et = 0x0800;
        for _ in 0..MAX_ENCAPS {
            let (t, b) = encapsulate(Encap::Gre { key: None }, true, &inner);
            et = t;
            inner = b;
        }
        let f = frame_ether(Link::Ethernet, &[], true, et, &inner);
        assert_eq!(
            decode(LinkType::Ethernet, &f).map(|m| m.tunnel.map(|t| t.depth)),
            Ok(Some(4))
        );
        let (t, b) = encapsulate(Encap::Gre { key: None }, true, &inner);
        let f = frame_ether(Link::Ethernet, &[], true, t, &b);
        assert_eq!(decode(LinkType::Ethernet, &f), Err(Skip::Malformed));
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
            decode(LinkType::Unknown(147), &[0x45; 60]),
            Err(Skip::UnsupportedLinktype)
        );
        let mut arp = vec![0xffu8; 12];
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.extend_from_slice(&[0u8; 28]);
        assert_eq!(decode(LinkType::Ethernet, &arp), Err(Skip::NotIp));
    }
}
