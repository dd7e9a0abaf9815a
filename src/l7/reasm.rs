//! Reassembly: bounded, in-memory reassembly of one byte stream that starts at offset 0, from
//! pieces that arrive in any order, overlapping or duplicated. Used for QUIC CRYPTO frames
//! (offsets as sent) and for TCP client streams (sequence numbers relative to the initial
//! sequence number + 1), so that a ClientHello split over several packets can be parsed whole.
//!
//! Owns only the bytes it was given and its bounds. It never touches the network, files or the
//! clock, never parses what it holds (the caller hands [`Reassembly::contiguous`] to a
//! protocol parser), keeps at most `limit` bytes plus [`MAX_PIECES`] out-of-order pieces, and
//! never panics on any offset or length.
//!
//! Overlap policy: **first wins**. A byte already held (contiguous or pending) is never
//! replaced by a later copy of the same offset, as in most IDS default policies (e.g.
//! Suricata's and Snort's "first" / BSD-like handling of the common case). A retransmission
//! that disagrees with what was first seen is therefore ignored, not merged.

/// Most out-of-order pieces held at once. When more are needed, the pieces farthest from the
/// contiguous prefix are dropped (and [`Reassembly::truncated`] turns true): they are the ones
/// least likely to become contiguous soon, and the cap keeps each insert cheap.
pub const MAX_PIECES: usize = 64;

/// Collects byte ranges of a stream that starts at offset 0 (QUIC CRYPTO offsets, or TCP
/// sequence numbers relative to the initial sequence number + 1), in any order, overlapping or
/// duplicated, and exposes the contiguous prefix.
///
/// Memory is bounded by `limit` bytes: data at or beyond `limit` is dropped (and
/// [`truncated`](Reassembly::truncated) tells). The out-of-order pieces are capped at
/// [`MAX_PIECES`]; pieces dropped for that cap also set `truncated`. `Default` is a reassembly
/// with a limit of 0, which keeps nothing.
#[derive(Debug, Clone, Default)]
pub struct Reassembly {
    /// Bytes at or beyond this offset are dropped.
    limit: u64,
    /// The contiguous bytes from offset 0.
    prefix: Vec<u8>,
    /// Out-of-order pieces: sorted by offset, non-overlapping, non-adjacent, each starting
    /// beyond the end of `prefix` and ending at or before `limit`.
    pieces: Vec<(u64, Vec<u8>)>,
    /// Sum of the lengths of `pieces`.
    pending: usize,
    /// Some data was dropped (beyond `limit`, or for the piece cap).
    truncated: bool,
}

impl Reassembly {
    /// An empty reassembly that keeps at most `limit` bytes of the stream (offsets
    /// `0..limit`).
    pub fn new(limit: usize) -> Reassembly {
        Reassembly {
            limit: u64::try_from(limit).unwrap_or(u64::MAX),
            ..Reassembly::default()
        }
    }

    /// Adds `data` at stream `offset`. Overlaps: bytes already held win (first-wins, see the
    /// module docs); only the parts of `data` not yet held are kept. Data at or beyond the
    /// limit is dropped and marks the reassembly truncated. Returns true if the contiguous
    /// prefix grew.
    pub fn insert(&mut self, offset: u64, data: &[u8]) -> bool {
        if data.is_empty() {
            return false;
        }
        let len = u64::try_from(data.len()).unwrap_or(u64::MAX);
        let mut start = offset;
        let mut end = offset.saturating_add(len);
        if end > self.limit {
            self.truncated = true;
            end = self.limit;
        }
        let held = self.prefix_len();
        start = start.max(held);
        if start >= end {
            return false;
        }

        // The parts of [start, end) no piece covers yet (first wins).
        let mut fresh: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut cur = start;
        for (p_off, p_data) in &self.pieces {
            let p_end = p_off.saturating_add(u64::try_from(p_data.len()).unwrap_or(u64::MAX));
            if p_end <= cur {
                continue;
            }
            if *p_off >= end {
                break;
            }
            if *p_off > cur {
                if let Some(part) = slice(data, offset, cur, *p_off) {
                    fresh.push((cur, part.to_vec()));
                }
            }
            cur = cur.max(p_end);
            if cur >= end {
                break;
            }
        }
        if cur < end {
            if let Some(part) = slice(data, offset, cur, end) {
                fresh.push((cur, part.to_vec()));
            }
        }
        if fresh.is_empty() {
            return false;
        }
        for piece in fresh {
            let at = self.pieces.partition_point(|(o, _)| *o < piece.0);
            self.pieces.insert(at, piece);
        }
        self.coalesce();
        let grew = self.drain_into_prefix();
        self.enforce_cap();
        self.pending = self.pieces.iter().map(|(_, d)| d.len()).sum();
        grew
    }

    /// The contiguous bytes from offset 0.
    pub fn contiguous(&self) -> &[u8] {
        &self.prefix
    }

    /// Bytes held out of order (beyond a gap).
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// True once any data was dropped: bytes at or beyond the limit, or out-of-order pieces
    /// beyond the [`MAX_PIECES`] cap. What [`contiguous`](Reassembly::contiguous) returns is
    /// still exactly the stream's bytes, but the stream may not be complete.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// Length of the contiguous prefix as a stream offset.
    fn prefix_len(&self) -> u64 {
        u64::try_from(self.prefix.len()).unwrap_or(u64::MAX)
    }

    /// Merges pieces that touch (one ends where the next starts) into one.
    fn coalesce(&mut self) {
        let mut merged: Vec<(u64, Vec<u8>)> = Vec::with_capacity(self.pieces.len());
        for (off, data) in self.pieces.drain(..) {
            if let Some((last_off, last_data)) = merged.last_mut() {
                let last_end =
                    last_off.saturating_add(u64::try_from(last_data.len()).unwrap_or(u64::MAX));
                if last_end == off {
                    last_data.extend_from_slice(&data);
                    continue;
                }
            }
            merged.push((off, data));
        }
        self.pieces = merged;
    }

    /// Drops the pieces farthest from the prefix until at most [`MAX_PIECES`] remain.
    fn enforce_cap(&mut self) {
        if self.pieces.len() > MAX_PIECES {
            self.pieces.truncate(MAX_PIECES);
            self.truncated = true;
        }
    }

    /// Moves a piece that starts exactly at the end of the prefix into the prefix. Pieces are
    /// coalesced, so at most one can; returns whether one did.
    fn drain_into_prefix(&mut self) -> bool {
        let mut grew = false;
        while self
            .pieces
            .first()
            .is_some_and(|(off, _)| *off == self.prefix_len())
        {
            let (_, data) = self.pieces.remove(0);
            self.prefix.extend_from_slice(&data);
            grew = true;
        }
        grew
    }
}

/// `data` (which starts at stream offset `base`) restricted to stream offsets `from..to`, or
/// `None` if that range is not inside `data`.
fn slice(data: &[u8], base: u64, from: u64, to: u64) -> Option<&[u8]> {
    let a = usize::try_from(from.checked_sub(base)?).ok()?;
    let b = usize::try_from(to.checked_sub(base)?).ok()?;
    data.get(a..b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference model: a byte map filled first-wins, bounded by `limit`.
    fn model(limit: usize, inserts: &[(u64, Vec<u8>)]) -> Vec<Option<u8>> {
        let mut m = vec![None; limit];
        for (off, data) in inserts {
            for (i, b) in data.iter().enumerate() {
                let at = *off as usize + i;
                if at < limit && m[at].is_none() {
                    m[at] = Some(*b);
                }
            }
        }
        m
    }

    fn prefix_of(m: &[Option<u8>]) -> Vec<u8> {
        m.iter().map_while(|b| *b).collect()
    }

    #[test]
    fn in_order() {
        let mut r = Reassembly::new(100);
        assert!(r.insert(0, b"hello "));
        assert!(r.insert(6, b"world"));
        assert_eq!(r.contiguous(), b"hello world");
        assert_eq!(r.pending(), 0);
        assert!(!r.truncated());
    }

    #[test]
    fn out_of_order() {
        let mut r = Reassembly::new(100);
        assert!(!r.insert(6, b"world"));
        assert_eq!(r.contiguous(), b"");
        assert_eq!(r.pending(), 5);
        assert!(!r.insert(3, b"lo "));
        assert_eq!(r.pending(), 8);
        assert!(r.insert(0, b"hel"));
        assert_eq!(r.contiguous(), b"hello world");
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn overlapping_first_wins() {
        let mut r = Reassembly::new(100);
        assert!(!r.insert(4, b"EFGH"));
        // Overlaps the pending piece on both sides: only the uncovered bytes are taken.
        assert!(!r.insert(2, b"cdefghij"));
        assert_eq!(r.pending(), 8);
        assert!(r.insert(0, b"ab"));
        assert_eq!(r.contiguous(), b"abcdEFGHij");
        // Overlapping the contiguous prefix changes nothing there, only extends it.
        assert!(r.insert(8, b"XXkl"));
        assert_eq!(r.contiguous(), b"abcdEFGHijkl");
        assert!(!r.insert(0, b"ZZZZ"));
        assert_eq!(r.contiguous(), b"abcdEFGHijkl");
    }

    #[test]
    fn new_data_spanning_several_pieces() {
        let mut r = Reassembly::new(100);
        r.insert(2, b"C");
        r.insert(5, b"F");
        r.insert(8, b"I");
        assert_eq!(r.pending(), 3);
        assert!(r.insert(0, b"abcdefghijk"));
        assert_eq!(r.contiguous(), b"abCdeFghIjk");
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn duplicate() {
        let mut r = Reassembly::new(100);
        assert!(r.insert(0, b"abc"));
        assert!(!r.insert(0, b"abc"));
        assert!(!r.insert(1, b"b"));
        assert!(!r.insert(10, b"xyz"));
        assert!(!r.insert(10, b"xyz"));
        assert_eq!(r.pending(), 3);
        assert_eq!(r.contiguous(), b"abc");
        assert!(!r.insert(0, b""));
        assert!(!r.insert(u64::MAX, b""));
    }

    #[test]
    fn gap_never_filled() {
        let mut r = Reassembly::new(100);
        r.insert(0, b"abc");
        r.insert(5, b"fgh");
        r.insert(9, b"j");
        assert_eq!(r.contiguous(), b"abc");
        assert_eq!(r.pending(), 4);
        assert!(!r.truncated());
    }

    #[test]
    fn limit_and_truncation() {
        let mut r = Reassembly::new(8);
        assert!(r.insert(0, b"abcdef"));
        assert!(!r.truncated());
        assert!(r.insert(6, b"ghij"));
        assert_eq!(r.contiguous(), b"abcdefgh");
        assert!(r.truncated());

        let mut r = Reassembly::new(8);
        assert!(!r.insert(8, b"x"));
        assert!(!r.insert(u64::MAX - 1, b"xyz"));
        assert_eq!(r.pending(), 0);
        assert!(r.truncated());
        assert!(r.insert(0, b"12345678"));
        assert_eq!(r.contiguous(), b"12345678");

        let mut r = Reassembly::default();
        assert!(!r.insert(0, b"a"));
        assert!(r.truncated());
        assert_eq!(r.contiguous(), b"");
    }

    #[test]
    fn piece_cap() {
        let mut r = Reassembly::new(10_000);
        // 100 one-byte pieces with gaps between: only MAX_PIECES are kept, the nearest ones.
        for i in 0..100u64 {
            r.insert(2 + 2 * i, &[i as u8]);
        }
        assert_eq!(r.pending(), MAX_PIECES);
        assert!(r.truncated());
        // Filling every gap yields the prefix up to the last piece kept.
        for i in 0..=100u64 {
            r.insert(2 * i, &[0xee, 0xee]);
        }
        let c = r.contiguous();
        assert_eq!(c.len(), 202);
        for i in 0..100usize {
            let want = if i < MAX_PIECES { i as u8 } else { 0xee };
            assert_eq!(c[2 + 2 * i], want, "byte {}", 2 + 2 * i);
        }
    }

    #[test]
    fn adjacent_pieces_coalesce() {
        let mut r = Reassembly::new(10_000);
        for i in (1..200u64).rev() {
            r.insert(i, &[i as u8]);
        }
        // Touching pieces merge, so the cap never bites.
        assert!(!r.truncated());
        assert_eq!(r.pending(), 199);
        assert!(r.insert(0, &[0]));
        assert_eq!(r.contiguous().len(), 200);
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn matches_first_wins_model() {
        // Deterministic pseudo-random inserts compared with a byte-map model.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..300 {
            let limit = 1 + (next() % 300) as usize;
            let mut r = Reassembly::new(limit);
            let mut inserts = Vec::new();
            for _ in 0..(next() % 40) {
                let off = next() % 320;
                let len = (next() % 40) as usize;
                let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                r.insert(off, &data);
                inserts.push((off, data));
                let m = model(limit, &inserts);
                let want = prefix_of(&m);
                assert_eq!(r.contiguous(), &want[..]);
                let held = m.iter().filter(|b| b.is_some()).count();
                if !r.truncated() || r.pieces.len() < MAX_PIECES {
                    assert_eq!(r.contiguous().len() + r.pending(), held);
                }
                assert!(r.contiguous().len() + r.pending() <= limit);
                assert!(r.pieces.len() <= MAX_PIECES);
            }
        }
    }
}
