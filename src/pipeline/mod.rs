//! Pipeline: wiring. A capture thread reads frames and sends them in batches over a bounded
//! crossbeam channel to the worker, whose records go to the sinks. Replay applies backpressure
//! (a full channel blocks the reader: offline input is never dropped); live capture will count
//! drops instead. Owns threads, channels, sinks and shutdown; contains no packet or rule logic.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread;

use crossbeam_channel::{bounded, Receiver, Sender};

use crate::alert::summary::Summary;
use crate::alert::{Event, JsonLines};
use crate::capture::replay::{ReplayError, ReplayFile};
use crate::capture::Frame;
use crate::engine::{Engine, Runtime};
use crate::metrics::Stats;

/// Frames per channel message.
pub const BATCH: usize = 64;
/// Batches in flight between capture and worker.
pub const CHANNEL_BATCHES: usize = 64;

/// Where records go.
#[derive(Debug)]
pub struct Sinks {
    pub alerts: JsonLines,
    pub flows: Option<JsonLines>,
}

/// What a finished replay reports.
#[derive(Debug)]
pub struct Outcome {
    pub stats: Stats,
    pub summary: Summary,
    pub alerts: u64,
    pub flows: u64,
    /// Files that could not be read to the end (the packets before the damage were processed).
    pub capture_errors: Vec<ReplayError>,
}

enum Msg {
    Frames(Vec<Frame>),
    Error(ReplayError),
}

fn read_files(files: Vec<PathBuf>, tx: Sender<Msg>) {
    for path in files {
        let mut f = match ReplayFile::open(&path) {
            Ok(f) => f,
            Err(e) => {
                let _ = tx.send(Msg::Error(e));
                continue;
            }
        };
        tracing::debug!(file = %path.display(), linktype = f.linktype().name(), "replay_open");
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            match f.next_frame() {
                Ok(Some(frame)) => {
                    batch.push(frame);
                    if batch.len() == BATCH {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                        if tx.send(Msg::Frames(full)).is_err() {
                            return;
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    if !batch.is_empty() {
                        let _ = tx.send(Msg::Frames(std::mem::take(&mut batch)));
                    }
                    let _ = tx.send(Msg::Error(e));
                    batch.clear();
                    break;
                }
            }
        }
        if !batch.is_empty() && tx.send(Msg::Frames(batch)).is_err() {
            return;
        }
    }
}

/// Replays `files` in order through one worker.
pub fn replay(rt: Arc<Runtime>, files: Vec<PathBuf>, mut sinks: Sinks) -> std::io::Result<Outcome> {
    let (tx, rx): (Sender<Msg>, Receiver<Msg>) = bounded(CHANNEL_BATCHES);
    let reader = thread::Builder::new()
        .name("capture".into())
        .spawn(move || read_files(files, tx))?;

    let mut engine = Engine::new(rt);
    let mut summary = Summary::default();
    let mut capture_errors = Vec::new();
    let mut events = Vec::new();
    let (mut alerts, mut flows) = (0u64, 0u64);
    // A failing sink is reported at the end; it never stops the other sink or the replay
    // (a full disk under --flows must not cost the alerts).
    let mut alert_error: Option<std::io::Error> = None;
    let mut flow_error: Option<std::io::Error> = None;
    let mut emit = |events: &mut Vec<Event>, sinks: &mut Sinks| {
        for ev in events.drain(..) {
            match ev {
                Event::Alert(a) => {
                    alerts += 1;
                    if alert_error.is_none() {
                        if let Err(e) = sinks.alerts.write(&a) {
                            tracing::error!(error = %e, sink = "alerts", "sink_error");
                            alert_error = Some(e);
                        }
                    }
                }
                Event::Flow(f) => {
                    flows += 1;
                    summary.add(&f);
                    if let Some(s) = sinks.flows.as_mut() {
                        if let Err(e) = s.write(&f) {
                            tracing::error!(error = %e, sink = "flows", "sink_error");
                            flow_error = Some(e);
                            sinks.flows = None;
                        }
                    }
                }
            }
        }
    };
    for msg in rx {
        match msg {
            Msg::Frames(batch) => {
                for frame in &batch {
                    engine.process(frame, &mut events);
                }
                emit(&mut events, &mut sinks);
            }
            Msg::Error(e) => {
                tracing::error!(error = %e, "capture_error");
                capture_errors.push(e);
            }
        }
    }
    engine.finish(&mut events);
    emit(&mut events, &mut sinks);
    if reader.join().is_err() {
        return Err(std::io::Error::other("capture thread panicked"));
    }
    if let Err(e) = sinks.alerts.flush() {
        alert_error.get_or_insert(e);
    }
    if let Some(s) = sinks.flows.as_mut() {
        if let Err(e) = s.flush() {
            flow_error.get_or_insert(e);
        }
    }
    if let Some(e) = alert_error {
        return Err(std::io::Error::new(e.kind(), format!("alert sink: {e}")));
    }
    if let Some(e) = flow_error {
        return Err(std::io::Error::new(e.kind(), format!("flow sink: {e}")));
    }
    let stats = engine.stats().clone();
    Ok(Outcome {
        stats,
        summary,
        alerts,
        flows,
        capture_errors,
    })
}
