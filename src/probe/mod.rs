//! Probe: active path measurement from the gateway (`sovereign run` with `[probe] enabled`, and
//! `sovereign trace`). Flow-stable traceroutes (Paris for UDP: fixed ports, the checksum kept
//! constant; ICMP and TCP with fixed identifiers/ports) through `trippy-core`, IPv4 and IPv6,
//! toward the destinations of personal-data flows only. One thread owns all probing: requests
//! queue in a bounded channel (drops counted), results are cached per destination prefix (/24,
//! /48) for `cache_secs` (a prefix is never probed more often), and a global packets-per-second
//! budget paces traces. When a path comes back, the thread draws the transit verdict for every
//! flow waiting on that prefix and emits the `transit` alerts itself (the flow may have ended).
//! This module does network I/O (raw sockets); it owns no packet decoding and no policy beyond
//! calling `path::transit_verdict`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use ipnet::IpNet;

use crate::alert::{AlertRecord, Event};
use crate::geo::{Country, CountrySet, GeoDb};
use crate::metrics::exporter::{Exporter, PipelineMetrics};
use crate::path::reach::LatLon;
use crate::path::{prefix_of, transit_verdict, HopGeo, PathRecord, TransitFacts};
use crate::time::{monotonic, wall_clock};

/// `[probe]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeConfig {
    pub enabled: bool,
    pub protocol: Protocol,
    pub max_ttl: u8,
    /// Rounds per trace (each probes every TTL once).
    pub rounds: usize,
    /// Global budget over all traces.
    pub packets_per_second: u32,
    /// How long a measured path stands for its prefix (and the least time between two probes of
    /// the same prefix).
    pub cache: Duration,
    /// How long a round waits for late replies.
    pub grace: Duration,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            enabled: false,
            protocol: Protocol::Udp,
            max_ttl: 30,
            rounds: 3,
            packets_per_second: 50,
            cache: Duration::from_secs(3600),
            grace: Duration::from_millis(500),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Icmp,
    Udp,
    Tcp,
}

impl Protocol {
    pub fn parse(s: &str) -> Option<Protocol> {
        match s {
            "icmp" => Some(Protocol::Icmp),
            "udp" => Some(Protocol::Udp),
            "tcp" => Some(Protocol::Tcp),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Icmp => "icmp",
            Protocol::Udp => "udp",
            Protocol::Tcp => "tcp",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("traceroute to {dest}: {reason}")]
    Trace { dest: IpAddr, reason: String },
}

/// One measured hop before geolocation.
#[derive(Debug, Clone, PartialEq)]
pub struct RawHop {
    pub ttl: u8,
    pub addrs: Vec<IpAddr>,
    pub best_ms: Option<f64>,
    pub mpls: Vec<u32>,
}

/// Runs one flow-stable traceroute toward `dest` (blocking; needs CAP_NET_RAW).
pub fn traceroute(dest: IpAddr, cfg: &ProbeConfig) -> Result<Vec<RawHop>, ProbeError> {
    use trippy_core::{Builder, MultipathStrategy, PortDirection, PrivilegeMode, Protocol as P};
    let err = |e: trippy_core::Error| ProbeError::Trace {
        dest,
        reason: e.to_string(),
    };
    let b = Builder::new(dest)
        .privilege_mode(PrivilegeMode::Privileged)
        .max_ttl(cfg.max_ttl)
        .max_rounds(Some(cfg.rounds.max(1)))
        .grace_duration(cfg.grace)
        .min_round_duration(Duration::from_millis(200))
        .max_round_duration(Duration::from_secs(2));
    let b = match cfg.protocol {
        Protocol::Icmp => b.protocol(P::Icmp),
        // Paris: fixed ports, constant checksum -> one flow through per-flow load balancers.
        Protocol::Udp => b
            .protocol(P::Udp)
            .multipath_strategy(MultipathStrategy::Paris)
            .port_direction(PortDirection::FixedSrc(trippy_core::Port(33_000))),
        Protocol::Tcp => b.protocol(P::Tcp),
    };
    let tracer = b.build().map_err(err)?;
    tracer.run().map_err(err)?;
    let state = tracer.snapshot();
    let mut out = Vec::new();
    for h in state.hops() {
        let mpls = h
            .extensions()
            .map(|e| {
                e.extensions
                    .iter()
                    .flat_map(|x| match x {
                        trippy_core::Extension::Mpls(s) => {
                            s.members.iter().map(|m| m.label).collect::<Vec<_>>()
                        }
                        _ => Vec::new(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(RawHop {
            ttl: h.ttl(),
            addrs: h.addrs().copied().collect(),
            best_ms: h.best_ms(),
            mpls,
        });
        // Hops past the destination are not part of the path.
        if h.addrs().any(|a| *a == dest) {
            break;
        }
    }
    if let Some(e) = state.error() {
        return Err(ProbeError::Trace {
            dest,
            reason: e.to_string(),
        });
    }
    Ok(out)
}

/// Geolocates a measured path (as imported ones are).
pub fn path_record(dest: IpAddr, hops: &[RawHop], geo: &GeoDb, protocol: Protocol) -> PathRecord {
    let mut out = Vec::new();
    let mut silent = Vec::new();
    for h in hops {
        if h.addrs.is_empty() {
            silent.push(u16::from(h.ttl));
        }
        for a in &h.addrs {
            out.push(HopGeo {
                hop: u16::from(h.ttl),
                address: *a,
                country: geo.resolve(*a).country,
                rtt_ms: h.best_ms.map(|v| (v * 1000.0).round() / 1000.0),
                mpls: h.mpls.clone(),
            });
        }
    }
    PathRecord {
        destination: dest,
        measurement: format!("probe {} from the gateway", protocol.name()),
        reached: hops.iter().any(|h| h.addrs.contains(&dest)),
        hops: out,
        silent_hops: silent,
    }
}

/// A flow waiting for path evidence: the alert to raise if its path crosses what its tenant
/// forbids.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub dest: IpAddr,
    pub deny: CountrySet,
    pub deny_names: Vec<String>,
    pub site: Option<LatLon>,
    pub rtt: Option<Duration>,
    /// The alert (kind `transit`) with everything but the verdict, time and reason.
    pub alert: Box<AlertRecord>,
}

/// Handle of the probe thread.
#[derive(Debug)]
pub struct Prober {
    tx: Option<Sender<Request>>,
    thread: Option<thread::JoinHandle<()>>,
    metrics: PipelineMetrics,
    /// Set on shutdown: queued requests are dropped without tracing.
    pub stop: Arc<AtomicBool>,
}

impl Prober {
    /// Starts the probe thread; `out` receives the transit alerts it raises.
    pub fn start(
        cfg: ProbeConfig,
        geo: Arc<GeoDb>,
        out: Sender<Vec<Event>>,
        exp: Arc<Exporter>,
    ) -> std::io::Result<Prober> {
        let (tx, rx) = bounded(256);
        let metrics = exp.pipeline.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        let thread = thread::Builder::new()
            .name("probe".into())
            .spawn(move || run(cfg, geo, rx, out, exp, st))?;
        Ok(Prober {
            tx: Some(tx),
            thread: Some(thread),
            metrics,
            stop,
        })
    }

    /// A cheap, cloneable way for workers to ask.
    pub fn requester(&self) -> Option<Requester> {
        self.tx.clone().map(|tx| Requester {
            tx,
            dropped: self.metrics.probe_dropped.clone(),
        })
    }

    /// Gives up the handle's own sender: the thread then ends once every [`Requester`] is
    /// dropped (and its trace in progress is done).
    pub fn close(&mut self) {
        self.tx = None;
    }

    /// Stops after the trace in progress.
    pub fn finish(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.tx = None;
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("probe thread panicked");
            }
        }
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The worker side: never blocks.
#[derive(Debug, Clone)]
pub struct Requester {
    tx: Sender<Request>,
    dropped: prometheus::IntCounter,
}

impl Requester {
    pub fn ask(&self, r: Request) {
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.tx.try_send(r) {
            self.dropped.inc();
        }
    }
}

/// Draws the verdict for a waiting flow and builds its alert, if any.
pub fn judge(req: Request, path: &PathRecord) -> Option<AlertRecord> {
    let crossed: Vec<Country> = path.crossed();
    let denied: Vec<Country> = crossed
        .into_iter()
        .filter(|c| req.deny.contains(*c))
        .collect();
    let transit = transit_verdict(&TransitFacts {
        path: Some(path),
        denied_location: denied,
        site: req.site,
        rtt: req.rtt,
        ..TransitFacts::default()
    })?;
    if transit.jurisdictions.is_empty() {
        return None;
    }
    let mut a = *req.alert;
    a.timestamp = wall_clock().rfc3339_micros();
    a.alert.reason = format!(
        "personal data of {} crosses {} ({} hop{} located there, measured from the gateway); {} must not be transited",
        a.tenant,
        transit.jurisdictions.join(", "),
        transit.evidence.len(),
        if transit.evidence.len() == 1 { "" } else { "s" },
        req.deny_names.join(", ")
    );
    a.transit = Some(transit);
    Some(a)
}

/// Paths (or failures) per prefix at most; the oldest go first when full.
const MAX_CACHED_PREFIXES: usize = 65_536;

/// What the probe thread knows about a prefix.
enum Known {
    Path(PathRecord),
    /// The last trace failed: the prefix is not traced again before the cache time passes.
    Failed,
}

fn run(
    cfg: ProbeConfig,
    geo: Arc<GeoDb>,
    rx: Receiver<Request>,
    out: Sender<Vec<Event>>,
    exp: Arc<Exporter>,
    stop: Arc<AtomicBool>,
) {
    let mut cache: HashMap<IpNet, (Instant, Known)> = HashMap::new();
    let cost = f64::from(cfg.max_ttl) * cfg.rounds.max(1) as f64;
    let mut next_allowed = monotonic();
    for req in rx.iter() {
        if stop.load(Ordering::SeqCst) {
            // Shutting down: no more traces; what is queued is dropped and counted.
            exp.pipeline.probe_dropped.inc();
            continue;
        }
        let now = monotonic();
        let Some(prefix) = prefix_of(req.dest) else {
            continue;
        };
        let fresh = cache
            .get(&prefix)
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) < cfg.cache);
        if !fresh {
            if cache.len() >= MAX_CACHED_PREFIXES {
                cache.retain(|_, (t, _)| now.saturating_duration_since(*t) < cfg.cache);
                if cache.len() >= MAX_CACHED_PREFIXES {
                    if let Some(oldest) = cache.iter().min_by_key(|(_, (t, _))| *t).map(|(k, _)| *k)
                    {
                        cache.remove(&oldest);
                    }
                }
            }
            // Global budget: a trace costs up to max_ttl x rounds packets (an average: trippy
            // keeps up to 24 probes in flight within a round).
            let wait = next_allowed.saturating_duration_since(now);
            if !wait.is_zero() {
                thread::sleep(wait);
            }
            next_allowed = monotonic()
                + Duration::from_secs_f64(cost / f64::from(cfg.packets_per_second.max(1)));
            match traceroute(req.dest, &cfg) {
                Ok(hops) => {
                    let rec = path_record(req.dest, &hops, &geo, cfg.protocol);
                    // Hop addresses are routers', but the destination may be a person's:
                    // the path goes to debug, the prefix to info.
                    let path: Vec<String> = rec
                        .hops
                        .iter()
                        .map(|h| {
                            let c = h.country.map_or_else(|| "-".to_string(), |c| c.to_string());
                            format!("{}:{}:{c}", h.hop, h.address)
                        })
                        .collect();
                    tracing::info!(prefix = %prefix, reached = rec.reached, hops = rec.hops.len(), "probe_done");
                    tracing::debug!(prefix = %prefix, path = %path.join(" "), "probe_path");
                    cache.insert(prefix, (monotonic(), Known::Path(rec)));
                    exp.pipeline.probe_traces.with_label_values(&["ok"]).inc();
                }
                Err(e) => {
                    tracing::warn!(prefix = %prefix, error = %e, "probe_failed");
                    exp.pipeline
                        .probe_traces
                        .with_label_values(&["failed"])
                        .inc();
                    cache.insert(prefix, (monotonic(), Known::Failed));
                    continue;
                }
            }
        } else {
            exp.pipeline.probe_cache_hits.inc();
        }
        let Some((_, Known::Path(path))) = cache.get(&prefix) else {
            continue;
        };
        if let Some(alert) = judge(req, path) {
            {
                let mut st = exp
                    .probe_slot
                    .stats
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let key = (
                    alert.tenant.clone(),
                    "transit",
                    alert
                        .dest_geo
                        .country
                        .clone()
                        .unwrap_or_else(|| "unknown".to_string()),
                );
                *st.alerts.entry(key).or_insert(0) += 1;
            }
            if out.send(vec![Event::Alert(Box::new(alert))]).is_err() {
                return;
            }
        }
    }
}
