//! Flow: the bounded bidirectional flow table. Owns flow keys, who is client and server, TCP
//! state (SYN/FIN/RST), handshake RTT, per-direction counters, idle timeouts and eviction.
//! It is generic over the per-flow data `T` that later stages attach, so it knows nothing of
//! geography, tenants or policy; it does no I/O and never reads the clock (`now` is an argument).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::IpAddr;
use std::time::Duration;

use crate::decode::{PacketMeta, TcpInfo, PROTO_TCP, PROTO_UDP};
use crate::time::Timestamp;

/// Runtime flow-table settings (compiled from `[flow]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowConfig {
    /// Most flows held at once; a new flow beyond this evicts the flow nearest its timeout.
    pub max_flows: usize,
    pub tcp_handshake_timeout: Duration,
    pub tcp_established_timeout: Duration,
    /// How long a closed (FIN both ways, or RST) TCP flow lingers for late packets.
    pub tcp_closed_timeout: Duration,
    pub udp_timeout: Duration,
    pub other_timeout: Duration,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_flows: 262_144,
            tcp_handshake_timeout: Duration::from_secs(60),
            tcp_established_timeout: Duration::from_secs(600),
            tcp_closed_timeout: Duration::from_secs(5),
            udp_timeout: Duration::from_secs(120),
            other_timeout: Duration::from_secs(60),
        }
    }
}

/// Canonical, direction-free flow key: the lower endpoint first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    pub lo: (IpAddr, u16),
    pub hi: (IpAddr, u16),
    pub proto: u8,
    pub vlan: [u16; 2],
    /// VXLAN/Geneve VNI or GRE key of the tunnel the flow travels in (0 if none): overlays
    /// reuse the same inner addresses.
    pub tunnel_id: u32,
}

impl FlowKey {
    pub fn of(meta: &PacketMeta<'_>) -> FlowKey {
        let a = (meta.src, meta.src_port);
        let b = (meta.dst, meta.dst_port);
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        FlowKey {
            lo,
            hi,
            proto: meta.proto,
            vlan: meta.vlan,
            tunnel_id: meta.tunnel.map_or(0, |t| t.key_id()),
        }
    }
}

/// Direction of a packet relative to the flow's client (the side that opened it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    ToServer,
    ToClient,
}

impl Dir {
    pub fn index(self) -> usize {
        match self {
            Dir::ToServer => 0,
            Dir::ToClient => 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TcpState {
    /// Not TCP.
    None,
    /// First packet seen was not a SYN: joined mid-stream.
    MidStream,
    SynSent,
    SynReceived,
    Established,
    /// One side sent FIN.
    Closing,
    /// Both sides sent FIN, or a RST was seen.
    Closed,
}

impl TcpState {
    pub fn name(self) -> &'static str {
        match self {
            TcpState::None => "none",
            TcpState::MidStream => "midstream",
            TcpState::SynSent => "syn_sent",
            TcpState::SynReceived => "syn_received",
            TcpState::Established => "established",
            TcpState::Closing => "closing",
            TcpState::Closed => "closed",
        }
    }
}

/// Why a flow left the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// No packet for the state's timeout (including the short linger after a TCP close).
    Timeout,
    /// Evicted to make room for a new flow (table full).
    Evicted,
    /// A new SYN reused the 5-tuple of a closed connection.
    Reused,
    /// End of input or shutdown.
    Shutdown,
}

impl EndReason {
    pub fn name(self) -> &'static str {
        match self {
            EndReason::Timeout => "timeout",
            EndReason::Evicted => "evicted",
            EndReason::Reused => "reused",
            EndReason::Shutdown => "shutdown",
        }
    }
}

/// One bidirectional flow.
#[derive(Debug, Clone)]
pub struct Flow<T> {
    /// Stable id: a hash of the key and the first packet's time, so the same input gives the
    /// same ids whatever the number of workers (JSON-safe: below 2^53).
    pub id: u64,
    /// Order of creation in this table (heap tie-break and drain order).
    seq: u64,
    pub key: FlowKey,
    pub client: (IpAddr, u16),
    pub server: (IpAddr, u16),
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// Indexed by [`Dir::index`]: packets, IP bytes, transport payload bytes.
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
    pub payload_bytes: [u64; 2],
    pub tcp: TcpState,
    fin_seen: [bool; 2],
    syn_ts: Option<Timestamp>,
    /// Initial sequence number of the client's SYN.
    syn_seq: Option<u32>,
    synack_ts: Option<Timestamp>,
    /// Gateway -> server -> gateway time (SYN to SYN-ACK), as seen at the capture point.
    pub rtt_server: Option<Duration>,
    /// Gateway -> client -> gateway time (SYN-ACK to the client's ACK).
    pub rtt_client: Option<Duration>,
    /// Upper bounds of the same round trips, measured from the *first* SYN / SYN-ACK (for the
    /// speed-of-light bound, where only an overestimate is safe); `None` when timestamps went
    /// backwards or did not advance.
    pub rtt_server_bound: Option<Duration>,
    pub rtt_client_bound: Option<Duration>,
    first_syn_ts: Option<Timestamp>,
    first_synack_ts: Option<Timestamp>,
    /// Deadline of this flow's live entry in the timeout heap.
    queued: Timestamp,
    /// Per-flow data of later stages.
    pub data: T,
}

impl<T> Flow<T> {
    /// Direction of a packet from `src:port`.
    pub fn dir_of(&self, src: IpAddr, port: u16) -> Dir {
        if (src, port) == self.client {
            Dir::ToServer
        } else {
            Dir::ToClient
        }
    }

    fn timeout(&self, cfg: &FlowConfig) -> Duration {
        match self.key.proto {
            PROTO_TCP => match self.tcp {
                TcpState::SynSent | TcpState::SynReceived => cfg.tcp_handshake_timeout,
                TcpState::Closed => cfg.tcp_closed_timeout,
                _ => cfg.tcp_established_timeout,
            },
            PROTO_UDP => cfg.udp_timeout,
            _ => cfg.other_timeout,
        }
    }

    fn deadline(&self, cfg: &FlowConfig) -> Timestamp {
        self.last_seen.saturating_add(self.timeout(cfg))
    }
}

/// Counters the table keeps; exported by the metrics module.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowStats {
    pub created: u64,
    pub timed_out: u64,
    pub evicted: u64,
    pub reused: u64,
}

/// A flow that left the table, with the reason.
#[derive(Debug)]
pub struct Ended<T> {
    pub flow: Flow<T>,
    pub reason: EndReason,
}

/// Result of [`FlowTable::update`].
#[derive(Debug)]
pub struct Update<'t, T> {
    pub flow: &'t mut Flow<T>,
    pub dir: Dir,
    /// True when this packet created the flow.
    pub created: bool,
    /// True when this packet completed the TCP handshake (client's ACK to the SYN-ACK).
    pub handshake_completed: bool,
}

#[derive(Debug)]
pub struct FlowTable<T> {
    cfg: FlowConfig,
    flows: HashMap<FlowKey, Flow<T>>,
    /// Min-heap of (deadline, flow id, key). Exactly one live entry per flow (`Flow::queued`);
    /// entries whose deadline or id no longer match are stale and dropped when popped.
    heap: BinaryHeap<Reverse<(Timestamp, u64, FlowKey)>>,
    next_id: u64,
    stats: FlowStats,
}

impl<T: Default> FlowTable<T> {
    pub fn new(cfg: FlowConfig) -> FlowTable<T> {
        let cap = cfg.max_flows.min(1 << 16);
        FlowTable {
            cfg,
            flows: HashMap::with_capacity(cap),
            heap: BinaryHeap::with_capacity(cap),
            next_id: 1,
            stats: FlowStats::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    pub fn stats(&self) -> FlowStats {
        self.stats
    }

    /// Takes new timeouts (config reload); `max_flows` stays until restart. Every deadline is
    /// recomputed and the heap rebuilt, so a shorter timeout applies at once.
    pub fn set_timeouts(&mut self, cfg: &FlowConfig) {
        self.cfg = FlowConfig {
            max_flows: self.cfg.max_flows,
            ..cfg.clone()
        };
        self.heap.clear();
        for (key, flow) in self.flows.iter_mut() {
            let d = flow.deadline(&self.cfg);
            flow.queued = d;
            self.heap.push(Reverse((d, flow.seq, *key)));
        }
    }

    /// The flow with this key, if it is still in the table.
    pub fn get_mut(&mut self, key: &FlowKey) -> Option<&mut Flow<T>> {
        self.flows.get_mut(key)
    }

    /// Visits every flow (config reload re-resolves per-flow data).
    pub fn for_each_mut(&mut self, f: impl FnMut(&mut Flow<T>)) {
        self.flows.values_mut().for_each(f);
    }

    /// Ends every flow whose timeout has passed at `now`, oldest deadline first.
    pub fn expire(&mut self, now: Timestamp, out: &mut Vec<Ended<T>>) {
        while let Some(Reverse((deadline, _, _))) = self.heap.peek() {
            if *deadline > now {
                break;
            }
            let Some(Reverse((deadline, seq, key))) = self.heap.pop() else {
                break;
            };
            let Some(flow) = self.flows.get_mut(&key) else {
                continue;
            };
            if flow.seq != seq || flow.queued != deadline {
                continue; // stale entry
            }
            let actual = flow.deadline(&self.cfg);
            if actual > now {
                flow.queued = actual;
                self.heap.push(Reverse((actual, seq, key)));
                continue;
            }
            if let Some(flow) = self.flows.remove(&key) {
                self.stats.timed_out += 1;
                out.push(Ended {
                    flow,
                    reason: EndReason::Timeout,
                });
            }
        }
    }

    /// Removes every flow (end of input, shutdown), in order of creation.
    pub fn drain(&mut self, out: &mut Vec<Ended<T>>) {
        let mut all: Vec<Flow<T>> = self.flows.drain().map(|(_, f)| f).collect();
        all.sort_by_key(|f| f.seq);
        self.heap.clear();
        out.extend(all.into_iter().map(|flow| Ended {
            flow,
            reason: EndReason::Shutdown,
        }));
    }

    /// Evicts the flow whose real deadline is earliest.
    fn evict_one(&mut self, out: &mut Vec<Ended<T>>) {
        while let Some(Reverse((deadline, seq, key))) = self.heap.pop() {
            let Some(flow) = self.flows.get_mut(&key) else {
                continue;
            };
            if flow.seq != seq || flow.queued != deadline {
                continue;
            }
            let actual = flow.deadline(&self.cfg);
            if actual > deadline {
                flow.queued = actual;
                self.heap.push(Reverse((actual, seq, key)));
                continue;
            }
            if let Some(flow) = self.flows.remove(&key) {
                self.stats.evicted += 1;
                out.push(Ended {
                    flow,
                    reason: EndReason::Evicted,
                });
            }
            return;
        }
    }

    /// Accounts one packet to its flow, creating the flow if needed. Flows that end because of
    /// this packet (eviction, 5-tuple reuse) are appended to `out`.
    pub fn update(
        &mut self,
        meta: &PacketMeta<'_>,
        now: Timestamp,
        out: &mut Vec<Ended<T>>,
    ) -> Update<'_, T> {
        let key = FlowKey::of(meta);
        if let Some(t) = meta.tcp.filter(|t| t.syn && !t.ack) {
            if let Some(old) = self.flows.get(&key) {
                // A SYN on a closed 5-tuple, or one with a new initial sequence number on a
                // half-closed or established one, opens a new connection (a retransmitted SYN
                // carries the same ISN and stays in the flow).
                let new_isn = old.syn_seq.is_some_and(|isn| isn != t.seq);
                let reused = match old.tcp {
                    TcpState::Closed => true,
                    TcpState::Closing | TcpState::Established | TcpState::MidStream => {
                        new_isn || old.syn_seq.is_none()
                    }
                    _ => false,
                };
                if reused {
                    if let Some(flow) = self.flows.remove(&key) {
                        self.stats.reused += 1;
                        out.push(Ended {
                            flow,
                            reason: EndReason::Reused,
                        });
                    }
                }
            }
        }
        let mut created = false;
        if !self.flows.contains_key(&key) {
            if self.flows.len() >= self.cfg.max_flows {
                self.evict_one(out);
            }
            let flow = self.new_flow(key, meta, now);
            self.flows.insert(key, flow);
            self.stats.created += 1;
            created = true;
        }
        let cfg = &self.cfg;
        let Some(flow) = self.flows.get_mut(&key) else {
            unreachable!("flow inserted above")
        };
        let dir = flow.dir_of(meta.src, meta.src_port);
        let i = dir.index();
        flow.packets[i] += 1;
        flow.bytes[i] += u64::from(meta.ip_len);
        flow.payload_bytes[i] += meta.payload.len() as u64;
        if now > flow.last_seen {
            flow.last_seen = now;
        }
        let mut handshake_completed = false;
        if let Some(t) = meta.tcp {
            handshake_completed = tcp_step(flow, dir, t, now);
        }
        // New flows get their heap entry here, once their state is known; a flow whose timeout
        // got shorter (TCP closed) must not wait behind its old, later deadline.
        let d = flow.deadline(cfg);
        if created || d < flow.queued {
            flow.queued = d;
            self.heap.push(Reverse((d, flow.seq, key)));
        }
        Update {
            flow,
            dir,
            created,
            handshake_completed,
        }
    }

    fn new_flow(&mut self, key: FlowKey, meta: &PacketMeta<'_>, now: Timestamp) -> Flow<T> {
        let sender = (meta.src, meta.src_port);
        let receiver = (meta.dst, meta.dst_port);
        let sender_is_server = match meta.tcp {
            Some(t) if t.syn => t.ack, // SYN-ACK: we missed the SYN
            _ => is_service_port(meta.src_port) && !is_service_port(meta.dst_port),
        };
        let (client, server) = if sender_is_server {
            (receiver, sender)
        } else {
            (sender, receiver)
        };
        let tcp = match meta.tcp {
            None => TcpState::None,
            Some(_) => TcpState::MidStream,
        };
        let seq = self.next_id;
        self.next_id += 1;
        Flow {
            id: flow_id(&key, now),
            seq,
            key,
            client,
            server,
            first_seen: now,
            last_seen: now,
            packets: [0; 2],
            bytes: [0; 2],
            payload_bytes: [0; 2],
            tcp,
            fin_seen: [false; 2],
            syn_ts: None,
            syn_seq: None,
            synack_ts: None,
            rtt_server_bound: None,
            rtt_client_bound: None,
            first_syn_ts: None,
            first_synack_ts: None,
            rtt_server: None,
            rtt_client: None,
            queued: Timestamp::ZERO,
            data: T::default(),
        }
    }
}

/// FNV-1a 64, for stable (unkeyed, same on every run and platform) hashes of flow keys.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn eat(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn key(mut self, key: &FlowKey) -> Fnv {
        for (ip, port) in [key.lo, key.hi] {
            match ip {
                IpAddr::V4(a) => self.eat(&a.octets()),
                IpAddr::V6(a) => self.eat(&a.octets()),
            }
            self.eat(&port.to_be_bytes());
        }
        self.eat(&[key.proto]);
        self.eat(&key.vlan[0].to_be_bytes());
        self.eat(&key.vlan[1].to_be_bytes());
        if key.tunnel_id != 0 {
            // Only when set, so that untunnelled flows keep the ids they always had.
            self.eat(&key.tunnel_id.to_be_bytes());
        }
        self
    }
}

impl FlowKey {
    /// Symmetric (the key is direction-free) and stable: the pipeline shards flows by it.
    pub fn hash64(&self) -> u64 {
        Fnv::new().key(self).0
    }
}

/// Hash of the key and the creation time, cut to 53 bits. Not a secret and not collision-proof;
/// unique enough to join alert and flow records of one sensor.
pub fn flow_id(key: &FlowKey, first_seen: Timestamp) -> u64 {
    let mut h = Fnv::new().key(key);
    h.eat(&first_seen.0.to_be_bytes());
    (h.0 & ((1 << 53) - 1)).max(1)
}

/// Ports below 1024 are taken as the server side when the first packet gives no other hint
/// (mid-stream TCP, UDP responses seen first).
fn is_service_port(port: u16) -> bool {
    port != 0 && port < 1024
}

/// Advances TCP state for one segment; returns true when this segment completed the handshake.
fn tcp_step<T>(flow: &mut Flow<T>, dir: Dir, t: TcpInfo, now: Timestamp) -> bool {
    if t.rst {
        flow.tcp = TcpState::Closed;
        return false;
    }
    let mut completed = false;
    match (t.syn, t.ack, dir) {
        (true, false, Dir::ToServer) => {
            // The SYN-ACK most likely answers the latest SYN: measuring from the first one
            // would add the retransmission back-off to the RTT.
            flow.syn_ts = Some(now);
            flow.first_syn_ts.get_or_insert(now);
            flow.syn_seq = Some(t.seq);
            if matches!(flow.tcp, TcpState::MidStream | TcpState::None) {
                flow.tcp = TcpState::SynSent;
            }
        }
        (true, true, Dir::ToClient) => {
            if flow.rtt_server.is_none() {
                if let Some(syn) = flow.syn_ts {
                    flow.rtt_server = Some(now.saturating_since(syn));
                }
                flow.rtt_server_bound = flow
                    .first_syn_ts
                    .filter(|first| now > *first)
                    .map(|first| now.saturating_since(first));
            }
            flow.first_synack_ts.get_or_insert(now);
            // Likewise the client's ACK answers the latest SYN-ACK.
            flow.synack_ts = Some(now);
            if matches!(flow.tcp, TcpState::SynSent | TcpState::MidStream) {
                flow.tcp = TcpState::SynReceived;
            }
        }
        (false, true, Dir::ToServer) if flow.tcp == TcpState::SynReceived => {
            if let Some(sa) = flow.synack_ts {
                flow.rtt_client = Some(now.saturating_since(sa));
            }
            flow.rtt_client_bound = flow
                .first_synack_ts
                .filter(|first| now > *first)
                .map(|first| now.saturating_since(first));
            flow.tcp = TcpState::Established;
            completed = true;
        }
        _ => {}
    }
    if t.fin {
        flow.fin_seen[dir.index()] = true;
        flow.tcp = if flow.fin_seen[0] && flow.fin_seen[1] {
            TcpState::Closed
        } else {
            TcpState::Closing
        };
    } else if !t.syn && flow.tcp == TcpState::MidStream {
        // Data without a handshake: treat as established for timeouts.
        flow.tcp = TcpState::Established;
    }
    completed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::LinkType;
    use crate::decode::decode;
    use crate::fixture::frames::{tcp_v4, udp_v4, Flags};

    fn ts(ms: u64) -> Timestamp {
        Timestamp(ms * 1_000_000)
    }

    fn feed(
        t: &mut FlowTable<()>,
        frame: &[u8],
        now: Timestamp,
        out: &mut Vec<Ended<()>>,
    ) -> (u64, Dir, TcpState) {
        let m = decode(LinkType::Ethernet, frame).expect("decodes");
        let u = t.update(&m, now, out);
        (u.flow.seq, u.dir, u.flow.tcp)
    }

    const C: ([u8; 4], u16) = ([10, 1, 2, 3], 40001);
    const S: ([u8; 4], u16) = ([198, 51, 100, 20], 80);

    #[test]
    fn handshake_rtt_directions_and_close() {
        let mut t = FlowTable::<()>::new(FlowConfig::default());
        let mut out = Vec::new();
        let (id, d, st) = feed(&mut t, &tcp_v4(C, S, Flags::SYN, b""), ts(0), &mut out);
        assert_eq!((id, d, st), (1, Dir::ToServer, TcpState::SynSent));
        let (_, d, st) = feed(&mut t, &tcp_v4(S, C, Flags::SYN_ACK, b""), ts(30), &mut out);
        assert_eq!((d, st), (Dir::ToClient, TcpState::SynReceived));
        let ack = tcp_v4(C, S, Flags::ACK, b"");
        let m = decode(LinkType::Ethernet, &ack).expect("decodes");
        let u = t.update(&m, ts(31), &mut out);
        assert!(u.handshake_completed);
        assert_eq!(u.flow.rtt_server, Some(Duration::from_millis(30)));
        assert_eq!(u.flow.rtt_client, Some(Duration::from_millis(1)));
        feed(&mut t, &tcp_v4(C, S, Flags::FIN_ACK, b""), ts(40), &mut out);
        let (_, _, st) = feed(&mut t, &tcp_v4(S, C, Flags::FIN_ACK, b""), ts(41), &mut out);
        assert_eq!(st, TcpState::Closed);
        // Closed flows linger for tcp_closed_timeout (5 s), not the established timeout.
        t.expire(ts(41 + 4_000), &mut out);
        assert!(out.is_empty());
        t.expire(ts(41 + 5_000), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].reason, EndReason::Timeout);
        assert_eq!(out[0].flow.packets, [3, 2]);
    }

    #[test]
    fn flow_id_depends_on_key_and_start_only() {
        let mut a = FlowTable::<()>::new(FlowConfig::default());
        let mut b = FlowTable::<()>::new(FlowConfig::default());
        let mut out = Vec::new();
        // b has seen another flow first: creation order differs, ids must not.
        feed(
            &mut b,
            &tcp_v4(([10, 9, 9, 9], 1), S, Flags::SYN, b""),
            ts(0),
            &mut out,
        );
        let syn_bytes = tcp_v4(C, S, Flags::SYN, b"");
        let syn = decode(LinkType::Ethernet, &syn_bytes).expect("decodes");
        let ia = a.update(&syn, ts(5), &mut out).flow.id;
        let ib = b.update(&syn, ts(5), &mut out).flow.id;
        assert_eq!(ia, ib);
        assert!(ia > 0 && ia < 1 << 53);
        let key = FlowKey::of(&syn);
        assert_ne!(flow_id(&key, ts(5)), flow_id(&key, ts(6)));
        // Direction-free: the reply's key gives the same id.
        let reply_bytes = tcp_v4(S, C, Flags::SYN_ACK, b"");
        let reply = decode(LinkType::Ethernet, &reply_bytes).expect("decodes");
        assert_eq!(flow_id(&FlowKey::of(&reply), ts(5)), ia);
    }

    #[test]
    fn shorter_timeouts_apply_at_once_after_set_timeouts() {
        let mut t = FlowTable::<()>::new(FlowConfig::default());
        let mut out = Vec::new();
        feed(&mut t, &udp_v4(C, S, b"x"), ts(0), &mut out);
        t.expire(ts(60_000), &mut out);
        assert!(out.is_empty(), "udp timeout is 120 s");
        t.set_timeouts(&FlowConfig {
            udp_timeout: Duration::from_secs(30),
            ..FlowConfig::default()
        });
        t.expire(ts(60_000), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].reason, EndReason::Timeout);
    }

    #[test]
    fn synack_first_makes_receiver_the_client() {
        let mut t = FlowTable::<()>::new(FlowConfig::default());
        let mut out = Vec::new();
        let (_, d, _) = feed(&mut t, &tcp_v4(S, C, Flags::SYN_ACK, b""), ts(0), &mut out);
        assert_eq!(d, Dir::ToClient);
    }

    #[test]
    fn midstream_uses_service_port_heuristic() {
        let mut t = FlowTable::<()>::new(FlowConfig::default());
        let mut out = Vec::new();
        let (_, d, st) = feed(
            &mut t,
            &tcp_v4(S, C, Flags::ACK, b"HTTP/1.1 200"),
            ts(0),
            &mut out,
        );
        assert_eq!(d, Dir::ToClient);
        assert_eq!(st, TcpState::Established);
    }

    #[test]
    fn full_table_evicts_the_flow_nearest_its_deadline_and_counts_it() {
        let cfg = FlowConfig {
            max_flows: 2,
            ..FlowConfig::default()
        };
        let mut t = FlowTable::<()>::new(cfg);
        let mut out = Vec::new();
        let p = |port: u16| tcp_v4((C.0, port), S, Flags::ACK, b"x");
        feed(&mut t, &p(1001), ts(0), &mut out);
        feed(&mut t, &p(1002), ts(10), &mut out);
        feed(&mut t, &p(1001), ts(20), &mut out); // 1001 touched again: 1002 is now oldest
        feed(&mut t, &p(1003), ts(30), &mut out);
        assert_eq!(t.len(), 2);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].reason, EndReason::Evicted);
        assert_eq!(out[0].flow.client.1, 1002);
        assert_eq!(t.stats().evicted, 1);
    }

    #[test]
    fn syn_with_new_isn_on_half_closed_tuple_starts_a_new_flow_retransmission_does_not() {
        use crate::fixture::frames::tcp_v4_seq;
        let mut t = FlowTable::<()>::new(FlowConfig::default());
        let mut out = Vec::new();
        feed(&mut t, &tcp_v4_seq(C, S, Flags::SYN, 100), ts(0), &mut out);
        // Retransmitted SYN (same ISN) 1 s later: same flow, RTT measured from it.
        let (id, _, _) = feed(
            &mut t,
            &tcp_v4_seq(C, S, Flags::SYN, 100),
            ts(1_000),
            &mut out,
        );
        assert_eq!(id, 1);
        let synack = tcp_v4(S, C, Flags::SYN_ACK, b"");
        let m = decode(LinkType::Ethernet, &synack).expect("decodes");
        let u = t.update(&m, ts(1_030), &mut out);
        assert_eq!(u.flow.rtt_server, Some(Duration::from_millis(30)));
        feed(&mut t, &tcp_v4(C, S, Flags::ACK, b""), ts(1_031), &mut out);
        feed(
            &mut t,
            &tcp_v4(C, S, Flags::FIN_ACK, b""),
            ts(1_040),
            &mut out,
        );
        // Half-closed, then a SYN with a new ISN: a new connection.
        let (id, _, st) = feed(
            &mut t,
            &tcp_v4_seq(C, S, Flags::SYN, 9_000),
            ts(1_050),
            &mut out,
        );
        assert_eq!((id, st), (2, TcpState::SynSent));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].reason, EndReason::Reused);
    }

    #[test]
    fn syn_on_closed_tuple_starts_a_new_flow() {
        let mut t = FlowTable::<()>::new(FlowConfig::default());
        let mut out = Vec::new();
        feed(&mut t, &tcp_v4(C, S, Flags::SYN, b""), ts(0), &mut out);
        feed(&mut t, &tcp_v4(S, C, Flags::RST, b""), ts(1), &mut out);
        let (id, _, st) = feed(&mut t, &tcp_v4(C, S, Flags::SYN, b""), ts(2), &mut out);
        assert_eq!((id, st), (2, TcpState::SynSent));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].reason, EndReason::Reused);
    }

    #[test]
    fn idle_timeout_is_refreshed_by_traffic() {
        let mut t = FlowTable::<()>::new(FlowConfig::default());
        let mut out = Vec::new();
        let u = |s: u16| crate::fixture::frames::udp_v4((C.0, 5000), ([198, 51, 100, 53], s), b"q");
        feed(&mut t, &u(53), ts(0), &mut out);
        feed(&mut t, &u(53), ts(100_000), &mut out);
        t.expire(ts(120_000), &mut out);
        assert!(out.is_empty(), "touched at 100 s, so alive until 220 s");
        t.expire(ts(220_000), &mut out);
        assert_eq!(out.len(), 1);
    }
}
