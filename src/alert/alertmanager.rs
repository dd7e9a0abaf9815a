//! Alertmanager sink: turns alert records into Alertmanager API v2 alerts and delivers them from
//! a thread of its own, in batches, with exponential backoff, through a bounded on-disk spool so
//! that alerts raised while Alertmanager is down are delivered when it returns (also across a
//! restart of sovereign). Delivery is at least once; every alert carries a unique `alert_id`
//! label (`<flow_id>-<kind>`), so a batch re-sent after a lost response is merged by
//! Alertmanager instead of duplicated. It never sees packets or config files, only records.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use serde_json::{json, Value};

use super::AlertRecord;
use crate::metrics::exporter::PipelineMetrics;
use crate::time::monotonic;

/// Alerts queued between the pipeline and the sink thread.
const CHANNEL: usize = 4096;
const SPOOL_FILE: &str = "pending.jsonl";

/// `[[alert.sink]] type = "alertmanager"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertmanagerConfig {
    /// Base URL, without `/api/v2/alerts`.
    pub url: String,
    pub batch_size: usize,
    /// Per POST.
    pub timeout: Duration,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    pub spool_dir: PathBuf,
    pub spool_max_alerts: usize,
    /// How long shutdown keeps trying to deliver before leaving the rest in the spool.
    pub drain_timeout: Duration,
}

impl Default for AlertmanagerConfig {
    fn default() -> Self {
        AlertmanagerConfig {
            url: String::new(),
            batch_size: 64,
            timeout: Duration::from_secs(5),
            retry_initial: Duration::from_millis(500),
            retry_max: Duration::from_secs(30),
            spool_dir: PathBuf::from("/var/lib/sovereign/alertmanager"),
            spool_max_alerts: 10_000,
            drain_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("alertmanager spool {path}: {source}")]
    Spool { path: String, source: io::Error },
    #[error("alertmanager sink: cannot start thread: {0}")]
    Thread(io::Error),
}

/// The URL for logs and `check-config`: credentials in it (`user:pass@`) are masked.
pub fn redacted_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find('/').unwrap_or(rest.len());
            match rest[..end].rfind('@') {
                Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
                None => url.to_string(),
            }
        }
        None => url.to_string(),
    }
}

/// The name of a hostname source, as in JSON records.
fn source_name(s: crate::l7::NameSource) -> &'static str {
    match s {
        crate::l7::NameSource::Sni => "sni",
        crate::l7::NameSource::Quic => "quic",
        crate::l7::NameSource::Http => "http",
        crate::l7::NameSource::Dns => "dns",
    }
}

/// Alertmanager routes on the Prometheus convention (critical, warning, info), the same words
/// the bundled Prometheus rules use; the JSON record keeps sovereign's own scale.
fn am_severity(s: &str) -> &'static str {
    match s {
        "high" => "critical",
        "medium" => "warning",
        _ => "info",
    }
}

/// The Alertmanager API v2 object for one alert record.
pub fn am_alert(rec: &AlertRecord) -> Value {
    let country = rec
        .dest_geo
        .country
        .clone()
        .unwrap_or_else(|| "unknown".to_string());
    let mut flow = format!(
        "{} {}:{} -> {}:{} ({}) flow_id={}",
        rec.ends.proto,
        rec.ends.src_ip,
        rec.ends.src_port,
        rec.ends.dest_ip,
        rec.ends.dest_port,
        rec.ends.direction,
        rec.ends.flow_id
    );
    if let Some(p) = rec.ends.app_proto {
        flow.push_str(&format!(" app={p}"));
    }
    if let Some(t) = &rec.ends.tunnel {
        flow.push_str(&format!(" tunnel={}", t.kind));
    }
    let mut labels = json!({
        "alertname": format!("sovereign_{}", rec.alert.kind),
        "tenant": rec.tenant,
        "kind": rec.alert.kind,
        "country": country,
        "severity": am_severity(rec.alert.severity),
        "alert_id": format!("{}-{}", rec.ends.flow_id, rec.alert.kind),
    });
    if let (Some(s), Some(m)) = (&rec.ends.sensor, labels.as_object_mut()) {
        m.insert("sensor".into(), Value::String(s.clone()));
    }
    let mut v = json!({
        "labels": labels,
        "annotations": {
            "summary": format!("{}: personal data of tenant {} to {}", rec.alert.kind, rec.tenant, country),
            "reason": rec.alert.reason,
            "flow": flow,
        },
        "startsAt": rec.timestamp,
    });
    // The name goes in an annotation, not a label: labels are for grouping, and names are
    // unbounded.
    if let (Some(h), Some(a)) = (&rec.ends.hostname, v["annotations"].as_object_mut()) {
        a.insert(
            "hostname".into(),
            Value::String(format!("{} (from {})", h.name, source_name(h.source))),
        );
    }
    if let (Some(tr), Some(a)) = (&rec.transit, v["annotations"].as_object_mut()) {
        let hops: Vec<String> = tr
            .evidence
            .iter()
            .map(|e| match (e.hop, e.address, e.asn) {
                (Some(h), Some(a), _) => format!("hop {h} {a} located in {}", e.country),
                (_, _, Some(asn)) => format!("AS{asn} registered in {}", e.country),
                _ => e.country.clone(),
            })
            .collect();
        a.insert(
            "transit".into(),
            Value::String(format!(
                "crosses {}: {}",
                tr.jurisdictions.join(", "),
                hops.join("; ")
            )),
        );
    }
    v
}

/// Pending alerts (serialized API objects), mirrored to `<dir>/pending.jsonl`. The directory is
/// locked (`flock` on `<dir>/lock`) so two daemons cannot share it; files are opened without
/// following symlinks and created 0660.
#[derive(Debug)]
pub struct Spool {
    path: PathBuf,
    pending: VecDeque<String>,
    max: usize,
    /// The file is behind memory (a write failed): rewrite it whole next time.
    dirty: bool,
    _lock: nix::fcntl::Flock<File>,
}

fn open_nofollow(path: &Path, opts: &mut OpenOptions) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    opts.custom_flags(libc::O_NOFOLLOW).mode(0o660).open(path)
}

impl Spool {
    /// Opens the spool, keeping what a previous run left (unreadable lines are skipped).
    pub fn open(dir: &Path, max: usize) -> Result<Spool, SinkError> {
        let err = |source| SinkError::Spool {
            path: dir.display().to_string(),
            source,
        };
        fs::create_dir_all(dir).map_err(err)?;
        let lock_file = open_nofollow(
            &dir.join("lock"),
            OpenOptions::new().create(true).truncate(false).write(true),
        )
        .map_err(err)?;
        let lock = nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusiveNonblock)
            .map_err(|(_, e)| {
                err(io::Error::other(format!(
                    "locked by another process ({e}); give each sovereign its own spool_dir"
                )))
            })?;
        let path = dir.join(SPOOL_FILE);
        let mut pending = VecDeque::new();
        let mut bad = 0usize;
        match open_nofollow(&path, OpenOptions::new().read(true)) {
            Ok(mut f) => {
                let mut bytes = Vec::new();
                f.read_to_end(&mut bytes).map_err(err)?;
                for line in bytes.split(|b| *b == b'\n') {
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    match std::str::from_utf8(line) {
                        Ok(l) if serde_json::from_str::<Value>(l).is_ok() => {
                            pending.push_back(l.to_string())
                        }
                        _ => bad += 1,
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(e)),
        }
        if bad > 0 {
            // A line torn by a crash mid-append: skipped, and the file rewritten below so
            // that the next append does not stick to it.
            tracing::warn!(spool = %path.display(), lines = bad, "alertmanager_spool_bad_lines_skipped");
        }
        let mut s = Spool {
            path,
            pending,
            max,
            dirty: false,
            _lock: lock,
        };
        s.trim();
        s.rewrite().map_err(err)?;
        Ok(s)
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Drops the oldest alerts beyond the limit; returns how many.
    fn trim(&mut self) -> usize {
        let over = self.pending.len().saturating_sub(self.max);
        self.pending.drain(..over);
        over
    }

    /// Adds alerts and writes them to the file; returns how many old ones were dropped for
    /// room. On a write error the alerts are still pending (in memory only, until a later
    /// write succeeds).
    pub fn push(&mut self, alerts: Vec<String>) -> (usize, io::Result<()>) {
        let mut buf = String::new();
        for a in &alerts {
            buf.push_str(a);
            buf.push('\n');
        }
        self.pending.extend(alerts);
        let dropped = self.trim();
        if dropped > 0 || self.dirty {
            return (dropped, self.rewrite());
        }
        let res = open_nofollow(&self.path, OpenOptions::new().create(true).append(true)).and_then(
            |mut f| {
                f.write_all(buf.as_bytes())?;
                f.sync_data()
            },
        );
        if res.is_err() {
            self.dirty = true;
        }
        (dropped, res)
    }

    /// The oldest `n` alerts.
    pub fn front(&self, n: usize) -> Vec<&str> {
        self.pending.iter().take(n).map(String::as_str).collect()
    }

    /// Forgets the oldest `n` alerts (delivered or rejected).
    pub fn ack(&mut self, n: usize) -> io::Result<()> {
        let n = n.min(self.pending.len());
        self.pending.drain(..n);
        self.rewrite()
    }

    /// Writes the pending alerts to a new file and renames it over the spool.
    fn rewrite(&mut self) -> io::Result<()> {
        let tmp = self.path.with_extension("tmp");
        let _ = fs::remove_file(&tmp);
        let res = open_nofollow(&tmp, OpenOptions::new().create_new(true).write(true)).and_then(
            |mut f| {
                let mut buf = String::new();
                for a in &self.pending {
                    buf.push_str(a);
                    buf.push('\n');
                }
                f.write_all(buf.as_bytes())?;
                f.sync_data()?;
                fs::rename(&tmp, &self.path)
            },
        );
        self.dirty = res.is_err();
        res
    }
}

/// Outcome of one POST.
#[derive(Debug, PartialEq, Eq)]
enum Post {
    Delivered,
    /// Alertmanager refused the batch as invalid (400, 422): retrying won't help.
    Rejected(u16),
    /// Down, unreachable, timed out, any other status: retry later.
    Failed(String),
}

fn post(agent: &ureq::Agent, url: &str, batch: &[&str]) -> Post {
    let body = format!("[{}]", batch.join(","));
    match agent
        .post(url)
        .content_type("application/json")
        .send(body.as_str())
    {
        Ok(r) => {
            let code = r.status().as_u16();
            match code {
                200..=299 => Post::Delivered,
                // Only "your alerts are invalid" is final; auth, wrong path, too large, rate
                // limits and the rest may be fixed on the other side: keep and retry.
                400 | 422 => Post::Rejected(code),
                _ => Post::Failed(format!("HTTP {code}")),
            }
        }
        Err(e) => Post::Failed(e.to_string()),
    }
}

/// Handle of the running sink; dropping the sender side (via [`AlertmanagerSink::finish`])
/// makes the thread deliver what it can and exit.
#[derive(Debug)]
pub struct AlertmanagerSink {
    tx: Option<Sender<String>>,
    thread: Option<thread::JoinHandle<()>>,
    metrics: PipelineMetrics,
}

impl AlertmanagerSink {
    /// Opens the spool and starts the delivery thread.
    pub fn start(cfg: AlertmanagerConfig, metrics: PipelineMetrics) -> Result<Self, SinkError> {
        let spool = Spool::open(&cfg.spool_dir, cfg.spool_max_alerts)?;
        if !spool.is_empty() {
            tracing::info!(alerts = spool.len(), url = %redacted_url(&cfg.url), "alertmanager_spool_resumed");
        }
        metrics.am_spooled.set(spool.len() as i64);
        let (tx, rx) = bounded(CHANNEL);
        let m = metrics.clone();
        let thread = thread::Builder::new()
            .name("alertmanager".into())
            .spawn(move || deliver(cfg, spool, rx, m))
            .map_err(SinkError::Thread)?;
        Ok(AlertmanagerSink {
            tx: Some(tx),
            thread: Some(thread),
            metrics,
        })
    }

    /// Queues an alert; never blocks (a full queue drops and counts).
    pub fn send(&self, rec: &AlertRecord) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(am_alert(rec).to_string()) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.metrics
                    .am_dropped
                    .with_label_values(&["channel_full"])
                    .inc();
            }
        }
    }

    /// Stops accepting alerts and waits for the thread to deliver (up to a limit; the rest
    /// stays in the spool for the next start).
    pub fn finish(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("alertmanager sink thread panicked");
            }
        }
    }
}

impl Drop for AlertmanagerSink {
    fn drop(&mut self) {
        self.finish();
    }
}

fn deliver(cfg: AlertmanagerConfig, mut spool: Spool, rx: Receiver<String>, m: PipelineMetrics) {
    let url = format!("{}/api/v2/alerts", cfg.url);
    let shown = redacted_url(&url);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(cfg.timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let mut backoff = cfg.retry_initial;
    let mut retry_at: Option<Instant> = None;
    let mut draining_since: Option<Instant> = None;
    let mut incoming = Vec::new();
    loop {
        // Wait for alerts, or until the next retry is due.
        if draining_since.is_none() {
            let wait = match (spool.is_empty(), retry_at) {
                (true, _) => Duration::from_secs(3600),
                (false, None) => Duration::ZERO,
                (false, Some(t)) => t.saturating_duration_since(monotonic()),
            };
            match rx.recv_timeout(wait) {
                Ok(a) => incoming.push(a),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => draining_since = Some(monotonic()),
            }
            incoming.extend(rx.try_iter());
        }
        if !incoming.is_empty() {
            let (dropped, res) = spool.push(std::mem::take(&mut incoming));
            if dropped > 0 {
                tracing::warn!(
                    dropped,
                    max = cfg.spool_max_alerts,
                    "alertmanager_spool_full"
                );
                m.am_dropped
                    .with_label_values(&["spool_full"])
                    .inc_by(dropped as u64);
            }
            if let Err(e) = res {
                // The alerts are still pending in memory and will be delivered; only their
                // survival of a restart is lost until a later write succeeds.
                m.am_spool_errors.inc();
                tracing::error!(error = %e, spool = %spool.path().display(), "alertmanager_spool_error");
            }
            m.am_spooled.set(spool.len() as i64);
        }
        if let Some(since) = draining_since {
            if spool.is_empty() || since.elapsed() >= cfg.drain_timeout {
                if !spool.is_empty() {
                    tracing::warn!(alerts = spool.len(), spool = %spool.path().display(), "alertmanager_undelivered_at_exit");
                }
                return;
            }
            if let Some(t) = retry_at {
                thread::sleep(
                    t.saturating_duration_since(monotonic())
                        .min(cfg.drain_timeout.saturating_sub(since.elapsed())),
                );
            }
        }
        if spool.is_empty() || retry_at.is_some_and(|t| monotonic() < t) {
            continue;
        }
        let batch = spool.front(cfg.batch_size);
        let n = batch.len();
        match post(&agent, &url, &batch) {
            Post::Delivered => {
                m.am_delivered.inc_by(n as u64);
                tracing::debug!(alerts = n, "alertmanager_delivered");
                if let Err(e) = spool.ack(n) {
                    m.am_spool_errors.inc();
                    tracing::error!(error = %e, spool = %spool.path().display(), "alertmanager_spool_error");
                }
                backoff = cfg.retry_initial;
                retry_at = None;
            }
            Post::Rejected(code) => {
                tracing::error!(alerts = n, status = code, url = %shown, "alertmanager_rejected");
                m.am_dropped
                    .with_label_values(&["rejected"])
                    .inc_by(n as u64);
                if let Err(e) = spool.ack(n) {
                    m.am_spool_errors.inc();
                    tracing::error!(error = %e, spool = %spool.path().display(), "alertmanager_spool_error");
                }
            }
            Post::Failed(why) => {
                m.am_failures.inc();
                tracing::warn!(url = %shown, error = %why, pending = spool.len(), retry_in_ms = backoff.as_millis() as u64, "alertmanager_post_failed");
                retry_at = Some(monotonic() + backoff);
                backoff = (backoff * 2).min(cfg.retry_max);
            }
        }
        m.am_spooled.set(spool.len() as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sovereign-spool-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    fn record() -> AlertRecord {
        use crate::alert::{AlertBody, Detected, Endpoints, GeoField, PersonalData};
        AlertRecord {
            timestamp: "2026-11-29T08:00:00.000001Z".into(),
            event_type: "alert",
            ends: Endpoints {
                flow_id: 42,
                sensor: Some("gw-1".into()),
                src_ip: "192.0.2.10".parse().unwrap(),
                src_port: 40000,
                dest_ip: "198.51.100.10".parse().unwrap(),
                dest_port: 443,
                proto: "TCP".into(),
                vlan: vec![],
                direction: "outbound",
                tunnel: None,
                app_proto: Some("tls"),
                hostname: Some(crate::l7::Hostname {
                    name: "api.example-analytics.com".into(),
                    source: crate::l7::NameSource::Sni,
                }),
            },
            tenant: "eu-clinic".into(),
            alert: AlertBody {
                kind: "residency",
                severity: "high",
                reason: "personal data of eu-clinic sent to US (not in EEA)".into(),
            },
            dest_geo: GeoField {
                country: Some("US".into()),
                source: Some("override".into()),
                special: None,
                embedded_ipv4: None,
            },
            personal_data: PersonalData {
                declared: false,
                detected: vec![Detected {
                    kind: "email",
                    count: 1,
                    masked: "j***@example.org".into(),
                    hmac: "ab".into(),
                }],
                detected_not_listed: 0,
            },
            transit: None,
        }
    }

    #[test]
    fn credentials_in_the_url_are_masked() {
        assert_eq!(
            redacted_url("https://u:p@am.example:9093/x@y"),
            "https://***@am.example:9093/x@y"
        );
        assert_eq!(
            redacted_url("http://127.0.0.1:9093"),
            "http://127.0.0.1:9093"
        );
    }

    #[test]
    fn alertmanager_object_has_the_documented_labels_and_annotations() {
        let v = am_alert(&record());
        let l = &v["labels"];
        assert_eq!(l["alertname"], "sovereign_residency");
        assert_eq!(l["tenant"], "eu-clinic");
        assert_eq!(l["kind"], "residency");
        assert_eq!(l["country"], "US");
        assert_eq!(l["severity"], "critical");
        assert_eq!(l["sensor"], "gw-1");
        assert_eq!(l["alert_id"], "42-residency");
        assert_eq!(v["startsAt"], "2026-11-29T08:00:00.000001Z");
        let a = &v["annotations"];
        assert_eq!(
            a["reason"],
            "personal data of eu-clinic sent to US (not in EEA)"
        );
        assert_eq!(
            a["flow"],
            "TCP 192.0.2.10:40000 -> 198.51.100.10:443 (outbound) flow_id=42 app=tls"
        );
        assert_eq!(a["hostname"], "api.example-analytics.com (from sni)");
        // Identifiers (even masked) stay in the JSON record, not in Alertmanager.
        assert!(!v.to_string().contains("example.org"));
    }

    /// A stand-in Alertmanager on loopback: answers 503 while `down`, else 200, and keeps the
    /// bodies it accepted.
    struct FakeAm {
        url: String,
        down: std::sync::Arc<std::sync::atomic::AtomicBool>,
        accepted: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
        refused: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }

    fn fake_am() -> FakeAm {
        use std::io::Read;
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        use std::sync::{Arc, Mutex};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let down = Arc::new(AtomicBool::new(true));
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(AtomicUsize::new(0));
        let (d, a, r) = (down.clone(), accepted.clone(), refused.clone());
        thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut c) = conn else { continue };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Read the head, then Content-Length bytes of body.
                let body = loop {
                    let n = c.read(&mut chunk).unwrap_or(0);
                    if n == 0 {
                        break None;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    if let Some(h) = text.find("\r\n\r\n") {
                        let len: usize = text[..h]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= h + 4 + len {
                            break Some(buf[h + 4..h + 4 + len].to_vec());
                        }
                    }
                };
                let Some(body) = body else { continue };
                let status = if d.load(Ordering::SeqCst) {
                    r.fetch_add(1, Ordering::SeqCst);
                    "503 Service Unavailable"
                } else {
                    let v: Value = serde_json::from_slice(&body).unwrap();
                    a.lock()
                        .unwrap()
                        .extend(v.as_array().unwrap().iter().cloned());
                    "200 OK"
                };
                let _ = c.write_all(
                    format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .as_bytes(),
                );
            }
        });
        FakeAm {
            url,
            down,
            accepted,
            refused,
        }
    }

    #[test]
    fn outage_alerts_are_spooled_survive_a_restart_and_are_delivered_once() {
        use std::sync::atomic::Ordering;
        let am = fake_am();
        let dir = scratch("deliver");
        let cfg = AlertmanagerConfig {
            url: am.url.clone(),
            batch_size: 2,
            timeout: Duration::from_secs(2),
            retry_initial: Duration::from_millis(20),
            retry_max: Duration::from_millis(100),
            spool_dir: dir.clone(),
            spool_max_alerts: 100,
            drain_timeout: Duration::from_millis(200),
        };
        let exp = crate::metrics::exporter::Exporter::new(1).unwrap();
        // Alertmanager down: three alerts are refused, retried, and stay in the spool when
        // sovereign stops (the drain gives up after drain_timeout).
        let mut sink = AlertmanagerSink::start(cfg.clone(), exp.pipeline.clone()).unwrap();
        let mut rec = record();
        for id in [1, 2, 3] {
            rec.ends.flow_id = id;
            sink.send(&rec);
        }
        let t0 = monotonic();
        while am.refused.load(Ordering::SeqCst) < 2 && t0.elapsed() < Duration::from_secs(5) {
            thread::sleep(Duration::from_millis(10));
        }
        assert!(am.refused.load(Ordering::SeqCst) >= 2, "no retries");
        assert!(exp.pipeline.am_failures.get() >= 2);
        sink.finish();
        let spooled = Spool::open(&dir, 100).unwrap();
        assert_eq!(
            spooled.len(),
            3,
            "alerts must be on disk before any POST succeeds"
        );
        drop(spooled);
        // Alertmanager back, sovereign restarted: the spool is delivered, each alert once.
        am.down.store(false, Ordering::SeqCst);
        // The drain ends as soon as the spool is empty; a long limit only keeps a loaded
        // machine from cutting it short.
        let cfg = AlertmanagerConfig {
            drain_timeout: Duration::from_secs(30),
            ..cfg
        };
        let mut sink2 = AlertmanagerSink::start(cfg, exp.pipeline.clone()).unwrap();
        rec.ends.flow_id = 4;
        sink2.send(&rec);
        sink2.finish();
        let ids: Vec<String> = am
            .accepted
            .lock()
            .unwrap()
            .iter()
            .map(|v| v["labels"]["alert_id"].as_str().unwrap().to_string())
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(
            sorted,
            ["1-residency", "2-residency", "3-residency", "4-residency"]
        );
        assert_eq!(ids.len(), 4, "each alert delivered once: {ids:?}");
        assert_eq!(Spool::open(&dir, 100).unwrap().len(), 0);
        assert_eq!(exp.pipeline.am_spooled.get(), 0);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn spool_survives_reopen_acks_and_drops_oldest_when_full() {
        let dir = scratch("reopen");
        let mut s = Spool::open(&dir, 3).unwrap();
        assert!(
            Spool::open(&dir, 3).is_err(),
            "a second daemon on the same spool is refused"
        );
        let (dropped, res) = s.push(vec!["{\"a\":1}".into(), "{\"a\":2}".into()]);
        res.unwrap();
        assert_eq!(dropped, 0);
        drop(s);
        let mut s = Spool::open(&dir, 3).unwrap();
        assert_eq!(s.front(10), vec!["{\"a\":1}", "{\"a\":2}"]);
        let (dropped, res) = s.push(vec!["{\"a\":3}".into(), "{\"a\":4}".into()]);
        res.unwrap();
        assert_eq!(dropped, 1);
        assert_eq!(s.front(10), vec!["{\"a\":2}", "{\"a\":3}", "{\"a\":4}"]);
        s.ack(2).unwrap();
        drop(s);
        // A torn last line (crash mid-append, even mid-UTF-8) is skipped, the rest kept, and
        // the next append does not stick to it.
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.join(SPOOL_FILE))
            .unwrap();
        f.write_all(b"{\"a\":\"\xc3").unwrap();
        let mut s = Spool::open(&dir, 3).unwrap();
        assert_eq!(s.front(10), vec!["{\"a\":4}"]);
        s.push(vec!["{\"a\":5}".into()]).1.unwrap();
        drop(s);
        let s = Spool::open(&dir, 3).unwrap();
        assert_eq!(s.front(10), vec!["{\"a\":4}", "{\"a\":5}"]);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn spool_does_not_follow_symlinks() {
        let dir = scratch("symlink");
        fs::create_dir_all(&dir).unwrap();
        let target = dir.join("target-file");
        fs::write(&target, "precious").unwrap();
        std::os::unix::fs::symlink(&target, dir.join(SPOOL_FILE)).unwrap();
        assert!(Spool::open(&dir, 3).is_err());
        assert_eq!(fs::read_to_string(&target).unwrap(), "precious");
        let _ = fs::remove_dir_all(&dir);
    }
}
