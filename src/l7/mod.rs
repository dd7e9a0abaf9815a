//! L7: what a flow's payloads say about who it talks to. Owns per-flow application state:
//! the app protocol (DNS, TLS, QUIC, HTTP), the hostname and where it came from (TLS SNI, QUIC
//! SNI, HTTP Host, or a DNS answer for the address), and the protocol fields kept for flow
//! records. It inspects the start of each flow only: a bounded reassembly of the client's first
//! bytes (TCP) or Initial CRYPTO frames (QUIC) until the name is known, then stops.
//! Deterministic and pure: bytes in, fields out; no I/O, no clock, no threads, and it never
//! keeps or returns payload bytes beyond names and the trimmed fields documented here (HTTP
//! paths lose their query strings and are redacted when a detector fires; the engine scrubs
//! every other string the same way when it writes records).
//!
//! [`names`] is the one piece of shared state: the address -> name cache that the capture
//! thread fills from DNS answers and workers read.

pub mod dns;
pub mod http;
pub mod names;
pub mod quic;
pub mod reasm;
pub mod tls;

use std::sync::Arc;

use serde::Serialize;

use reasm::Reassembly;
use tls::Parse;

/// Bytes of a client stream (or QUIC CRYPTO stream) held while waiting for a name.
pub const STREAM_LIMIT: usize = 16 * 1024;
/// Head parses of a TCP client stream tried before giving up on its name.
const MAX_PARSES: u8 = 32;
/// Client datagrams of a QUIC flow tried before giving up on its ClientHello.
const MAX_QUIC_DATAGRAMS: u8 = 8;
/// Distinct DNS names kept per flow record.
const MAX_DNS_NAMES: usize = 8;
/// Distinct QUIC versions kept per flow.
const MAX_QUIC_VERSIONS: usize = 4;

fn str_of<S: serde::Serializer>(v: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v)
}

/// Bytes of the TLS record stream needed before a ClientHello can be complete: its first record
/// header and handshake header announce the length (a lower bound when it spans records).
fn tls_needed(buf: &[u8]) -> usize {
    match buf {
        [22, _, _, _, _, 1, a, b, c, ..] => {
            9 + (usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c))
        }
        _ => 0,
    }
}

/// Ports whose traffic is DNS: unicast DNS only. mDNS (5353) and LLMNR (5355) names are the
/// local link's device names ("Janes-iPhone"), often their owners' names: not recorded.
pub fn is_dns_port(p: u16) -> bool {
    p == 53
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AppProto {
    Dns,
    Tls,
    Quic,
    Http,
}

impl AppProto {
    pub fn name(self) -> &'static str {
        match self {
            AppProto::Dns => "dns",
            AppProto::Tls => "tls",
            AppProto::Quic => "quic",
            AppProto::Http => "http",
        }
    }
}

/// Where a flow's hostname came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NameSource {
    /// TLS ClientHello server_name.
    Sni,
    /// server_name of the ClientHello in a QUIC Initial.
    Quic,
    /// HTTP/1.x Host header.
    Http,
    /// A DNS answer that resolved a name to the flow's outside address.
    Dns,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hostname {
    #[serde(serialize_with = "str_of")]
    pub name: Arc<str>,
    pub source: NameSource,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alpn: Vec<String>,
    pub version: String,
    pub ja4: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct QuicInfo {
    /// Versions of the long-header packets seen, both directions ("v1", "v2", "draft-29", ...;
    /// Version Negotiation shows as "0x00000000").
    pub versions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alpn: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja4: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct HttpInfo {
    /// The first request's method, Host, path (no query) and content type.
    pub method: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The first response's status and content type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_content_type: Option<String>,
    /// Requests seen (segments starting with a request line).
    pub requests: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct DnsInfo {
    /// Distinct question names (lower-cased), first seen first, at most 8.
    pub queries: Vec<String>,
    /// A/AAAA records in the responses.
    pub answers: u32,
    pub responses: u32,
}

/// One packet as L7 sees it.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// From the flow's client.
    pub to_server: bool,
    pub udp: bool,
    /// The flow's server port.
    pub server_port: u16,
    /// TCP sequence number and SYN flag.
    pub tcp: Option<(u32, bool)>,
    pub data: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Phase {
    /// No client payload yet.
    #[default]
    Waiting,
    /// A protocol was recognised and its head is incomplete.
    Inspecting,
    /// Nothing more to learn from this flow's start.
    Done,
}

#[derive(Debug, Default)]
struct Stream {
    reasm: Reassembly,
    /// TCP: sequence number of the first client byte.
    base: Option<u32>,
    /// QUIC: the first Initial's destination connection id.
    dcid: Option<Vec<u8>>,
    datagrams: u8,
    /// Head parses tried so far (TCP).
    parses: u8,
}

/// Per-flow application state.
#[derive(Debug, Default)]
pub struct AppState {
    pub proto: Option<AppProto>,
    pub hostname: Option<Hostname>,
    // Boxed: most flows have none of them, and flow-table entries stay small.
    pub tls: Option<Box<TlsInfo>>,
    pub quic: Option<Box<QuicInfo>>,
    pub http: Option<Box<HttpInfo>>,
    pub dns: Option<Box<DnsInfo>>,
    phase: Phase,
    stream: Option<Box<Stream>>,
    /// TCP: the client's initial sequence number + 1, from its SYN.
    client_base: Option<u32>,
}

impl AppState {
    /// Whether the flow could still name itself (no name from its own payload yet and its
    /// start not fully inspected): an alert waits for this, within a deadline.
    pub fn name_pending(&self) -> bool {
        self.phase != Phase::Done
            && self
                .hostname
                .as_ref()
                .map_or(true, |h| h.source == NameSource::Dns)
    }

    /// Whether the flow named itself (SNI, QUIC, Host), as opposed to a DNS name or none.
    pub fn named_itself(&self) -> bool {
        self.hostname
            .as_ref()
            .is_some_and(|h| h.source != NameSource::Dns)
    }

    /// A name the DNS cache gave for the outside address (kept unless the flow names itself).
    pub fn set_dns_name(&mut self, name: Arc<str>) {
        if self.hostname.is_none() {
            self.hostname = Some(Hostname {
                name,
                source: NameSource::Dns,
            });
        }
    }

    fn name_from(&mut self, name: &str, source: NameSource) {
        if name.is_empty() {
            return;
        }
        if self
            .hostname
            .as_ref()
            .map_or(true, |h| h.source == NameSource::Dns)
        {
            self.hostname = Some(Hostname {
                name: Arc::from(name),
                source,
            });
        }
    }

    fn done(&mut self) {
        self.phase = Phase::Done;
        self.stream = None;
    }

    /// Bytes this flow holds for inspection (its share of the worker's budget).
    pub fn buffered(&self) -> usize {
        self.stream
            .as_ref()
            .map_or(0, |s| s.reasm.contiguous().len() + s.reasm.pending())
    }

    /// Stops inspecting (the worker's budget is spent): the flow keeps what it learned.
    pub fn abandon(&mut self) {
        if self.phase != Phase::Done {
            self.done();
        }
    }

    /// Feeds one packet of the flow.
    pub fn observe(&mut self, p: &Packet<'_>) {
        if let Some((seq, true)) = p.tcp {
            if p.to_server {
                self.client_base = Some(seq.wrapping_add(1));
            }
        }
        if p.data.is_empty() {
            return;
        }
        if is_dns_port(p.server_port) {
            self.dns_packet(p);
            return;
        }
        if matches!(p.server_port, 5353 | 5355) && p.udp {
            // mDNS / LLMNR: DNS, but their names are not recorded (see is_dns_port).
            self.proto = Some(AppProto::Dns);
            return self.done();
        }
        if p.to_server {
            match self.phase {
                Phase::Waiting => self.first_client_payload(p),
                Phase::Inspecting => self.more_client_payload(p),
                Phase::Done => {
                    if let Some(h) = self.http.as_mut() {
                        if p.tcp.is_some() && http::looks_like_request(p.data) {
                            h.requests = h.requests.saturating_add(1);
                        }
                    }
                }
            }
        } else {
            self.server_payload(p);
        }
    }

    fn dns_packet(&mut self, p: &Packet<'_>) {
        let msg = if p.udp {
            dns::parse(p.data)
        } else {
            dns::parse_tcp(p.data)
        };
        self.proto = Some(AppProto::Dns);
        if p.to_server {
            // A DNS client has no name to learn.
            self.phase = Phase::Done;
        }
        let Some(m) = msg else { return };
        let d = self.dns.get_or_insert_with(Box::default);
        if let Some(q) = m.qname.filter(|q| !q.is_empty()) {
            if d.queries.len() < MAX_DNS_NAMES && !d.queries.contains(&q) {
                d.queries.push(q);
            }
        }
        if m.response {
            d.responses = d.responses.saturating_add(1);
            d.answers = d.answers.saturating_add(m.addrs.len() as u32);
        }
    }

    fn first_client_payload(&mut self, p: &Packet<'_>) {
        if p.udp {
            if let Some((v, sni)) = quic::gquic_hello(p.data) {
                self.proto = Some(AppProto::Quic);
                self.quic_version(v);
                if let Some(s) = sni {
                    self.name_from(&s, NameSource::Quic);
                    self.quic.get_or_insert_with(Box::default).sni = Some(s);
                }
                return self.done();
            }
            if http::looks_like_request(p.data) {
                // HTTP over UDP (SSDP and the like): one datagram, one head.
                return self.http_head(p.data, true);
            }
            // A client never sends Version Negotiation (version 0).
            let client_version = p.data.get(1..5).is_some_and(|v| v != [0, 0, 0, 0]);
            if client_version && quic::is_long_header(p.data) {
                self.proto = Some(AppProto::Quic);
                self.phase = Phase::Inspecting;
                self.stream = Some(Box::new(Stream {
                    reasm: Reassembly::new(STREAM_LIMIT),
                    ..Stream::default()
                }));
                return self.quic_client(p.data);
            }
            return self.done();
        }
        self.tcp_client(p);
    }

    fn more_client_payload(&mut self, p: &Packet<'_>) {
        match self.proto {
            Some(AppProto::Quic) => self.quic_client(p.data),
            _ if p.tcp.is_some() => self.tcp_client(p),
            _ => self.done(),
        }
    }

    /// Client TCP payload while the stream start is inspected: placed by sequence number, so
    /// segments may come out of order; the protocol is decided on the first contiguous bytes.
    fn tcp_client(&mut self, p: &Packet<'_>) {
        let Some((seq, _)) = p.tcp else {
            return self.done();
        };
        let base = self.client_base.unwrap_or(seq);
        if self.stream.is_none() && seq == base && self.proto.is_none() {
            // The usual case: the first segment starts the stream and holds the whole head.
            // Parsed in place; the stream buffer is only made when more is needed.
            if self.head_in_place(p.data) {
                return;
            }
        }
        let st = self.stream.get_or_insert_with(|| {
            Box::new(Stream {
                reasm: Reassembly::new(STREAM_LIMIT),
                base: Some(base),
                ..Stream::default()
            })
        });
        let off = seq.wrapping_sub(st.base.unwrap_or(base));
        if off >= 1 << 31 {
            return; // before the stream start: a retransmission of earlier bytes
        }
        let before = st.reasm.contiguous().len();
        let grew = st.reasm.insert(u64::from(off), p.data);
        let full = st.reasm.truncated();
        let buf = st.reasm.contiguous();
        // Parse again only when it can succeed now: the prefix grew to the ClientHello's
        // announced length, or a line ended (HTTP); at most MAX_PARSES times. Tiny segments
        // then cost one parse per line or record, not one per segment.
        if !buf.is_empty() && self.proto.is_some() && !full {
            let ready = grew
                && match self.proto {
                    Some(AppProto::Tls) => buf.len() >= tls_needed(buf),
                    _ => buf.get(before..).is_some_and(|new| new.contains(&b'\n')),
                };
            if !ready {
                return;
            }
            st.parses = st.parses.saturating_add(1);
            if st.parses > MAX_PARSES {
                // Give up, keeping what an HTTP head holds so far (its Host, if seen).
                if self.proto == Some(AppProto::Http) {
                    let head = http::request(st.reasm.contiguous());
                    return self.http_parsed(head, true);
                }
                return self.done();
            }
        }
        let buf = st.reasm.contiguous();
        if buf.is_empty() {
            // Only bytes after a gap so far (the first segment is late).
            return if full {
                self.done()
            } else {
                self.phase = Phase::Inspecting
            };
        }
        if self.proto.is_none() {
            if tls::looks_like_tls(buf) {
                self.proto = Some(AppProto::Tls);
            } else if http::looks_like_request(buf) {
                self.proto = Some(AppProto::Http);
            } else {
                return self.done();
            }
            self.phase = Phase::Inspecting;
        }
        if self.proto == Some(AppProto::Tls) {
            match tls::from_records(buf) {
                Parse::Done(ch) => self.tls_hello(ch),
                Parse::NeedMore if !full => {}
                _ => self.done(),
            }
        } else {
            let head = http::request(buf);
            self.http_parsed(head, full);
        }
    }

    /// Tries a first segment on its own: true when it held a whole ClientHello or request head
    /// (or is neither TLS nor HTTP), so no stream buffer is needed.
    fn head_in_place(&mut self, data: &[u8]) -> bool {
        if tls::looks_like_tls(data) {
            if let Parse::Done(ch) = tls::from_records(data) {
                self.proto = Some(AppProto::Tls);
                self.tls_hello(ch);
                return true;
            }
            false
        } else if http::looks_like_request(data) {
            match http::request(data) {
                head @ http::Head::Complete(_) => {
                    self.http_parsed(head, false);
                    true
                }
                _ => false,
            }
        } else {
            self.done();
            true
        }
    }

    fn tls_hello(&mut self, ch: tls::ClientHello) {
        if let Some(s) = &ch.sni {
            self.name_from(s, NameSource::Sni);
        }
        self.tls = Some(Box::new(TlsInfo {
            sni: ch.sni,
            alpn: ch.alpn,
            version: tls::version_name(ch.version),
            ja4: ch.ja4,
        }));
        self.done();
    }

    /// Records the request head at the start of `buf` once it is complete (or `last`: no more
    /// bytes will come), and ends inspection.
    fn http_head(&mut self, buf: &[u8], last: bool) {
        self.http_parsed(http::request(buf), last);
    }

    /// Records a parsed request head (see [`AppState::http_head`]).
    fn http_parsed(&mut self, head: http::Head<http::Request>, last: bool) {
        let (req, complete) = match head {
            http::Head::Complete(r) => (Some(r), true),
            http::Head::Partial(r) => (Some(r), last),
            http::Head::Invalid => (None, true),
        };
        if !complete {
            return;
        }
        self.proto = Some(AppProto::Http);
        if let Some(r) = req {
            if let Some(h) = &r.host {
                self.name_from(h, NameSource::Http);
            }
            let old = self.http.take();
            self.http = Some(Box::new(HttpInfo {
                method: r.method,
                host: r.host,
                path: r.path,
                content_type: r.content_type,
                status: old.as_ref().and_then(|o| o.status),
                response_content_type: old.and_then(|o| o.response_content_type),
                requests: 1,
            }));
        }
        self.done();
    }

    fn quic_versions(&mut self, data: &[u8]) {
        if data.len() < 5 || data[0] & 0x80 == 0 {
            return;
        }
        self.quic_version(u32::from_be_bytes([data[1], data[2], data[3], data[4]]));
    }

    fn quic_version(&mut self, v: u32) {
        let q = self.quic.get_or_insert_with(Box::default);
        let name = quic::version_name(v);
        if q.versions.len() < MAX_QUIC_VERSIONS && !q.versions.contains(&name) {
            q.versions.push(name);
        }
    }

    fn quic_client(&mut self, data: &[u8]) {
        if quic::is_long_header(data) {
            self.quic_versions(data);
        }
        let Some(st) = self.stream.as_mut() else {
            return self.done();
        };
        st.datagrams = st.datagrams.saturating_add(1);
        if let Some(init) = quic::client_initials(data, st.dcid.as_deref()) {
            // The DCID whose keys worked (after a Retry, the new one).
            if init.decrypted > 0 && !init.dcid.is_empty() {
                st.dcid = Some(init.dcid.clone());
            }
            for (off, bytes) in &init.crypto {
                st.reasm.insert(*off, bytes);
            }
        }
        let give_up = st.datagrams >= MAX_QUIC_DATAGRAMS || st.reasm.truncated();
        match tls::from_handshake(st.reasm.contiguous(), true) {
            Parse::Done(ch) => {
                if let Some(s) = &ch.sni {
                    self.name_from(s, NameSource::Quic);
                }
                let q = self.quic.get_or_insert_with(Box::default);
                q.sni = ch.sni;
                q.alpn = ch.alpn;
                q.ja4 = Some(ch.ja4);
                self.done();
            }
            Parse::NeedMore if !give_up => {}
            _ => self.done(),
        }
    }

    fn server_payload(&mut self, p: &Packet<'_>) {
        if p.udp {
            // Only on a flow the client started as QUIC (Version Negotiation and server
            // Initials answer a client Initial; random UDP can look like a long header).
            if self.proto == Some(AppProto::Quic) && quic::is_long_header(p.data) {
                self.quic_versions(p.data);
            }
            return;
        }
        let first_response = self.http.as_ref().map_or(true, |h| h.status.is_none());
        let http_flow = matches!(self.proto, None | Some(AppProto::Http));
        if http_flow && first_response && http::looks_like_response(p.data) {
            let r = match http::response(p.data) {
                http::Head::Complete(r) | http::Head::Partial(r) => r,
                http::Head::Invalid => return,
            };
            self.proto = Some(AppProto::Http);
            let h = self.http.get_or_insert_with(Box::default);
            h.status = Some(r.status);
            h.response_content_type = r.content_type;
        }
    }
}

#[cfg(test)]
mod tests;
