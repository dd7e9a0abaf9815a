//! Application metadata, tunnels and fragments end to end (`sovereign replay` on captures built
//! by the project's generator): the flow inside each encapsulation raises its alert with the
//! tunnel recorded; IP fragments are reassembled in order, out of order and overlapping, and a
//! missing piece is counted; a segmented ClientHello and a multi-packet QUIC Initial name their
//! flow (the alert waits for it); a DNS answer names a later flow to its address; allow_hosts
//! and deny_hosts follow the documented precedence. Documentation addresses only.
// Helpers outside #[test] fns too: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{read_lines, scratch, sovereign, text};
use serde_json::Value;
use sovereign::fixture::{
    merge, pcap_bytes, quic_initials, tls_client_hello, tls_records, Conversation, Encap,
};
use sovereign::time::Timestamp;

const T0: u64 = 1_700_000_000_000_000_000;
/// Geolocated to the US by override.
const US: &str = "198.51.100.20";
/// Geolocated to Germany by override.
const DE: &str = "203.0.113.20";
const EMAIL: &str = "jane.doe@example.org";

fn config(dir: &std::path::Path, wait_ms: u64) -> String {
    let cfg = format!(
        "[site]\nname = \"app-gw\"\ninside = [\"10.0.0.0/8\", \"2001:db8:10::/48\"]\n\
         [[geo.override]]\nnetwork = \"198.51.100.0/24\"\ncountry = \"US\"\n\
         [[geo.override]]\nnetwork = \"203.0.113.0/24\"\ncountry = \"DE\"\n\
         [[geo.override]]\nnetwork = \"2001:db8:99::/48\"\ncountry = \"US\"\n\
         [privacy]\nhmac_key = \"000102030405060708090a0b0c0d0e0f\"\n\
         [app]\nname_wait_ms = {wait_ms}\n\
         [[tenant]]\nid = \"eu-clinic\"\nnetworks = [\"10.1.0.0/16\", \"2001:db8:10::/48\"]\nallow = [\"EEA\"]\n\
         allow_hosts = [\"*.eu-saas.example\"]\ndeny_hosts = [\"tracker.example\"]\n\
         [tenant.personal_data]\ndetect = [\"email\"]\ndeclared = [\"10.1.9.0/24\"]\n"
    );
    let p = dir.join("sovereign.toml");
    std::fs::write(&p, cfg).unwrap();
    p.display().to_string()
}

struct Run {
    alerts: Vec<Value>,
    flows: Vec<Value>,
    stderr: String,
}

impl Run {
    /// The value of a Prometheus sample line of `--stats`.
    fn stat(&self, series: &str) -> u64 {
        self.stderr
            .lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no {series} in:\n{}", self.stderr)) as u64
    }
}

/// Replays the conversations (Ethernet) under the test config.
fn replay_wait(name: &str, convs: Vec<Conversation>, wait_ms: u64) -> Run {
    let dir = scratch(&format!("app-{name}"));
    let cfg = config(&dir, wait_ms);
    let pcap = dir.join("in.pcap");
    std::fs::write(&pcap, pcap_bytes(1, &merge(convs))).unwrap();
    let (a, f) = (dir.join("alerts.jsonl"), dir.join("flows.jsonl"));
    let out = sovereign(&[
        "replay",
        "--stats",
        "--config",
        &cfg,
        "--alerts",
        &a.display().to_string(),
        "--flows",
        &f.display().to_string(),
        &pcap.display().to_string(),
    ]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let all = format!(
        "{}{}{stderr}",
        std::fs::read_to_string(&a).unwrap(),
        std::fs::read_to_string(&f).unwrap()
    );
    assert!(!all.contains(EMAIL), "identifier leaked");
    Run {
        alerts: read_lines(&a),
        flows: read_lines(&f),
        stderr,
    }
}

fn replay(name: &str, convs: Vec<Conversation>) -> Run {
    replay_wait(name, convs, 500)
}

fn at(ms: u64) -> Timestamp {
    Timestamp(T0 + ms * 1_000_000)
}

fn post(host: &str) -> Vec<u8> {
    let body = format!("{{\"email\":\"{EMAIL}\"}}");
    format!(
        "POST /v1/records HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn conv(client: &str, server: &str, ms: u64) -> Conversation {
    Conversation::new(client.parse().unwrap(), server.parse().unwrap(), at(ms))
}

/// A POST with an e-mail address from the tenant to the US inside `e`.
fn tunnelled(e: Encap, port: u16) -> Conversation {
    conv(&format!("10.1.2.3:{port}"), &format!("{US}:80"), 0)
        .encap(e)
        .handshake()
        .client_sends(&post("api.analytics.example"))
        .server_sends(b"HTTP/1.1 200 OK\r\n\r\n")
        .close()
}

#[test]
fn each_tunnel_type_carries_the_inner_flow_and_is_recorded() {
    let cases: [(Encap, &str, Option<&str>, u64); 10] = [
        (Encap::Mpls { label: 3001 }, "mpls", None, 3001),
        (Encap::MplsEthernet { label: 3002 }, "mpls", None, 3002),
        (Encap::Gre { key: Some(77) }, "gre", Some("192.0.2.201"), 77),
        (Encap::Gre { key: None }, "gre", Some("192.0.2.201"), 0),
        (Encap::GreEthernet, "gre", Some("192.0.2.201"), 0),
        (
            Encap::Erspan2 { session: 12 },
            "erspan",
            Some("192.0.2.201"),
            12,
        ),
        (
            Encap::Erspan3 { session: 13 },
            "erspan",
            Some("192.0.2.201"),
            13,
        ),
        (
            Encap::Vxlan { vni: 5001 },
            "vxlan",
            Some("192.0.2.201"),
            5001,
        ),
        (
            Encap::Geneve { vni: 5002 },
            "geneve",
            Some("192.0.2.201"),
            5002,
        ),
        (Encap::IpInIpv4, "ip-in-ip", Some("192.0.2.201"), 0),
    ];
    for (i, (e, kind, outer, id)) in cases.into_iter().enumerate() {
        let r = replay(&format!("tunnel-{i}"), vec![tunnelled(e, 41000)]);
        assert_eq!(r.alerts.len(), 1, "{e:?}: {:#?}", r.alerts);
        let a = &r.alerts[0];
        assert_eq!(
            (&a["src_ip"], &a["dest_ip"], &a["dest_port"]),
            (&Value::from("10.1.2.3"), &Value::from(US), &Value::from(80)),
            "{e:?}: the inner flow"
        );
        assert_eq!(a["alert"]["kind"], "residency", "{e:?}");
        assert_eq!(a["tunnel"]["type"], kind, "{e:?}");
        assert_eq!(a["tunnel"]["outer_src_ip"].as_str(), outer, "{e:?}");
        assert_eq!(a["tunnel"]["id"].as_u64().unwrap_or(0), id, "{e:?}");
        assert_eq!(a["hostname"]["name"], "api.analytics.example", "{e:?}");
        assert_eq!(r.flows.len(), 1, "{e:?}: one flow for both directions");
        assert_eq!(r.flows[0]["tunnel"], a["tunnel"], "{e:?}");
        assert_eq!(r.flows[0]["flow"]["pkts_toclient"], 4, "{e:?}");
    }
}

#[test]
fn ipv6_in_ipv4_tunnel() {
    let c = Conversation::new(
        "[2001:db8:10::3]:41000".parse().unwrap(),
        "[2001:db8:99::20]:80".parse().unwrap(),
        at(0),
    )
    .encap(Encap::IpInIpv4)
    .handshake()
    .client_sends(&post("v6.analytics.example"))
    .close();
    let r = replay("6in4", vec![c]);
    assert_eq!(r.alerts.len(), 1, "{:#?}", r.alerts);
    assert_eq!(r.alerts[0]["dest_ip"], "2001:db8:99::20");
    assert_eq!(r.alerts[0]["dest_geo"]["country"], "US");
    assert_eq!(r.alerts[0]["tunnel"]["type"], "ip-in-ip");
    assert_eq!(r.alerts[0]["tunnel"]["outer_dest_ip"], "192.0.2.202");
}

/// The same inner addresses in two VXLAN segments are two flows.
#[test]
fn vni_separates_overlapping_inner_address_spaces() {
    let r = replay(
        "vni",
        vec![
            tunnelled(Encap::Vxlan { vni: 1 }, 41000),
            tunnelled(Encap::Vxlan { vni: 2 }, 41000),
        ],
    );
    assert_eq!(r.flows.len(), 2);
    assert_eq!(r.alerts.len(), 2);
}

/// A UDP datagram with an e-mail address, to the US, as four IPv4 fragments (the address
/// spans the second and third).
fn fragmented(order: &[usize]) -> Conversation {
    let mut data = vec![b'x'; 100];
    data.extend_from_slice(format!("{{\"email\":\"{EMAIL}\"}}").as_bytes());
    data.resize(260, b'y');
    conv("10.1.2.3:41000", &format!("{US}:9000"), 0).udp_client_fragmented(
        &data,
        &[0, 96, 120, 200],
        order,
    )
}

#[test]
fn fragments_in_order_out_of_order_and_duplicated_are_reassembled() {
    for (name, order) in [
        ("in-order", &[0, 1, 2, 3][..]),
        ("reversed", &[3, 2, 1, 0][..]),
        ("shuffled-with-duplicate", &[2, 0, 2, 3, 1][..]),
    ] {
        let r = replay(&format!("frag-{name}"), vec![fragmented(order)]);
        assert_eq!(r.alerts.len(), 1, "{name}: {:#?}", r.alerts);
        assert_eq!(r.alerts[0]["dest_port"], 9000, "{name}");
        assert_eq!(
            r.alerts[0]["personal_data"]["detected"][0]["type"], "email",
            "{name}"
        );
        assert_eq!(
            r.flows[0]["flow"]["pkts_toserver"], 1,
            "{name}: one datagram"
        );
        assert_eq!(r.flows[0]["flow"]["bytes_toserver"], 20 + 8 + 260, "{name}");
        assert_eq!(
            r.stat("sovereign_defrag_datagrams_total{result=\"reassembled\"}"),
            1,
            "{name}"
        );
        assert_eq!(
            r.stat("sovereign_decode_skipped_packets_total{reason=\"fragment\"}"),
            order.len() as u64,
            "{name}: every fragment counted once as a frame"
        );
        assert_eq!(
            r.stat("sovereign_packets_total"),
            order.len() as u64,
            "{name}"
        );
    }
}

#[test]
fn a_missing_fragment_delivers_nothing_and_is_counted() {
    let r = replay("frag-missing", vec![fragmented(&[0, 1, 3])]);
    assert!(r.alerts.is_empty(), "{:#?}", r.alerts);
    assert!(r.flows.is_empty(), "{:#?}", r.flows);
    assert_eq!(
        r.stat("sovereign_defrag_datagrams_total{result=\"timeout\"}"),
        1
    );
    assert_eq!(
        r.stat("sovereign_defrag_datagrams_total{result=\"reassembled\"}"),
        0
    );
}

/// An overlapping fragment that rewrites bytes already received does not win: the e-mail
/// address that arrived first is what is scanned, and the conflict is counted.
#[test]
fn overlapping_fragments_keep_the_first_bytes_and_count_the_conflict() {
    let mut data = vec![b'x'; 100];
    data.extend_from_slice(format!("{{\"email\":\"{EMAIL}\"}}").as_bytes());
    data.resize(260, b'y');
    let ip = sovereign::fixture::ip_udp(
        "10.1.2.3:41000".parse().unwrap(),
        format!("{US}:9000").parse().unwrap(),
        &data,
    );
    let frags = sovereign::fixture::fragments(&ip, &[0, 96, 200], 0x4242);
    // A forged copy of the middle fragment with the address blanked.
    let mut forged = frags[1].clone();
    for b in forged[20..].iter_mut() {
        *b = b'z';
    }
    let c = conv("10.1.2.3:41000", &format!("{US}:9000"), 0)
        .client_ip(frags[0].clone())
        .client_ip(frags[1].clone())
        .client_ip(forged)
        .client_ip(frags[2].clone());
    let r = replay("frag-overlap", vec![c]);
    assert_eq!(r.alerts.len(), 1, "{:#?}", r.alerts);
    assert_eq!(
        r.stat("sovereign_defrag_datagrams_total{result=\"overlap_conflict\"}"),
        1
    );
    // IPv6: same datagram as fragments with a fragment header.
    let ip6 = sovereign::fixture::ip_udp(
        "[2001:db8:10::3]:41000".parse().unwrap(),
        "[2001:db8:99::20]:9000".parse().unwrap(),
        &data,
    );
    let f6 = sovereign::fixture::fragments(&ip6, &[0, 96, 200], 7);
    let c6 = Conversation::new(
        "[2001:db8:10::3]:41000".parse().unwrap(),
        "[2001:db8:99::20]:9000".parse().unwrap(),
        at(0),
    )
    .client_ip(f6[2].clone())
    .client_ip(f6[0].clone())
    .client_ip(f6[1].clone());
    let r = replay("frag-v6", vec![c6]);
    assert_eq!(r.alerts.len(), 1, "{:#?}", r.alerts);
    assert_eq!(r.alerts[0]["dest_ip"], "2001:db8:99::20");
}

/// A declared source (every flow carries personal data) opens TLS to the US with a
/// ClientHello in three segments, the first one last: the alert waits for the SNI.
#[test]
fn segmented_out_of_order_client_hello_names_the_alert() {
    let ch = tls_records(
        &tls_client_hello(Some("api.analytics.example"), &["h2"]),
        120,
    );
    let cuts = [0, ch.len() / 3, 2 * ch.len() / 3];
    let c = conv("10.1.9.5:41000", &format!("{US}:443"), 0)
        .handshake()
        .client_sends_segments(&ch, &cuts, &[1, 2, 0])
        .server_sends(&[0x16, 0x03, 0x03, 0, 4, 2, 0, 0, 0])
        .close();
    let r = replay("tls-segmented", vec![c]);
    assert_eq!(r.alerts.len(), 1, "{:#?}", r.alerts);
    let a = &r.alerts[0];
    assert_eq!(a["app_proto"], "tls");
    assert_eq!(a["hostname"]["name"], "api.analytics.example");
    assert_eq!(a["hostname"]["source"], "sni");
    let f = &r.flows[0];
    assert_eq!(f["tls"]["sni"], "api.analytics.example");
    assert_eq!(f["tls"]["version"], "TLSv1.3");
    assert!(f["tls"]["ja4"].as_str().unwrap().starts_with("t13d"));
    assert_eq!(r.stat("sovereign_alerts_held_total{outcome=\"named\"}"), 1);
    // Named two segments (1 ms apart) after the first egress payload.
    assert!(
        r.stderr
            .contains("sovereign_alert_hold_seconds_total 0.002"),
        "{}",
        r.stderr
    );
}

/// The rest of the ClientHello never comes: the alert goes out at the deadline, unnamed.
#[test]
fn a_name_that_never_comes_delays_the_alert_only_until_the_deadline() {
    let ch = tls_records(&tls_client_hello(Some("never.example"), &[]), 16_384);
    let c = conv("10.1.9.5:41000", &format!("{US}:443"), 0)
        .handshake()
        .client_sends_segments(&ch, &[0, 50], &[0]);
    let later = conv("10.1.9.6:41001", &format!("{DE}:80"), 5_000)
        .handshake()
        .client_sends(b"GET / HTTP/1.1\r\nHost: de.example\r\n\r\n");
    let r = replay_wait("tls-deadline", vec![c, later], 300);
    let us: Vec<&Value> = r.alerts.iter().filter(|a| a["dest_ip"] == US).collect();
    assert_eq!(us.len(), 1, "{:#?}", r.alerts);
    assert!(us[0]["hostname"].is_null(), "{:#?}", us[0]);
    assert_eq!(us[0]["app_proto"], "tls");
    // The first egress payload at 22 ms (SYN-ACK after 20 ms, ACK 1 ms later, data 1 ms
    // later): the alert's time is that plus the 300 ms wait.
    assert_eq!(us[0]["timestamp"], at(322).rfc3339_micros());
    assert_eq!(
        r.stat("sovereign_alerts_held_total{outcome=\"deadline\"}"),
        1
    );
    assert!(
        r.stderr.contains("sovereign_alert_hold_seconds_total 0.3"),
        "{}",
        r.stderr
    );
}

#[test]
fn multi_packet_quic_initial_names_the_alert() {
    let hs = tls_client_hello(Some("video.analytics.example"), &["h3"]);
    let d = quic_initials(1, &[0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08], &hs, 2);
    let c = conv("10.1.9.5:41000", &format!("{US}:443"), 0).udp_client_each(&d);
    let r = replay("quic", vec![c]);
    assert_eq!(r.alerts.len(), 1, "{:#?}", r.alerts);
    let a = &r.alerts[0];
    assert_eq!(a["app_proto"], "quic");
    assert_eq!(a["hostname"]["name"], "video.analytics.example");
    assert_eq!(a["hostname"]["source"], "quic");
    assert_eq!(r.flows[0]["quic"]["versions"], serde_json::json!(["v1"]));
    assert_eq!(r.flows[0]["quic"]["alpn"], serde_json::json!(["h3"]));
}

/// A DNS response message for `name` -> `addr` (A record, TTL 30 s).
fn dns_answer(name: &str, addr: [u8; 4]) -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4]);
    m.extend_from_slice(&addr);
    m
}

/// Acceptance 3: a flow to an address learned from a DNS answer carries the DNS name in its
/// alert (the payload names nothing itself).
#[test]
fn a_dns_answer_names_a_later_flow_to_its_address() {
    let dns = conv("10.1.2.3:53000", "192.0.2.53:53", 0)
        .udp_client(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03api\x09analytics\x07example\x00\x00\x01\x00\x01")
        .udp_server(&dns_answer("api.analytics.example", [198, 51, 100, 20]));
    let pd = conv("10.1.2.3:41000", &format!("{US}:7000"), 100)
        .handshake()
        .client_sends(format!("HELLO {EMAIL}\n").as_bytes())
        .close();
    // 90 s later the 30 s TTL (raised to the 60 s floor) has run out: no name.
    let late = conv("10.1.2.3:41001", &format!("{US}:7000"), 90_000)
        .handshake()
        .client_sends(format!("HELLO {EMAIL}\n").as_bytes())
        .close();
    let r = replay("dns-name", vec![dns, pd, late]);
    assert_eq!(r.alerts.len(), 2, "{:#?}", r.alerts);
    let by_port = |p: u64| r.alerts.iter().find(|a| a["src_port"] == p).unwrap();
    assert_eq!(by_port(41000)["hostname"]["name"], "api.analytics.example");
    assert_eq!(by_port(41000)["hostname"]["source"], "dns");
    assert!(by_port(41001)["hostname"].is_null(), "{:#?}", r.alerts);
    let dns_flow = r.flows.iter().find(|f| f["dest_port"] == 53).unwrap();
    assert_eq!(dns_flow["app_proto"], "dns");
    assert_eq!(
        dns_flow["dns"]["queries"],
        serde_json::json!(["api.analytics.example"])
    );
    assert_eq!(r.stat("sovereign_dns_cache_learned_total"), 1);
    assert_eq!(
        r.stat("sovereign_dns_cache_lookups_total{result=\"hit\"}"),
        1
    );
}

/// deny_hosts beats allow_hosts beats the country rules.
#[test]
fn host_patterns_follow_the_documented_precedence() {
    let r = replay(
        "hosts",
        vec![
            // US, but the name is allowed: no alert.
            conv("10.1.2.3:41000", &format!("{US}:80"), 0)
                .handshake()
                .client_sends(&post("api.eu-saas.example")),
            // Germany (allowed country), but the name is denied.
            conv("10.1.2.3:41001", &format!("{DE}:80"), 100)
                .handshake()
                .client_sends(&post("tracker.example")),
            // US, no matching name: residency.
            conv("10.1.2.3:41002", &format!("{US}:80"), 200)
                .handshake()
                .client_sends(&post("other.example")),
        ],
    );
    let mut kinds: Vec<(u64, &str)> = r
        .alerts
        .iter()
        .map(|a| {
            (
                a["src_port"].as_u64().unwrap(),
                a["alert"]["kind"].as_str().unwrap(),
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(kinds, [(41001, "denied_host"), (41002, "residency")]);
    let denied = r.alerts.iter().find(|a| a["src_port"] == 41001).unwrap();
    assert_eq!(
        denied["alert"]["reason"],
        "personal data of eu-clinic sent to tracker.example, which matches deny_hosts \"tracker.example\""
    );
}

/// An allowed name that arrives while the alert waits clears it; an allowed name that only a
/// DNS answer gives does not (answers are easy to forge), and a path with an identifier is
/// redacted in the flow record.
#[test]
fn a_late_allowed_sni_clears_the_held_alert_but_a_dns_name_cannot() {
    let ch = tls_records(&tls_client_hello(Some("api.eu-saas.example"), &["h2"]), 120);
    let cuts = [0, ch.len() / 2];
    let tls = conv("10.1.9.5:41000", &format!("{US}:443"), 0)
        .handshake()
        .client_sends_segments(&ch, &cuts, &[0, 1])
        .close();
    let dns = conv("10.1.2.3:53000", "192.0.2.53:53", 1_000)
        .udp_client(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00")
        .udp_server(&dns_answer("files.eu-saas.example", [198, 51, 100, 21]));
    let raw = conv("10.1.2.3:41001", "198.51.100.21:7000", 2_000)
        .handshake()
        .client_sends(format!("PUT /u/{EMAIL} x\n").as_bytes())
        .close();
    let http = conv("10.1.2.3:41002", &format!("{DE}:80"), 3_000)
        .handshake()
        .client_sends(
            format!("GET /users/{EMAIL}/profile?x=1 HTTP/1.1\r\nHost: de.example\r\n\r\n")
                .as_bytes(),
        )
        .close();
    let r = replay("late-allowed", vec![tls, dns, raw, http]);
    assert_eq!(r.alerts.len(), 1, "{:#?}", r.alerts);
    let a = &r.alerts[0];
    assert_eq!(a["src_port"], 41001);
    assert_eq!(a["alert"]["kind"], "residency");
    assert_eq!(a["hostname"]["name"], "files.eu-saas.example");
    assert_eq!(a["hostname"]["source"], "dns");
    assert_eq!(r.stat("sovereign_alerts_held_total{outcome=\"named\"}"), 1);
    let tls_flow = r.flows.iter().find(|f| f["src_port"] == 41000).unwrap();
    assert_eq!(tls_flow["alerts"], serde_json::json!([]));
    assert_eq!(tls_flow["hostname"]["name"], "api.eu-saas.example");
    let http_flow = r.flows.iter().find(|f| f["src_port"] == 41002).unwrap();
    assert_eq!(http_flow["http"]["path"], "[redacted]");
}

/// A ClientHello that stalls half-sent stops being inspected (and frees its buffer) 10 s after
/// it began, while the flow lives on.
#[test]
fn a_stalled_inspection_ages_out() {
    let ch = tls_records(&tls_client_hello(Some("slow.example"), &[]), 16_384);
    let stalled = conv("10.1.2.3:41000", &format!("{DE}:443"), 0)
        .handshake()
        .client_sends_segments(&ch, &[0, 40], &[0]);
    let later = conv("10.1.2.4:41001", &format!("{DE}:80"), 11_000)
        .handshake()
        .client_sends(b"GET / HTTP/1.1\r\nHost: de.example\r\n\r\n");
    let r = replay("aged", vec![stalled, later]);
    assert_eq!(
        r.stat("sovereign_l7_inspections_abandoned_total{reason=\"age\"}"),
        1
    );
    assert_eq!(
        r.stat("sovereign_l7_inspections_abandoned_total{reason=\"budget\"}"),
        0
    );
    let f = r.flows.iter().find(|f| f["src_port"] == 41000).unwrap();
    assert_eq!(f["app_proto"], "tls");
    assert!(f["hostname"].is_null());
}
