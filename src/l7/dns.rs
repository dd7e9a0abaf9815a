//! DNS messages (RFC 1035): the question name and type, and the A/AAAA answers with their
//! TTLs, over UDP or TCP (2-byte length prefix). Owns only message parsing. Lenient like a
//! monitor must be: names with odd bytes are kept (lossy UTF-8), answers after a broken record
//! are dropped, a broken question still yields the header. Bounded: at most 4 questions and 64
//! answers read, 255-byte names, 64 compression jumps. No I/O, no state, no panic on any input.
//!
//! Hand-written rather than a crate: the DNS crates checked (hickory-proto, simple-dns) reject a
//! whole message on the first malformed record and allocate every record; a monitor wants the
//! question of a message a strict parser refuses, and nothing but names and addresses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const MAX_QUESTIONS: u16 = 4;
const MAX_ANSWERS: u16 = 64;
const MAX_NAME: usize = 255;
const MAX_JUMPS: usize = 64;

/// What a DNS message says that sovereign uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    pub id: u16,
    pub response: bool,
    pub rcode: u8,
    /// First question's name (lower-cased, no trailing dot) and type.
    pub qname: Option<String>,
    pub qtype: u16,
    /// A and AAAA answers (owner names are not kept: the cache maps them to the question).
    pub addrs: Vec<(IpAddr, u32)>,
}

/// Parses a DNS message carried in UDP.
pub fn parse(msg: &[u8]) -> Option<Message> {
    let h = msg.get(..12)?;
    let id = u16::from_be_bytes([h[0], h[1]]);
    let flags = u16::from_be_bytes([h[2], h[3]]);
    if (flags >> 11) & 0xf > 6 {
        return None; // not a query/notify/update opcode: not DNS
    }
    let qd = u16::from_be_bytes([h[4], h[5]]);
    let an = u16::from_be_bytes([h[6], h[7]]);
    let mut m = Message {
        id,
        response: flags & 0x8000 != 0,
        rcode: (flags & 0x000f) as u8,
        ..Message::default()
    };
    if qd == 0 && an == 0 {
        return Some(m);
    }
    let mut at = 12;
    for i in 0..qd.min(MAX_QUESTIONS) {
        let Some((name, next)) = name(msg, at) else {
            return Some(m);
        };
        let Some(t) = msg.get(next..next + 4) else {
            return Some(m);
        };
        if i == 0 {
            m.qname = Some(name);
            m.qtype = u16::from_be_bytes([t[0], t[1]]);
        }
        at = next + 4;
    }
    if qd > MAX_QUESTIONS {
        return Some(m);
    }
    for _ in 0..an.min(MAX_ANSWERS) {
        let Some(next) = skip_name(msg, at) else {
            break;
        };
        let Some(r) = msg.get(next..next + 10) else {
            break;
        };
        let rtype = u16::from_be_bytes([r[0], r[1]]);
        let class = u16::from_be_bytes([r[2], r[3]]) & 0x7fff;
        let ttl = u32::from_be_bytes([r[4], r[5], r[6], r[7]]);
        let rdlen = usize::from(u16::from_be_bytes([r[8], r[9]]));
        let Some(rdata) = msg.get(next + 10..next + 10 + rdlen) else {
            break;
        };
        if class == 1 {
            match (rtype, rdata.len()) {
                (1, 4) => m.addrs.push((
                    IpAddr::V4(Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3])),
                    ttl,
                )),
                (28, 16) => {
                    let mut b = [0u8; 16];
                    b.copy_from_slice(rdata);
                    m.addrs.push((IpAddr::V6(Ipv6Addr::from(b)), ttl));
                }
                _ => {}
            }
        }
        at = next + 10 + rdlen;
    }
    Some(m)
}

/// Parses the first DNS message of a TCP stream (2-byte length prefix); `None` until it is
/// complete.
pub fn parse_tcp(stream: &[u8]) -> Option<Message> {
    let len = usize::from(u16::from_be_bytes([*stream.first()?, *stream.get(1)?]));
    parse(stream.get(2..2 + len)?)
}

/// Decodes the name at `at`: (name, offset after it in the message).
fn name(msg: &[u8], mut at: usize) -> Option<(String, usize)> {
    let mut out: Vec<u8> = Vec::with_capacity(64);
    let mut after = None;
    let mut jumps = 0;
    loop {
        let len = *msg.get(at)?;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    let end = after.unwrap_or(at + 1);
                    let s = String::from_utf8_lossy(&out).to_ascii_lowercase();
                    return Some((s, end));
                }
                let label = msg.get(at + 1..at + 1 + usize::from(len))?;
                if out.len() + label.len() + 1 > MAX_NAME {
                    return None;
                }
                if !out.is_empty() {
                    out.push(b'.');
                }
                out.extend_from_slice(label);
                at += 1 + usize::from(len);
            }
            0xc0 => {
                let lo = *msg.get(at + 1)?;
                if after.is_none() {
                    after = Some(at + 2);
                }
                jumps += 1;
                if jumps > MAX_JUMPS {
                    return None;
                }
                at = (usize::from(len & 0x3f) << 8) | usize::from(lo);
            }
            _ => return None,
        }
    }
}

/// Offset after the name at `at`, without decoding it.
fn skip_name(msg: &[u8], mut at: usize) -> Option<usize> {
    for _ in 0..128 {
        let len = *msg.get(at)?;
        match len & 0xc0 {
            0x00 if len == 0 => return Some(at + 1),
            0x00 => at += 1 + usize::from(len),
            0xc0 => {
                msg.get(at + 1)?;
                return Some(at + 2);
            }
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response for `www.example.com` A with a CNAME to `web.example.net`, then an A and an
    /// AAAA record for the CNAME target (compression pointers on every owner name).
    fn response() -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 3, 0, 0, 0, 0];
        m.extend_from_slice(b"\x03www\x07example\x03com\x00");
        m.extend_from_slice(&[0, 1, 0, 1]);
        // CNAME: owner -> question name (pointer 12), target web.example.net
        m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60]);
        let target = b"\x03web\x07example\x03net\x00";
        m.extend_from_slice(&(target.len() as u16).to_be_bytes());
        let target_at = m.len();
        m.extend_from_slice(target);
        // A for the target (pointer to it), TTL 300
        m.extend_from_slice(&[0xc0, target_at as u8, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4]);
        m.extend_from_slice(&[203, 0, 113, 7]);
        // AAAA, TTL 30
        m.extend_from_slice(&[0xc0, target_at as u8, 0, 28, 0, 1, 0, 0, 0, 30, 0, 16]);
        m.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7]);
        m
    }

    #[test]
    fn question_and_addresses_through_a_cname() {
        let m = parse(&response()).expect("parses");
        assert!(m.response);
        assert_eq!(m.id, 0x1234);
        assert_eq!(m.qname.as_deref(), Some("www.example.com"));
        assert_eq!(m.qtype, 1);
        assert_eq!(
            m.addrs,
            vec![
                ("203.0.113.7".parse().expect("ip"), 300),
                ("2001:db8::7".parse().expect("ip"), 30)
            ]
        );
    }

    #[test]
    fn tcp_needs_the_whole_message() {
        let r = response();
        let mut s = (r.len() as u16).to_be_bytes().to_vec();
        s.extend_from_slice(&r);
        assert!(parse_tcp(&s[..s.len() - 1]).is_none());
        assert_eq!(parse_tcp(&s), parse(&r));
    }

    #[test]
    fn pointer_loops_and_truncation_are_refused_without_panic() {
        // A question whose name points at itself.
        let m = [0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1];
        let p = parse(&m).expect("header");
        assert_eq!(p.qname, None);
        let r = response();
        for n in 0..r.len() {
            let _ = parse(&r[..n]);
        }
        let mut x: u32 = 7;
        let mut b = r.clone();
        for _ in 0..20_000 {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let i = (x as usize >> 8) % b.len();
            b[i] = (x >> 24) as u8;
            let _ = parse(&b);
        }
    }

    #[test]
    fn answers_after_a_broken_record_are_dropped_the_question_kept() {
        let mut r = response();
        let n = r.len();
        r.truncate(n - 5); // cut the AAAA record
        let m = parse(&r).expect("parses");
        assert_eq!(m.qname.as_deref(), Some("www.example.com"));
        assert_eq!(m.addrs.len(), 1);
    }
}
