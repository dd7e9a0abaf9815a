//! Replay pipeline end to end on the generated scenarios: each capture matches its generator,
//! raises exactly the alerts the scenario expects, matches its golden alert and flow records, and
//! no planted identifier reaches any output. UPDATE_GOLDEN=1 refreshes captures and goldens.

mod common;

use common::*;
use sovereign::fixture::{cases, pcap_bytes};

/// The raw forms an identifier could leak in (as written, and without separators).
fn leak_forms(raw: &str) -> Vec<String> {
    let compact: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let mut v = vec![
        raw.to_string(),
        compact.clone(),
        raw.to_lowercase(),
        compact.to_lowercase(),
    ];
    if let Some((local, domain)) = raw.split_once('@') {
        v.push(format!("{local}@"));
        v.push(format!("{local}%40{domain}"));
        v.push(format!("{local}%40"));
    }
    v
}

fn check_case(c: &cases::Case, config: Option<&str>, golden: bool) {
    let dir = scratch(&format!("golden-{}", c.name));
    let pcap = repo().join("fixtures").join(format!("{}.pcap", c.name));
    let alerts = dir.join("alerts.jsonl");
    let flows = dir.join("flows.jsonl");
    let (a, f, p) = (
        alerts.display().to_string(),
        flows.display().to_string(),
        pcap.display().to_string(),
    );
    // One worker: golden files fix the order of records too (tests/workers.rs covers N).
    let mut args = vec!["replay", "--workers", "1", "--alerts", &a, "--flows", &f];
    if let Some(cfg) = config {
        args.extend(["--config", cfg]);
    }
    args.push(&p);
    let out = sovereign(&args);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{}: replay failed: {stderr}", c.name);

    // Exactly the expected alerts (kind, tenant, endpoints, direction).
    let mut got: Vec<(String, String, String, String, String)> = read_lines(&alerts)
        .iter()
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
            (
                v["alert"]["kind"].as_str().unwrap_or("").to_string(),
                s("tenant"),
                s("src_ip"),
                s("dest_ip"),
                s("direction"),
            )
        })
        .collect();
    let mut want: Vec<(String, String, String, String, String)> = c
        .expect
        .iter()
        .map(|e| {
            (
                e.kind.into(),
                e.tenant.into(),
                e.src_ip.into(),
                e.dest_ip.into(),
                e.direction.into(),
            )
        })
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "{}: alerts", c.name);

    // No raw identifier anywhere.
    let outputs = [
        std::fs::read_to_string(&alerts).unwrap_or_default(),
        std::fs::read_to_string(&flows).unwrap_or_default(),
        stderr.clone(),
        text(&out.stdout),
    ];
    for raw in &c.planted {
        for form in leak_forms(raw) {
            for o in &outputs {
                assert!(
                    !o.contains(&form),
                    "{}: raw identifier {form:?} leaked into output",
                    c.name
                );
            }
        }
    }
    // The summary is printed.
    assert!(
        stderr.contains("tenant") && stderr.contains("pd_flows"),
        "{}: no summary on stderr: {stderr}",
        c.name
    );

    if golden {
        let g = repo().join("fixtures").join("golden");
        check_golden(
            &g.join(format!("{}.alerts.jsonl", c.name)),
            &std::fs::read(&alerts).unwrap_or_default(),
        );
        check_golden(
            &g.join(format!("{}.flows.jsonl", c.name)),
            &std::fs::read(&flows).unwrap_or_default(),
        );
    }
}

#[test]
fn committed_captures_match_their_generator() {
    let mut all = cases::all();
    all.push(cases::demo());
    for c in all {
        let path = repo().join("fixtures").join(format!("{}.pcap", c.name));
        check_golden(&path, &pcap_bytes(c.linktype, &c.frames));
    }
}

#[test]
fn scenarios_raise_exactly_the_expected_alerts_and_match_golden() {
    let cfg = repo()
        .join("fixtures")
        .join("sovereign-test.toml")
        .display()
        .to_string();
    for c in cases::all() {
        check_case(&c, Some(&cfg), true);
    }
}

#[test]
fn demo_capture_with_the_bundled_config() {
    // Random per-run HMAC key: checked for alerts and leaks, not against goldens.
    check_case(&cases::demo(), None, false);
}

/// Replays one committed scenario with the test config; returns its alert and flow records.
/// `tag` names the scratch directory (tests run in parallel).
fn replay_scenario(name: &str, tag: &str) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
    let cfg = repo().join("fixtures").join("sovereign-test.toml");
    let dir = scratch(&format!("scenario-{tag}"));
    let (alerts, flows) = (dir.join("a.jsonl"), dir.join("f.jsonl"));
    let pcap = repo().join("fixtures").join(format!("{name}.pcap"));
    let out = sovereign(&[
        "replay",
        "--workers",
        "1",
        "--config",
        &cfg.display().to_string(),
        "--alerts",
        &alerts.display().to_string(),
        "--flows",
        &flows.display().to_string(),
        &pcap.display().to_string(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    (read_lines(&alerts), read_lines(&flows))
}

#[test]
fn alert_schema_matches_the_documented_example() {
    let (alerts, _) = replay_scenario("pd_to_disallowed_country", "schema");
    let v = &alerts[0];
    assert_eq!(v["event_type"], "alert");
    assert_eq!(v["proto"], "TCP");
    assert_eq!(v["src_port"], 40001);
    assert_eq!(v["dest_port"], 80);
    assert_eq!(v["direction"], "outbound");
    assert_eq!(v["alert"]["severity"], "high");
    assert_eq!(
        v["alert"]["reason"],
        "personal data of acme-eu sent to US (not in EEA)"
    );
    assert_eq!(v["dest_geo"]["country"], "US");
    assert_eq!(v["dest_geo"]["source"], "override");
    assert_eq!(v["personal_data"]["declared"], false);
    let det = v["personal_data"]["detected"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let kinds: Vec<&str> = det.iter().filter_map(|d| d["type"].as_str()).collect();
    assert_eq!(kinds, ["email", "payment_card"]);
    assert_eq!(det[0]["masked"], "m***@example.org");
    assert_eq!(det[1]["masked"], "411111******1111");
    assert!(det
        .iter()
        .all(|d| d["hmac"].as_str().is_some_and(|h| h.len() == 64)));
    // Timestamp: the capture time of the packet that carried the identifiers (RFC 3339, µs, Z).
    let ts = v["timestamp"].as_str().unwrap_or("");
    assert!(
        ts.starts_with("2023-11-14T22:13:20.") && ts.ends_with('Z') && ts.len() == 27,
        "{ts}"
    );
}

#[test]
fn alert_is_raised_when_known_not_at_flow_end() {
    // The flow closes at ~t0+0.07 s; the alert must carry the timestamp of the data packet.
    let (alerts, flows) = replay_scenario("pd_to_disallowed_country", "when");
    let (a, f) = (&alerts[0], &flows[0]);
    assert!(
        a["timestamp"].as_str() < f["flow"]["end"].as_str(),
        "alert {a} not before flow end {f}"
    );
    assert!(a["timestamp"].as_str() > f["flow"]["start"].as_str());
}

#[test]
fn a_failing_flow_sink_does_not_lose_alerts() {
    let dir = scratch("full-disk");
    let alerts = dir.join("a.jsonl");
    let pcap = repo().join("fixtures").join("demo.pcap");
    // /dev/full: every write fails with ENOSPC.
    let out = sovereign(&[
        "replay",
        "--alerts",
        &alerts.display().to_string(),
        "--flows",
        "/dev/full",
        &pcap.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("flow sink"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(read_lines(&alerts).len(), cases::demo().expect.len());
}

#[test]
fn alerts_and_flows_may_not_share_a_file() {
    let dir = scratch("same-file");
    let f = dir.join("x.jsonl").display().to_string();
    let pcap = repo()
        .join("fixtures")
        .join("demo.pcap")
        .display()
        .to_string();
    let out = sovereign(&["replay", "--alerts", &f, "--flows", &f, &pcap]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("same file"),
        "{}",
        text(&out.stderr)
    );
}
