//! Imported traceroutes: every RIPE Atlas result in ../shared/corpus/traceroute parses, the values
//! RIPE's own parser (ripe.atlas.sagan) asserts in its tests hold for ours (PROVENANCE.tsv), and
//! `sovereign paths` reports per probe the countries crossed with the bundled database (the same
//! answers `sovereign lookup` gives for each hop).
// Helpers outside #[test] fns too: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::{corpus, sovereign, text};
use serde_json::Value;
use sovereign::path::atlas::{self, Traceroute};

/// (file, traceroute results it holds) per the corpus README.
const FILES: &[(&str, usize)] = &[
    ("ripe-atlas-monitor/1033154.json", 87),
    ("ripe-atlas-monitor/3082698.json", 8),
    ("ripe.atlas.sagan/traceroute-results.jsonl", 21),
    ("ripe-atlas-tools/msm3606560-two-results.json", 2),
];

/// Index after `key[`, e.g. `hops[2]` -> 2.
fn idx(s: &str, key: &str) -> Option<usize> {
    let rest = s.split(&format!("{key}[")).nth(1)?;
    rest.split(']').next()?.parse().ok()
}

fn unquote(v: &str) -> Option<String> {
    match v {
        "None" => None,
        v => Some(v.trim_matches('\'').to_string()),
    }
}

/// Our value for one of sagan's attribute expressions, as sagan would print it; `None` when the
/// attribute is not something sovereign models (firmware, option sizes, clock sync ...).
fn ours(t: &Traceroute, key: &str) -> Option<Option<String>> {
    let b = |x: bool| Some(Some(if x { "True" } else { "False" }.to_string()));
    let f = |x: Option<f64>| Some(x.map(|v| format!("{v}")));
    let hop = |i: usize| t.hops.get(i);
    Some(match key {
        "af" => Some(t.af?.to_string()),
        "destination_address" => t.dst_addr.map(|a| a.to_string()),
        "destination_name" => t.dst_name.clone(),
        "origin" => t.origin.map(|a| a.to_string()),
        "measurement_id" => t.msm_id.map(|v| v.to_string()),
        "probe_id" => t.prb_id.map(|v| v.to_string()),
        "total_hops" => Some(t.total_hops().to_string()),
        // `last_rtt` is sagan's deprecated alias of `last_median_rtt`.
        "last_median_rtt" | "last_rtt" => return f(t.last_median_rtt()),
        "destination_ip_responded" => return b(t.destination_ip_responded()),
        "last_hop_responded" => return b(t.last_hop_responded()),
        "is_success" => return b(t.is_success()),
        k if k.starts_with("ip_path[") => {
            let (h, p) = (
                idx(k, "ip_path")?,
                k.split("][")
                    .nth(1)?
                    .trim_end_matches(']')
                    .parse::<usize>()
                    .ok()?,
            );
            hop(h)?.replies.get(p)?.from.map(|a| a.to_string())
        }
        k if k.starts_with("len(hops[") => Some(hop(idx(k, "hops")?)?.replies.len().to_string()),
        k if k.starts_with("hops[") => {
            let h = hop(idx(k, "hops")?)?;
            if k.ends_with("].index") {
                Some(h.hop.to_string())
            } else if k.ends_with("].is_error") && !k.contains("packets") {
                return b(h.error.is_some());
            } else if k.ends_with("].error_message") {
                h.error.clone()
            } else if k.contains("packets[") {
                let p = h.replies.get(idx(k, "packets")?)?;
                match k.rsplit('.').next()? {
                    "is_error" => return b(p.err.is_some()),
                    "origin" => p.from.map(|a| a.to_string()),
                    "rtt" => return f(p.rtt_ms),
                    _ => return None,
                }
            } else {
                return None;
            }
        }
        _ => return None,
    })
}

#[test]
fn every_corpus_traceroute_parses_and_matches_sagan_expectations() {
    let Some(dir) = corpus("traceroute") else {
        return;
    };
    for (file, n) in FILES {
        let path = dir.join(file);
        let t =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let parsed = atlas::parse(&t, file).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.len(), *n, "{file}");
    }
    // 1033154: the README counts 746 timeouts and 111 replies with `icmpext`; 108 of those carry
    // an MPLS label stack (the other 3 hold a single class-0 object, no labels).
    let t = std::fs::read_to_string(dir.join(FILES[0].0)).unwrap();
    let big = atlas::parse(&t, FILES[0].0).unwrap();
    let replies = big.iter().flat_map(|t| &t.hops).flat_map(|h| &h.replies);
    assert_eq!(replies.clone().filter(|r| r.timeout).count(), 746);
    assert_eq!(replies.filter(|r| !r.mpls.is_empty()).count(), 108);
    assert_eq!(
        big.iter()
            .filter(|t| t.dst_addr.is_none() && t.error.is_some())
            .count(),
        10
    );

    let lines =
        std::fs::read_to_string(dir.join("ripe.atlas.sagan/traceroute-results.jsonl")).unwrap();
    let prov = std::fs::read_to_string(dir.join("ripe.atlas.sagan/PROVENANCE.tsv")).unwrap();
    let mut checked = 0;
    let mut not_modelled = BTreeMap::new();
    for row in prov.lines().skip(1) {
        let cols: Vec<&str> = row.split('\t').collect();
        let line: usize = cols[0].parse().unwrap();
        let text = lines.lines().nth(line - 1).unwrap();
        let t = &atlas::parse(text, "sagan").unwrap()[0];
        for assertion in cols[12].split("; ") {
            let (key, want) = assertion.split_once('=').unwrap();
            match ours(t, key) {
                Some(got) => {
                    assert_eq!(got, unquote(want), "line {line} ({}): {key}", cols[1]);
                    checked += 1;
                }
                None => {
                    *not_modelled
                        .entry(key.split('.').next_back().unwrap_or(key).to_string())
                        .or_insert(0) += 1
                }
            }
        }
    }
    eprintln!("sagan assertions checked: {checked}; not modelled: {not_modelled:?}");
    assert!(checked >= 110, "only {checked} sagan assertions checked");
}

#[test]
fn paths_reports_countries_per_probe_as_lookup_places_each_hop() {
    let Some(dir) = corpus("traceroute") else {
        return;
    };
    for (file, n) in FILES {
        let path = dir.join(file).display().to_string();
        let out = sovereign(&["paths", "--json", "--deny", "US", &path]);
        assert!(out.status.success(), "{file}: {}", text(&out.stderr));
        let rows: Vec<Value> = text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(rows.len(), *n, "{file}");
        let mut addrs: Vec<String> = rows
            .iter()
            .flat_map(|r| r["hops"].as_array().unwrap().iter())
            .map(|h| h["address"].as_str().unwrap().to_string())
            .collect();
        addrs.sort();
        addrs.dedup();
        // The countries `lookup` gives for every hop address...
        let mut args = vec!["lookup", "--json"];
        args.extend(addrs.iter().map(String::as_str));
        let look = sovereign(&args);
        assert!(look.status.success(), "{}", text(&look.stderr));
        let placed: BTreeMap<String, Option<String>> = text(&look.stdout)
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                (
                    v["ip"].as_str().unwrap().to_string(),
                    v["country"].as_str().map(str::to_string),
                )
            })
            .collect();
        for r in &rows {
            // ... are the hops' countries, and the countries crossed are those before the
            // destination, in path order.
            let mut expect: Vec<String> = Vec::new();
            for h in r["hops"].as_array().unwrap() {
                let c = placed[h["address"].as_str().unwrap()].clone();
                assert_eq!(h["country"].as_str().map(str::to_string), c, "{file}: {h}");
                // The destination's own answer is not transit.
                if h["address"] == r["dst_addr"] {
                    continue;
                }
                if let Some(c) = c {
                    if !expect.contains(&c) {
                        expect.push(c);
                    }
                }
            }
            let got: Vec<String> = serde_json::from_value(r["countries"].clone()).unwrap();
            assert_eq!(got, expect, "{file}: {r}");
            let denied = got.iter().any(|c| c == "US");
            let want = if r["dst_addr"].is_null() {
                "no_destination"
            } else if denied {
                "crosses_denied"
            } else {
                "clear"
            };
            assert_eq!(r["verdict"], want, "{file}: {r}");
        }
    }
}
