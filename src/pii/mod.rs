//! PII: finds a tenant's personal data in cleartext egress payloads and turns every find into
//! printable evidence (identifier type, masked form, keyed HMAC-SHA-256 of the canonical value).
//! Owns the per-flow scan window (a bounded tail of the previous segment, so identifiers split
//! across two segments are still found), the per-flow findings and the keyed hash.
//! It must never output, log or store a raw identifier: only [`Finding`]s leave this module.

pub mod detect;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub use detect::{Detector, DetectorSet, Match};

/// Bytes of the previous segment of egress payload kept per flow to catch identifiers split across two
/// segments (longest identifier: an e-mail address, at most 254 bytes).
pub const CARRY_BYTES: usize = 256;
/// Distinct identifiers remembered per flow; further ones are counted, not listed.
pub const MAX_FINDINGS_PER_FLOW: usize = 32;

/// One distinct identifier found on a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub detector: Detector,
    pub masked: String,
    /// Hex HMAC-SHA-256 of the canonical value under the run's (or configured) key.
    pub hmac: String,
    /// Times this identifier was seen on the flow.
    pub count: u32,
}

/// Per-flow personal-data state. Its `Debug` never shows the carried payload bytes.
#[derive(Clone, Default)]
pub struct FlowPii {
    /// Tail of the previous egress payload (raw bytes: never printed).
    carry: Vec<u8>,
    /// A match ended exactly at the end of the last stream segment: it may continue in the
    /// next one, so it is held back until [`Scanner::finalize`].
    pending: bool,
    pub findings: Vec<Finding>,
    /// Occurrences of identifiers not listed because the flow reached
    /// [`MAX_FINDINGS_PER_FLOW`] distinct ones.
    pub findings_dropped: u32,
}

impl std::fmt::Debug for FlowPii {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowPii")
            .field("carry_len", &self.carry.len())
            .field("pending", &self.pending)
            .field("findings", &self.findings)
            .field("findings_dropped", &self.findings_dropped)
            .finish()
    }
}

impl FlowPii {
    pub fn has_findings(&self) -> bool {
        !self.findings.is_empty()
    }
}

/// Keyed hash for identifiers. The key comes from config (stable across runs, so hashes can be
/// joined with a customer's own records) or is generated per run.
#[derive(Clone)]
pub struct Hasher {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hasher(<key>)")
    }
}

impl Hasher {
    pub fn new(key: &[u8]) -> Hasher {
        // HMAC takes keys of any length.
        let mac = match Hmac::<Sha256>::new_from_slice(key) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC accepts keys of any length"),
        };
        Hasher { mac }
    }

    pub fn hash_hex(&self, data: &[u8]) -> String {
        let mut m = self.mac.clone();
        m.update(data);
        hex::encode(m.finalize().into_bytes())
    }
}

/// Per-worker scanner: the hasher plus a reusable scratch buffer (cleared after every scan;
/// its `Debug` shows no bytes).
pub struct Scanner {
    hasher: Hasher,
    scratch: Vec<u8>,
    matches: Vec<Match>,
    /// Bytes scanned (metrics).
    pub bytes_scanned: u64,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner")
            .field("bytes_scanned", &self.bytes_scanned)
            .finish()
    }
}

impl Scanner {
    pub fn new(hasher: Hasher) -> Scanner {
        Scanner {
            hasher,
            scratch: Vec::with_capacity(4096),
            matches: Vec::new(),
            bytes_scanned: 0,
        }
    }

    /// Scans one egress payload of a flow; returns how many new distinct identifiers it found.
    /// `stream`: the payload is a TCP segment, so an identifier ending exactly at its end may
    /// continue in the next segment and is held back (see [`Scanner::finalize`]); datagrams are
    /// complete messages and are not held back.
    pub fn scan(
        &mut self,
        state: &mut FlowPii,
        set: DetectorSet,
        payload: &[u8],
        stream: bool,
    ) -> usize {
        if set.is_empty() || payload.is_empty() {
            return 0;
        }
        self.bytes_scanned += payload.len() as u64;
        let carry_len = state.carry.len();
        self.scratch.clear();
        self.scratch.extend_from_slice(&state.carry);
        self.scratch.extend_from_slice(payload);
        let hold_from = if stream {
            self.scratch.len()
        } else {
            usize::MAX
        };
        // A match held back at the end of the carry was not recorded: let it count now.
        let after = if state.pending {
            carry_len.saturating_sub(1)
        } else {
            carry_len
        };
        state.pending = false;
        let new = self.record(state, set, after, hold_from);
        let keep = self.scratch.len().min(CARRY_BYTES);
        state.carry.clear();
        state
            .carry
            .extend_from_slice(&self.scratch[self.scratch.len() - keep..]);
        self.scratch.clear();
        new
    }

    /// Records an identifier held back at the end of the last segment: called when the stream
    /// cannot continue it (the peer answered, FIN, flow end). Returns new distinct identifiers.
    pub fn finalize(&mut self, state: &mut FlowPii, set: DetectorSet) -> usize {
        if !state.pending {
            return 0;
        }
        state.pending = false;
        self.scratch.clear();
        self.scratch.extend_from_slice(&state.carry);
        // Only matches that end at the end of the carry were held back.
        let new = self.record(state, set, self.scratch.len().saturating_sub(1), usize::MAX);
        self.scratch.clear();
        new
    }

    /// Scans `scratch`, recording matches ending after `after`; matches ending at or beyond
    /// `hold_from` are held back (`pending`).
    fn record(
        &mut self,
        state: &mut FlowPii,
        set: DetectorSet,
        after: usize,
        hold_from: usize,
    ) -> usize {
        self.matches.clear();
        detect::scan(&self.scratch, set, &mut self.matches);
        let mut new = 0;
        for m in &self.matches {
            // Wholly inside the carried tail: already counted with the previous segment.
            if m.end <= after {
                continue;
            }
            if m.end >= hold_from {
                state.pending = true;
                continue;
            }
            let Some(raw) = self.scratch.get(m.start..m.end) else {
                continue;
            };
            let canonical = detect::canonical(m.detector, raw);
            let hmac = self.hasher.hash_hex(&canonical);
            if let Some(f) = state
                .findings
                .iter_mut()
                .find(|f| f.detector == m.detector && f.hmac == hmac)
            {
                f.count = f.count.saturating_add(1);
                continue;
            }
            if state.findings.len() >= MAX_FINDINGS_PER_FLOW {
                state.findings_dropped = state.findings_dropped.saturating_add(1);
                continue;
            }
            state.findings.push(Finding {
                detector: m.detector,
                masked: detect::mask(m.detector, raw),
                hmac,
                count: 1,
            });
            new += 1;
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> DetectorSet {
        let mut s = DetectorSet::empty();
        for d in Detector::ALL {
            s.insert(d);
        }
        s
    }

    #[test]
    fn identifier_split_across_segments_is_found_once() {
        let mut sc = Scanner::new(Hasher::new(b"k"));
        let mut st = FlowPii::default();
        assert_eq!(sc.scan(&mut st, all(), b"card=4111 1111 ", true), 0);
        assert_eq!(sc.scan(&mut st, all(), b"1111 1111&x=1", true), 1);
        assert_eq!(
            sc.scan(&mut st, all(), b"&y=2", true),
            0,
            "not counted again from the carry"
        );
        assert_eq!(st.findings.len(), 1);
        assert_eq!(st.findings[0].masked, "411111******1111");
        assert_eq!(st.findings[0].count, 1);
    }

    #[test]
    fn repeats_count_and_hash_is_keyed_and_canonical() {
        let mut sc = Scanner::new(Hasher::new(b"k1"));
        let mut st = FlowPii::default();
        sc.scan(
            &mut st,
            all(),
            b"a 4111111111111111 b 4111-1111-1111-1111 c",
            true,
        );
        assert_eq!(st.findings.len(), 1, "same card, two spellings");
        assert_eq!(st.findings[0].count, 2);
        let h1 = st.findings[0].hmac.clone();
        let mut sc2 = Scanner::new(Hasher::new(b"k2"));
        let mut st2 = FlowPii::default();
        sc2.scan(&mut st2, all(), b"4111111111111111", false);
        assert_ne!(h1, st2.findings[0].hmac);
        assert_eq!(h1.len(), 64);
    }

    #[test]
    fn identifier_ending_a_segment_is_held_until_the_stream_shows_it_is_complete() {
        let mut sc = Scanner::new(Hasher::new(b"k"));
        let mut st = FlowPii::default();
        // "…@example.co" could continue as "example.com": not recorded yet.
        assert_eq!(sc.scan(&mut st, all(), b"to=maria@example.co", true), 0);
        assert_eq!(sc.scan(&mut st, all(), b"m&x=1", true), 1);
        assert_eq!(st.findings.len(), 1);
        assert_eq!(st.findings[0].masked, "m***@example.com");
        // Ends the segment and nothing follows: recorded when the stream is finalized.
        assert_eq!(sc.scan(&mut st, all(), b"&cc=j.doe%40example.org", true), 0);
        assert_eq!(sc.finalize(&mut st, all()), 1);
        assert_eq!(sc.finalize(&mut st, all()), 0, "finalize records it once");
        assert_eq!(st.findings[1].masked, "j***@example.org");
        // Held back, then the next segment does not continue it: recorded then.
        let mut st = FlowPii::default();
        assert_eq!(
            sc.scan(&mut st, all(), b"x DE89370400440532013000", true),
            0
        );
        assert_eq!(sc.scan(&mut st, all(), b" y", true), 1);
        // A datagram is complete: nothing held back.
        let mut st = FlowPii::default();
        assert_eq!(
            sc.scan(&mut st, all(), b"login maria@example.org", false),
            1
        );
    }

    #[test]
    fn debug_output_never_shows_payload_bytes() {
        let mut sc = Scanner::new(Hasher::new(b"k"));
        let mut st = FlowPii::default();
        sc.scan(&mut st, all(), b"card 4111111111111111 end", true);
        let dbg = format!("{st:?} {sc:?}");
        assert!(
            !dbg.contains("4111111111111111") && !dbg.contains("52, 49, 49"),
            "{dbg}"
        );
    }

    #[test]
    fn findings_are_bounded_per_flow() {
        let mut sc = Scanner::new(Hasher::new(b"k"));
        let mut st = FlowPii::default();
        let mut body = String::new();
        for i in 0..40 {
            body.push_str(&format!("user{i}@example.org "));
        }
        sc.scan(&mut st, all(), body.as_bytes(), false);
        assert_eq!(st.findings.len(), MAX_FINDINGS_PER_FLOW);
        assert_eq!(st.findings_dropped, 8);
    }
}
