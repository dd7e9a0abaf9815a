//! Replays every capture of the shared corpus (../shared/corpus/pcap, see its README and
//! MANIFEST.tsv): no panic; every readable file exits 0 having read exactly the packets capinfos
//! counted and made the flows fixtures/corpus-flows.tsv lists (tshark's count, differences
//! explained); the damaged or libpcap-unreadable ones exit 1 with an error naming the file and what
//! broke, after processing the packets before the damage. Fails (not skips) under CI=true when the
//! corpus is missing.

mod common;

use common::*;

/// Files libpcap cannot read to the end, with a fragment of the error it must report and the
/// packets that must still be processed before it.
const BROKEN: &[(&str, &str, u64)] = &[
    // Its only record claims caplen 524501 in a 239-byte file.
    ("nDPI/fuzz-2021-10-13.pcap", "truncated dump file", 1),
    // 126 interfaces with different link types and snap lengths: valid pcapng, but libpcap
    // (1.10) reads only files whose interfaces all share the first one's snaplen and link type.
    ("zeek/ldap/modify-request.pcapng", "snapshot length", 0),
];

fn stat(stderr: &str, key: &str) -> Option<u64> {
    stderr
        .split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}

#[test]
fn every_corpus_capture_replays_without_panic() {
    let Some(dir) = corpus("pcap") else { return };
    let manifest = match std::fs::read_to_string(dir.join("MANIFEST.tsv")) {
        Ok(m) => m,
        Err(e) => panic!("MANIFEST.tsv: {e}"),
    };
    let mut lines = manifest.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
    let col = |name: &str| match header.iter().position(|h| *h == name) {
        Some(i) => i,
        None => panic!("MANIFEST.tsv has no column {name}"),
    };
    let (c_path, c_packets, c_short) = (col("path"), col("packets"), col("short_frames"));
    let mut seen = 0;
    let out_dir = scratch("corpus");
    let mut expected_flows = expected_flow_counts();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        let rel = f[c_path];
        let expected_packets: u64 = f[c_packets].parse().unwrap_or(0);
        let path = dir.join(rel);
        let alerts = out_dir.join("alerts.jsonl");
        let flows = out_dir.join("flows.jsonl");
        let out = sovereign(&[
            "replay",
            "--stats",
            "--alerts",
            &alerts.display().to_string(),
            "--flows",
            &flows.display().to_string(),
            &path.display().to_string(),
        ]);
        let stderr = text(&out.stderr);
        assert!(!stderr.contains("panicked"), "{rel}: panic: {stderr}");
        let code = out.status.code();
        let packets = stat(&stderr, "packets");
        match BROKEN.iter().find(|(p, _, _)| *p == rel) {
            Some((_, fragment, before)) => {
                assert_eq!(code, Some(1), "{rel}: damaged file must exit 1: {stderr}");
                let msg = stderr
                    .lines()
                    .find(|l| l.starts_with("error: "))
                    .unwrap_or("");
                assert!(
                    msg.contains(&path.display().to_string()),
                    "{rel}: error must name the file: {msg}"
                );
                assert!(
                    msg.contains(fragment),
                    "{rel}: error must say {fragment:?}: {msg}"
                );
                assert!(
                    msg.contains(&format!("after {before} packets")),
                    "{rel}: error must say where: {msg}"
                );
                assert_eq!(
                    packets,
                    Some(*before),
                    "{rel}: packets before the damage are processed"
                );
            }
            None => {
                assert_eq!(code, Some(0), "{rel}: readable file must exit 0: {stderr}");
                assert_eq!(
                    packets,
                    Some(expected_packets),
                    "{rel}: packets read vs capinfos"
                );
                let Some((tshark, want, note)) = expected_flows.remove(rel) else {
                    panic!("{rel} is missing from fixtures/corpus-flows.tsv");
                };
                let got = std::fs::read_to_string(&flows)
                    .map(|t| t.lines().count())
                    .unwrap_or(0);
                assert_eq!(got, want, "{rel}: flows (tshark counts {tshark}; {note})");
                assert!(
                    want == tshark || !note.is_empty(),
                    "{rel}: a difference from tshark needs a note"
                );
            }
        }
        // Truncated frames are counted as decode errors, not fatal.
        if f[c_short] != "0" && rel.contains("trunc") && !rel.contains("geneve") {
            assert!(
                stat(&stderr, "decode_errors").is_some_and(|n| n > 0),
                "{rel}: short frame not counted: {stderr}"
            );
        }
        seen += 1;
    }
    assert_eq!(seen, 70, "MANIFEST.tsv lists 70 captures");
    assert!(
        expected_flows.is_empty(),
        "stale rows in corpus-flows.tsv: {:?}",
        expected_flows.keys()
    );
}

/// fixtures/corpus-flows.tsv: path -> (flows tshark sees, flows we must produce, why they differ).
fn expected_flow_counts() -> std::collections::BTreeMap<String, (usize, usize, String)> {
    let text = match std::fs::read_to_string(repo().join("fixtures/corpus-flows.tsv")) {
        Ok(t) => t,
        Err(e) => panic!("fixtures/corpus-flows.tsv: {e}"),
    };
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("path\t") && !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let n = |i: usize| f.get(i).and_then(|v| v.parse().ok()).unwrap_or(usize::MAX);
            (
                f[0].to_string(),
                (n(1), n(2), f.get(3).unwrap_or(&"").to_string()),
            )
        })
        .collect()
}

#[test]
fn several_files_replay_in_order_and_a_broken_one_does_not_stop_the_rest() {
    let Some(dir) = corpus("pcap") else { return };
    let a = dir.join("zeek/http/get.pcap");
    let broken = dir.join("nDPI/fuzz-2021-10-13.pcap");
    let b = dir.join("zeek/http/post.pcap");
    let out_dir = scratch("corpus-multi");
    let alerts = out_dir.join("alerts.jsonl");
    let out = sovereign(&[
        "replay",
        "--alerts",
        &alerts.display().to_string(),
        &a.display().to_string(),
        &broken.display().to_string(),
        &b.display().to_string(),
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // 14 + 1 + 14 packets: the files after the broken one are still replayed.
    assert_eq!(stat(&stderr, "packets"), Some(29), "{stderr}");
}
