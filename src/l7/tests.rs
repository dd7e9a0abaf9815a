//! AppState over generated handshakes: one helper feeds a scripted exchange, each test asserts
//! the name, its source and the protocol fields.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::fixture::{quic_initials, tls_client_hello, tls_records};

const ISN: u32 = 1_000;

/// Feeds (to_server, seq offset from the first client byte, data) as TCP to port `port`,
/// after a client SYN.
fn tcp(port: u16, segs: &[(bool, u32, &[u8])]) -> (AppState, Vec<bool>) {
    let mut a = AppState::default();
    a.observe(&Packet {
        to_server: true,
        udp: false,
        server_port: port,
        tcp: Some((ISN, true)),
        data: b"",
    });
    let mut pending = Vec::new();
    for (to_server, off, data) in segs {
        a.observe(&Packet {
            to_server: *to_server,
            udp: false,
            server_port: port,
            tcp: Some((ISN + 1 + off, false)),
            data,
        });
        pending.push(a.name_pending());
    }
    (a, pending)
}

fn udp(port: u16, dgrams: &[(bool, Vec<u8>)]) -> (AppState, Vec<bool>) {
    let mut a = AppState::default();
    let mut pending = Vec::new();
    for (to_server, d) in dgrams {
        a.observe(&Packet {
            to_server: *to_server,
            udp: true,
            server_port: port,
            tcp: None,
            data: d,
        });
        pending.push(a.name_pending());
    }
    (a, pending)
}

fn name(a: &AppState) -> Option<(&str, NameSource)> {
    a.hostname.as_ref().map(|h| (&*h.name, h.source))
}

#[test]
fn client_hello_in_one_segment() {
    let ch = tls_records(
        &tls_client_hello(Some("API.example.eu"), &["h2", "http/1.1"]),
        16_384,
    );
    let (a, pending) = tcp(443, &[(true, 0, &ch)]);
    assert_eq!(name(&a), Some(("api.example.eu", NameSource::Sni)));
    assert_eq!(pending, [false]);
    let t = a.tls.as_ref().expect("tls");
    assert_eq!(t.alpn, ["h2", "http/1.1"]);
    assert_eq!(t.version, "TLSv1.3");
    assert!(t.ja4.starts_with("t13d1506h2_"), "{}", t.ja4);
    assert_eq!(a.proto, Some(AppProto::Tls));
}

/// A ClientHello over three records and three segments, delivered 3, 1, 2: no name until the
/// gap fills, then the SNI.
#[test]
fn segmented_client_hello_out_of_order() {
    let ch = tls_records(&tls_client_hello(Some("files.example.eu"), &["h2"]), 100);
    let (c1, c2) = (ch.len() / 3, 2 * ch.len() / 3);
    let s = |a: usize, b: usize| &ch[a..b];
    for order in [[0, 1, 2], [2, 0, 1], [1, 2, 0]] {
        let segs: Vec<(bool, u32, &[u8])> = order
            .iter()
            .map(|&i| match i {
                0 => (true, 0, s(0, c1)),
                1 => (true, c1 as u32, s(c1, c2)),
                _ => (true, c2 as u32, s(c2, ch.len())),
            })
            .collect();
        let (a, pending) = tcp(443, &segs);
        assert_eq!(pending, [true, true, false], "order {order:?}");
        assert_eq!(name(&a), Some(("files.example.eu", NameSource::Sni)));
    }
}

#[test]
fn retransmitted_and_overlapping_segments_do_not_confuse_the_stream() {
    let ch = tls_records(&tls_client_hello(Some("a.example.eu"), &[]), 16_384);
    let half = ch.len() / 2;
    let (a, _) = tcp(
        443,
        &[
            (true, 0, &ch[..half]),
            (true, 0, &ch[..half]),
            (true, (half - 10) as u32, &ch[half - 10..]),
        ],
    );
    assert_eq!(name(&a), Some(("a.example.eu", NameSource::Sni)));
    assert_eq!(a.tls.as_ref().and_then(|t| t.alpn.first()), None);
}

#[test]
fn http_head_split_over_two_segments_then_response() {
    let req = b"POST /v1/patients?id=7 HTTP/1.1\r\nUser-Agent: t\r\nHost: records.example.eu\r\nContent-Type: application/json\r\n\r\n{}";
    let (a, pending) = tcp(
        80,
        &[
            (true, 0, &req[..40]),
            (true, 40, &req[40..]),
            (
                false,
                0,
                b"HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\n\r\nok",
            ),
            (
                true,
                req.len() as u32,
                b"GET /next HTTP/1.1\r\nHost: records.example.eu\r\n\r\n",
            ),
        ],
    );
    assert_eq!(pending, [true, false, false, false]);
    assert_eq!(name(&a), Some(("records.example.eu", NameSource::Http)));
    let h = a.http.as_ref().expect("http");
    assert_eq!(
        (
            h.method.as_str(),
            h.path.as_str(),
            h.content_type.as_deref()
        ),
        ("POST", "/v1/patients", Some("application/json"))
    );
    assert_eq!(h.status, Some(201));
    assert_eq!(h.response_content_type.as_deref(), Some("text/plain"));
    assert_eq!(h.requests, 2);
}

#[test]
fn unknown_protocol_ends_inspection_at_once() {
    let (a, pending) = tcp(5432, &[(true, 0, b"\x00\x00\x00\x08\x04\xd2\x16\x2f")]);
    assert_eq!(pending, [false]);
    assert_eq!(a.proto, None);
    assert!(a.hostname.is_none());
}

/// A ClientHello over three Initial packets in three datagrams, for each version with keys.
#[test]
fn multi_packet_quic_initial_each_version() {
    let hs = tls_client_hello(Some("video.example.eu"), &["h3"]);
    for (version, label) in [
        (0x0000_0001, "v1"),
        (0x6b33_43cf, "v2"),
        (0xff00_001d, "draft-29"),
    ] {
        let d = quic_initials(
            version,
            &[0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08],
            &hs,
            3,
        );
        let (a, pending) = udp(443, &d.into_iter().map(|x| (true, x)).collect::<Vec<_>>());
        assert_eq!(pending, [true, true, false], "{label}");
        assert_eq!(
            name(&a),
            Some(("video.example.eu", NameSource::Quic)),
            "{label}"
        );
        let q = a.quic.as_ref().expect("quic");
        assert_eq!(q.versions, [quic::version_name(version)]);
        assert_eq!(q.alpn, ["h3"]);
        assert!(
            q.ja4.as_deref().is_some_and(|j| j.starts_with("q13d")),
            "{q:?}"
        );
    }
}

#[test]
fn quic_gives_up_after_a_bounded_number_of_datagrams() {
    let hs = tls_client_hello(Some("x.example.eu"), &[]);
    let d = quic_initials(1, &[1, 2, 3, 4, 5, 6, 7, 8], &hs, 3);
    // Only the first and last parts: the middle never comes.
    let mut dgrams = vec![(true, d[0].clone())];
    for _ in 0..MAX_QUIC_DATAGRAMS {
        dgrams.push((true, d[2].clone()));
    }
    let (a, pending) = udp(443, &dgrams);
    assert!(pending[..usize::from(MAX_QUIC_DATAGRAMS) - 1]
        .iter()
        .all(|p| *p));
    assert_eq!(pending.last(), Some(&false));
    assert!(a.hostname.is_none());
}

#[test]
fn dns_queries_and_answers_are_recorded_not_named() {
    let mut q = vec![0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    q.extend_from_slice(b"\x03api\x07example\x02eu\x00\x00\x01\x00\x01");
    let mut r = q.clone();
    r[2] = 0x81;
    r[3] = 0x80;
    r[7] = 1;
    r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, 9]);
    let (a, pending) = udp(53, &[(true, q), (false, r)]);
    assert_eq!(pending, [false, false]);
    assert_eq!(a.proto, Some(AppProto::Dns));
    let d = a.dns.as_ref().expect("dns");
    assert_eq!(d.queries, ["api.example.eu"]);
    assert_eq!((d.responses, d.answers), (1, 1));
    assert!(a.hostname.is_none());
}

#[test]
fn a_dns_name_is_replaced_by_the_flows_own() {
    let mut a = AppState::default();
    a.set_dns_name(Arc::from("cdn.example.net"));
    assert!(a.name_pending(), "a DNS name can still be bettered by SNI");
    let ch = tls_records(&tls_client_hello(Some("shop.example.eu"), &[]), 16_384);
    a.observe(&Packet {
        to_server: true,
        udp: false,
        server_port: 443,
        tcp: Some((5, false)),
        data: &ch,
    });
    assert_eq!(name(&a), Some(("shop.example.eu", NameSource::Sni)));
    // Without SNI the DNS name stays.
    let mut b = AppState::default();
    b.set_dns_name(Arc::from("cdn.example.net"));
    let ch = tls_records(&tls_client_hello(None, &[]), 16_384);
    b.observe(&Packet {
        to_server: true,
        udp: false,
        server_port: 443,
        tcp: Some((5, false)),
        data: &ch,
    });
    assert_eq!(name(&b), Some(("cdn.example.net", NameSource::Dns)));
    assert!(!b.name_pending());
}
