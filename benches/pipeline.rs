//! Criterion micro-benchmarks of the per-packet stages: decode, the whole engine step (flow table,
//! geo cache, personal-data scan, policy) and the detectors. Reported, never asserted.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sovereign::capture::{Frame, LinkType};
use sovereign::cli::load_config;
use sovereign::decode::decode;
use sovereign::engine::{Engine, Runtime};
use sovereign::fixture::cases;
use sovereign::geo::GeoDb;
use sovereign::pii::{detect, Detector, DetectorSet};

fn demo_frames() -> Vec<Frame> {
    cases::demo()
        .frames
        .into_iter()
        .map(|(ts, data)| Frame {
            ts,
            linktype: LinkType::Ethernet,
            wire_len: data.len() as u32,
            reassembled_at: None,
            data,
        })
        .collect()
}

fn bench_decode(c: &mut Criterion) {
    let frames = demo_frames();
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("demo_frames", |b| {
        b.iter(|| {
            for f in &frames {
                let _ = black_box(decode(f.linktype, &f.data));
            }
        })
    });
    g.finish();
}

fn bench_engine(c: &mut Criterion) {
    let cfg = match load_config(None) {
        Ok(c) => c,
        Err(e) => panic!("bundled config: {e}"),
    };
    let geo = match GeoDb::open(&cfg.geo) {
        Ok(g) => Arc::new(g),
        Err(e) => panic!("bundled geo: {e}"),
    };
    let rt = Arc::new(Runtime::new(&cfg, geo, b"bench-key-0123456789"));
    let frames = demo_frames();
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("demo_capture", |b| {
        b.iter(|| {
            let mut e = Engine::new(rt.clone());
            let mut out = Vec::new();
            for f in &frames {
                e.process(f, &mut out);
            }
            e.finish(&mut out);
            black_box(out.len())
        })
    });
    g.finish();
}

fn bench_detectors(c: &mut Criterion) {
    let mut set = DetectorSet::empty();
    for d in Detector::ALL {
        set.insert(d);
    }
    // 64 KiB of JSON-ish text with a few identifiers.
    let mut body = String::new();
    while body.len() < 65_536 {
        body.push_str("{\"id\":12345,\"name\":\"Jane Example\",\"note\":\"lorem ipsum dolor sit amet 2023-11-14\"},");
    }
    body.push_str("maria.garcia@example.org 4111 1111 1111 1111 DE89370400440532013000");
    let mut g = c.benchmark_group("pii");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("scan_64k_all_detectors", |b| {
        let mut out = Vec::new();
        b.iter(|| {
            out.clear();
            detect::scan(black_box(body.as_bytes()), set, &mut out);
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench_decode, bench_engine, bench_detectors);
criterion_main!(benches);
