//! Defrag: IPv4 and IPv6 fragment reassembly (RFC 791, RFC 8200), bounded in datagrams, bytes
//! and time, with every failure counted. Owns the datagrams in progress. It runs in the capture
//! thread, before flows are sharded over workers, because only the first fragment carries the
//! ports. A reassembled datagram becomes a new [`Frame`]: the first fragment's link and outer
//! headers, a rebuilt IP header and the whole payload, marked with where the datagram starts
//! ([`Frame::reassembled_at`]). Deterministic: `now` is the fragment's capture time; no I/O, no
//! clock, no threads, no panics on any input. It never parses past the IP header.
//!
//! Overlaps: the bytes that arrived first win (the data an IDS evasion would overwrite later is
//! kept); an overlap that disagrees with them is counted (`overlap_conflict`), and the datagram
//! is still delivered.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use crate::capture::{Frame, LinkType};
use crate::decode::{FragKey, Fragment};
use crate::time::Timestamp;

/// Reassembly limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefragConfig {
    /// Datagrams in progress at once; a new one beyond this evicts the oldest.
    pub max_datagrams: usize,
    /// Fragment payload bytes held at once; beyond this the oldest datagrams are evicted.
    pub max_bytes: usize,
    /// A datagram not complete this long after its first fragment is dropped (Linux: 30 s).
    pub timeout: Duration,
}

impl Default for DefragConfig {
    fn default() -> Self {
        DefragConfig {
            max_datagrams: 4096,
            max_bytes: 16 << 20,
            timeout: Duration::from_secs(30),
        }
    }
}

/// What happened to fragments and datagrams, by result; exported as
/// `sovereign_defrag_datagrams_total{result}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefragStats {
    /// Datagrams delivered whole.
    pub reassembled: u64,
    /// Datagrams dropped incomplete after the timeout (or at end of input).
    pub timeout: u64,
    /// Datagrams dropped incomplete to stay within `max_datagrams` / `max_bytes`.
    pub evicted: u64,
    /// Datagrams dropped because they would exceed the IP maximum (65,535 bytes).
    pub too_big: u64,
    /// Datagrams dropped because their fragments disagree on the end, or a fragment other
    /// than the last is not a multiple of 8 bytes.
    pub invalid: u64,
    /// Datagrams (delivered or not) in which an overlapping fragment carried different bytes.
    pub overlap_conflict: u64,
}

impl DefragStats {
    /// (result label, count) of each counter.
    pub fn pairs(&self) -> [(&'static str, u64); 6] {
        [
            ("reassembled", self.reassembled),
            ("timeout", self.timeout),
            ("evicted", self.evicted),
            ("too_big", self.too_big),
            ("invalid", self.invalid),
            ("overlap_conflict", self.overlap_conflict),
        ]
    }
}

const IPV4_MAX: u32 = 65_535;
/// Most disjoint byte ranges a datagram may be in before it completes: honest senders need a
/// few; more is an attack on the reassembler's time.
const MAX_RANGES: usize = 64;

#[derive(Debug)]
struct Datagram {
    /// Generation number: the `order` queue may hold stale entries for a key that was
    /// completed and started again.
    generation: u64,
    /// From the fragment at offset 0: the frame bytes before the IP header, the IP header,
    /// the link type and where the IP header starts.
    first: Option<(LinkType, Vec<u8>, Vec<u8>)>,
    data: Vec<u8>,
    /// Covered byte ranges, sorted and merged.
    have: Vec<(u32, u32)>,
    end: Option<u32>,
    conflict: bool,
}

/// The reassembly stage.
#[derive(Debug, Default)]
pub struct Defrag {
    cfg: DefragConfig,
    live: HashMap<FragKey, Datagram>,
    /// (started, generation, key) in arrival order, for timeouts and eviction.
    order: VecDeque<(Timestamp, u64, FragKey)>,
    next_generation: u64,
    bytes: usize,
    stats: DefragStats,
}

impl Defrag {
    pub fn new(cfg: DefragConfig) -> Defrag {
        Defrag {
            cfg,
            ..Defrag::default()
        }
    }

    pub fn stats(&self) -> DefragStats {
        self.stats
    }

    /// Datagrams in progress.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Drops datagrams whose timeout passed.
    pub fn expire(&mut self, now: Timestamp) {
        while let Some(&(started, generation, key)) = self.order.front() {
            if now.saturating_since(started) < self.cfg.timeout {
                break;
            }
            self.order.pop_front();
            if self.remove_if(&key, generation) {
                self.stats.timeout += 1;
            }
        }
    }

    /// Drops queue entries of datagrams already gone (completed or refused), so the queue
    /// stays within twice the datagrams in progress.
    fn compact(&mut self) {
        if self.order.len() > 2 * self.live.len() + 64 {
            let live = &self.live;
            self.order
                .retain(|(_, g, k)| live.get(k).is_some_and(|d| d.generation == *g));
        }
    }

    /// End of input: whatever is still incomplete timed out.
    pub fn finish(&mut self) {
        let n = self.live.len() as u64;
        self.stats.timeout += n;
        for d in self.live.values() {
            if d.conflict {
                self.stats.overlap_conflict += 1;
            }
        }
        self.live.clear();
        self.order.clear();
        self.bytes = 0;
    }

    fn remove_if(&mut self, key: &FragKey, generation: u64) -> bool {
        match self.live.get(key) {
            Some(d) if d.generation == generation => {
                if let Some(d) = self.live.remove(key) {
                    self.bytes = self.bytes.saturating_sub(d.data.len());
                    if d.conflict {
                        self.stats.overlap_conflict += 1;
                    }
                }
                true
            }
            _ => false,
        }
    }

    fn evict_oldest(&mut self) -> bool {
        while let Some((_, generation, key)) = self.order.pop_front() {
            if self.remove_if(&key, generation) {
                self.stats.evicted += 1;
                return true;
            }
        }
        false
    }

    /// Adds one fragment of `frame`; returns the reassembled frame when this fragment completed
    /// its datagram.
    pub fn push(&mut self, frame: &Frame, frag: &Fragment<'_>, now: Timestamp) -> Option<Frame> {
        self.expire(now);
        self.compact();
        let key = frag.key;
        let len = u32::try_from(frag.data.len()).unwrap_or(u32::MAX);
        let end = frag.offset.saturating_add(len);
        let is_v6 = frag.header.first().is_some_and(|b| b >> 4 == 6);
        // The rebuilt header is the first fragment's (IPv4 options may differ in length).
        let first_len = self
            .live
            .get(&key)
            .and_then(|d| d.first.as_ref())
            .map(|(_, _, h)| h.len() as u32);
        let header_len = if is_v6 {
            40
        } else {
            first_len.unwrap_or(frag.header.len() as u32)
        };
        let invalid = (frag.more && len % 8 != 0) || (!frag.more && len == 0 && frag.offset == 0);
        if end.saturating_add(header_len) > IPV4_MAX || invalid {
            let generation = self.live.get(&key).map(|d| d.generation);
            if let Some(g) = generation {
                self.remove_if(&key, g);
            }
            if invalid {
                self.stats.invalid += 1;
            } else {
                self.stats.too_big += 1;
            }
            return None;
        }
        if !self.live.contains_key(&key) {
            while self.live.len() >= self.cfg.max_datagrams.max(1) {
                if !self.evict_oldest() {
                    break;
                }
            }
            let generation = self.next_generation;
            self.next_generation += 1;
            self.order.push_back((now, generation, key));
            self.live.insert(
                key,
                Datagram {
                    generation,
                    first: None,
                    data: Vec::new(),
                    have: Vec::new(),
                    end: None,
                    conflict: false,
                },
            );
        }
        // Room for the bytes this fragment may add (other datagrams go first, oldest first).
        let grow = (end as usize).saturating_sub(self.live.get(&key).map_or(0, |d| d.data.len()));
        while self.bytes + grow > self.cfg.max_bytes {
            let oldest_is_self = self.order.front().is_some_and(|(_, g, k)| {
                *k == key && self.live.get(k).is_some_and(|d| d.generation == *g)
            });
            if oldest_is_self || !self.evict_oldest() {
                // This datagram alone is over the budget.
                let g = self.live.get(&key).map(|d| d.generation);
                if let Some(g) = g {
                    self.remove_if(&key, g);
                }
                self.stats.evicted += 1;
                return None;
            }
        }
        let d = self.live.get_mut(&key)?;
        if let Some(e) = d.end {
            if end > e || (!frag.more && end != e) {
                let g = d.generation;
                self.remove_if(&key, g);
                self.stats.invalid += 1;
                return None;
            }
        } else if !frag.more {
            if d.have.last().is_some_and(|&(_, hi)| hi > end) {
                let g = d.generation;
                self.remove_if(&key, g);
                self.stats.invalid += 1;
                return None;
            }
            d.end = Some(end);
        }
        if d.data.len() < end as usize {
            self.bytes += end as usize - d.data.len();
            d.data.resize(end as usize, 0);
        }
        if insert_first_wins(d, frag.offset, frag.data) {
            d.conflict = true;
        }
        if d.have.len() > MAX_RANGES {
            let g = d.generation;
            self.remove_if(&key, g);
            self.stats.invalid += 1;
            self.compact();
            return None;
        }
        if frag.offset == 0 && d.first.is_none() {
            let prefix = frame.data.get(..frag.ip_at).unwrap_or_default().to_vec();
            d.first = Some((frame.linktype, prefix, frag.header.to_vec()));
        }
        let complete = d.first.is_some() && d.end.is_some_and(|e| d.have == [(0, e)]);
        if !complete {
            return None;
        }
        let d = self.live.remove(&key)?;
        self.bytes = self.bytes.saturating_sub(d.data.len());
        self.compact();
        if d.conflict {
            self.stats.overlap_conflict += 1;
        }
        let (linktype, prefix, header) = d.first?;
        let v6_len = u16::try_from(d.data.len()).ok();
        let v4_len = u16::try_from(header.len() + d.data.len()).ok();
        let (Some(plen), Some(total)) = (v6_len, v4_len) else {
            self.stats.too_big += 1;
            return None;
        };
        let ip_at = prefix.len();
        let mut out = prefix;
        if is_v6 {
            out.extend_from_slice(header.get(..40)?);
            out[ip_at + 4..ip_at + 6].copy_from_slice(&plen.to_be_bytes());
            out[ip_at + 6] = key.proto;
        } else {
            out.extend_from_slice(&header);
            out[ip_at + 2..ip_at + 4].copy_from_slice(&total.to_be_bytes());
            // Keep DF, clear MF and the offset.
            out[ip_at + 6] &= 0x40;
            out[ip_at + 7] = 0;
            out[ip_at + 10] = 0;
            out[ip_at + 11] = 0;
            let sum = ipv4_checksum(&out[ip_at..]);
            out[ip_at + 10..ip_at + 12].copy_from_slice(&sum.to_be_bytes());
        }
        out.extend_from_slice(&d.data);
        self.stats.reassembled += 1;
        Some(Frame {
            ts: now,
            linktype,
            wire_len: out.len() as u32,
            data: out,
            reassembled_at: Some(ip_at as u32),
        })
    }
}

/// Copies `data` at `offset` into the datagram where no earlier fragment put bytes; returns
/// whether an overlap disagreed with the bytes already there.
fn insert_first_wins(d: &mut Datagram, offset: u32, data: &[u8]) -> bool {
    let end = offset + data.len() as u32;
    let mut conflict = false;
    let mut at = offset;
    // Walk the covered ranges that intersect [offset, end) and fill the gaps between them.
    let covered: Vec<(u32, u32)> = d
        .have
        .iter()
        .copied()
        .filter(|&(lo, hi)| lo < end && hi > offset)
        .collect();
    for (lo, hi) in covered {
        if lo > at {
            copy(
                &mut d.data,
                at,
                &data[(at - offset) as usize..(lo - offset) as usize],
            );
        }
        let s = lo.max(offset);
        let e = hi.min(end);
        if d.data[s as usize..e as usize] != data[(s - offset) as usize..(e - offset) as usize] {
            conflict = true;
        }
        at = at.max(e);
    }
    if at < end {
        copy(&mut d.data, at, &data[(at - offset) as usize..]);
    }
    if offset < end {
        merge(&mut d.have, (offset, end));
    }
    conflict
}

fn copy(buf: &mut [u8], at: u32, src: &[u8]) {
    if let Some(dst) = buf.get_mut(at as usize..at as usize + src.len()) {
        dst.copy_from_slice(src);
    }
}

fn merge(have: &mut Vec<(u32, u32)>, mut r: (u32, u32)) {
    have.retain(|&(lo, hi)| {
        if lo <= r.1 && hi >= r.0 {
            r = (r.0.min(lo), r.1.max(hi));
            false
        } else {
            true
        }
    });
    let pos = have.partition_point(|&(lo, _)| lo < r.0);
    have.insert(pos, r);
}

fn ipv4_checksum(header_and_rest: &[u8]) -> u16 {
    let ihl = usize::from(header_and_rest.first().map_or(5, |b| b & 0x0f)) * 4;
    let h = header_and_rest.get(..ihl).unwrap_or_default();
    let mut sum: u32 = 0;
    for c in h.chunks(2) {
        let w = u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]);
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::decode::{decode_frame, fragment};
    use crate::fixture::{fragments, frame, ip_udp, Link};

    fn ms(n: u64) -> Timestamp {
        Timestamp(n * 1_000_000)
    }

    /// Ethernet frames of a UDP datagram (`len` payload bytes, IPv4 or IPv6, identification
    /// `id`) cut at `cuts`.
    fn frames(v6: bool, len: usize, cuts: &[usize], id: u32) -> Vec<Frame> {
        let (s, d) = if v6 {
            ("[2001:db8::1]:4000", "[2001:db8::2]:53")
        } else {
            ("192.0.2.1:4000", "198.51.100.2:53")
        };
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let ip = ip_udp(s.parse().unwrap(), d.parse().unwrap(), &data);
        fragments(&ip, cuts, id)
            .into_iter()
            .map(|f| Frame {
                ts: ms(0),
                linktype: crate::capture::LinkType::Ethernet,
                wire_len: 0,
                data: frame(Link::Ethernet, &[(0x8100, 7)], true, &f),
                reassembled_at: None,
            })
            .collect()
    }

    fn push(d: &mut Defrag, f: &Frame, t: u64) -> Option<Frame> {
        let frag = fragment(f.linktype, &f.data).expect("a fragment");
        d.push(f, &frag, ms(t))
    }

    #[test]
    fn reassembled_datagram_decodes_with_its_vlan_and_full_payload() {
        for v6 in [false, true] {
            let fs = frames(v6, 300, &[0, 104, 208], 9);
            let mut d = Defrag::new(DefragConfig::default());
            assert!(push(&mut d, &fs[2], 1).is_none());
            assert!(push(&mut d, &fs[0], 2).is_none());
            let whole = push(&mut d, &fs[1], 3).expect("complete");
            let m = decode_frame(&whole).expect("decodes");
            assert_eq!(m.vlan[0], 7);
            assert_eq!(m.dst_port, 53);
            assert_eq!(m.payload.len(), 300);
            assert!(m
                .payload
                .iter()
                .enumerate()
                .all(|(i, b)| *b == (i % 251) as u8));
            assert_eq!(whole.ts, ms(3));
            assert_eq!(d.stats().reassembled, 1);
            assert!(d.is_empty());
            assert_eq!(d.bytes, 0);
        }
    }

    #[test]
    fn timeouts_evictions_and_limits_are_counted() {
        let cfg = DefragConfig {
            max_datagrams: 2,
            max_bytes: 1_000,
            timeout: Duration::from_millis(100),
        };
        let mut d = Defrag::new(cfg);
        // Three datagrams in progress: the oldest is evicted.
        for id in 1..=3 {
            let fs = frames(false, 200, &[0, 104], id);
            assert!(push(&mut d, &fs[0], 10).is_none());
        }
        assert_eq!((d.len(), d.stats().evicted), (2, 1));
        // Time passes: both time out when the next fragment arrives.
        let fs = frames(false, 200, &[0, 104], 4);
        assert!(push(&mut d, &fs[0], 200).is_none());
        assert_eq!(d.stats().timeout, 2);
        // A datagram larger than the byte budget alone is dropped.
        let big = frames(false, 1_600, &[0, 800], 5);
        assert!(push(&mut d, &big[1], 201).is_none());
        assert_eq!(
            d.stats().evicted,
            2 + 1,
            "the one in progress made room, then itself"
        );
        // End of input: what is left counts as timed out.
        let fs = frames(false, 200, &[0, 104], 6);
        assert!(push(&mut d, &fs[0], 202).is_none());
        d.finish();
        assert!(d.is_empty());
        assert_eq!(d.stats().timeout, 3);
    }

    #[test]
    fn invalid_and_oversized_fragments_are_refused() {
        let mut d = Defrag::new(DefragConfig::default());
        // A non-last fragment whose length is not a multiple of 8.
        let mut fs = frames(false, 200, &[0, 104], 1);
        let f = &mut fs[0];
        let ip = 18; // Ethernet + VLAN
        let total = u16::from_be_bytes([f.data[ip + 2], f.data[ip + 3]]) - 3;
        f.data[ip + 2..ip + 4].copy_from_slice(&total.to_be_bytes());
        f.data.truncate(ip + usize::from(total));
        assert!(push(&mut d, f, 1).is_none());
        assert_eq!(d.stats().invalid, 1);
        // Two last fragments that disagree on the end.
        let a = frames(false, 200, &[0, 104], 2);
        let b = frames(false, 296, &[0, 104], 2);
        assert!(push(&mut d, &a[1], 2).is_none());
        assert!(push(&mut d, &b[1], 3).is_none());
        assert_eq!(d.stats().invalid, 2);
        // Offset 65528 + data: past the IP maximum.
        let mut fs = frames(false, 200, &[0, 104], 3);
        let f = &mut fs[1];
        f.data[ip + 6..ip + 8].copy_from_slice(&0x1fffu16.to_be_bytes());
        assert!(push(&mut d, f, 4).is_none());
        assert_eq!(d.stats().too_big, 1);
        assert!(d.is_empty());
    }

    /// Completed datagrams do not leave their queue entries behind for the whole timeout.
    #[test]
    fn the_timeout_queue_stays_proportional_to_datagrams_in_progress() {
        let mut d = Defrag::new(DefragConfig::default());
        for id in 0..10_000 {
            let fs = frames(false, 100, &[0, 48], id);
            assert!(push(&mut d, &fs[0], 1).is_none());
            assert!(push(&mut d, &fs[1], 1).is_some());
        }
        assert_eq!(d.stats().reassembled, 10_000);
        assert!(d.order.len() <= 2 * d.live.len() + 65, "{}", d.order.len());
    }

    /// Mutated fragment frames never panic the reassembly, and memory stays within bounds.
    #[test]
    fn mutated_fragments_never_panic() {
        let cfg = DefragConfig {
            max_datagrams: 8,
            max_bytes: 4_096,
            timeout: Duration::from_millis(50),
        };
        let mut d = Defrag::new(cfg);
        let mut x: u32 = 99;
        for round in 0..3_000u64 {
            let v6 = round % 2 == 0;
            let fs = frames(v6, 240, &[0, 96, 200], (round % 5) as u32);
            let mut f = fs[(round % 3) as usize].clone();
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let i = (x as usize >> 8) % f.data.len();
            f.data[i] = (x >> 24) as u8;
            if let Some(frag) = fragment(f.linktype, &f.data) {
                if let Some(w) = d.push(&f, &frag, ms(round)) {
                    let _ = decode_frame(&w);
                }
            }
            assert!(d.bytes <= 4_096 && d.len() <= 8);
        }
    }
}
