//! Acceptance for the L7 dissectors against tshark: for every capture of the shared corpus
//! listed in `pcap/EXPECTED_APP_FIELDS.tsv` (tshark 4.0.17's SNIs, QUIC versions, HTTP hosts
//! and DNS names), the values sovereign puts in its flow records must agree. "Agree" means:
//! everything tshark lists is found (case-insensitively; its host and name columns list only
//! the first 8 sorted values when they end in "…"), and when tshark's list is complete nothing
//! else is found, except where [`KNOWN`] explains the difference. The per-field report is
//! printed (`cargo test --test app_corpus -- --nocapture`). Fails (not skips) under CI=true
//! when the corpus is missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{corpus, read_lines, scratch, sovereign, text};

/// (capture, field, why sovereign differs from tshark there).
const KNOWN: &[(&str, &str, &str)] = &[
    (
        "nDPI/1kxun.pcap",
        "dns_qnames",
        "the missing names are mDNS/LLMNR queries (link-local device names such as \
         \"joanna-pc\", often their owners' names): sovereign does not record them, by design",
    ),
    (
        "nDPI/dns.pcap",
        "dns_qnames",
        "frame 1 is a response whose query was not captured: sovereign records the question of \
     responses too, tshark's column lists query frames only",
    ),
];

#[derive(Default)]
struct Found {
    sni: BTreeSet<String>,
    quic_versions: BTreeSet<String>,
    quic_sni: BTreeSet<String>,
    http_hosts: BTreeSet<String>,
    dns: BTreeSet<String>,
}

fn found(flows: &[serde_json::Value]) -> Found {
    let mut f = Found::default();
    let s = |v: &serde_json::Value| v.as_str().map(str::to_ascii_lowercase);
    for r in flows {
        if let Some(x) = s(&r["tls"]["sni"]) {
            f.sni.insert(x);
        }
        if let Some(x) = s(&r["quic"]["sni"]) {
            // Google QUIC before TLS (Q0xx) names itself in a CHLO, not a TLS ClientHello:
            // tshark's tls_sni column does not list it.
            let gquic = r["quic"]["versions"].as_array().is_some_and(|v| {
                v.iter()
                    .all(|v| v.as_str().is_some_and(|v| v.starts_with('Q')))
            });
            if !gquic {
                f.sni.insert(x.clone());
            }
            f.quic_sni.insert(x);
        }
        for v in r["quic"]["versions"].as_array().into_iter().flatten() {
            f.quic_versions.insert(v.as_str().unwrap().to_string());
        }
        if let Some(x) = s(&r["http"]["host"]) {
            f.http_hosts.insert(x);
        }
        for q in r["dns"]["queries"].as_array().into_iter().flatten() {
            f.dns.insert(q.as_str().unwrap().to_ascii_lowercase());
        }
    }
    f
}

/// tshark's column: (values, complete?).
fn expected(cell: &str, lower: bool) -> (BTreeSet<String>, bool) {
    let complete = !cell.contains('…');
    let v = cell
        .split(' ')
        .filter(|w| !w.is_empty() && *w != "…")
        .map(|w| {
            if lower {
                w.to_ascii_lowercase()
            } else {
                w.to_string()
            }
        })
        .collect();
    (v, complete)
}

/// tshark writes QUIC versions as hex (or "Q046" for Google QUIC); sovereign names them.
fn version_names(cell: &str) -> (BTreeSet<String>, bool) {
    let (raw, complete) = expected(cell, false);
    let named = raw
        .iter()
        .map(|v| match v.strip_prefix("0x") {
            Some(h) => sovereign::l7::quic::version_name(u32::from_str_radix(h, 16).unwrap()),
            None => v.clone(),
        })
        .collect();
    (named, complete)
}

#[test]
fn dissectors_agree_with_tshark_on_the_corpus() {
    let Some(dir) = corpus("pcap") else { return };
    let table = std::fs::read_to_string(dir.join("EXPECTED_APP_FIELDS.tsv")).unwrap();
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let cols = [
        ("tls_sni", col("tls_sni")),
        ("quic_versions", col("quic_versions")),
        ("quic_sni", col("quic_sni")),
        ("http_hosts", col("http_hosts(first 8)")),
        ("dns_qnames", col("dns_qnames(first 8)")),
    ];
    let out = scratch("app-corpus");
    // field -> (files with values, files agreeing)
    let mut tally: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    let mut unexplained = Vec::new();
    let mut report = Vec::new();
    let mut rows = 0;
    for line in lines.filter(|l| !l.trim().is_empty()) {
        rows += 1;
        let f: Vec<&str> = line.split('\t').collect();
        let rel = f[0];
        let flows = out.join("flows.jsonl");
        let _ = std::fs::remove_file(&flows);
        let o = sovereign(&[
            "replay",
            "--workers",
            "1",
            "--flows",
            &flows.display().to_string(),
            &dir.join(rel).display().to_string(),
        ]);
        let stderr = text(&o.stderr);
        assert!(!stderr.contains("panicked"), "{rel}: {stderr}");
        let got = found(&read_lines(&flows));
        for (field, c) in cols {
            let cell = f.get(c).copied().unwrap_or("");
            let (want, complete) = match field {
                "quic_versions" => version_names(cell),
                _ => expected(cell, true),
            };
            let have = match field {
                "tls_sni" => &got.sni,
                "quic_versions" => &got.quic_versions,
                "quic_sni" => &got.quic_sni,
                "http_hosts" => &got.http_hosts,
                _ => &got.dns,
            };
            if want.is_empty() && have.is_empty() {
                continue;
            }
            let missing: Vec<&String> = want.difference(have).collect();
            let extra: Vec<&String> = if complete {
                have.difference(&want).collect()
            } else {
                Vec::new()
            };
            let t = tally.entry(field).or_default();
            t.0 += 1;
            if missing.is_empty() && extra.is_empty() {
                t.1 += 1;
                continue;
            }
            let line = format!("{rel} {field}: missing {missing:?}, extra {extra:?}");
            match KNOWN.iter().find(|(p, fl, _)| *p == rel && *fl == field) {
                Some((_, _, why)) => report.push(format!("{line} -- known: {why}")),
                None => unexplained.push(line),
            }
        }
    }
    assert_eq!(rows, 70, "EXPECTED_APP_FIELDS.tsv lists 70 captures");
    println!("agreement with tshark per field (files where either side has values):");
    for (field, (n, ok)) in &tally {
        println!("  {field}: {ok}/{n}");
    }
    for r in &report {
        println!("  {r}");
    }
    for u in &unexplained {
        println!("  UNEXPLAINED {u}");
    }
    assert!(unexplained.is_empty(), "{unexplained:#?}");
    // Every KNOWN entry is still needed.
    for (p, fl, _) in KNOWN {
        assert!(
            report.iter().any(|r| r.starts_with(&format!("{p} {fl}:"))),
            "stale KNOWN entry {p} {fl}"
        );
    }
}
