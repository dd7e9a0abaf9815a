//! End-to-end replay benchmark: writes a synthetic capture (many concurrent HTTP flows, some with
//! personal data) and replays it through the same pipeline `sovereign replay` uses, printing
//! packets/s and Mbit/s. Reported, never asserted. `cargo bench --bench replay`.
// A benchmark measures wall time; the no-clock rule is for the pipeline's stages.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;
use std::time::Instant;

use sovereign::alert::JsonLines;
use sovereign::cli::load_config;
use sovereign::engine::Runtime;
use sovereign::fixture::{merge, pcap_bytes, Conversation};
use sovereign::geo::GeoDb;
use sovereign::metrics::exporter::Exporter;
use sovereign::pipeline::{self, Control, Sinks, Source};
use sovereign::time::Timestamp;

fn main() {
    let flows = 20_000u32;
    let mut convs = Vec::with_capacity(flows as usize);
    for i in 0..flows {
        let client = format!(
            "10.1.{}.{}:{}",
            (i >> 8) & 0xff,
            i & 0xff,
            20_000 + (i % 40_000)
        )
        .parse();
        let server = format!("8.8.{}.{}:80", (i >> 8) & 0x3, i & 0xff).parse();
        let (Ok(client), Ok(server)) = (client, server) else {
            continue;
        };
        let body = if i % 10 == 0 {
            format!(
                "POST /x HTTP/1.1\r\nHost: a.example\r\n\r\n{{\"email\":\"user{i}@example.org\"}}"
            )
        } else {
            format!("GET /page/{i} HTTP/1.1\r\nHost: a.example\r\nAccept: */*\r\n\r\n")
        };
        let t0 = Timestamp(1_700_000_000_000_000_000 + u64::from(i) * 50_000);
        convs.push(
            Conversation::new(client, server, t0)
                .handshake()
                .client_sends(body.as_bytes())
                .server_sends(&[b'x'; 1200])
                .close(),
        );
    }
    let frames = merge(convs);
    let bytes: usize = frames.iter().map(|(_, f)| f.len()).sum();
    let dir = std::env::temp_dir().join(format!("sovereign-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let pcap = dir.join("bench.pcap");
    if let Err(e) = std::fs::write(&pcap, pcap_bytes(1, &frames)) {
        eprintln!("cannot write {}: {e}", pcap.display());
        return;
    }
    let cfg = match load_config(None) {
        Ok(c) => c,
        Err(e) => return eprintln!("bundled config: {e}"),
    };
    let geo = match GeoDb::open(&cfg.geo) {
        Ok(g) => Arc::new(g),
        Err(e) => return eprintln!("geo: {e}"),
    };
    let rt = Arc::new(Runtime::new(&cfg, geo, b"bench-key-0123456789"));
    let cores = pipeline::default_workers();
    for (run, workers) in [1, 1, 1, cores, cores, cores].into_iter().enumerate() {
        let sinks = Sinks {
            alerts: JsonLines::new(Box::new(std::io::sink())),
            flows: Some(JsonLines::new(Box::new(std::io::sink()))),
            alertmanager: None,
            probe: None,
        };
        let exp = match Exporter::new(workers) {
            Ok(e) => e,
            Err(e) => return eprintln!("exporter: {e}"),
        };
        let start = Instant::now();
        let out = match pipeline::run(
            rt.clone(),
            Source::Replay(vec![pcap.clone()]),
            sinks,
            64,
            exp,
            Arc::new(Control::default()),
        ) {
            Ok(o) => o,
            Err(e) => return eprintln!("replay: {e}"),
        };
        let secs = start.elapsed().as_secs_f64();
        println!(
            "replay run {} ({workers} workers): {} packets, {} flows, {} alerts in {:.3} s = {:.0} packets/s, {:.0} Mbit/s",
            run + 1,
            out.stats.packets,
            out.flows,
            out.alerts,
            secs,
            out.stats.packets as f64 / secs,
            bytes as f64 * 8.0 / secs / 1e6
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
