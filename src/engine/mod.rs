//! Engine: one worker's per-packet step. For each frame it runs decode -> flow -> (pii, geo) ->
//! policy and turns the results into alert and flow records. Owns the per-flow data the later
//! stages attach (inside side, tenant, destination answer, findings, alerts raised). It is
//! deterministic: `now` is the frame's timestamp and the only inputs are the frame bytes and the
//! shared read-only [`Runtime`]. No I/O, no threads, no clock.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::alert::{
    proto_name, AlertBody, AlertRecord, AppFields, Detected, Endpoints, Event, FlowCounters,
    FlowRecord, GeoField, PersonalData, TunnelField,
};
use crate::capture::Frame;
use crate::config::{Config, Site};
use crate::decode::{decode_frame, Tunnel};
use crate::flow::{Dir, Ended, Flow, FlowConfig, FlowKey, FlowTable};
use crate::geo::{Answer, Country, Geo, GeoDb};
use crate::l7::names::{Learned, NameCache, NameConfig};
use crate::l7::{self, AppState};
use crate::metrics::Stats;
use crate::path::{transit_verdict, PathDb, Transit, TransitFacts};
use crate::pii::{FlowPii, Hasher, Scanner};
use crate::policy::{Kind, Policy, TenantId};
use crate::time::Timestamp;

/// Bytes of client streams held at most for L7 inspection (16 KiB per flow while its name is
/// pending), split evenly over the workers like the flow table; beyond it, the inspection that
/// would grow it is abandoned and counted.
pub const L7_BUDGET: usize = 64 << 20;
/// How long a flow's start is inspected at most (not less than the longest `name_wait_ms`):
/// a stalled ClientHello or head then frees its buffer even when the flow lives on.
pub const INSPECT_MAX: Duration = Duration::from_secs(10);

/// Everything a worker reads and never changes; shared by every worker.
#[derive(Debug)]
pub struct Runtime {
    pub sensor: Option<String>,
    pub site: Site,
    pub policy: Policy,
    pub flow: FlowConfig,
    pub geo: Arc<GeoDb>,
    pub geo_cache_size: usize,
    pub hasher: Hasher,
    /// Imported path evidence (empty unless `--paths` / `[paths] files`).
    pub paths: Arc<PathDb>,
    /// Live probing is on (`run` with `[probe] enabled`): flows without imported evidence ask
    /// for a measured path (`Event::Probe`).
    pub probe: bool,
    /// Capture timestamps are the kernel's, so handshake RTTs may bound paths (false for
    /// AF_PACKET via pnet, which stamps frames when they are read).
    pub rtt_bound: bool,
    /// `[app] name_wait_ms`: how long an alert waits for its flow to name itself.
    pub name_wait: Duration,
    /// `[app]` DNS cache settings (the cache itself outlives reloads: see `pipeline`).
    pub names: NameConfig,
}

impl Runtime {
    pub fn new(cfg: &Config, geo: Arc<GeoDb>, hmac_key: &[u8]) -> Runtime {
        Runtime {
            sensor: cfg.site.name.clone(),
            site: cfg.site.clone(),
            policy: cfg.policy.clone(),
            flow: cfg.flow.clone(),
            geo,
            geo_cache_size: cfg.geo.cache_size,
            hasher: Hasher::new(hmac_key),
            paths: Arc::new(PathDb::default()),
            probe: false,
            rtt_bound: true,
            name_wait: cfg.app.name_wait,
            names: cfg.app.names,
        }
    }
}

/// Which endpoint of a flow is on the inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Inside {
    Client,
    Server,
    Both,
    #[default]
    Neither,
}

/// Per-flow data of the stages after the flow table.
#[derive(Debug, Default)]
pub struct FlowData {
    pub inside: Inside,
    pub tenant: Option<TenantId>,
    /// Answer for the outside endpoint (when exactly one endpoint is inside).
    pub dest: Option<Answer>,
    pub declared: bool,
    pub pii: FlowPii,
    /// Bits of [`Kind::bit`] already raised on this flow.
    pub raised: u8,
    pub egress_pkts: u64,
    pub egress_bytes: u64,
    /// Transit verdict, decided once when the flow is first known to carry personal data and
    /// path evidence for its destination exists.
    pub transit: Option<Transit>,
    pub transit_checked: bool,
    pub probe_requested: bool,
    /// Application protocol and hostname.
    pub app: AppState,
    /// The encapsulation of the flow's first packet.
    pub tunnel: Option<Tunnel>,
    /// Since when an alert of this flow waits for its hostname (`[app] name_wait_ms`), and
    /// until when.
    pub held_since: Option<Timestamp>,
    pub hold_until: Timestamp,
    /// The wait is over (one per flow).
    pub hold_done: bool,
    /// Bytes `app` held for inspection after this flow's last packet (budget accounting).
    pub l7_held: usize,
}

impl FlowData {
    fn carries_personal_data(&self) -> bool {
        self.declared || self.pii.has_findings()
    }
}

#[derive(Debug)]
pub struct Engine {
    rt: Arc<Runtime>,
    table: FlowTable<FlowData>,
    geo: Geo,
    scanner: Scanner,
    stats: Stats,
    ended: Vec<Ended<FlowData>>,
    /// Egress bytes by (tenant, destination country, personal data) since the last
    /// [`Engine::stats`]; cheap keys on the packet path, named when folded into `stats`.
    egress: HashMap<(TenantId, Option<Country>, bool), u64>,
    /// Geo hits, misses and scanned bytes of the cache and scanner replaced by reloads
    /// (counters never go back).
    counted: (u64, u64, u64),
    /// Address -> name cache, fed the DNS answers the capture thread parsed
    /// ([`Engine::learn_name`]), in capture order.
    names: NameCache,
    /// Bytes all flows hold for L7 inspection, and this worker's share of [`L7_BUDGET`].
    l7_bytes: usize,
    l7_budget: usize,
    /// Flows whose inspection holds bytes, in the order it began: (began, key, flow id).
    inspecting: VecDeque<(Timestamp, FlowKey, u64)>,
    /// Flows whose alert waits for a name: min-heap of (deadline, flow id, key); one entry per
    /// wait, at most one wait per flow.
    held: BinaryHeap<Reverse<(Timestamp, u64, FlowKey)>>,
}

impl Engine {
    pub fn new(rt: Arc<Runtime>) -> Engine {
        Engine::shard(rt, 1)
    }

    /// One of `shards` engines that share the work: each holds its share of `max_flows`.
    pub fn shard(rt: Arc<Runtime>, shards: usize) -> Engine {
        let geo = Geo::new(rt.geo.clone(), rt.geo_cache_size);
        let scanner = Scanner::new(rt.hasher.clone());
        let rt_names = rt.names;
        let table = FlowTable::new(FlowConfig {
            max_flows: rt.flow.max_flows.div_ceil(shards.max(1)),
            ..rt.flow.clone()
        });
        Engine {
            rt,
            table,
            geo,
            scanner,
            stats: Stats::default(),
            ended: Vec::new(),
            egress: HashMap::new(),
            counted: (0, 0, 0),
            names: NameCache::new(rt_names),
            held: BinaryHeap::new(),
            l7_bytes: 0,
            inspecting: VecDeque::new(),
            l7_budget: L7_BUDGET / shards.max(1),
        }
    }

    /// Learns a DNS answer (flows starting later to its address get its name). The cache is
    /// kept across reloads; its size is fixed at start.
    pub fn learn_name(&mut self, l: &Learned) {
        self.names.learn(l);
    }

    /// Switches to a new runtime (config reload). Flows in progress are kept with their
    /// counters, findings and the alerts already raised; their inside side, tenant (matched by
    /// id) and destination are resolved again under the new config, so verdicts from here on
    /// follow it. The geo cache starts empty. The flow table keeps its size until restart.
    pub fn reload(&mut self, rt: Arc<Runtime>) {
        self.fold_egress();
        self.counted.0 += self.geo.hits;
        self.counted.1 += self.geo.misses;
        self.counted.2 += self.scanner.bytes_scanned;
        self.geo = Geo::new(rt.geo.clone(), rt.geo_cache_size);
        self.scanner = Scanner::new(rt.hasher.clone());
        self.table.set_timeouts(&rt.flow);
        let geo = &mut self.geo;
        let old = &self.rt;
        let stats = &mut self.stats;
        self.table.for_each_mut(|flow| {
            let before = flow
                .data
                .tenant
                .and_then(|t| old.policy.tenant(t))
                .map(|t| t.id.clone());
            classify(&rt, geo, flow);
            let after = flow
                .data
                .tenant
                .and_then(|t| rt.policy.tenant(t))
                .map(|t| &t.id);
            if before.as_ref() != after {
                // Another tenant now: the alerts raised for the old one do not count for it.
                flow.data.raised = 0;
            }
            if flow.data.held_since.is_some() && !flow.data.carries_personal_data() {
                // Its wait is moot: no tenant's personal data under the new config.
                flow.data.held_since = None;
                flow.data.hold_done = true;
                *stats.alert_holds.entry("reload").or_insert(0) += 1;
            }
        });
        self.rt = rt;
    }

    /// Advances time without a packet (live capture when idle): flows whose timeout passed
    /// end, so their records and held-back identifiers come out.
    pub fn tick(&mut self, now: Timestamp, out: &mut Vec<Event>) {
        self.release_held(now, out);
        self.age_out_inspections(now);
        self.table.expire(now, &mut self.ended);
        self.flush_ended(out);
    }

    /// Inspections that began [`INSPECT_MAX`] before `now` and still hold bytes are abandoned.
    /// Costs a time comparison per packet; a lookup only per aged entry.
    fn age_out_inspections(&mut self, now: Timestamp) {
        while let Some(&(began, key, id)) = self.inspecting.front() {
            if now.saturating_since(began) < INSPECT_MAX {
                break;
            }
            self.inspecting.pop_front();
            let Some(flow) = self.table.get_mut(&key) else {
                continue;
            };
            if flow.id != id || flow.data.l7_held == 0 {
                continue; // ended, replaced, or done inspecting
            }
            flow.data.app.abandon();
            self.l7_bytes = self.l7_bytes.saturating_sub(flow.data.l7_held);
            flow.data.l7_held = 0;
            self.stats.l7_aged_out += 1;
        }
    }

    /// Alerts whose wait for a name ended by `now` are decided (at their deadline's time).
    fn release_held(&mut self, now: Timestamp, out: &mut Vec<Event>) {
        while let Some(Reverse((deadline, id, key))) = self.held.peek().copied() {
            if deadline > now {
                break;
            }
            self.held.pop();
            let Some(flow) = self.table.get_mut(&key) else {
                continue;
            };
            if flow.id != id || flow.data.held_since.is_none() || flow.data.hold_until != deadline {
                continue; // ended, replaced, or already decided
            }
            if let Some(t) = flow.data.tenant {
                let mut cx = EvalCx {
                    stats: &mut self.stats,
                    out,
                    held: &mut self.held,
                };
                evaluate(&self.rt, flow, t, deadline, &mut cx, false);
            }
        }
    }

    fn fold_egress(&mut self) {
        for ((t, c, pd), bytes) in self.egress.drain() {
            if let Some(t) = self.rt.policy.tenant(t) {
                let country = c.map_or_else(|| "unknown".to_string(), |c| c.to_string());
                *self
                    .stats
                    .egress_bytes
                    .entry((t.id.clone(), country, pd))
                    .or_insert(0) += bytes;
            }
        }
    }

    /// Counters so far (flow-table and cache counters refreshed).
    pub fn stats(&mut self) -> &Stats {
        self.fold_egress();
        self.stats.flows = self.table.stats();
        self.stats.flows_active = self.table.len() as u64;
        self.stats.geo_hits = self.counted.0 + self.geo.hits;
        self.stats.geo_misses = self.counted.1 + self.geo.misses;
        self.stats.pii_scanned_bytes = self.counted.2 + self.scanner.bytes_scanned;
        let n = self.names.stats();
        self.stats.names.evicted = n.evicted;
        self.stats.names.entries = n.entries;
        &self.stats
    }

    /// Processes one frame; records it produces are appended to `out`.
    pub fn process(&mut self, frame: &Frame, out: &mut Vec<Event>) {
        let now = frame.ts;
        if frame.reassembled_at.is_none() {
            // A reassembled datagram's fragments were counted when they arrived.
            self.stats.packets += 1;
            self.stats.bytes += frame.data.len() as u64;
        }

        let meta = match decode_frame(frame) {
            Ok(m) => m,
            Err(skip) => {
                // An undecodable frame does not advance time: a corrupt timestamp on garbage
                // must not time out the whole table.
                *self.stats.skipped.entry(skip).or_insert(0) += 1;
                return;
            }
        };
        // Flows that timed out before this packet end first, so records come out in time order.
        self.release_held(now, out);
        self.age_out_inspections(now);
        self.table.expire(now, &mut self.ended);
        self.flush_ended(out);

        let rt = &self.rt;
        let upd = self.table.update(&meta, now, &mut self.ended);
        let flow = upd.flow;
        if upd.created {
            classify(rt, &mut self.geo, flow);
            flow.data.tunnel = meta.tunnel;
            let (_, outside, _) = orient(flow);
            match self.names.lookup(outside.0, now) {
                Some(n) => {
                    self.stats.names_hits += 1;
                    flow.data.app.set_dns_name(n);
                }
                None => self.stats.names_misses += 1,
            }
        }
        flow.data.app.observe(&l7::Packet {
            to_server: upd.dir == Dir::ToServer,
            udp: meta.proto == crate::decode::PROTO_UDP,
            server_port: flow.server.1,
            tcp: meta.tcp.map(|t| (t.seq, t.syn && !t.ack)),
            data: meta.payload,
        });
        let held = flow.data.app.buffered();
        if held != flow.data.l7_held {
            if flow.data.l7_held == 0 {
                self.inspecting.push_back((now, flow.key, flow.id));
            }
            self.l7_bytes = self.l7_bytes.saturating_sub(flow.data.l7_held) + held;
            flow.data.l7_held = held;
            if self.l7_bytes > self.l7_budget {
                // Over budget: this flow stops inspecting (a held alert then goes out unnamed,
                // counted `no_name`).
                flow.data.app.abandon();
                self.l7_bytes = self.l7_bytes.saturating_sub(held);
                flow.data.l7_held = 0;
                self.stats.l7_abandoned += 1;
            }
        }
        let egress = matches!(
            (flow.data.inside, upd.dir),
            (Inside::Client, Dir::ToServer) | (Inside::Server, Dir::ToClient)
        );
        if egress {
            flow.data.egress_pkts += 1;
            flow.data.egress_bytes += u64::from(meta.ip_len);
        }
        if let Some(t) = flow.data.tenant {
            let detect = rt.policy.tenant(t).map(|t| t.detect).unwrap_or_default();
            let stream = meta.tcp.is_some();
            let fin = meta.tcp.is_some_and(|t| t.fin || t.rst);
            if egress && !meta.payload.is_empty() {
                self.scanner
                    .scan(&mut flow.data.pii, detect, meta.payload, stream);
            }
            // An identifier held back at the end of an egress segment is complete once the peer
            // answers or the sender closes.
            if (!egress && !meta.payload.is_empty()) || (egress && fin) {
                self.scanner.finalize(&mut flow.data.pii, detect);
            }
            if egress && !meta.payload.is_empty()
                || flow.data.pii.has_findings()
                || flow.data.held_since.is_some()
            {
                let mut cx = EvalCx {
                    stats: &mut self.stats,
                    out,
                    held: &mut self.held,
                };
                evaluate(rt, flow, t, now, &mut cx, false);
            }
            if egress {
                let key = (
                    t,
                    flow.data.dest.and_then(|a| a.country),
                    flow.data.carries_personal_data(),
                );
                *self.egress.entry(key).or_insert(0) += u64::from(meta.ip_len);
            }
        }
        self.flush_ended(out);
    }

    /// Ends every remaining flow (end of input).
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        self.table.drain(&mut self.ended);
        self.flush_ended(out);
    }

    fn flush_ended(&mut self, out: &mut Vec<Event>) {
        for mut e in self.ended.drain(..) {
            let flow = &mut e.flow;
            self.l7_bytes = self.l7_bytes.saturating_sub(flow.data.l7_held);
            if let Some(t) = flow.data.tenant {
                // Last chance for an identifier held back at the end of the stream.
                let detect = self
                    .rt
                    .policy
                    .tenant(t)
                    .map(|t| t.detect)
                    .unwrap_or_default();
                let found = self.scanner.finalize(&mut flow.data.pii, detect) > 0;
                if found || flow.data.held_since.is_some() {
                    // The flow is over: a held alert waits no longer.
                    let mut cx = EvalCx {
                        stats: &mut self.stats,
                        out,
                        held: &mut self.held,
                    };
                    evaluate(&self.rt, flow, t, flow.last_seen, &mut cx, true);
                }
            }
            *self.stats.flows_ended.entry(e.reason.name()).or_insert(0) += 1;
            self.stats.pii_findings_dropped += u64::from(flow.data.pii.findings_dropped);
            out.push(Event::Flow(Box::new(flow_record(
                &self.rt,
                flow,
                e.reason.name(),
            ))));
        }
    }
}

/// Where [`evaluate`] puts what it produces.
struct EvalCx<'a> {
    stats: &'a mut Stats,
    out: &'a mut Vec<Event>,
    held: &'a mut BinaryHeap<Reverse<(Timestamp, u64, FlowKey)>>,
}

/// Raises the flow's alert if it carries personal data its tenant may not send where it goes,
/// once per flow and kind. An alert that could still learn the flow's hostname (TLS/QUIC SNI,
/// HTTP Host not seen yet) waits up to `name_wait` for it; `flow_over` ends the wait.
fn evaluate(
    rt: &Runtime,
    flow: &mut Flow<FlowData>,
    t: TenantId,
    now: Timestamp,
    cx: &mut EvalCx<'_>,
    flow_over: bool,
) {
    if !flow.data.carries_personal_data() {
        return;
    }
    if !flow.data.transit_checked {
        flow.data.transit_checked = true;
        flow.data.transit = check_transit(rt, flow, t);
        let (_, outside, _) = orient(flow);
        let probe_worthy = rt.probe
            && !flow.data.probe_requested
            && flow.data.transit.is_none()
            // Only where the tenant opened the connection, to a routable destination (not a
            // client of the tenant's service, which an outsider could choose), and only when no
            // imported evidence covers it.
            && flow.data.inside == Inside::Client
            && flow.data.dest.is_some_and(|a| a.special.is_none())
            && rt.paths.lookup(outside.0).is_none()
            && rt.paths.as_path(outside.0).is_none();
        if probe_worthy {
            if let Some(tenant) = rt.policy.tenant(t).filter(|x| !x.deny_transit.is_empty()) {
                flow.data.probe_requested = true;
                cx.out.push(Event::Probe(Box::new(crate::probe::Request {
                    dest: outside.0,
                    deny: tenant.deny_transit,
                    deny_names: tenant.deny_transit_names.clone(),
                    site: rt.site.location,
                    rtt: bound_rtt(rt, flow),
                    alert: Box::new(alert_record(rt, flow, now, Kind::Transit, String::new())),
                })));
            }
        }
    }
    // A wait for the flow's name ends when the name came, the flow ended or the deadline passed
    // (whatever the verdict is by then: the name may have cleared it).
    if let Some(since) = flow.data.held_since {
        let outcome = if !flow.data.app.name_pending() {
            if flow.data.app.named_itself() {
                "named"
            } else {
                "no_name"
            }
        } else if flow_over {
            "flow_end"
        } else if now >= flow.data.hold_until {
            "deadline"
        } else {
            return;
        };
        flow.data.held_since = None;
        flow.data.hold_done = true;
        *cx.stats.alert_holds.entry(outcome).or_insert(0) += 1;
        cx.stats.alert_hold_us += now.saturating_since(since).as_micros() as u64;
    }
    let country = flow.data.dest.and_then(|a| a.country);
    let host = flow.data.app.hostname.as_ref().map(|h| h.name.clone());
    let from_dns = flow
        .data
        .app
        .hostname
        .as_ref()
        .is_some_and(|h| h.source == l7::NameSource::Dns);
    let verdict = rt.policy.decide(t, country, host.as_deref(), from_dns);
    let transit = flow
        .data
        .transit
        .as_ref()
        .is_some_and(|tr| !tr.jurisdictions.is_empty());
    let new = verdict.is_some_and(|k| flow.data.raised & k.bit() == 0)
        || (transit && flow.data.raised & Kind::Transit.bit() == 0);
    if !new {
        return;
    }
    let pending = flow.data.app.name_pending();
    if !flow.data.hold_done && pending && !flow_over && !rt.name_wait.is_zero() {
        // Wait for the name (once per flow; the deadline is fixed now, reloads do not move it).
        let until = now.saturating_add(rt.name_wait);
        flow.data.held_since = Some(now);
        flow.data.hold_until = until;
        cx.held.push(Reverse((until, flow.id, flow.key)));
        return;
    }
    flow.data.hold_done = true;
    if let Some(kind) = verdict {
        raise(rt, flow, t, kind, now, cx.stats, cx.out);
    }
    if transit {
        raise(rt, flow, t, Kind::Transit, now, cx.stats, cx.out);
    }
}

/// The handshake RTT toward the outside endpoint for the speed-of-light bound: measured from
/// the first SYN (SYN-ACK), so retransmissions can only make it longer (safe); none when the
/// capture's timestamps cannot be trusted for it (`Runtime::rtt_bound`).
fn bound_rtt(rt: &Runtime, flow: &Flow<FlowData>) -> Option<std::time::Duration> {
    if !rt.rtt_bound {
        return None;
    }
    match flow.data.inside {
        Inside::Server => flow.rtt_client_bound,
        _ => flow.rtt_server_bound,
    }
}

/// "2 traceroute hops located, 1 AS registered" for reasons.
fn evidence_summary(tr: &Transit) -> String {
    let located = tr.evidence.iter().filter(|e| e.basis == "location").count();
    let registered = tr.evidence.len() - located;
    let mut parts = Vec::new();
    if located > 0 {
        parts.push(format!(
            "{located} traceroute hop{} located there",
            if located == 1 { "" } else { "s" }
        ));
    }
    if registered > 0 {
        parts.push(format!(
            "{registered} AS{} on the BGP path registered there",
            if registered == 1 { "" } else { "es" }
        ));
    }
    parts.join(", ")
}

/// The transit verdict for a flow whose tenant forbids some transit and whose destination has
/// path evidence. The RTT toward the outside endpoint bounds the path (`[site] location`).
fn check_transit(rt: &Runtime, flow: &Flow<FlowData>, t: TenantId) -> Option<Transit> {
    if rt.paths.is_empty() || rt.policy.tenant(t)?.deny_transit.is_empty() {
        return None;
    }
    let (_, outside, _) = orient(flow);
    let path = rt.paths.lookup(outside.0);
    let as_path = rt.paths.as_path(outside.0);
    let registered: Vec<_> = as_path
        .iter()
        .flat_map(|(_, hops)| hops.iter().filter_map(|h| h.country))
        .collect();
    transit_verdict(&TransitFacts {
        path,
        denied_location: path.map_or_else(Vec::new, |p| rt.policy.denied_transit(t, &p.crossed())),
        denied_registration: rt.policy.denied_transit(t, &registered),
        as_path,
        site: rt.site.location,
        rtt: bound_rtt(rt, flow),
    })
}

fn raise(
    rt: &Runtime,
    flow: &mut Flow<FlowData>,
    t: TenantId,
    kind: Kind,
    now: Timestamp,
    stats: &mut Stats,
    out: &mut Vec<Event>,
) {
    if flow.data.raised & kind.bit() != 0 {
        return;
    }
    flow.data.raised |= kind.bit();
    let country = flow.data.dest.and_then(|a| a.country);
    let reason = match (kind, &flow.data.transit) {
        (Kind::Transit, Some(tr)) => format!(
            "personal data of {} to {} crosses {} ({}); {} must not be transited",
            rt.policy.tenant(t).map_or("?", |x| x.id.as_str()),
            country.map_or_else(|| "an unknown jurisdiction".to_string(), |c| c.to_string()),
            tr.jurisdictions.join(", "),
            evidence_summary(tr),
            rt.policy
                .tenant(t)
                .map_or_else(String::new, |x| x.deny_transit_names.join(", "))
        ),
        _ => rt.policy.reason(
            t,
            kind,
            country,
            hostname_field(&flow.data).as_ref().map(|h| &*h.name),
        ),
    };
    let rec = alert_record(rt, flow, now, kind, reason);
    let key = (
        rec.tenant.clone(),
        kind.name(),
        country_label(flow.data.dest),
    );
    *stats.alerts.entry(key).or_insert(0) += 1;
    out.push(Event::Alert(Box::new(rec)));
}

fn country_label(a: Option<Answer>) -> String {
    a.and_then(|a| a.country)
        .map(|c| c.to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Decides, once per flow, which side is inside, the tenant and the destination's jurisdiction.
fn classify(rt: &Runtime, geo: &mut Geo, flow: &mut Flow<FlowData>) {
    // Also used on reload: start from nothing.
    flow.data.inside = Inside::Neither;
    flow.data.tenant = None;
    flow.data.dest = None;
    flow.data.declared = false;
    flow.data.transit = None;
    flow.data.transit_checked = false;
    let ci = rt.site.is_inside(flow.client.0);
    let si = rt.site.is_inside(flow.server.0);
    let (inside, inside_ip, outside_ip) = match (ci, si) {
        (true, false) => (Inside::Client, flow.client.0, flow.server.0),
        (false, true) => (Inside::Server, flow.server.0, flow.client.0),
        (true, true) => {
            flow.data.inside = Inside::Both;
            return;
        }
        (false, false) => return,
    };
    flow.data.inside = inside;
    flow.data.dest = Some(geo.lookup(outside_ip));
    flow.data.tenant = rt.policy.tenant_of(inside_ip);
    if let Some(t) = flow.data.tenant {
        flow.data.declared = rt.policy.is_declared(t, inside_ip);
    }
}

/// (inside endpoint, outside endpoint, direction) for records.
fn orient(flow: &Flow<FlowData>) -> ((IpAddr, u16), (IpAddr, u16), &'static str) {
    match flow.data.inside {
        Inside::Client => (flow.client, flow.server, "outbound"),
        Inside::Server => (flow.server, flow.client, "inbound"),
        Inside::Both => (flow.client, flow.server, "internal"),
        Inside::Neither => (flow.client, flow.server, "external"),
    }
}

fn endpoints(rt: &Runtime, flow: &Flow<FlowData>) -> Endpoints {
    let (src, dst, direction) = orient(flow);
    // Up to the innermost non-zero id (a priority tag has id 0 but may carry an inner VLAN).
    let depth = flow
        .key
        .vlan
        .iter()
        .rposition(|v| *v != 0)
        .map_or(0, |i| i + 1);
    Endpoints {
        flow_id: flow.id,
        sensor: rt.sensor.clone(),
        src_ip: src.0,
        src_port: src.1,
        dest_ip: dst.0,
        dest_port: dst.1,
        proto: proto_name(flow.key.proto),
        vlan: flow.key.vlan[..depth].to_vec(),
        direction,
        tunnel: flow.data.tunnel.map(|t| TunnelField {
            kind: t.kind.name(),
            outer_src_ip: t.outer.map(|o| o.0),
            outer_dest_ip: t.outer.map(|o| o.1),
            id: t.id,
            depth: t.depth,
        }),
        app_proto: flow.data.app.proto.map(|p| p.name()),
        hostname: hostname_field(&flow.data),
    }
}

/// A string copied from a payload, for a record: `[redacted]` when a personal-data detector
/// fires in it (hostnames, Host headers, content types and DNS names are not supposed to carry
/// identifiers, so one that does is not written out).
fn scrub(s: &str) -> String {
    if crate::pii::detect::contains_identifier(s.as_bytes()) {
        "[redacted]".to_string()
    } else {
        s.to_string()
    }
}

fn scrub_opt(s: &Option<String>) -> Option<String> {
    s.as_deref().map(scrub)
}

/// The flow's hostname for a record (scrubbed).
fn hostname_field(d: &FlowData) -> Option<l7::Hostname> {
    d.app.hostname.as_ref().map(|h| l7::Hostname {
        name: if crate::pii::detect::contains_identifier(h.name.as_bytes()) {
            Arc::from("[redacted]")
        } else {
            h.name.clone()
        },
        source: h.source,
    })
}

/// The flow's protocol fields for its record, every string from the payload scrubbed (HTTP
/// paths are already trimmed and checked by `l7::http`).
fn app_fields(d: &FlowData) -> AppFields {
    let tls = d.app.tls.clone().map(|mut t| {
        t.sni = scrub_opt(&t.sni);
        t.alpn = t.alpn.iter().map(|a| scrub(a)).collect();
        t
    });
    let quic = d.app.quic.clone().map(|mut q| {
        q.sni = scrub_opt(&q.sni);
        q.alpn = q.alpn.iter().map(|a| scrub(a)).collect();
        q
    });
    let http = d.app.http.clone().map(|mut h| {
        h.host = scrub_opt(&h.host);
        h.content_type = scrub_opt(&h.content_type);
        h.response_content_type = scrub_opt(&h.response_content_type);
        h.method = scrub(&h.method);
        h
    });
    let dns = d.app.dns.clone().map(|mut n| {
        n.queries = n.queries.iter().map(|q| scrub(q)).collect();
        n
    });
    AppFields {
        tls,
        quic,
        http,
        dns,
    }
}

fn geo_field(rt: &Runtime, a: Answer) -> GeoField {
    GeoField {
        country: a.country.map(|c| c.to_string()),
        source: rt.geo.source_name(a.source).map(str::to_string),
        special: a.special.map(|s| s.name),
        embedded_ipv4: a.embedded.map(|(_, v4)| v4.to_string()),
    }
}

fn personal_data(d: &FlowData) -> PersonalData {
    PersonalData {
        declared: d.declared,
        detected: d
            .pii
            .findings
            .iter()
            .map(|f| Detected {
                kind: f.detector.name(),
                count: f.count,
                masked: f.masked.clone(),
                hmac: f.hmac.clone(),
            })
            .collect(),
        detected_not_listed: d.pii.findings_dropped,
    }
}

fn tenant_name(rt: &Runtime, d: &FlowData) -> Option<String> {
    d.tenant
        .and_then(|t| rt.policy.tenant(t))
        .map(|t| t.id.clone())
}

fn alert_record(
    rt: &Runtime,
    flow: &Flow<FlowData>,
    now: Timestamp,
    kind: Kind,
    reason: String,
) -> AlertRecord {
    AlertRecord {
        timestamp: now.rfc3339_micros(),
        event_type: "alert",
        ends: endpoints(rt, flow),
        tenant: tenant_name(rt, &flow.data).unwrap_or_default(),
        alert: AlertBody {
            kind: kind.name(),
            severity: kind.severity(),
            reason,
        },
        dest_geo: flow
            .data
            .dest
            .map(|a| geo_field(rt, a))
            .unwrap_or(GeoField {
                country: None,
                source: None,
                special: None,
                embedded_ipv4: None,
            }),
        personal_data: personal_data(&flow.data),
        transit: flow.data.transit.clone(),
    }
}

fn flow_record(rt: &Runtime, flow: &Flow<FlowData>, reason: &'static str) -> FlowRecord {
    let alerts = Kind::ALL
        .iter()
        .filter(|k| flow.data.raised & k.bit() != 0)
        .map(|k| k.name())
        .collect();
    FlowRecord {
        timestamp: flow.first_seen.rfc3339_micros(),
        event_type: "flow",
        ends: endpoints(rt, flow),
        tenant: tenant_name(rt, &flow.data),
        dest_geo: flow.data.dest.map(|a| geo_field(rt, a)),
        flow: FlowCounters {
            start: flow.first_seen.rfc3339_micros(),
            end: flow.last_seen.rfc3339_micros(),
            age: flow.last_seen.saturating_since(flow.first_seen).as_secs(),
            pkts_toserver: flow.packets[0],
            pkts_toclient: flow.packets[1],
            bytes_toserver: flow.bytes[0],
            bytes_toclient: flow.bytes[1],
            egress_pkts: flow.data.egress_pkts,
            egress_bytes: flow.data.egress_bytes,
            state: flow.tcp.name(),
            reason,
            rtt_server_us: flow.rtt_server.map(|d| d.as_micros() as u64),
            rtt_client_us: flow.rtt_client.map(|d| d.as_micros() as u64),
            alerted: flow.data.raised != 0,
        },
        personal_data: personal_data(&flow.data),
        transit: flow.data.transit.clone(),
        alerts,
        app: app_fields(&flow.data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::LinkType;
    use crate::config::compile_str;
    use crate::fixture::Conversation;

    fn runtime(allow: &str) -> Arc<Runtime> {
        let text = format!(
            "[site]\ninside = [\"192.0.2.0/24\"]\n[[geo.override]]\nnetwork = \"198.51.100.0/24\"\ncountry = \"US\"\n\
             [[tenant]]\nid = \"eu-clinic\"\nnetworks = [\"192.0.2.0/25\"]\nallow = [{allow}]\npersonal_data = {{ detect = [\"email\"] }}\n\
             [[tenant]]\nid = \"other\"\nnetworks = [\"192.0.2.128/25\"]\nallow = [\"EEA\"]\npersonal_data = {{ detect = [\"email\"] }}\n"
        );
        let cfg = compile_str(&text, "test.toml", std::path::Path::new(".")).expect("config");
        let geo = Arc::new(GeoDb::open(&cfg.geo).expect("geo"));
        Arc::new(Runtime::new(&cfg, geo, b"0123456789abcdef"))
    }

    fn feed(e: &mut Engine, c: Conversation) -> Vec<Event> {
        let mut out = Vec::new();
        for (ts, data) in c.frames {
            let f = Frame {
                ts,
                linktype: LinkType::Ethernet,
                wire_len: data.len() as u32,
                reassembled_at: None,
                data,
            };
            e.process(&f, &mut out);
        }
        out
    }

    fn alerts(ev: &[Event]) -> usize {
        ev.iter().filter(|e| matches!(e, Event::Alert(_))).count()
    }

    #[test]
    fn reload_changes_verdicts_keeps_flows_and_never_lowers_counters() {
        let mut e = Engine::new(runtime("\"EEA\""));
        let srv = "198.51.100.10:80".parse().unwrap();
        let t = |ms: u64| Timestamp(1_700_000_000_000_000_000 + ms * 1_000_000);
        // A flow opened under the old config, still open at the reload.
        let open = Conversation::new("192.0.2.10:40000".parse().unwrap(), srv, t(0)).handshake();
        assert_eq!(alerts(&feed(&mut e, open)), 0);
        let pd = Conversation::new("192.0.2.11:40001".parse().unwrap(), srv, t(10))
            .handshake()
            .client_sends(b"to=jane.doe@example.org&x=1");
        assert_eq!(alerts(&feed(&mut e, pd)), 1, "US is not in EEA");
        let before = e.stats().clone();
        assert!(before.geo_misses > 0 && before.pii_scanned_bytes > 0);

        e.reload(runtime("\"EEA\", \"US\""));
        assert_eq!(e.table.len(), 2, "flows survive the reload");
        let after = e.stats().clone();
        assert!(after.geo_misses >= before.geo_misses);
        assert!(after.pii_scanned_bytes >= before.pii_scanned_bytes);
        assert_eq!(after.alerts, before.alerts);
        // New flows follow the new policy: US allowed now.
        let pd2 = Conversation::new("192.0.2.12:40002".parse().unwrap(), srv, t(100))
            .handshake()
            .client_sends(b"to=jane.doe@example.org&x=1");
        assert_eq!(alerts(&feed(&mut e, pd2)), 0);
        // The kept flow keeps its tenant (matched by id) and is judged by the new policy too.
        let mut found = false;
        e.table.for_each_mut(|f| {
            if f.client.1 == 40000 {
                found = true;
                assert_eq!(f.data.tenant, Some(0));
                assert_eq!(
                    f.data
                        .dest
                        .and_then(|a| a.country)
                        .map(|c| c.to_string())
                        .as_deref(),
                    Some("US")
                );
            }
        });
        assert!(found);
        assert!(e.stats().pii_scanned_bytes > after.pii_scanned_bytes);
    }
}
