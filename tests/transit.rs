//! Transit from imported traceroutes (`replay --paths`): a tenant allowed to send personal data
//! to Germany but forbidden to transit the US gets a `transit` alert naming the US hop when the
//! traceroute toward the destination crosses it, none when the path avoids it, and none when the
//! flow's handshake RTT proves the US was out of reach (`[site] location`). The capture is built
//! by the project's generator; addresses are documentation ranges placed by overrides.
// Helpers outside #[test] fns too: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{read_lines, scratch, sovereign, text};
use serde_json::Value;
use sovereign::fixture::{merge, pcap_bytes, Conversation};
use sovereign::time::Timestamp;

const DEST: &str = "203.0.113.10";

fn config(dir: &Path, location: Option<(f64, f64)>) -> String {
    let loc = location.map_or_else(String::new, |(lat, lon)| {
        format!("location = {{ lat = {lat}, lon = {lon} }}\n")
    });
    let cfg = format!(
        "[site]\nname = \"transit-gw\"\ninside = [\"10.0.0.0/8\"]\n{loc}\
         [[geo.override]]\nnetwork = \"198.51.100.0/24\"\ncountry = \"US\"\n\
         [[geo.override]]\nnetwork = \"203.0.113.0/24\"\ncountry = \"DE\"\n\
         [privacy]\nhmac_key = \"000102030405060708090a0b0c0d0e0f\"\n\
         [[tenant]]\nid = \"eu-clinic\"\nnetworks = [\"10.1.0.0/16\"]\nallow = [\"EEA\"]\ndeny_transit = [\"US\"]\n\
         [tenant.personal_data]\ndetect = [\"email\"]\n"
    );
    let p = dir.join("sovereign.toml");
    std::fs::write(&p, cfg).unwrap();
    p.display().to_string()
}

/// A RIPE Atlas traceroute from the gateway to DEST through `middle` (hop 2).
fn traceroute(dir: &Path, middle: &str) -> String {
    let t = format!(
        r#"{{"af":4,"type":"traceroute","msm_id":900001,"prb_id":7,"proto":"ICMP","from":"","src_addr":"10.1.0.2","dst_addr":"{DEST}","timestamp":1700000000,
          "result":[
            {{"hop":1,"result":[{{"from":"10.1.0.1","rtt":0.4}},{{"from":"10.1.0.1","rtt":0.5}},{{"from":"10.1.0.1","rtt":0.4}}]}},
            {{"hop":2,"result":[{{"from":"{middle}","rtt":9.1,"icmpext":{{"obj":[{{"class":1,"type":1,"mpls":[{{"label":16005}}]}}]}}}},{{"x":"*"}},{{"from":"{middle}","rtt":9.3}}]}},
            {{"hop":3,"result":[{{"x":"*"}},{{"x":"*"}},{{"x":"*"}}]}},
            {{"hop":4,"result":[{{"from":"{DEST}","rtt":18.2}},{{"from":"{DEST}","rtt":18.0}},{{"from":"{DEST}","rtt":18.4}}]}}]}}"#
    );
    let p = dir.join(format!("trace-{middle}.json"));
    std::fs::write(&p, t).unwrap();
    p.display().to_string()
}

/// One HTTP POST with an e-mail address from the tenant to DEST (handshake RTT 20 ms), and one
/// quiet request.
fn capture(dir: &Path) -> String {
    let t0 = Timestamp(1_700_000_000_000_000_000);
    let pd = Conversation::new(
        "10.1.2.3:40001".parse().unwrap(),
        format!("{DEST}:80").parse().unwrap(),
        t0,
    )
    .handshake()
    .client_sends(
        b"POST /p HTTP/1.1\r\nHost: x\r\n\r\n{\"email\":\"jane.doe@example.org\",\"x\":1}",
    )
    .server_sends(b"HTTP/1.1 200 OK\r\n\r\n")
    .close();
    let quiet = Conversation::new(
        "10.1.2.3:40002".parse().unwrap(),
        format!("{DEST}:80").parse().unwrap(),
        Timestamp(t0.0 + 1_000_000_000),
    )
    .handshake()
    .client_sends(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    .close();
    let p = dir.join("transit.pcap");
    std::fs::write(&p, pcap_bytes(1, &merge(vec![pd, quiet]))).unwrap();
    p.display().to_string()
}

/// Replays the capture with the traceroute through `middle` (and the BGP files when `bgp`);
/// returns the alert and flow records and the scratch directory.
fn replay_with(
    name: &str,
    location: Option<(f64, f64)>,
    middle: &str,
    bgp: bool,
) -> (Vec<Value>, Vec<Value>, PathBuf) {
    let dir = scratch(&format!("transit-{name}"));
    let cfg = config(&dir, location);
    let trace = traceroute(&dir, middle);
    let pcap = capture(&dir);
    let (a, f) = (dir.join("alerts.jsonl"), dir.join("flows.jsonl"));
    let (a_s, f_s) = (a.display().to_string(), f.display().to_string());
    let mut args = vec![
        "replay", "--config", &cfg, "--paths", &trace, "--alerts", &a_s, "--flows", &f_s,
    ];
    let (mrt, stats) = if bgp {
        bgp_files(&dir)
    } else {
        Default::default()
    };
    if bgp {
        args.extend(["--mrt", &mrt, "--rir-stats", &stats]);
    }
    args.push(&pcap);
    let out = sovereign(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let all = format!(
        "{}{}{}",
        std::fs::read_to_string(&a).unwrap(),
        std::fs::read_to_string(&f).unwrap(),
        text(&out.stderr)
    );
    assert!(!all.contains("jane.doe"), "identifier leaked");
    (read_lines(&a), read_lines(&f), dir)
}

fn replay(name: &str, location: Option<(f64, f64)>, middle: &str) -> (Vec<Value>, Vec<Value>) {
    let (a, f, _) = replay_with(name, location, middle, false);
    (a, f)
}

#[test]
fn a_us_hop_on_the_path_raises_one_transit_alert_naming_it() {
    let (alerts, flows) = replay("us-hop", None, "198.51.100.1");
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(
        a["alert"]["kind"], "transit",
        "no residency alert: DE is allowed"
    );
    assert_eq!(a["dest_geo"]["country"], "DE");
    assert_eq!(a["src_port"], 40001);
    let tr = &a["transit"];
    assert_eq!(tr["jurisdictions"], serde_json::json!(["US"]));
    assert_eq!(tr["evidence"].as_array().unwrap().len(), 1, "{tr}");
    let e = &tr["evidence"][0];
    assert_eq!(e["hop"], 2);
    assert_eq!(e["address"], "198.51.100.1");
    assert_eq!(e["country"], "US");
    assert_eq!(e["source"], "traceroute");
    assert_eq!(e["rtt_ms"], 9.3);
    assert_eq!(e["mpls"], serde_json::json!([16005]));
    assert_eq!(e["measurement"], "ripe-atlas msm 900001 probe 7");
    assert!(
        tr.get("rtt_bound").is_none(),
        "no [site] location, no bound"
    );
    assert!(
        a["alert"]["reason"]
            .as_str()
            .unwrap()
            .contains("crosses US"),
        "{a}"
    );
    // The quiet flow carries no personal data: no transit check, no alert.
    let quiet = flows.iter().find(|f| f["src_port"] == 40002).unwrap();
    assert!(
        quiet.get("transit").is_none() && quiet["alerts"] == serde_json::json!([]),
        "{quiet}"
    );
    let pd = flows.iter().find(|f| f["src_port"] == 40001).unwrap();
    assert_eq!(pd["alerts"], serde_json::json!(["transit"]));
}

#[test]
fn a_path_around_the_us_raises_nothing() {
    let (alerts, flows) = replay("around", None, "203.0.113.1");
    assert!(alerts.is_empty(), "{alerts:#?}");
    let pd = flows.iter().find(|f| f["src_port"] == 40001).unwrap();
    assert!(
        pd.get("transit").is_none(),
        "nothing forbidden crossed: {pd}"
    );
}

#[test]
fn a_handshake_rtt_too_short_to_reach_the_us_clears_the_traceroute() {
    // Frankfurt: 20 ms RTT reaches 2,042 km; the nearest US soil is 5,382 km away.
    let (alerts, flows) = replay("frankfurt", Some((50.11, 8.68)), "198.51.100.1");
    assert!(alerts.is_empty(), "{alerts:#?}");
    let pd = flows.iter().find(|f| f["src_port"] == 40001).unwrap();
    let tr = &pd["transit"];
    assert_eq!(tr["jurisdictions"], serde_json::json!([]), "{tr}");
    assert_eq!(tr["cleared_by_rtt"], serde_json::json!(["US"]));
    assert_eq!(tr["rtt_bound"]["rtt_ms"], 20.0);
    assert_eq!(tr["rtt_bound"]["reach_km"], 2042.0);
    assert_eq!(tr["rtt_bound"]["checked"][0]["verdict"], "excluded");
}

#[test]
fn near_the_us_the_rtt_cannot_clear_it() {
    // Toronto: the US is within reach of any RTT; the alert says so.
    let (alerts, _) = replay("toronto", Some((43.65, -79.38)), "198.51.100.1");
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let b = &alerts[0]["transit"]["rtt_bound"];
    assert_eq!(b["checked"][0]["country"], "US");
    assert_eq!(b["checked"][0]["verdict"], "within_reach");
}

/// An MRT RIB dump (generated here with bgpkit-parser's encoder) routing DEST's /24 through
/// AS3356, registered in the US per the generated RIR statistics.
fn bgp_files(dir: &Path) -> (String, String) {
    use bgpkit_parser::encoder::MrtRibEncoder;
    use bgpkit_parser::models::{AsPath, BgpElem, NetworkPrefix};
    let mut enc = MrtRibEncoder::new();
    for (prefix, path) in [
        ("203.0.113.0/24", vec![64500u32, 3356, 3320, 64511]),
        ("198.51.100.0/24", vec![64500u32, 3320]),
    ] {
        let elem = BgpElem {
            timestamp: 1_700_000_000.0,
            peer_ip: "192.0.2.1".parse().unwrap(),
            peer_asn: 64500.into(),
            prefix: NetworkPrefix::new(prefix.parse().unwrap(), None),
            as_path: Some(AsPath::from_sequence(path)),
            ..Default::default()
        };
        enc.process_elem(&elem).unwrap();
    }
    let mrt = dir.join("rib.mrt");
    std::fs::write(&mrt, enc.export_bytes().unwrap()).unwrap();
    let stats = dir.join("delegated-extended.txt");
    std::fs::write(
        &stats,
        "2|nro|20260101|4|19700101|20260101|+0000\n\
         arin|US|asn|3356|1|20000301|allocated|a\n\
         ripencc|DE|asn|3320|1|19940803|allocated|b\n\
         ripencc|DE|asn|64500|12|20200101|allocated|c\n",
    )
    .unwrap();
    (mrt.display().to_string(), stats.display().to_string())
}

#[test]
fn a_us_registered_carrier_on_the_bgp_path_is_legal_exposure_not_cleared_by_rtt() {
    // Frankfurt with 20 ms: the traceroute's US hop cannot have been reached (cleared), but the
    // AS path crosses AS3356, registered in the US: legal exposure stays.
    let (alerts, _, dir) = replay_with("bgp", Some((50.11, 8.68)), "198.51.100.1", true);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let tr = &alerts[0]["transit"];
    assert_eq!(alerts[0]["alert"]["kind"], "transit");
    assert_eq!(tr["jurisdictions"], serde_json::json!(["US"]));
    assert_eq!(tr["cleared_by_rtt"], serde_json::json!(["US"]), "{tr}");
    assert_eq!(tr["rtt_bound"]["checked"][0]["verdict"], "excluded");
    // Only the registration evidence remains: the located hop was cleared.
    let ev = tr["evidence"].as_array().unwrap();
    assert_eq!(ev.len(), 1, "{tr}");
    assert_eq!(ev[0]["source"], "bgp");
    assert_eq!(ev[0]["basis"], "registration");
    assert_eq!(ev[0]["asn"], 3356);
    assert_eq!(ev[0]["registry"], "arin");
    assert_eq!(ev[0]["prefix"], "203.0.113.0/24");
    assert!(
        alerts[0]["alert"]["reason"]
            .as_str()
            .unwrap()
            .contains("1 AS on the BGP path registered there"),
        "{}",
        alerts[0]
    );
    // --mrt without --rir-stats is refused, naming both.
    let path = |f: &str| dir.join(f).display().to_string();
    let (cfg, mrt, pcap) = (
        path("sovereign.toml"),
        path("rib.mrt"),
        path("transit.pcap"),
    );
    let out = sovereign(&["replay", "--config", &cfg, "--mrt", &mrt, &pcap]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--rir-stats"),
        "{}",
        text(&out.stderr)
    );
}
