//! Exporter: the live side of metrics. Owns the Prometheus registry, the counters that the
//! pipeline, capture and sinks bump directly, the per-worker slots where workers publish their
//! [`Stats`] and latency histograms, and the HTTP endpoint (`/metrics`, `/healthz`). Workers
//! never touch the registry on the packet path: they publish a snapshot every few hundred
//! milliseconds and the collector sums the snapshots at scrape time.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use prometheus::core::{Collector, Desc};
use prometheus::proto::{Metric, MetricFamily, MetricType, Quantile, Summary};
use prometheus::{Gauge, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

use super::*;
use crate::time::monotonic;

/// Latency is recorded in microseconds, from 1 µs to 60 s, 3 significant digits.
const LATENCY_MAX_US: u64 = 60_000_000;
const QUANTILES: [f64; 4] = [0.5, 0.9, 0.99, 0.999];
/// Quantiles cover the last 5 to 10 minutes (two rotating halves), like a Prometheus summary's
/// sliding window; `_sum` and `_count` cover the whole run.
const LATENCY_HALF_WINDOW: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum ExporterError {
    #[error("metrics: {0}")]
    Registry(#[from] prometheus::Error),
    #[error("metrics: cannot listen on {addr}: {reason}")]
    Listen { addr: SocketAddr, reason: String },
}

/// Where one worker publishes.
#[derive(Debug)]
pub struct WorkerSlot {
    pub stats: Mutex<Stats>,
    pub latency: Mutex<LatencyWindow>,
}

impl WorkerSlot {
    fn new() -> WorkerSlot {
        WorkerSlot {
            stats: Mutex::new(Stats::default()),
            latency: Mutex::new(LatencyWindow::new(monotonic())),
        }
    }
}

/// A worker's latency: the current and previous half-window, and all-time count and sum.
#[derive(Debug)]
pub struct LatencyWindow {
    cur: Histogram<u64>,
    prev: Histogram<u64>,
    since: Instant,
    count: u64,
    sum_us: u64,
}

impl LatencyWindow {
    fn new(now: Instant) -> LatencyWindow {
        LatencyWindow {
            cur: new_latency_histogram(),
            prev: new_latency_histogram(),
            since: now,
            count: 0,
            sum_us: 0,
        }
    }

    fn rotate(&mut self, now: Instant) {
        let age = now.saturating_duration_since(self.since);
        if age >= LATENCY_HALF_WINDOW * 2 {
            self.prev.reset();
            self.cur.reset();
            self.since = now;
        } else if age >= LATENCY_HALF_WINDOW {
            std::mem::swap(&mut self.prev, &mut self.cur);
            self.cur.reset();
            self.since = now;
        }
    }

    /// Adds what a worker recorded since its last publication.
    pub fn add(&mut self, rec: &LatencyRecorder, now: Instant) {
        self.rotate(now);
        // Same bounds on both sides: cannot fail.
        let _ = self.cur.add(&rec.hist);
        self.count += rec.hist.len();
        self.sum_us += rec.sum_us;
    }
}

/// A worker's latency since it last published.
#[derive(Debug)]
pub struct LatencyRecorder {
    hist: Histogram<u64>,
    sum_us: u64,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        LatencyRecorder {
            hist: new_latency_histogram(),
            sum_us: 0,
        }
    }
}

impl LatencyRecorder {
    /// Records `n` frames that took `d` from capture to verdict.
    pub fn record(&mut self, d: Duration, n: u64) {
        let us = (d.as_micros() as u64).clamp(1, LATENCY_MAX_US);
        self.hist.saturating_record_n(us, n);
        self.sum_us = self.sum_us.saturating_add(us.saturating_mul(n));
    }

    pub fn clear(&mut self) {
        self.hist.reset();
        self.sum_us = 0;
    }
}

/// A histogram for [`WorkerSlot::latency`] (values in microseconds).
#[allow(clippy::expect_used)] // constant, valid bounds: not data
pub fn new_latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_MAX_US, 3).expect("valid histogram bounds")
}

/// Counters bumped by the pipeline, capture and sinks (not per packet).
#[derive(Clone)]
pub struct PipelineMetrics {
    pub capture_received: IntCounterVec,
    pub capture_dropped: IntCounterVec,
    pub channel_dropped: IntCounterVec,
    pub workers: IntGauge,
    pub reloads: IntCounterVec,
    pub last_reload_ok: IntGauge,
    pub build_info: IntGaugeVec,
    pub start_time: Gauge,
    pub am_delivered: IntCounter,
    pub am_failures: IntCounter,
    pub am_spooled: IntGauge,
    pub am_dropped: IntCounterVec,
    pub am_spool_errors: IntCounter,
    pub probe_traces: IntCounterVec,
    pub probe_dropped: IntCounter,
    pub probe_cache_hits: IntCounter,
    pub sink_write_errors: IntCounterVec,
}

impl std::fmt::Debug for PipelineMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PipelineMetrics")
    }
}

fn opts(name: &str) -> Opts {
    Opts::new(name, help(name))
}

impl PipelineMetrics {
    fn new(r: &Registry) -> Result<PipelineMetrics, prometheus::Error> {
        let m = PipelineMetrics {
            capture_received: IntCounterVec::new(opts(CAPTURE_RECEIVED_TOTAL), &["interface"])?,
            capture_dropped: IntCounterVec::new(
                opts(CAPTURE_DROPPED_TOTAL),
                &["interface", "reason"],
            )?,
            channel_dropped: IntCounterVec::new(opts(CHANNEL_DROPPED_TOTAL), &["worker"])?,
            workers: IntGauge::with_opts(opts(WORKERS))?,
            reloads: IntCounterVec::new(opts(CONFIG_RELOADS_TOTAL), &["result"])?,
            last_reload_ok: IntGauge::with_opts(opts(CONFIG_LAST_RELOAD_SUCCESSFUL))?,
            build_info: IntGaugeVec::new(opts(BUILD_INFO), &["version"])?,
            start_time: Gauge::with_opts(opts(START_TIME_SECONDS))?,
            am_delivered: IntCounter::with_opts(opts(AM_DELIVERED_TOTAL))?,
            am_failures: IntCounter::with_opts(opts(AM_POST_FAILURES_TOTAL))?,
            am_spooled: IntGauge::with_opts(opts(AM_SPOOLED))?,
            am_dropped: IntCounterVec::new(opts(AM_DROPPED_TOTAL), &["reason"])?,
            am_spool_errors: IntCounter::with_opts(opts(AM_SPOOL_ERRORS_TOTAL))?,
            probe_traces: IntCounterVec::new(opts(PROBE_TRACES_TOTAL), &["result"])?,
            probe_dropped: IntCounter::with_opts(opts(PROBE_DROPPED_TOTAL))?,
            probe_cache_hits: IntCounter::with_opts(opts(PROBE_CACHE_HITS_TOTAL))?,
            sink_write_errors: IntCounterVec::new(opts(SINK_WRITE_ERRORS_TOTAL), &["sink"])?,
        };
        r.register(Box::new(m.capture_received.clone()))?;
        r.register(Box::new(m.capture_dropped.clone()))?;
        r.register(Box::new(m.channel_dropped.clone()))?;
        r.register(Box::new(m.workers.clone()))?;
        r.register(Box::new(m.reloads.clone()))?;
        r.register(Box::new(m.last_reload_ok.clone()))?;
        r.register(Box::new(m.build_info.clone()))?;
        r.register(Box::new(m.start_time.clone()))?;
        r.register(Box::new(m.am_delivered.clone()))?;
        r.register(Box::new(m.am_failures.clone()))?;
        r.register(Box::new(m.am_spooled.clone()))?;
        r.register(Box::new(m.am_dropped.clone()))?;
        r.register(Box::new(m.am_spool_errors.clone()))?;
        r.register(Box::new(m.probe_traces.clone()))?;
        r.register(Box::new(m.probe_dropped.clone()))?;
        r.register(Box::new(m.probe_cache_hits.clone()))?;
        r.register(Box::new(m.sink_write_errors.clone()))?;
        // Series that must exist before anything happens, so that dashboards and rules see 0.
        for r in ["ok", "error"] {
            m.reloads.with_label_values(&[r]);
        }
        for r in ["spool_full", "channel_full", "rejected"] {
            m.am_dropped.with_label_values(&[r]);
        }
        for s in ["alerts", "flows"] {
            m.sink_write_errors.with_label_values(&[s]);
        }
        for r in ["ok", "failed"] {
            m.probe_traces.with_label_values(&[r]);
        }
        m.last_reload_ok.set(1);
        m.build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        Ok(m)
    }
}

/// Sums the workers' published snapshots at scrape time.
struct WorkerCollector {
    slots: Arc<Vec<WorkerSlot>>,
    /// The probe thread's alerts and the capture thread's reassembly counters.
    extra: Vec<Arc<WorkerSlot>>,
    descs: Vec<Desc>,
}

impl Collector for WorkerCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let mut total = Stats::default();
        let mut window = new_latency_histogram();
        let (mut count, mut sum_us) = (0, 0);
        let now = monotonic();
        for x in &self.extra {
            total.merge(&x.stats.lock().unwrap_or_else(PoisonError::into_inner));
        }
        for s in self.slots.iter() {
            total.merge(&s.stats.lock().unwrap_or_else(PoisonError::into_inner));
            let mut w = s.latency.lock().unwrap_or_else(PoisonError::into_inner);
            w.rotate(now);
            // Same bounds on both sides: cannot fail.
            let _ = window.add(&w.prev);
            let _ = window.add(&w.cur);
            count += w.count;
            sum_us += w.sum_us;
        }
        let mut out = total.families();
        out.push(latency_family(&window, count, sum_us));
        out
    }
}

fn latency_family(h: &Histogram<u64>, count: u64, sum_us: u64) -> MetricFamily {
    let mut sum = Summary::default();
    sum.set_sample_count(count);
    sum.set_sample_sum(sum_us as f64 / 1e6);
    sum.set_quantile(
        QUANTILES
            .iter()
            .map(|q| {
                let mut x = Quantile::default();
                x.set_quantile(*q);
                x.set_value(h.value_at_quantile(*q) as f64 / 1e6);
                x
            })
            .collect(),
    );
    let mut m = Metric::default();
    m.set_summary(sum);
    let mut mf = MetricFamily::default();
    mf.set_name(PACKET_LATENCY_SECONDS.to_string());
    mf.set_help(help(PACKET_LATENCY_SECONDS).to_string());
    mf.set_field_type(MetricType::SUMMARY);
    mf.mut_metric().push(m);
    mf
}

fn worker_descs() -> Result<Vec<Desc>, prometheus::Error> {
    let labels: &[(&str, &[&str])] = &[
        (PACKETS_TOTAL, &[]),
        (BYTES_TOTAL, &[]),
        (DECODE_SKIPPED_TOTAL, &["reason"]),
        (DECODE_ERRORS_TOTAL, &[]),
        (FLOWS_CREATED_TOTAL, &[]),
        (FLOWS_ENDED_TOTAL, &["reason"]),
        (FLOWS_EVICTED_TOTAL, &[]),
        (FLOWS_ACTIVE, &[]),
        (EGRESS_BYTES_TOTAL, &["tenant", "country", "personal_data"]),
        (ALERTS_TOTAL, &["tenant", "kind", "country"]),
        (PII_SCANNED_BYTES_TOTAL, &[]),
        (PII_FINDINGS_DROPPED_TOTAL, &[]),
        (GEO_CACHE_LOOKUPS_TOTAL, &["result"]),
        (PACKET_LATENCY_SECONDS, &[]),
    ];
    labels
        .iter()
        .map(|(n, l)| {
            Desc::new(
                n.to_string(),
                help(n).to_string(),
                l.iter().map(|s| s.to_string()).collect(),
                Default::default(),
            )
        })
        .collect()
}

/// The registry and everything the pipeline shares with it.
pub struct Exporter {
    pub registry: Registry,
    pub pipeline: PipelineMetrics,
    pub slots: Arc<Vec<WorkerSlot>>,
    /// Where the probe thread publishes the alerts it raises (summed with the workers').
    pub probe_slot: Arc<WorkerSlot>,
    /// Where the capture thread publishes its counters (fragment reassembly).
    pub capture_slot: Arc<WorkerSlot>,
    /// True while the capture is running (`/healthz`).
    pub healthy: AtomicBool,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter")
            .field("workers", &self.slots.len())
            .finish()
    }
}

impl Exporter {
    pub fn new(workers: usize) -> Result<Arc<Exporter>, ExporterError> {
        let registry = Registry::new();
        let pipeline = PipelineMetrics::new(&registry)?;
        let slots = Arc::new((0..workers).map(|_| WorkerSlot::new()).collect::<Vec<_>>());
        let probe_slot = Arc::new(WorkerSlot::new());
        let capture_slot = Arc::new(WorkerSlot::new());
        registry.register(Box::new(WorkerCollector {
            slots: slots.clone(),
            extra: vec![probe_slot.clone(), capture_slot.clone()],
            descs: worker_descs()?,
        }))?;
        pipeline.workers.set(workers as i64);
        for w in 0..workers {
            pipeline
                .channel_dropped
                .with_label_values(&[&w.to_string()]);
        }
        Ok(Arc::new(Exporter {
            registry,
            pipeline,
            slots,
            probe_slot,
            capture_slot,
            healthy: AtomicBool::new(false),
        }))
    }

    /// Sum of the workers' last published counters.
    pub fn worker_totals(&self) -> Stats {
        let mut total = self
            .probe_slot
            .stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        total.merge(
            &self
                .capture_slot
                .stats
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for s in self.slots.iter() {
            total.merge(&s.stats.lock().unwrap_or_else(PoisonError::into_inner));
        }
        total
    }

    /// Text exposition of everything.
    pub fn render(&self) -> String {
        encode(&self.registry.gather())
    }
}

/// The HTTP endpoint; stops when dropped.
pub struct HttpServer {
    server: Arc<tiny_http::Server>,
    thread: Option<thread::JoinHandle<()>>,
    pub addr: SocketAddr,
}

impl HttpServer {
    /// Serves `/metrics` and `/healthz` on `addr` from a thread of its own.
    pub fn start(addr: SocketAddr, exp: Arc<Exporter>) -> Result<HttpServer, ExporterError> {
        let server = tiny_http::Server::http(addr).map_err(|e| ExporterError::Listen {
            addr,
            reason: e.to_string(),
        })?;
        let bound = server.server_addr().to_ip().unwrap_or(addr);
        let server = Arc::new(server);
        let srv = server.clone();
        let thread = thread::Builder::new()
            .name("metrics-http".into())
            .spawn(move || serve(&srv, &exp))
            .map_err(|e| ExporterError::Listen {
                addr,
                reason: e.to_string(),
            })?;
        tracing::info!(addr = %bound, "metrics_listening");
        Ok(HttpServer {
            server,
            thread: Some(thread),
            addr: bound,
        })
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(server: &tiny_http::Server, exp: &Exporter) {
    for req in server.incoming_requests() {
        let path = req.url().split('?').next().unwrap_or("");
        let resp = match path {
            "/metrics" => {
                let r = tiny_http::Response::from_string(exp.render());
                match tiny_http::Header::from_bytes(
                    &b"Content-Type"[..],
                    &b"text/plain; version=0.0.4; charset=utf-8"[..],
                ) {
                    Ok(h) => r.with_header(h),
                    Err(()) => r,
                }
            }
            "/healthz" => {
                if exp.healthy.load(Ordering::Relaxed) {
                    tiny_http::Response::from_string("ok\n")
                } else {
                    tiny_http::Response::from_string("capture not running\n").with_status_code(503)
                }
            }
            _ => tiny_http::Response::from_string("not found\n").with_status_code(404),
        };
        if let Err(e) = req.respond(resp) {
            tracing::debug!(error = %e, "metrics_respond_error");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_window_forgets_old_quantiles_but_keeps_count_and_sum() {
        let t0 = monotonic();
        let mut w = LatencyWindow::new(t0);
        let mut r = LatencyRecorder::default();
        r.record(Duration::from_millis(2), 10);
        w.add(&r, t0);
        assert_eq!((w.count, w.sum_us), (10, 20_000));
        assert_eq!(w.cur.len(), 10);
        // One half-window later the samples move to `prev` (still in the quantiles).
        w.rotate(t0 + LATENCY_HALF_WINDOW);
        assert_eq!((w.cur.len(), w.prev.len()), (0, 10));
        // Two half-windows after that, they are gone; count and sum stay.
        w.rotate(t0 + LATENCY_HALF_WINDOW * 3);
        assert_eq!((w.cur.len(), w.prev.len()), (0, 0));
        assert_eq!((w.count, w.sum_us), (10, 20_000));
    }

    #[test]
    fn exposition_has_every_worker_family_and_zero_valued_pipeline_series() {
        let exp = Exporter::new(2).expect("exporter");
        let text = exp.render();
        for name in [
            PACKETS_TOTAL,
            DECODE_ERRORS_TOTAL,
            FLOWS_ACTIVE,
            PACKET_LATENCY_SECONDS,
            CONFIG_LAST_RELOAD_SUCCESSFUL,
            BUILD_INFO,
        ] {
            assert!(
                text.contains(&format!("# TYPE {name} ")),
                "{name} missing:\n{text}"
            );
        }
        assert!(text.contains("sovereign_channel_dropped_packets_total{worker=\"1\"} 0"));
        assert!(
            text.contains("sovereign_alertmanager_dropped_alerts_total{reason=\"spool_full\"} 0")
        );
        assert!(text.contains("sovereign_config_reloads_total{result=\"error\"} 0"));
        assert!(text.contains("sovereign_packet_latency_seconds{quantile=\"0.99\"} 0"));
        // Published worker stats are summed.
        for (i, slot) in exp.slots.iter().enumerate() {
            slot.stats.lock().unwrap().packets = 10 + i as u64;
        }
        assert!(exp.render().contains("sovereign_packets_total 21"));
    }
}
