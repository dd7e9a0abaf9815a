//! Pipeline: wiring. One capture thread reads frames (replay files or a live interface), shards
//! them by a symmetric hash of the flow key over N workers through bounded crossbeam channels,
//! and each worker's [`Engine`] turns them into records that the calling thread writes to the
//! sinks. Replay applies backpressure (offline input is never dropped, so results are exact);
//! live capture never blocks on a worker: a full channel drops the batch and counts it. Owns
//! threads, channels, batching, time ticks for idle workers, reload hand-over, shutdown and
//! sinks; contains no packet or rule logic.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};

use crate::alert::alertmanager::AlertmanagerSink;
use crate::alert::summary::Summary;
use crate::alert::{Event, JsonLines};
use crate::capture::live::{LiveCapture, LiveError, Read};
use crate::capture::replay::{ReplayError, ReplayFile};
use crate::capture::Frame;
use crate::decode::{decode_frame, fragment, PacketMeta, Skip};
use crate::defrag::{Defrag, DefragConfig, DefragStats};
use crate::engine::{Engine, Runtime};
use crate::flow::FlowKey;
use crate::geo::GeoDb;
use crate::l7::names::Learned;
use crate::metrics::exporter::{Exporter, LatencyRecorder};
use crate::metrics::Stats;
use crate::probe::{ProbeConfig, Prober, Requester};
use crate::time::{monotonic, wall_clock, Timestamp};

/// Frames per channel message.
pub const BATCH: usize = 64;
/// A live batch is sent when it is this old even if not full (bounds the added latency).
const MAX_BATCH_AGE: Duration = Duration::from_millis(10);
/// Idle workers are told the time this often, so their flows time out without traffic.
const TICK_EVERY: Duration = Duration::from_secs(1);
/// Ticks run this far behind the wall clock: packets still in the capture buffer carry earlier
/// kernel timestamps, and a flow must not time out before them.
const TICK_LAG: Duration = Duration::from_secs(1);
/// Workers publish their counters this often.
const PUBLISH_EVERY: Duration = Duration::from_millis(250);
/// An idle worker (empty channel) publishes this soon after its last publication.
const PUBLISH_IDLE: Duration = Duration::from_millis(20);
/// Capture statistics are read this often.
const CAPTURE_STATS_EVERY: Duration = Duration::from_secs(1);
/// On shutdown, frames already buffered by the capture are still read, up to this long.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);
/// When the capture is dry, sleep on it this long at most before looking at control requests
/// and timers again.
const IDLE_WAIT: Duration = Duration::from_millis(100);
/// Event batches queued between workers and the sinks.
const SINK_CHANNEL: usize = 1024;

/// `[pipeline]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineConfig {
    /// Worker threads; `None`: one per core.
    pub workers: Option<usize>,
    /// Batches queued per worker.
    pub channel_batches: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            workers: None,
            channel_batches: 64,
        }
    }
}

/// Worker threads for `--workers`/`[pipeline] workers` unset: one per core.
pub fn default_workers() -> usize {
    thread::available_parallelism().map_or(1, |n| n.get())
}

/// Where records go.
#[derive(Debug)]
pub struct Sinks {
    pub alerts: JsonLines,
    pub flows: Option<JsonLines>,
    pub alertmanager: Option<AlertmanagerSink>,
    /// Live probing (`run` with `[probe] enabled`): its thread raises transit alerts into the
    /// same sinks.
    pub probe: Option<(ProbeConfig, Arc<GeoDb>)>,
}

/// Where frames come from.
#[derive(Debug)]
pub enum Source {
    /// Files, in order; blocking (never drops).
    Replay(Vec<PathBuf>),
    /// An interface; lossy (drops and counts when workers fall behind).
    Live(LiveCapture),
}

/// Requests from outside the pipeline (signal handling), polled by the capture thread.
#[derive(Debug, Default)]
pub struct Control {
    stop: AtomicBool,
    reload: Mutex<Option<Arc<Runtime>>>,
    /// Reloads handed to the workers so far.
    reloads_applied: AtomicU64,
}

impl Control {
    /// Stop capturing, drain, flush every pending record and return.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Hands a new runtime to every worker (flows are kept) and waits up to `timeout` until
    /// the capture thread has queued it behind the frames already read: every frame read after
    /// this returns `true` is judged by the new runtime.
    pub fn request_reload(&self, rt: Arc<Runtime>, timeout: Duration) -> bool {
        let target = self.reloads_applied.load(Ordering::SeqCst) + 1;
        *self.reload.lock().unwrap_or_else(PoisonError::into_inner) = Some(rt);
        let start = monotonic();
        while self.reloads_applied.load(Ordering::SeqCst) < target {
            if monotonic().saturating_duration_since(start) >= timeout {
                return false;
            }
            thread::sleep(Duration::from_millis(2));
        }
        true
    }

    fn take_reload(&self) -> Option<Arc<Runtime>> {
        self.reload
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// What a finished run reports.
#[derive(Debug)]
pub struct Outcome {
    /// Sum over workers.
    pub stats: Stats,
    pub summary: Summary,
    pub alerts: u64,
    pub flows: u64,
    /// Files that could not be read to the end (the packets before the damage were processed).
    pub capture_errors: Vec<ReplayError>,
    /// A live capture that failed (the pipeline drained what it had).
    pub live_error: Option<LiveError>,
}

struct Batch {
    frames: Vec<Frame>,
    /// `(i, t)`: before `frames[i]`, advance time to `t`, the latest time of the frames that
    /// went to other workers since this worker's previous frame. Flows then time out exactly
    /// as they would in a single worker that saw every frame.
    ticks: Vec<(usize, Timestamp)>,
    /// When its first frame was read (latency is measured from here).
    read_at: Instant,
    /// `(i, answer)`: before `frames[i]`, learn this DNS answer (every worker gets every
    /// answer at its place in capture order).
    learned: Vec<(usize, Learned)>,
}

impl Batch {
    fn new(now: Instant) -> Batch {
        Batch {
            frames: Vec::with_capacity(BATCH),
            ticks: Vec::new(),
            read_at: now,
            learned: Vec::new(),
        }
    }
}

enum WorkerMsg {
    Frames(Batch),
    Tick(Timestamp),
    Reload(Arc<Runtime>),
}

enum SinkMsg {
    Events(Vec<Event>),
    CaptureError(ReplayError),
    LiveError(LiveError),
}

/// The worker a frame belongs to: a symmetric hash of its flow key, so both directions of a
/// flow meet in one worker; and whether it decoded (only those advance time). Frames that do
/// not decode go to worker 0, which counts them.
fn shard(meta: &Result<PacketMeta<'_>, Skip>, n: usize) -> (usize, bool) {
    match meta {
        Ok(meta) => ((FlowKey::of(meta).hash64() % n as u64) as usize, true),
        Err(_) => (0, false),
    }
}

/// The capture side of the worker channels.
struct Router {
    txs: Vec<Sender<WorkerMsg>>,
    pending: Vec<Batch>,
    /// Per worker: latest time among frames sent to other workers since its last frame.
    behind: Vec<Option<Timestamp>>,
    lossy: bool,
    exp: Arc<Exporter>,
    /// IP fragment reassembly: here, before sharding, since only first fragments have ports.
    defrag: Defrag,
    /// Reassembly and DNS-answer counters last published to the exporter.
    published: (DefragStats, u64),
    /// DNS answers parsed here and handed to every worker.
    learned: u64,
}

impl Router {
    fn new(txs: Vec<Sender<WorkerMsg>>, lossy: bool, exp: Arc<Exporter>) -> Router {
        let now = monotonic();
        let pending = txs.iter().map(|_| Batch::new(now)).collect();
        let behind = vec![None; txs.len()];
        Router {
            txs,
            pending,
            behind,
            lossy,
            exp,
            defrag: Defrag::new(DefragConfig::default()),
            published: Default::default(),
            learned: 0,
        }
    }

    fn push(&mut self, frame: Frame) {
        let meta = decode_frame(&frame);
        if meta.is_ok() || meta == Err(Skip::Fragment) {
            // Only frames that decode advance reassembly time (garbage carries garbage times).
            self.defrag.expire(frame.ts);
        }
        let whole = match meta {
            Err(Skip::Fragment) if frame.reassembled_at.is_none() => {
                fragment(frame.linktype, &frame.data)
                    .and_then(|f| self.defrag.push(&frame, &f, frame.ts))
            }
            _ => None,
        };
        if let Ok(m) = &meta {
            self.learn_names(m, frame.ts);
        }
        let n = self.txs.len();
        let (w, advances) = if n == 1 {
            (0, meta.is_ok())
        } else {
            shard(&meta, n)
        };
        self.route(w, advances, frame);
        if let Some(whole) = whole {
            let meta = decode_frame(&whole);
            if let Ok(m) = &meta {
                self.learn_names(m, whole.ts);
            }
            let (w, advances) = if n == 1 {
                (0, meta.is_ok())
            } else {
                shard(&meta, n)
            };
            self.route(w, advances, whole);
        }
    }

    /// Hands the A/AAAA answers of a DNS response to every worker, before its next frame.
    fn learn_names(&mut self, m: &PacketMeta<'_>, ts: Timestamp) {
        let answers = crate::l7::names::answers(m, ts);
        if answers.is_empty() {
            return;
        }
        self.learned += answers.len() as u64;
        for w in 0..self.txs.len() {
            let b = &mut self.pending[w];
            if b.frames.is_empty() && b.learned.is_empty() {
                b.read_at = monotonic();
            }
            let at = b.frames.len();
            b.learned.extend(answers.iter().map(|l| (at, l.clone())));
            if b.learned.len() >= BATCH {
                self.flush(w);
            }
        }
    }

    fn route(&mut self, w: usize, advances: bool, frame: Frame) {
        let n = self.txs.len();
        if n == 1 {
            return self.push_to(0, frame);
        }
        if advances {
            for (o, t) in self.behind.iter_mut().enumerate() {
                if o != w {
                    *t = Some(t.map_or(frame.ts, |t| t.max(frame.ts)));
                }
            }
        }
        if let Some(t) = self.behind[w].take() {
            let b = &mut self.pending[w];
            b.ticks.push((b.frames.len(), t));
        }
        self.push_to(w, frame);
    }

    fn push_to(&mut self, w: usize, frame: Frame) {
        let b = &mut self.pending[w];
        if b.frames.is_empty() && b.learned.is_empty() {
            b.read_at = monotonic();
        }
        b.frames.push(frame);
        if b.frames.len() == BATCH {
            self.flush(w);
        }
    }

    fn flush(&mut self, w: usize) {
        self.publish_defrag();
        if self.pending[w].frames.is_empty() && self.pending[w].learned.is_empty() {
            return;
        }
        let batch = std::mem::replace(&mut self.pending[w], Batch::new(monotonic()));
        let n = batch.frames.len() as u64;
        let msg = WorkerMsg::Frames(batch);
        let (dropped, gone) = if self.lossy {
            match self.txs[w].try_send(msg) {
                Ok(()) => (false, false),
                Err(TrySendError::Full(WorkerMsg::Frames(lost))) => {
                    // The frames are dropped (counted); the DNS answers are not: every worker
                    // must keep the same names. They go first in the next batch.
                    if !lost.learned.is_empty() {
                        let next = &mut self.pending[w];
                        let mut keep: Vec<(usize, Learned)> =
                            lost.learned.into_iter().map(|(_, l)| (0, l)).collect();
                        keep.append(&mut next.learned);
                        next.learned = keep;
                    }
                    (true, false)
                }
                Err(TrySendError::Full(_)) => (true, false),
                Err(TrySendError::Disconnected(_)) => (true, true),
            }
        } else {
            let gone = self.txs[w].send(msg).is_err();
            (gone, gone)
        };
        if gone && self.exp.healthy.swap(false, Ordering::SeqCst) {
            tracing::error!(
                worker = w,
                "worker_gone: its frames are dropped; /healthz now fails"
            );
        }
        if dropped {
            self.exp
                .pipeline
                .channel_dropped
                .with_label_values(&[&w.to_string()])
                .inc_by(n);
        }
    }

    fn flush_all(&mut self) {
        for w in 0..self.txs.len() {
            self.flush(w);
        }
    }

    /// Sends batches older than [`MAX_BATCH_AGE`].
    fn flush_old(&mut self, now: Instant) {
        for w in 0..self.txs.len() {
            let b = &self.pending[w];
            let waiting = !b.frames.is_empty() || !b.learned.is_empty();
            if waiting && now.saturating_duration_since(b.read_at) >= MAX_BATCH_AGE {
                self.flush(w);
            }
        }
    }

    fn publish_defrag(&mut self) {
        let now = (self.defrag.stats(), self.learned);
        if now != self.published {
            self.published = now;
            let mut slot = self
                .exp
                .capture_slot
                .stats
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            slot.defrag = now.0;
            slot.names.learned = now.1;
        }
    }

    /// End of input: every worker catches up with the time of the last frames it did not see.
    fn finish(&mut self) {
        self.defrag.finish();
        self.flush_all();
        for w in 0..self.txs.len() {
            if let Some(t) = self.behind[w].take() {
                let _ = self.txs[w].send(WorkerMsg::Tick(t));
            }
        }
    }

    /// A reload goes to every worker after its pending frames and after the time it missed
    /// (so flows that a single worker would have ended before the reload end before it here
    /// too). It is never dropped; waiting for a full channel gives up only when `give_up` says
    /// so (shutdown), so a stalled sink cannot wedge the capture thread for good.
    fn broadcast(&mut self, msg: impl Fn() -> WorkerMsg, give_up: &dyn Fn() -> bool) {
        self.flush_all();
        for w in 0..self.txs.len() {
            let catch_up = self.behind[w].take().map(WorkerMsg::Tick);
            for mut m in catch_up.into_iter().chain(std::iter::once(msg())) {
                loop {
                    match self.txs[w].send_timeout(m, Duration::from_millis(100)) {
                        Ok(()) => break,
                        Err(crossbeam_channel::SendTimeoutError::Timeout(back)) if !give_up() => {
                            m = back
                        }
                        Err(_) => break,
                    }
                }
            }
        }
    }

    /// Tells every worker the time (live capture, periodically). Lossy: a worker whose channel
    /// is full is busy with frames, which carry time themselves; the next tick supersedes.
    fn tick(&mut self, t: Timestamp) {
        self.flush_all();
        for w in 0..self.txs.len() {
            let t = self.behind[w].take().map_or(t, |b| b.max(t));
            let _ = self.txs[w].try_send(WorkerMsg::Tick(t));
        }
    }
}

fn replay_files(files: Vec<PathBuf>, router: &mut Router, sink: &Sender<SinkMsg>) {
    for path in files {
        let mut f = match ReplayFile::open(&path) {
            Ok(f) => f,
            Err(e) => {
                let _ = sink.send(SinkMsg::CaptureError(e));
                continue;
            }
        };
        tracing::debug!(file = %path.display(), linktype = f.linktype().name(), "replay_open");
        loop {
            match f.next_frame() {
                Ok(Some(frame)) => router.push(frame),
                Ok(None) => break,
                Err(e) => {
                    // Frames before the damage are processed before the error is reported.
                    router.flush_all();
                    let _ = sink.send(SinkMsg::CaptureError(e));
                    break;
                }
            }
        }
    }
    router.finish();
}

fn publish_capture_stats(cap: &mut LiveCapture, exp: &Exporter, seen: &mut (u64, u64, u64)) {
    let Some(s) = cap.stats() else { return };
    let iface = cap.iface().to_string();
    let p = &exp.pipeline;
    p.capture_received
        .with_label_values(&[&iface])
        .inc_by(s.received.saturating_sub(seen.0));
    p.capture_dropped
        .with_label_values(&[&iface, "kernel"])
        .inc_by(s.dropped_kernel.saturating_sub(seen.1));
    p.capture_dropped
        .with_label_values(&[&iface, "interface"])
        .inc_by(s.dropped_interface.saturating_sub(seen.2));
    *seen = (s.received, s.dropped_kernel, s.dropped_interface);
}

fn capture_live(
    mut cap: LiveCapture,
    router: &mut Router,
    sink: &Sender<SinkMsg>,
    control: &Control,
) {
    let exp = router.exp.clone();
    let iface = cap.iface().to_string();
    // Series exist from the start (0), so rules and dashboards see them; a source without
    // statistics (AF_PACKET via pnet) exports none rather than a misleading 0.
    if cap.stats().is_some() {
        for r in ["kernel", "interface"] {
            exp.pipeline.capture_dropped.with_label_values(&[&iface, r]);
        }
        exp.pipeline.capture_received.with_label_values(&[&iface]);
    } else {
        tracing::warn!(
            iface,
            "capture_stats_unavailable: this backend reports no kernel drops"
        );
    }
    let mut seen = (0, 0, 0);
    let mut last_stats = monotonic();
    let mut last_tick = monotonic();
    let mut draining: Option<Instant> = None;
    // Newest frame timestamp read.
    let mut latest: Option<Timestamp> = None;
    exp.healthy.store(true, Ordering::SeqCst);
    loop {
        if draining.is_none() && control.stopping() {
            tracing::info!(iface, "capture_stopping");
            draining = Some(monotonic());
            // What is already captured is processed, not dropped: workers get blocking sends
            // for the last DRAIN_LIMIT.
            router.lossy = false;
        }
        if let Some(rt) = control.take_reload() {
            router.broadcast(|| WorkerMsg::Reload(rt.clone()), &|| control.stopping());
            control.reloads_applied.fetch_add(1, Ordering::SeqCst);
        }
        let read = cap.read();
        let now = monotonic();
        let dry = matches!(read, Ok(Read::Idle));
        match read {
            Ok(Read::Frame(f)) => {
                latest = Some(latest.map_or(f.ts, |l| l.max(f.ts)));
                router.push(f);
                router.flush_old(now);
                if draining.is_some_and(|d| now.saturating_duration_since(d) >= DRAIN_LIMIT) {
                    break;
                }
            }
            Ok(Read::Idle) => {
                router.flush_all();
                if draining.is_some() {
                    break; // the buffer is empty
                }
                cap.wait(IDLE_WAIT);
            }
            Err(e) => {
                tracing::error!(error = %e, "capture_failed");
                let _ = sink.send(SinkMsg::LiveError(e));
                break;
            }
        }
        if now.saturating_duration_since(last_tick) >= TICK_EVERY {
            last_tick = now;
            // Busy: only as far as the frames read (more may wait in the buffer with earlier
            // timestamps than the wall clock). Dry: the wall clock, minus a margin.
            let wall = dry.then(|| wall_clock().saturating_sub(TICK_LAG));
            if let Some(t) = latest.max(wall) {
                router.tick(t);
            }
        }
        if now.saturating_duration_since(last_stats) >= CAPTURE_STATS_EVERY {
            last_stats = now;
            publish_capture_stats(&mut cap, &exp, &mut seen);
        }
    }
    router.finish();
    publish_capture_stats(&mut cap, &exp, &mut seen);
    exp.healthy.store(false, Ordering::SeqCst);
}

fn publish(exp: &Exporter, w: usize, engine: &mut Engine, lat: &mut LatencyRecorder) {
    let slot = &exp.slots[w];
    *slot.stats.lock().unwrap_or_else(PoisonError::into_inner) = engine.stats().clone();
    slot.latency
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .add(lat, monotonic());
    lat.clear();
}

fn work(
    w: usize,
    rt: Arc<Runtime>,
    rx: Receiver<WorkerMsg>,
    sink: Sender<SinkMsg>,
    exp: Arc<Exporter>,
    prober: Option<Requester>,
) {
    let mut engine = Engine::shard(rt, exp.slots.len());
    let mut events = Vec::new();
    let mut hist = LatencyRecorder::default();
    let mut last_publish = monotonic();
    for msg in rx.iter() {
        match msg {
            WorkerMsg::Frames(b) => {
                let mut ticks = b.ticks.iter().peekable();
                let mut learned = b.learned.iter().peekable();
                for (i, f) in b.frames.iter().enumerate() {
                    while let Some((_, t)) = ticks.next_if(|(at, _)| *at == i) {
                        engine.tick(*t, &mut events);
                    }
                    while let Some((_, l)) = learned.next_if(|(at, _)| *at == i) {
                        engine.learn_name(l);
                    }
                    engine.process(f, &mut events);
                }
                for (_, l) in learned {
                    engine.learn_name(l);
                }
                let now = monotonic();
                hist.record(
                    now.saturating_duration_since(b.read_at),
                    b.frames.len() as u64,
                );
            }
            WorkerMsg::Tick(t) => engine.tick(t, &mut events),
            WorkerMsg::Reload(rt) => {
                engine.reload(rt);
                tracing::debug!(worker = w, "worker_reloaded");
            }
        }
        route_probes(&mut events, prober.as_ref());
        if !events.is_empty()
            && sink
                .send(SinkMsg::Events(std::mem::take(&mut events)))
                .is_err()
        {
            break;
        }
        let now = monotonic();
        let since = now.saturating_duration_since(last_publish);
        // Under load every PUBLISH_EVERY; when the worker catches up, sooner, so that an idle
        // sidecar's metrics are current.
        if since >= PUBLISH_EVERY || (since >= PUBLISH_IDLE && rx.is_empty()) {
            last_publish = now;
            publish(&exp, w, &mut engine, &mut hist);
        }
    }
    engine.finish(&mut events);
    // Flows ending now are not probed: the capture has stopped.
    route_probes(&mut events, None);
    if !events.is_empty() {
        let _ = sink.send(SinkMsg::Events(events));
    }
    publish(&exp, w, &mut engine, &mut hist);
}

/// Hands probe requests to the probe thread (dropped, and counted there, when it is busy).
fn route_probes(events: &mut Vec<Event>, prober: Option<&Requester>) {
    if !events.iter().any(|e| matches!(e, Event::Probe(_))) {
        return;
    }
    let mut kept = Vec::with_capacity(events.len());
    for ev in events.drain(..) {
        match ev {
            Event::Probe(r) => {
                if let Some(p) = prober {
                    p.ask(*r);
                }
            }
            other => kept.push(other),
        }
    }
    *events = kept;
}

/// Counts and reports sink failures; a failing sink never stops the others or the pipeline
/// (a full disk under --flows must not cost the alerts).
#[derive(Default)]
struct SinkState {
    summary: Summary,
    alerts: u64,
    flows: u64,
    dirty: bool,
    alert_error: Option<std::io::Error>,
    flow_error: Option<std::io::Error>,
}

impl SinkState {
    fn write(&mut self, events: Vec<Event>, sinks: &mut Sinks, exp: &Exporter) {
        for ev in events {
            match ev {
                Event::Alert(a) => {
                    self.alerts += 1;
                    if let Some(am) = &sinks.alertmanager {
                        am.send(&a);
                    }
                    if self.alert_error.is_none() {
                        if let Err(e) = sinks.alerts.write(&a) {
                            tracing::error!(error = %e, sink = "alerts", "sink_error");
                            self.alert_error = Some(e);
                        }
                    }
                    if self.alert_error.is_some() {
                        exp.pipeline
                            .sink_write_errors
                            .with_label_values(&["alerts"])
                            .inc();
                    }
                }
                // Workers route these to the probe thread; nothing to write.
                Event::Probe(_) => continue,
                Event::Flow(f) => {
                    self.flows += 1;
                    self.summary.add(&f);
                    if let Some(s) = sinks.flows.as_mut() {
                        if let Err(e) = s.write(&f) {
                            tracing::error!(error = %e, sink = "flows", "sink_error");
                            self.flow_error = Some(e);
                            sinks.flows = None;
                        }
                    }
                    if self.flow_error.is_some() {
                        exp.pipeline
                            .sink_write_errors
                            .with_label_values(&["flows"])
                            .inc();
                    }
                }
            }
        }
        self.dirty = true;
    }

    fn flush(&mut self, sinks: &mut Sinks) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        if self.alert_error.is_none() {
            if let Err(e) = sinks.alerts.flush() {
                tracing::error!(error = %e, sink = "alerts", "sink_error");
                self.alert_error = Some(e);
            }
        }
        if let Some(s) = sinks.flows.as_mut() {
            if let Err(e) = s.flush() {
                tracing::error!(error = %e, sink = "flows", "sink_error");
                self.flow_error = Some(e);
                sinks.flows = None;
            }
        }
    }
}

/// Runs `source` through `workers` workers until it ends (replay) or `control` asks to stop
/// (live), then drains every worker and sink. `exp` must have one slot per worker.
pub fn run(
    rt: Arc<Runtime>,
    source: Source,
    mut sinks: Sinks,
    channel_batches: usize,
    exp: Arc<Exporter>,
    control: Arc<Control>,
) -> std::io::Result<Outcome> {
    let workers = exp.slots.len().max(1);
    let (sink_tx, sink_rx) = bounded::<SinkMsg>(SINK_CHANNEL);
    // The probe thread's alerts join the sink channel through a small bridge; it ends when the
    // workers (its only requesters) are gone and its trace in progress is done.
    let mut prober = None;
    let mut bridge = None;
    if let Some((cfg, geo)) = sinks.probe.take() {
        let (ptx, prx) = bounded::<Vec<Event>>(64);
        let p = Prober::start(cfg, geo, ptx, exp.clone())?;
        let to_sink = sink_tx.clone();
        bridge = Some(
            thread::Builder::new()
                .name("probe-bridge".into())
                .spawn(move || {
                    for ev in prx {
                        if to_sink.send(SinkMsg::Events(ev)).is_err() {
                            return;
                        }
                    }
                })?,
        );
        prober = Some(p);
    }
    let mut txs = Vec::with_capacity(workers);
    let mut handles = Vec::with_capacity(workers);
    for w in 0..workers {
        let (tx, rx) = bounded::<WorkerMsg>(channel_batches.max(1));
        txs.push(tx);
        let (rt, sink, exp) = (rt.clone(), sink_tx.clone(), exp.clone());
        let req = prober.as_ref().and_then(Prober::requester);
        handles.push(
            thread::Builder::new()
                .name(format!("worker-{w}"))
                .spawn(move || work(w, rt, rx, sink, exp, req))?,
        );
    }
    if let Some(p) = prober.as_mut() {
        p.close();
    }
    let lossy = matches!(source, Source::Live(_));
    let mut router = Router::new(txs, lossy, exp.clone());
    let capture_sink = sink_tx;
    let ctl = control.clone();
    let probe_stop = prober.as_ref().map(|p| p.stop.clone());
    let capture = thread::Builder::new()
        .name("capture".into())
        .spawn(move || {
            match source {
                Source::Replay(files) => replay_files(files, &mut router, &capture_sink),
                Source::Live(cap) => capture_live(cap, &mut router, &capture_sink, &ctl),
            }
            // No new traces once the capture has stopped: shutdown must not wait on them.
            if let Some(s) = probe_stop {
                s.store(true, Ordering::SeqCst);
            }
            // Dropping the router closes the worker channels: workers drain and finish.
        })?;

    let mut st = SinkState::default();
    let mut capture_errors = Vec::new();
    let mut live_error = None;
    for msg in &sink_rx {
        match msg {
            SinkMsg::Events(events) => st.write(events, &mut sinks, &exp),
            SinkMsg::CaptureError(e) => {
                tracing::error!(error = %e, "capture_error");
                capture_errors.push(e);
            }
            SinkMsg::LiveError(e) => live_error = Some(e),
        }
        if sink_rx.is_empty() {
            st.flush(&mut sinks);
        }
    }
    st.flush(&mut sinks);
    let mut panicked = capture.join().is_err();
    for h in handles {
        panicked |= h.join().is_err();
    }
    if let Some(mut p) = prober {
        p.finish();
    }
    if let Some(b) = bridge {
        panicked |= b.join().is_err();
    }
    if let Some(am) = sinks.alertmanager.as_mut() {
        am.finish();
    }
    if panicked {
        return Err(std::io::Error::other("a pipeline thread panicked"));
    }
    if let Some(e) = st.alert_error {
        return Err(std::io::Error::new(e.kind(), format!("alert sink: {e}")));
    }
    if let Some(e) = st.flow_error {
        return Err(std::io::Error::new(e.kind(), format!("flow sink: {e}")));
    }
    Ok(Outcome {
        stats: exp.worker_totals(),
        summary: st.summary,
        alerts: st.alerts,
        flows: st.flows,
        capture_errors,
        live_error,
    })
}
