//! `sovereign lookup` against every row of ../shared/corpus/mmdb/EXPECTED_LOOKUPS.tsv (derived
//! from MaxMind's source JSON and cross-checked with an independent reader), IPv4 given as
//! IPv4-mapped, NAT64 and 6to4 addresses, and every corrupt
//! database refused with an error naming the file. Fails (not skips) under CI=true without corpus.

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::Value;

const KEYS: &[&str] = &[
    "country",
    "registered_country",
    "represented_country",
    "city",
    "lat",
    "lon",
    "asn",
    "org",
    "is_anycast",
    "is_anonymous",
    "is_anonymous_vpn",
    "is_hosting_provider",
    "is_public_proxy",
    "is_residential_proxy",
    "is_tor_exit_node",
];

/// "country=GB city=San Diego lat=1.5" -> {country: GB, city: "San Diego", lat: 1.5}; values may hold spaces.
fn parse_expected(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut cur: Option<(String, String)> = None;
    for tok in s.split(' ') {
        let starts_key = tok.split_once('=').filter(|(k, _)| KEYS.contains(k));
        match (starts_key, cur.as_mut()) {
            (Some((k, v)), _) => {
                if let Some((k0, v0)) = cur.take() {
                    out.insert(k0, v0);
                }
                cur = Some((k.to_string(), v.to_string()));
            }
            (None, Some((_, v))) => {
                v.push(' ');
                v.push_str(tok);
            }
            (None, None) => panic!("cannot parse expected {s:?}"),
        }
    }
    if let Some((k, v)) = cur {
        out.insert(k, v);
    }
    out
}

fn lookup_json(db: &str, ips: &[&str]) -> Vec<Value> {
    let mut args = vec!["lookup", "--json", "--db", db];
    args.extend_from_slice(ips);
    let out = sovereign(&args);
    assert!(out.status.success(), "lookup {db}: {}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| match serde_json::from_str(l) {
            Ok(v) => v,
            Err(e) => panic!("bad JSON {l:?}: {e}"),
        })
        .collect()
}

fn check_row(db: &str, ip: &str, expected: &str, got: &Value) {
    let rec = &got["records"][0];
    let ctx = format!("{db} {ip}: expected {expected}, got {got}");
    if expected == "NOT_FOUND" {
        assert_eq!(rec["found"], false, "{ctx}");
        return;
    }
    assert_eq!(rec["found"], true, "{ctx}");
    let exp = parse_expected(expected);
    let s = |k: &str| rec[k].as_str().map(str::to_string);
    for (k, v) in &exp {
        if v == "-" {
            let field = if k == "org" { "as_org" } else { k.as_str() };
            assert!(rec.get(field).is_none(), "{k} must be absent: {ctx}");
            continue;
        }
        match k.as_str() {
            "is_anycast" => assert_eq!(rec["anycast"], true, "{ctx}"),
            "country" | "registered_country" | "represented_country" | "city" => {
                assert_eq!(s(k).as_deref(), Some(v.as_str()), "{k}: {ctx}")
            }
            "lat" | "lon" => {
                let field = if k == "lat" { "latitude" } else { "longitude" };
                let want: f64 = v.parse().unwrap_or(f64::NAN);
                let have = rec[field].as_f64().unwrap_or(f64::NAN);
                // The table rounds coordinates to 3 decimals.
                assert!((want - have).abs() <= 0.0006, "{k}: {ctx}");
            }
            "asn" => assert_eq!(
                rec["asn"].as_u64().map(|n| n.to_string()).as_deref(),
                Some(v.as_str()),
                "{ctx}"
            ),
            "org" if v == "None" => assert!(rec.get("as_org").is_none(), "{ctx}"),
            "org" => assert_eq!(s("as_org").as_deref(), Some(v.as_str()), "{ctx}"),
            flag => {
                let flags: Vec<&str> = rec["anonymous"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                assert!(flags.contains(&flag), "{flag}: {ctx}");
            }
        }
    }
    // Nothing beyond what the table lists (absent keys stay absent).
    for (k, field) in [
        ("registered_country", "registered_country"),
        ("represented_country", "represented_country"),
        ("city", "city"),
        ("asn", "asn"),
    ] {
        if !exp.contains_key(k) {
            assert!(rec.get(field).is_none(), "unexpected {field}: {ctx}");
        }
    }
    let n_flags = exp
        .keys()
        .filter(|k| k.starts_with("is_") && *k != "is_anycast")
        .count();
    assert_eq!(
        rec["anonymous"].as_array().map(Vec::len).unwrap_or(0),
        n_flags,
        "anonymous flags: {ctx}"
    );
    // The pipeline's country is the database's country, except for special-purpose ranges.
    if got.get("special").is_none() && rec.get("error").is_none() {
        assert_eq!(got["country"], rec["country"].clone(), "{ctx}");
    }
}

#[test]
fn every_expected_lookup_row_agrees() {
    let Some(dir) = corpus("mmdb") else { return };
    let tsv = match std::fs::read_to_string(dir.join("EXPECTED_LOOKUPS.tsv")) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    let mut by_db: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for line in tsv.lines().skip(1).filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        by_db
            .entry(f[0].to_string())
            .or_default()
            .push((f[1].to_string(), f[4].to_string()));
    }
    let mut rows = 0;
    for (db, list) in &by_db {
        let path = dir.join("test-data").join(db).display().to_string();
        let ips: Vec<&str> = list.iter().map(|(ip, _)| ip.as_str()).collect();
        let got = lookup_json(&path, &ips);
        assert_eq!(got.len(), list.len());
        for ((ip, exp), g) in list.iter().zip(&got) {
            check_row(db, ip, exp, g);
            rows += 1;
        }
    }
    assert_eq!(rows, 282, "EXPECTED_LOOKUPS.tsv has 282 rows");
}

#[test]
fn ipv4_aliases_agree() {
    let Some(dir) = corpus("mmdb") else { return };
    let db = dir
        .join("test-data/GeoIP2-Country-Test.mmdb")
        .display()
        .to_string();
    let got = lookup_json(
        &db,
        &[
            "81.2.69.142",
            "::ffff:81.2.69.142",
            "64:ff9b::81.2.69.142",
            "2002:5102:458e::",
        ],
    );
    assert_eq!(got.len(), 4);
    for g in &got {
        assert_eq!(g["country"], "GB", "{g}");
        assert_eq!(g["records"][0]["registered_country"], "US", "{g}");
    }
}

#[test]
fn every_corrupt_database_is_refused_with_a_clear_error() {
    let Some(dir) = corpus("mmdb") else { return };
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    let mut stack = vec![dir.join("bad-data")];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "mmdb") {
                files.push(p);
            }
        }
    }
    assert_eq!(files.len(), 21, "bad-data holds 21 databases");
    for name in [
        "GeoIP2-City-Test-Broken-Double-Format.mmdb",
        "GeoIP2-City-Test-Invalid-Node-Count.mmdb",
        "MaxMind-DB-test-broken-pointers-24.mmdb",
        "MaxMind-DB-test-broken-search-tree-24.mmdb",
    ] {
        files.push(dir.join("test-data").join(name));
    }
    for f in files {
        let p = f.display().to_string();
        let out = sovereign(&["lookup", "--db", &p, "1.1.1.1"]);
        let stderr = text(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{p} accepted: {}",
            text(&out.stdout)
        );
        assert!(!stderr.contains("panicked"), "{p}: {stderr}");
        assert!(
            stderr.contains(&format!("error: {p}: not a valid MaxMind DB: ")),
            "{p}: unclear error: {stderr}"
        );
    }
}

#[test]
fn check_config_refuses_a_corrupt_database_by_key() {
    let Some(dir) = corpus("mmdb") else { return };
    let bad = dir.join("bad-data/maxminddb-golang/cyclic-data-structure.mmdb");
    let d = scratch("bad-db-config");
    let cfg = d.join("c.toml");
    let body = format!(
        "[site]\ninside = [\"10.0.0.0/8\"]\n[geo]\ndatabases = [{:?}]\n",
        bad.display().to_string()
    );
    if let Err(e) = std::fs::write(&cfg, body) {
        panic!("{e}");
    }
    let out = sovereign(&["check-config", &cfg.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cyclic-data-structure.mmdb: not a valid MaxMind DB"),
        "{}",
        text(&out.stderr)
    );
}
