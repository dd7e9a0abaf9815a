//! QUIC: removes the protection of a client's Initial packets (RFC 9000 / RFC 9001, RFC 9369
//! QUIC v2, IETF drafts 22..34, Facebook mvfst, Google T050/T051) and returns the CRYPTO frame
//! data they carry, so that the TLS ClientHello (SNI, ALPN) of a QUIC connection can be read.
//!
//! Initial packets are protected with keys derived only from public values (a per-version salt
//! and the Destination Connection ID the client chose), so any observer can remove that
//! protection; this module does exactly that and nothing more. It owns: the per-version salts
//! and labels, the Initial key schedule, header-protection removal, AEAD opening, walking the
//! coalesced long-header packets of one datagram, and the frame walk of the Initial packet
//! number space. It never touches: the network, files, the clock, any state across datagrams
//! (the caller keeps the first Initial's DCID and passes it back as a hint, and reassembles the
//! CRYPTO data, e.g. with [`super::reasm::Reassembly`]), TLS parsing, or any key that is not a
//! public Initial key (Handshake and 1-RTT packets stay opaque). It does not panic on any
//! input, holds no `unsafe`, and its work per datagram is bounded ([`MAX_PACKETS`] packets).
//!
//! Sources: RFC 9001 §5.2 (salt, labels, key schedule), §5.4 (header protection), §5.3 (AEAD
//! nonce); RFC 9369 §3.3 (v2 salt, labels and long-header types); draft-ietf-quic-tls-23 and
//! -29 §5.2 (draft salts); Wireshark epan/dissectors/packet-quic.c, `quic_draft_version()` and
//! `quic_derive_initial_secrets()` (mvfst 0xfaceb002/0xfaceb00e are treated as draft-27, hence
//! the draft-23 salt; 0xfaceb001 as draft-22; the Google T050 and T051 salts
//! `hanshake_salt_draft_t50` / `hanshake_salt_draft_t51`), and Wireshark's dissection of
//! T051 Initials (gQUIC frame types: CRYPTO 0x08, PING 0x07).

use ring::aead::quic::{HeaderProtectionKey, AES_128};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
use ring::hkdf;

/// Most long-header packets walked in one datagram (a client's datagram holds one to three).
pub const MAX_PACKETS: usize = 16;

/// Longest connection ID of every version handled here (RFC 9000 §17.2).
const MAX_CID_LEN: usize = 20;

/// Header-protection sample length and AEAD tag length (AES-128-GCM).
const SAMPLE_LEN: usize = 16;
const TAG_LEN: usize = 16;

/// QUIC v1, RFC 9001 §5.2.
const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
/// QUIC v2, RFC 9369 §3.3.1.
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];
/// draft-ietf-quic-tls-29 §5.2 (used by drafts 29..32).
const SALT_DRAFT_29: [u8; 20] = [
    0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0,
    0x43, 0x90, 0xa8, 0x99,
];
/// draft-ietf-quic-tls-23 §5.2 (used by drafts 23..28 and by mvfst 0xfaceb002/0xfaceb00e).
const SALT_DRAFT_23: [u8; 20] = [
    0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7, 0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65,
    0xbe, 0xf9, 0xf5, 0x02,
];
/// draft-ietf-quic-tls-22 §5.2 (used by draft 22 and by mvfst 0xfaceb001).
const SALT_DRAFT_22: [u8; 20] = [
    0x7f, 0xbc, 0xdb, 0x0e, 0x7c, 0x66, 0xbb, 0xe9, 0x19, 0x3a, 0x96, 0xcd, 0x21, 0x51, 0x9e, 0xbd,
    0x7a, 0x02, 0x64, 0x4a,
];
/// Google T050: Wireshark packet-quic.c `hanshake_salt_draft_t50`.
const SALT_T50: [u8; 20] = [
    0x7f, 0xf5, 0x79, 0xe5, 0xac, 0xd0, 0x72, 0x91, 0x55, 0x80, 0x30, 0x4c, 0x43, 0xa2, 0x36, 0x7c,
    0x60, 0x48, 0x83, 0x10,
];
/// Google T051: Wireshark packet-quic.c `hanshake_salt_draft_t51`.
const SALT_T51: [u8; 20] = [
    0x7a, 0x4e, 0xde, 0xf4, 0xe7, 0xcc, 0xee, 0x5f, 0xa4, 0x50, 0x6c, 0x19, 0x12, 0x4f, 0xc8, 0xcc,
    0xda, 0x6e, 0x03, 0x3d,
];

/// QUIC v1 version number.
pub const VERSION_1: u32 = 0x0000_0001;
/// QUIC v2 version number (RFC 9369).
pub const VERSION_2: u32 = 0x6b33_43cf;
/// Google QUIC T050 (TLS handshake inside gQUIC framing).
pub const VERSION_T050: u32 = 0x5430_3530;
/// Google QUIC T051 (TLS handshake inside gQUIC framing).
pub const VERSION_T051: u32 = 0x5430_3531;
/// Facebook mvfst based on draft-22.
pub const VERSION_MVFST_22: u32 = 0xface_b001;
/// Facebook mvfst based on draft-27.
pub const VERSION_MVFST_27: u32 = 0xface_b002;
/// Facebook mvfst experimental (draft-27 based).
pub const VERSION_MVFST_EXP: u32 = 0xface_b00e;

/// HKDF-Expand-Label labels (without the "tls13 " prefix) that derive a version's packet
/// protection key, IV and header-protection key from its client Initial secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Labels {
    /// AEAD key label ("quic key").
    pub key: &'static str,
    /// AEAD IV label ("quic iv").
    pub iv: &'static str,
    /// Header-protection key label ("quic hp").
    pub hp: &'static str,
}

/// Labels of QUIC v1, the drafts, mvfst and Google T05x.
pub const LABELS_V1: Labels = Labels {
    key: "quic key",
    iv: "quic iv",
    hp: "quic hp",
};

/// Labels of QUIC v2 (RFC 9369 §3.3.2).
pub const LABELS_V2: Labels = Labels {
    key: "quicv2 key",
    iv: "quicv2 iv",
    hp: "quicv2 hp",
};

/// How the decrypted payload's frames are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frames {
    /// RFC 9000 frames: varint types, PADDING 0x00, PING 0x01, ACK 0x02/0x03, CRYPTO 0x06,
    /// CONNECTION_CLOSE 0x1c.
    Ietf,
    /// Google T05x frames: one-byte types, PADDING 0x00, PING 0x07, CRYPTO 0x08 (varint offset
    /// and length, as in Chromium's QuicFramer and Wireshark's T051 dissection).
    Gquic,
}

/// Everything version-specific that Initial decryption needs.
#[derive(Debug, Clone, Copy)]
struct Profile {
    salt: &'static [u8; 20],
    labels: Labels,
    /// Long-header packet type (bits 0x30 of the first byte) of an Initial.
    initial_type: u8,
    /// Long-header packet type of a Retry (which has no Length field).
    retry_type: u8,
    frames: Frames,
}

/// The profile of every version this module can decrypt.
fn profile(version: u32) -> Option<Profile> {
    let v1_like = |salt: &'static [u8; 20], frames: Frames| Profile {
        salt,
        labels: LABELS_V1,
        initial_type: 0,
        retry_type: 3,
        frames,
    };
    Some(match version {
        VERSION_1 => v1_like(&SALT_V1, Frames::Ietf),
        VERSION_2 => Profile {
            salt: &SALT_V2,
            labels: LABELS_V2,
            initial_type: 1,
            retry_type: 0,
            frames: Frames::Ietf,
        },
        // draft-33 and -34 already used the v1 salt (Wireshark: is_quic_draft_max(34)).
        0xff00_0021..=0xff00_0022 => v1_like(&SALT_V1, Frames::Ietf),
        0xff00_001d..=0xff00_0020 => v1_like(&SALT_DRAFT_29, Frames::Ietf),
        0xff00_0017..=0xff00_001c | VERSION_MVFST_27 | VERSION_MVFST_EXP => {
            v1_like(&SALT_DRAFT_23, Frames::Ietf)
        }
        0xff00_0016 | VERSION_MVFST_22 => v1_like(&SALT_DRAFT_22, Frames::Ietf),
        VERSION_T050 => v1_like(&SALT_T50, Frames::Gquic),
        VERSION_T051 => v1_like(&SALT_T51, Frames::Gquic),
        _ => return None,
    })
}

/// QUIC versions this module can decrypt: their Initial salt and HKDF labels, or `None`.
///
/// Covered: v1, v2, drafts 22..34 (0xff000016..=0xff000022), Facebook mvfst 0xfaceb001,
/// 0xfaceb002 and 0xfaceb00e, and Google T050/T051. Not covered: gQUIC Q0xx (not TLS), Version
/// Negotiation (0) and greased versions (no keys exist).
pub fn initial_salt(version: u32) -> Option<(&'static [u8; 20], Labels)> {
    profile(version).map(|p| (p.salt, p.labels))
}

/// What one UDP datagram's client Initial packets held.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Initials {
    /// Version of the first long-header packet (also set for packets that could not be
    /// decrypted, and for Version Negotiation = 0).
    pub version: Option<u32>,
    /// Destination connection ID of the first Initial: the one whose keys decrypted it (the
    /// key material; later Initials of the same connection from the client reuse it, so pass
    /// it back as `dcid_hint`), or, if no Initial decrypted, the first Initial's DCID as sent.
    /// Empty if the datagram held no Initial of a version this module knows.
    pub dcid: Vec<u8>,
    /// CRYPTO frames (offset, data) decrypted from every Initial packet in the datagram
    /// (coalesced packets walked by their Length field; stop at a short header packet), in
    /// packet and frame order. Offsets are as sent: feed them to a reassembly.
    pub crypto: Vec<(u64, Vec<u8>)>,
    /// How many Initial packets were decrypted (0 for a server's Initial, which uses other
    /// keys, or for a wrong DCID hint; an Initial holding only ACK/PADDING still counts).
    pub decrypted: usize,
}

/// Parse a UDP payload that may start a QUIC connection. Returns `None` if it is not a QUIC
/// long-header packet ([`is_long_header`]).
///
/// Decrypts with the client Initial keys derived from the packet's own DCID (the client's
/// first Initials all use the original DCID); if `dcid_hint` is `Some`, it is used instead
/// (the caller passes the first Initial's DCID for later datagrams, whose DCID the server may
/// have changed), and the packet's own DCID is tried only if the hint fails (a new connection
/// attempt after a Retry derives its keys from the new DCID; [`Initials::dcid`] then tells
/// which one worked, and is the hint to keep). Packets that fail to decrypt
/// (e.g. the server's Initials, whose keys differ) are skipped silently; Handshake and 0-RTT
/// packets are stepped over; walking stops at a short header, a Retry, a Version Negotiation
/// packet, an unknown version, a malformed header or after [`MAX_PACKETS`] packets.
pub fn client_initials(payload: &[u8], dcid_hint: Option<&[u8]>) -> Option<Initials> {
    if !is_long_header(payload) {
        return None;
    }
    let mut out = Initials::default();
    let mut keys = KeyCache::default();
    // The DCID whose keys opened the first decrypted Initial.
    let mut key_dcid: Option<&[u8]> = None;
    let mut rest = payload;
    for _ in 0..MAX_PACKETS {
        let Some(&[first, a, b, c, d]) = rest.get(..5) else {
            break;
        };
        if first & 0x80 == 0 {
            break;
        }
        out.version.get_or_insert(u32::from_be_bytes([a, b, c, d]));
        let Some(header) = LongHeader::parse(rest) else {
            break;
        };
        let profile = header.profile;
        let Some(packet) = rest.get(..header.packet_len) else {
            break;
        };
        if header.packet_type == profile.initial_type {
            if out.dcid.is_empty() {
                out.dcid = header.dcid.to_vec();
            }
            let primary = dcid_hint.unwrap_or(header.dcid);
            let mut used = primary;
            let mut plain = keys
                .get(header.version, &profile, primary)
                .and_then(|k| k.open(packet, header.pn_offset));
            if plain.is_none() && primary != header.dcid {
                used = header.dcid;
                plain = keys
                    .get(header.version, &profile, header.dcid)
                    .and_then(|k| k.open(packet, header.pn_offset));
            }
            if let Some(plain) = plain {
                key_dcid.get_or_insert(used);
                out.decrypted += 1;
                crypto_frames(&plain, profile.frames, &mut out.crypto);
            }
        }
        rest = rest.get(header.packet_len..).unwrap_or_default();
    }
    if let Some(dcid) = key_dcid {
        out.dcid = dcid.to_vec();
    }
    Some(out)
}

/// Cheap: is this UDP payload a QUIC long header (first bit set, fixed bit set) with a
/// plausible version? Version Negotiation (version 0) is accepted whatever its fixed bit
/// (RFC 9000 §17.2.1 leaves it unused). Plausible: a version [`initial_salt`] knows, an IETF
/// draft up to 34 (0xff000000..=0xff000022), mvfst (0xfaceb0xx), a greased version (0x?a?a?a?a), the provisional v2
/// code point 0x709a50c4, or a Google QUIC version ("Q046", "T051", ...). For all but Google
/// Q0xx (whose header differs) the DCID length must be at most 20 and fit in the payload.
pub fn is_long_header(payload: &[u8]) -> bool {
    let Some(&[first, a, b, c, d, dcil]) = payload.get(..6) else {
        return false;
    };
    if first & 0x80 == 0 || payload.len() < 7 {
        return false;
    }
    let version = u32::from_be_bytes([a, b, c, d]);
    if version != 0 && first & 0x40 == 0 {
        return false;
    }
    let plausible = version == 0
        || profile(version).is_some()
        || (0xff00_0000..=0xff00_0022).contains(&version)
        || version >> 8 == 0x00fa_ceb0
        || version & 0x0f0f_0f0f == 0x0a0a_0a0a
        || version == 0x709a_50c4
        || gquic_kind(version).is_some();
    if !plausible {
        return false;
    }
    if gquic_kind(version) == Some(b'Q') {
        return true;
    }
    let dcil = usize::from(dcil);
    dcil <= MAX_CID_LEN && payload.len() > 6 + dcil
}

/// Google QUIC before TLS (Q0xx up to Q046): the version and the SNI of a client hello ("CHLO"
/// handshake message, sent in the clear with a NULL-encryption hash) in one client datagram,
/// under the gQUIC public header (Q043 and older) or the long header (Q046). `None` when the
/// datagram is not such a packet; the SNI is `None` when the datagram holds no CHLO with one.
pub fn gquic_hello(payload: &[u8]) -> Option<(u32, Option<String>)> {
    let first = *payload.first()?;
    let at = if first & 0x80 != 0 {
        1 // long header (Q046): version right after the first byte
    } else if first & 0x01 != 0 {
        // Public header with the version flag: connection id of 8 bytes when flagged.
        1 + if first & 0x08 != 0 { 8 } else { 0 }
    } else {
        return None;
    };
    let v = payload.get(at..at + 4)?;
    let version = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
    if gquic_kind(version) != Some(b'Q') {
        return None;
    }
    Some((version, chlo_sni(payload)))
}

/// The SNI tag of the first CHLO message in `buf` (tag table: count u16 LE, 2 bytes padding,
/// then (tag, end offset u32 LE) pairs, then the values).
fn chlo_sni(buf: &[u8]) -> Option<String> {
    let start = buf.windows(4).take(256).position(|w| w == b"CHLO")?;
    let msg = buf.get(start + 4..)?;
    let n = usize::from(u16::from_le_bytes([*msg.first()?, *msg.get(1)?]));
    if n > 64 {
        return None;
    }
    let values = msg.get(4 + 8 * n..)?;
    let mut prev = 0usize;
    for i in 0..n {
        let e = msg.get(4 + 8 * i..4 + 8 * i + 8)?;
        let end = u32::from_le_bytes([e[4], e[5], e[6], e[7]]) as usize;
        if end < prev {
            return None;
        }
        if &e[..4] == b"SNI\0" {
            let v = values.get(prev..end)?;
            if v.is_empty() || v.len() > 255 {
                return None;
            }
            return Some(String::from_utf8_lossy(v).to_ascii_lowercase());
        }
        prev = end;
    }
    None
}

/// A short name of a QUIC version: "v1", "v2", "draft-29", "mvfst-draft-22",
/// "mvfst-draft-27", "mvfst-exp", "mvfst-0x…" (other mvfst), "Q046", "T051" (Google),
/// "negotiation" (0, Version Negotiation), or `format!("0x{:08x}")` for anything else.
pub fn version_name(v: u32) -> String {
    match v {
        0 => "negotiation".to_string(),
        VERSION_1 => "v1".to_string(),
        VERSION_2 => "v2".to_string(),
        0xff00_0000..=0xff00_00ff => format!("draft-{}", v & 0xff),
        VERSION_MVFST_22 => "mvfst-draft-22".to_string(),
        VERSION_MVFST_27 => "mvfst-draft-27".to_string(),
        VERSION_MVFST_EXP => "mvfst-exp".to_string(),
        0xface_b000..=0xface_b0ff => format!("mvfst-0x{v:08x}"),
        _ if gquic_kind(v).is_some() => v.to_be_bytes().iter().map(|&c| char::from(c)).collect(),
        _ => format!("0x{v:08x}"),
    }
}

/// For a Google QUIC version ('Q' or 'T' then three ASCII digits, e.g. "Q046", "T051"), its
/// kind letter.
fn gquic_kind(v: u32) -> Option<u8> {
    let [kind, d1, d2, d3] = v.to_be_bytes();
    ((kind == b'Q' || kind == b'T') && [d1, d2, d3].iter().all(u8::is_ascii_digit)).then_some(kind)
}

/// The cleartext part of one long-header packet.
struct LongHeader<'a> {
    version: u32,
    profile: Profile,
    packet_type: u8,
    dcid: &'a [u8],
    /// Offset of the (protected) packet number from the packet's first byte.
    pn_offset: usize,
    /// Bytes from the first byte to the end of the packet (its Length field).
    packet_len: usize,
}

impl<'a> LongHeader<'a> {
    /// Parses the long header at the start of `buf`. `None` for a short header, Version
    /// Negotiation, a Retry, an unknown version (whose Length field cannot be located), or a
    /// header or packet that does not fit in `buf`.
    fn parse(buf: &'a [u8]) -> Option<LongHeader<'a>> {
        let mut r = Reader::new(buf);
        let first = r.u8()?;
        if first & 0x80 == 0 {
            return None;
        }
        let version = r.u32()?;
        let profile = profile(version)?;
        let packet_type = (first >> 4) & 0x03;
        let dcil = usize::from(r.u8()?);
        if dcil > MAX_CID_LEN {
            return None;
        }
        let dcid = r.bytes(dcil)?;
        let scil = usize::from(r.u8()?);
        if scil > MAX_CID_LEN {
            return None;
        }
        r.bytes(scil)?;
        if packet_type == profile.retry_type {
            return None;
        }
        if packet_type == profile.initial_type {
            let token_len = usize::try_from(r.varint()?).ok()?;
            r.bytes(token_len)?;
        }
        let length = usize::try_from(r.varint()?).ok()?;
        let pn_offset = r.pos;
        let packet_len = pn_offset.checked_add(length)?;
        if packet_len > buf.len() {
            return None;
        }
        Some(LongHeader {
            version,
            profile,
            packet_type,
            dcid,
            pn_offset,
            packet_len,
        })
    }
}

/// Client Initial keys of one (version, DCID).
struct InitialKeys {
    aead: LessSafeKey,
    iv: [u8; 12],
    hp: HeaderProtectionKey,
}

/// Raw client Initial key material, before it becomes ring keys.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KeyMaterial {
    /// client_initial_secret.
    secret: [u8; 32],
    key: [u8; 16],
    iv: [u8; 12],
    hp: [u8; 16],
}

/// Output length for ring's HKDF-Expand.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label(secret, label, "", out.len()) of TLS 1.3 (RFC 8446 §7.1).
fn expand_label(secret: &hkdf::Prk, label: &str, out: &mut [u8]) -> Option<()> {
    const PREFIX: &[u8] = b"tls13 ";
    let length = u16::try_from(out.len()).ok()?.to_be_bytes();
    let label_len = [u8::try_from(PREFIX.len() + label.len()).ok()?];
    let info: [&[u8]; 5] = [&length, &label_len, PREFIX, label.as_bytes(), &[0]];
    secret.expand(&info, Len(out.len())).ok()?.fill(out).ok()
}

/// The client Initial key material for `dcid` under `salt` and `labels` (RFC 9001 §5.2).
fn key_material(salt: &[u8; 20], labels: Labels, dcid: &[u8]) -> Option<KeyMaterial> {
    let initial = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(dcid);
    let mut secret = [0u8; 32];
    expand_label(&initial, "client in", &mut secret)?;
    let client = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, &secret);
    let mut m = KeyMaterial {
        secret,
        key: [0; 16],
        iv: [0; 12],
        hp: [0; 16],
    };
    expand_label(&client, labels.key, &mut m.key)?;
    expand_label(&client, labels.iv, &mut m.iv)?;
    expand_label(&client, labels.hp, &mut m.hp)?;
    Some(m)
}

impl InitialKeys {
    fn new(m: &KeyMaterial) -> Option<InitialKeys> {
        Some(InitialKeys {
            aead: LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &m.key).ok()?),
            iv: m.iv,
            hp: HeaderProtectionKey::new(&AES_128, &m.hp).ok()?,
        })
    }

    /// Removes header protection from `packet` (exactly one packet, header included) and
    /// opens its payload. Returns the plaintext frames, or `None` if anything does not fit or
    /// the AEAD tag does not verify (wrong keys, e.g. a server's packet).
    fn open(&self, packet: &[u8], pn_offset: usize) -> Option<Vec<u8>> {
        let sample_at = pn_offset.checked_add(4)?;
        let sample = packet.get(sample_at..sample_at.checked_add(SAMPLE_LEN)?)?;
        let mask = self.hp.new_mask(sample).ok()?;
        let [m0, pn_mask @ ..] = mask;
        let first = packet.first()? ^ (m0 & 0x0f);
        let pn_len = usize::from(first & 0x03) + 1;
        let header_len = pn_offset.checked_add(pn_len)?;
        let mut header = packet.get(..header_len)?.to_vec();
        if let Some(b) = header.first_mut() {
            *b = first;
        }
        let mut pn: u64 = 0;
        for (b, m) in header.get_mut(pn_offset..)?.iter_mut().zip(pn_mask) {
            *b ^= m;
            pn = (pn << 8) | u64::from(*b);
        }
        let body = packet.get(header_len..)?;
        if body.len() < TAG_LEN {
            return None;
        }
        // RFC 9001 §5.3: the nonce is the IV XORed with the packet number, left-padded. The
        // truncated packet number is used as the full one: a client's first Initials number
        // from 0 and stay far below 2^(8*pn_len).
        let mut nonce = self.iv;
        for (n, p) in nonce.iter_mut().rev().zip(pn.to_le_bytes()) {
            *n ^= p;
        }
        let mut buf = body.to_vec();
        let plain_len = self
            .aead
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&header[..]),
                &mut buf,
            )
            .ok()?
            .len();
        buf.truncate(plain_len);
        Some(buf)
    }
}

/// The keys derived so far for one datagram (a datagram normally needs one set; the DCID
/// fallback a second).
#[derive(Default)]
struct KeyCache {
    entries: Vec<(u32, Vec<u8>, Option<InitialKeys>)>,
}

impl KeyCache {
    /// Most key sets derived for one datagram.
    const MAX: usize = 4;

    fn get(&mut self, version: u32, profile: &Profile, dcid: &[u8]) -> Option<&InitialKeys> {
        let pos = self
            .entries
            .iter()
            .position(|(v, d, _)| *v == version && d.as_slice() == dcid);
        let pos = match pos {
            Some(pos) => pos,
            None => {
                if self.entries.len() >= Self::MAX {
                    return None;
                }
                let keys = key_material(profile.salt, profile.labels, dcid)
                    .and_then(|m| InitialKeys::new(&m));
                self.entries.push((version, dcid.to_vec(), keys));
                self.entries.len() - 1
            }
        };
        self.entries.get(pos).and_then(|(_, _, k)| k.as_ref())
    }
}

/// Appends the CRYPTO frames of a decrypted Initial payload to `out`. Stops at the first frame
/// it does not know (keeping what it has) or at a frame that does not fit.
fn crypto_frames(plain: &[u8], frames: Frames, out: &mut Vec<(u64, Vec<u8>)>) {
    let mut r = Reader::new(plain);
    while r.remaining() > 0 {
        let ok = match frames {
            Frames::Ietf => ietf_frame(&mut r, out),
            Frames::Gquic => gquic_frame(&mut r, out),
        };
        if ok.is_none() {
            break;
        }
    }
}

/// One RFC 9000 frame of the Initial packet number space; `None` to stop.
fn ietf_frame(r: &mut Reader<'_>, out: &mut Vec<(u64, Vec<u8>)>) -> Option<()> {
    match r.varint()? {
        // PADDING, PING.
        0x00 | 0x01 => {}
        // ACK (0x03: with ECN counts): largest, delay, range count, first range, ranges.
        t @ (0x02 | 0x03) => {
            r.varint()?;
            r.varint()?;
            let ranges = r.varint()?;
            r.varint()?;
            for _ in 0..ranges {
                r.varint()?;
                r.varint()?;
            }
            if t == 0x03 {
                r.varint()?;
                r.varint()?;
                r.varint()?;
            }
        }
        // CRYPTO: offset, length, data.
        0x06 => crypto_frame(r, out)?,
        // CONNECTION_CLOSE (transport): error code, frame type, reason phrase.
        0x1c => {
            r.varint()?;
            r.varint()?;
            let len = usize::try_from(r.varint()?).ok()?;
            r.bytes(len)?;
        }
        _ => return None,
    }
    Some(())
}

/// One Google T05x frame; `None` to stop.
fn gquic_frame(r: &mut Reader<'_>, out: &mut Vec<(u64, Vec<u8>)>) -> Option<()> {
    match r.u8()? {
        // PADDING, PING.
        0x00 | 0x07 => {}
        // CRYPTO: varint offset, varint length, data.
        0x08 => crypto_frame(r, out)?,
        _ => return None,
    }
    Some(())
}

/// The body of a CRYPTO frame (offset varint, length varint, data).
fn crypto_frame(r: &mut Reader<'_>, out: &mut Vec<(u64, Vec<u8>)>) -> Option<()> {
    let offset = r.varint()?;
    let len = usize::try_from(r.varint()?).ok()?;
    let data = r.bytes(len)?;
    out.push((offset, data.to_vec()));
    Some(())
}

/// A bounds-checked cursor over a byte slice.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    fn u8(&mut self) -> Option<u8> {
        self.bytes(1)?.first().copied()
    }

    fn u32(&mut self) -> Option<u32> {
        let b: [u8; 4] = self.bytes(4)?.try_into().ok()?;
        Some(u32::from_be_bytes(b))
    }

    /// A QUIC variable-length integer (RFC 9000 §16).
    fn varint(&mut self) -> Option<u64> {
        let first = self.u8()?;
        let extra = (1usize << (first >> 6)) - 1;
        let mut v = u64::from(first & 0x3f);
        for &b in self.bytes(extra)? {
            v = (v << 8) | u64::from(b);
        }
        Some(v)
    }
}

// ---- Packet protection for the fixture generator (never used on captured traffic). ----

fn put_varint(out: &mut Vec<u8>, v: u64) {
    if v < 0x40 {
        out.push(v as u8);
    } else if v < 0x4000 {
        out.extend_from_slice(&(0x4000 | v as u16).to_be_bytes());
    } else {
        out.extend_from_slice(&(0x8000_0000 | v as u32).to_be_bytes());
    }
}

/// An unprotected long header ending with a `pn_len`-byte packet number. The Length field
/// is always a 2-byte varint (as in the RFC examples). `token` only for Initial types.
#[allow(clippy::too_many_arguments)]
fn long_header(
    version: u32,
    packet_type: u8,
    dcid: &[u8],
    scid: &[u8],
    token: Option<&[u8]>,
    pn: u32,
    pn_len: usize,
    payload_len: usize,
) -> Vec<u8> {
    let mut h = vec![0xc0 | (packet_type << 4) | (pn_len.clamp(1, 4) as u8 - 1)];
    h.extend_from_slice(&version.to_be_bytes());
    h.push(dcid.len() as u8);
    h.extend_from_slice(dcid);
    h.push(scid.len() as u8);
    h.extend_from_slice(scid);
    if let Some(t) = token {
        put_varint(&mut h, t.len() as u64);
        h.extend_from_slice(t);
    }
    let length = (pn_len + payload_len + TAG_LEN) as u16;
    h.extend_from_slice(&(0x4000 | (length & 0x3fff)).to_be_bytes());
    h.extend_from_slice(
        pn.to_be_bytes()
            .get(4 - pn_len.clamp(1, 4)..)
            .unwrap_or_default(),
    );
    h
}

/// Protects `header` (unprotected, ending with its packet number) + `payload` with `m`.
fn protect(m: &KeyMaterial, header: &[u8], payload: &[u8]) -> Option<Vec<u8>> {
    let pn_len = usize::from(header.first()? & 0x03) + 1;
    let pn_offset = header.len().checked_sub(pn_len)?;
    let mut pn = 0u64;
    for b in header.get(pn_offset..)? {
        pn = pn << 8 | u64::from(*b);
    }
    let mut nonce = m.iv;
    for (n, p) in nonce.iter_mut().rev().zip(pn.to_le_bytes()) {
        *n ^= p;
    }
    let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &m.key).ok()?);
    let mut body = payload.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(header),
        &mut body,
    )
    .ok()?;
    let mut packet = header.to_vec();
    packet.extend_from_slice(&body);
    let hp = HeaderProtectionKey::new(&AES_128, &m.hp).ok()?;
    let mask = hp
        .new_mask(packet.get(pn_offset + 4..pn_offset + 4 + SAMPLE_LEN)?)
        .ok()?;
    *packet.first_mut()? ^= mask[0] & 0x0f;
    for i in 0..pn_len {
        *packet.get_mut(pn_offset + i)? ^= mask[1 + i];
    }
    Some(packet)
}

/// A protected client Initial of `version` for `dcid` carrying `frames` (see
/// [`encode_crypto_frame`]), padded with PADDING to `pad_to` bytes of payload. For the fixture
/// generator; `None` for a version without known keys.
pub fn seal_client_initial(
    version: u32,
    dcid: &[u8],
    pn: u32,
    frames: &[u8],
    pad_to: usize,
) -> Option<Vec<u8>> {
    let p = profile(version)?;
    let m = key_material(p.salt, p.labels, dcid)?;
    let mut payload = frames.to_vec();
    if payload.len() < pad_to {
        payload.resize(pad_to, 0);
    }
    let h = long_header(
        version,
        p.initial_type,
        dcid,
        &[],
        Some(&[]),
        pn,
        2,
        payload.len(),
    );
    protect(&m, &h, &payload)
}

/// A CRYPTO frame (IETF encoding) for [`seal_client_initial`].
pub fn encode_crypto_frame(offset: u64, data: &[u8]) -> Vec<u8> {
    let mut f = vec![0x06];
    put_varint(&mut f, offset);
    put_varint(&mut f, data.len() as u64);
    f.extend_from_slice(data);
    f
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::super::reasm::Reassembly;
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    /// The DCID of RFC 9001 / RFC 9369 Appendix A.
    const RFC_DCID: &str = "8394c8f03e515708";

    /// Feeds every CRYPTO piece to a reassembly.
    fn reassemble(r: &mut Reassembly, i: &Initials) {
        for (off, data) in &i.crypto {
            r.insert(*off, data);
        }
    }

    /// The contiguous stream starts with a ClientHello handshake header (type 1).
    fn starts_client_hello(stream: &[u8]) -> bool {
        stream.first() == Some(&0x01)
    }

    /// The whole ClientHello (4-byte handshake header + body) is in the stream.
    fn client_hello_complete(stream: &[u8]) -> bool {
        match stream {
            [0x01, a, b, c, ..] => {
                let len = usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c);
                stream.len() >= 4 + len
            }
            _ => false,
        }
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    /// Decrypts one captured datagram and checks it holds a whole ClientHello naming `sni`.
    fn check_capture(hex_payload: &str, version: u32, dcid: &str, sni: &str) -> Initials {
        let payload = unhex(hex_payload);
        assert!(is_long_header(&payload));
        let got = client_initials(&payload, None).unwrap();
        assert_eq!(got.version, Some(version));
        assert_eq!(hex::encode(&got.dcid), dcid);
        assert!(got.decrypted >= 1);
        let mut r = Reassembly::new(64 * 1024);
        reassemble(&mut r, &got);
        let stream = r.contiguous();
        assert!(starts_client_hello(stream), "{}", version_name(version));
        assert!(client_hello_complete(stream), "{}", version_name(version));
        assert!(
            contains(stream, sni.as_bytes()),
            "{}",
            version_name(version)
        );
        assert_eq!(r.pending(), 0);
        got
    }

    // ---- Packet protection (library code for the fixture generator), checked against the
    // RFC vectors below. ----

    fn protect(m: &KeyMaterial, header: &[u8], payload: &[u8]) -> Vec<u8> {
        super::protect(m, header, payload).unwrap()
    }

    fn client_initial(version: u32, dcid: &[u8], pn: u32, frames: &[u8], pad_to: usize) -> Vec<u8> {
        seal_client_initial(version, dcid, pn, frames, pad_to).unwrap()
    }

    fn crypto(offset: u64, data: &[u8]) -> Vec<u8> {
        encode_crypto_frame(offset, data)
    }

    // ---- RFC vectors. ----

    #[test]
    fn gquic_chlo_sni_under_both_headers() {
        // A CHLO with tags PAD, SNI, VER (values "xx", "www.example.org", "Q043").
        let mut chlo = b"CHLO".to_vec();
        chlo.extend_from_slice(&[3, 0, 0, 0]);
        for (tag, end) in [(b"PAD\0", 2u32), (b"SNI\0", 17), (b"VER\0", 21)] {
            chlo.extend_from_slice(tag);
            chlo.extend_from_slice(&end.to_le_bytes());
        }
        chlo.extend_from_slice(b"xxwww.example.orgQ043");
        // Q043 public header: flags 0x09 (version, 8-byte cid), cid, version, pn, hash.
        let mut old = vec![0x09, 1, 2, 3, 4, 5, 6, 7, 8];
        old.extend_from_slice(b"Q043");
        old.extend_from_slice(&[1]);
        old.extend_from_slice(&[0; 12]);
        old.extend_from_slice(&chlo);
        let (v, sni) = gquic_hello(&old).unwrap();
        assert_eq!(version_name(v), "Q043");
        assert_eq!(sni.as_deref(), Some("www.example.org"));
        // Q046 long header.
        let mut new = vec![0xc3];
        new.extend_from_slice(b"Q046");
        new.extend_from_slice(&[0x50, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1]);
        new.extend_from_slice(&chlo);
        assert_eq!(
            gquic_hello(&new).unwrap().1.as_deref(),
            Some("www.example.org")
        );
        // Not gQUIC, and damaged tables.
        assert!(gquic_hello(&[0x40, 1, 2, 3, 4, 5]).is_none());
        for n in 0..old.len() {
            let _ = gquic_hello(&old[..n]);
        }
        let mut bad = old.clone();
        let at = old.len() - chlo.len() + 4;
        bad[at] = 0xff;
        assert_eq!(gquic_hello(&bad).unwrap().1, None);
    }

    #[test]
    fn rfc9001_a1_client_keys() {
        let m = key_material(&SALT_V1, LABELS_V1, &unhex(RFC_DCID)).unwrap();
        assert_eq!(
            hex::encode(m.secret),
            "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea"
        );
        assert_eq!(hex::encode(m.key), "1f369613dd76d5467730efcbe3b1a22d");
        assert_eq!(hex::encode(m.iv), "fa044b2f42a3fd3b46fb255c");
        assert_eq!(hex::encode(m.hp), "9f50449e04a0e810283a1e9933adedd2");
    }

    #[test]
    fn rfc9369_a1_client_keys() {
        let (salt, labels) = initial_salt(VERSION_2).unwrap();
        let m = key_material(salt, labels, &unhex(RFC_DCID)).unwrap();
        assert_eq!(
            hex::encode(m.secret),
            "14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b"
        );
        assert_eq!(hex::encode(m.key), "8b1a0bc121284290a29e0971b5cd045d");
        assert_eq!(hex::encode(m.iv), "91f73e2351d8fa91660e909f");
        assert_eq!(hex::encode(m.hp), "45b95e15235d6f45a6b19cbcb0294ba9");
    }

    #[test]
    fn draft29_a1_client_keys() {
        // draft-ietf-quic-tls-29 Appendix A.1 (same DCID as the RFC examples).
        let (salt, labels) = initial_salt(0xff00_001d).unwrap();
        let m = key_material(salt, labels, &unhex(RFC_DCID)).unwrap();
        assert_eq!(
            hex::encode(m.secret),
            "0088119288f1d866733ceeed15ff9d50902cf82952eee27e9d4d4918ea371d87"
        );
        assert_eq!(hex::encode(m.key), "175257a31eb09dea9366d8bb79ad80ba");
        assert_eq!(hex::encode(m.iv), "6b26114b9cba2b63a9e8dd4f");
    }

    /// The test-only `protect` reproduces both RFC packets byte for byte, so the synthetic
    /// packets below are protected exactly as real ones.
    #[test]
    fn test_protection_matches_rfc_a2() {
        let mut payload = unhex(RFC_A2_CRYPTO_FRAME);
        payload.resize(1162, 0);
        for (version, packet) in [
            (VERSION_1, RFC9001_A2_PACKET),
            (VERSION_2, RFC9369_A2_PACKET),
        ] {
            let p = profile(version).unwrap();
            let m = key_material(p.salt, p.labels, &unhex(RFC_DCID)).unwrap();
            // 4-byte packet number 2, as in the RFC.
            let mut h = long_header(
                version,
                p.initial_type,
                &unhex(RFC_DCID),
                &[],
                Some(&[]),
                2,
                4,
                1162,
            );
            assert_eq!(h.len(), 22);
            h[0] |= 0x03;
            assert_eq!(
                protect(&m, &h, &payload),
                unhex(packet),
                "{}",
                version_name(version)
            );
        }
    }

    #[test]
    fn rfc9001_a2_client_initial() {
        let got = client_initials(&unhex(RFC9001_A2_PACKET), None).unwrap();
        let frame = unhex(RFC_A2_CRYPTO_FRAME);
        assert_eq!(
            got,
            Initials {
                version: Some(VERSION_1),
                dcid: unhex(RFC_DCID),
                crypto: vec![(0, frame[4..].to_vec())],
                decrypted: 1,
            }
        );
        assert_eq!(got.crypto[0].1.len(), 241);
        assert!(client_hello_complete(&got.crypto[0].1));
        assert!(contains(&got.crypto[0].1, b"example.com"));
        // The hint, when right, changes nothing.
        let hinted = client_initials(&unhex(RFC9001_A2_PACKET), Some(&unhex(RFC_DCID))).unwrap();
        assert_eq!(hinted, got);
        // A wrong (stale) hint falls back to the packet's own DCID, and `dcid` says which worked.
        let wrong = client_initials(&unhex(RFC9001_A2_PACKET), Some(b"12345678")).unwrap();
        assert_eq!(wrong, got);
    }

    #[test]
    fn rfc9369_a2_client_initial() {
        let got = client_initials(&unhex(RFC9369_A2_PACKET), None).unwrap();
        let frame = unhex(RFC_A2_CRYPTO_FRAME);
        assert_eq!(
            got,
            Initials {
                version: Some(VERSION_2),
                dcid: unhex(RFC_DCID),
                crypto: vec![(0, frame[4..].to_vec())],
                decrypted: 1,
            }
        );
    }

    #[test]
    fn rfc9001_a3_server_initial_is_skipped() {
        let packet = unhex(RFC9001_A3_PACKET);
        for hint in [None, Some(unhex(RFC_DCID))] {
            let got = client_initials(&packet, hint.as_deref()).unwrap();
            assert_eq!(got.version, Some(VERSION_1));
            assert_eq!(got.decrypted, 0);
            assert!(got.crypto.is_empty());
        }
    }

    // ---- Real captures. ----

    #[test]
    fn capture_draft29() {
        check_capture(
            D29_FRAME1,
            0xff00_001d,
            "f36e07bf0b7088ef28c71d488acaaff39ffc",
            "localhost",
        );
    }

    #[test]
    fn capture_v2_with_coalesced_0rtt() {
        let got = check_capture(V2_FRAME1, VERSION_2, "0726272642fc2eb2", "test");
        // The 0-RTT packet behind the Initial is stepped over, not decrypted.
        assert_eq!(got.decrypted, 1);
    }

    #[test]
    fn capture_v1_chromium_out_of_order_crypto() {
        let got = check_capture(
            CIRRUS_FRAME1,
            VERSION_1,
            "95412c47018cdfe8",
            "api.cirrus-ci.com",
        );
        // Chromium splits and shuffles the ClientHello over nine CRYPTO frames.
        assert_eq!(got.crypto.len(), 9);
        assert_ne!(got.crypto[0].0, 0);
    }

    #[test]
    fn capture_mvfst_exp() {
        check_capture(
            MVFST_FRAME1,
            VERSION_MVFST_EXP,
            "35f8db2e66102717",
            "video.fmct2-3.fna.fbcdn.net",
        );
    }

    #[test]
    fn capture_t51() {
        check_capture(
            T51_FRAME1,
            VERSION_T051,
            "ff9415b5b005860d",
            "www.google.com",
        );
    }

    #[test]
    fn capture_t51_server_initial_is_skipped() {
        let first = client_initials(&unhex(T51_FRAME1), None).unwrap();
        let got = client_initials(&unhex(T51_FRAME2), Some(&first.dcid)).unwrap();
        assert_eq!(got.version, Some(VERSION_T051));
        assert_eq!(got.decrypted, 0);
        assert!(got.crypto.is_empty());
    }

    #[test]
    fn capture_client_hello_over_two_datagrams() {
        let first = client_initials(&unhex(FRAGS_FRAME1), None).unwrap();
        assert_eq!(first.version, Some(VERSION_1));
        assert_eq!(hex::encode(&first.dcid), "e0ea07d1045fdfdf");
        let mut r = Reassembly::new(64 * 1024);
        reassemble(&mut r, &first);
        assert!(starts_client_hello(r.contiguous()));
        assert!(!client_hello_complete(r.contiguous()));

        let second = client_initials(&unhex(FRAGS_FRAME2), Some(&first.dcid)).unwrap();
        assert_eq!(second.decrypted, 1);
        assert_eq!(second.crypto.len(), 1);
        assert_eq!(second.crypto[0].0, 1182);
        reassemble(&mut r, &second);
        let stream = r.contiguous();
        assert!(client_hello_complete(stream));
        assert_eq!(r.pending(), 0);
        // This ClientHello (quic-go interop) has no server_name; its ALPN list is in the first
        // part, its last extension (psk_key_exchange_modes) only in the second.
        assert!(contains(stream, b"\x0ahq-interop"));
        assert!(stream.ends_with(&[0x00, 0x2d, 0x00, 0x02, 0x01, 0x01]));
        assert!(!contains(
            &first.crypto[0].1,
            &[0x00, 0x2d, 0x00, 0x02, 0x01, 0x01]
        ));
    }

    #[test]
    fn capture_later_initial_needs_the_dcid_hint() {
        // Chromium's second Initial goes to the server's chosen DCID but keeps the keys of
        // the original one.
        let payload = unhex(GOOGLE_DE_FRAME4);
        let own = client_initials(&payload, None).unwrap();
        assert_eq!(hex::encode(&own.dcid), "da37463b0eb7cc5d");
        assert_eq!(own.decrypted, 0);
        let hinted = client_initials(&payload, Some(&unhex("5a37463b0eb7cc5d"))).unwrap();
        assert_eq!(hinted.decrypted, 1);
        // `dcid` is the key material that worked: the hint to keep.
        assert_eq!(hex::encode(&hinted.dcid), "5a37463b0eb7cc5d");
        // ACK + PADDING only.
        assert!(hinted.crypto.is_empty());
    }

    // ---- Captured datagrams (UDP payloads, extracted with tshark -T fields -e udp.payload). ----

    /// nDPI/quic-29.pcap frame 1: draft-29 (0xff00001d) client Initial, SNI "localhost".
    const D29_FRAME1: &str = concat!(
        "c2ff00001d12f36e07bf0b7088ef28c71d488acaaff39ffc1143944eda18beb7e548b38d375bf3c2a3bc0044",
        "b743b590a797856cfe3b435db160a5ce8ae47c38a73c65dfb3e7fc034e2681da0ca59a6a5f5e85969d6f66e1",
        "c7e8dbdb824eba947a841c0e536314a8ce65386ba7e42b7da0efcc5f933f699b755027e43545c9cdd31b0f72",
        "73a78d6a0ce2c6201462ba012c562fd43601e7872d9a4514085dfc0be2eb3f95d23f665cb374043900dd88db",
        "e158a531faf9dec890f60ddbf539fdf5de821122dc9e5d59f62f129a7364633f83d1021a1d3a9583ae7901eb",
        "abbc1ce17152fe10f4753c6a7965fd96ad711b4dfe4cf3145cdfe58a185f06ed8b29c485fc910d8a7d3486b9",
        "694e678070e8780218f04a808e46730c166ba4910def45ca760c5b674f71db8f2f9228bf0583ec9bc8308d2f",
        "99f8d303529e419dd4aa25a9fa2d876e881292d454361023073e27c801e46415f1ac6088dc1c42c726f7776e",
        "322e4398dc2c3435d46336f40ab0d0231d94267419950524fa0e058b5b5a407e000af332fee5d5fa5d0bce4b",
        "13a91868d4aea72fe4c67e2ad0577d9e53a297873317b9e9e348665104f9cee50e20c7b9ec6e1a93497b8cb3",
        "cf1609e33dcb89e7e6e1647831a84a2ee983e255e6915287084c45a4138ec555d2785dcb4dec2316adbb6b55",
        "347288aa06e632a38a9443cbe1409d6a5663976c414e152adcb89e17625e973269acc23224c1973019949fbd",
        "bd5cf2528da05594dd4f5026c900898e60b3620fb0ab836ac44e610f1e01565158ed59487d3f8b39765e33ef",
        "a7b08389698ec96925b68bed638bb8c6bf0bd9fa5eb10792539e2b2a9d44dd17c1919110224e0db91c1b291f",
        "0b56aeafcfa3896abf30d960cdc989a0a1e42f146ef2bd249c834fcbc41aee4b66ee2fc96fb30ac084cba1ed",
        "626f9397ecb4c011fd4d8ba1c9b2bd9382ff32479b28091041e64fbc13701ec0569e618ae381647b8eea966d",
        "744c53c926e623bf7b365a4c69a1faad005d2ab4692fa198c1e8133078330b07396345df8ca5ca602b1e91ec",
        "b30f8ece9d7c4a3247ffbee1f3193e66799ca87d2f636898a9c982723f43b723923f3ee06ec3a53abfe4288f",
        "0a7efaf046ec583af7d5e39f95bb20daae4ad1c02a05bbee496aeb70a116593f696dc85cb21f82178b3cf9e5",
        "20e852689afebd2010590d10074d85a7dd51a571cc67b44a16ec7a7131f21b4a732dd4fe9b7cd7872bd00302",
        "ed4b6936652a48e398afa06e3c9eb3b975086b74498c04e6e0c4d227998ce9fe353da7f7a4c98e5eb7e37846",
        "b19186328b291155f3e83271ebc8ec72c9001912dfb6e9c02b859cadb9b4315c9951b7faf075dc92b0074a5e",
        "5937f81bc178c7c02ffa916fda88c36141d63c3616e825070ac1331b380795c0a175286ccb18a348a80f1c44",
        "8061d53d562c2a9e8b793c81dfc2edbc4a3605f361e246c3fb1c1802825ab71ed01f0617c5ce460bb5855bfa",
        "33077fb2e068fe81bd83d52ad093fed868f81101e4658cc86de0b4d1191dd152c9cde739a7cb0e97b935a09d",
        "89c509c3a96aba73c120ad5ad2bfcc74f02e3a84297f8b374e2bb1afc0611069490e3a42f402b8844441e878",
        "2149445b4ff3902ac22749721f2d6cafbbba040f3746d492586228d7e74370a1ef68ba7f42bc0f1f30dceb9b",
        "e8a064ed6b2612d1412228d10e0c1be6b563b6222e27217eea17a0cb6596eb17f789643b34c3235b131edb7d",
        "63e58b4c8033c14d56c501168acf1667abf61903",
    );

    /// nDPI/quic-v2.pcapng frame 1: v2 (0x6b3343cf) client Initial coalesced with a 0-RTT packet, SNI "test".
    const V2_FRAME1: &str = concat!(
        "d66b3343cf080726272642fc2eb20811fffdea452422b832a196c2fa15ec4a99b399b9116eb2c5ef23306542",
        "3a33ac16db1be7c47541e1dbc9337bc0326b173b40bfcb11d25b647d0e8141c89fd5d4fe0ae06a3a4962392c",
        "9e91c2e1b3920ae3f12a7128aed5573623691908c9962a936cabe187e5acf4e4047e6fe88834c87e48cab633",
        "6dcf659934dffc133e0b4672e74e81a0d801d41fd6abdb6e04c27d9c831771e2c8fe0e025fe22818a653f609",
        "bbf7f500392b83579bdb2ef50507795f7bf7a63c939e9c6b8292d9fafbfd0daff19350ccb31c473981ddcff3",
        "5e2d44465427a3ce8f5f91da78c35e9479bf6d372b5ac20129844c77052541040d4f2f1567dddd86ebe0b18e",
        "fcde66d1098ee7a330ec771df5edc99baaa853ef72b0a49b685d976f83600e5bbed12fb1c123e189b90a7585",
        "bf3e3bc42ef017d060cb4638a4e693cc9e04916be5ea6bf5f0b46aaa166619dc465a0ddb25b89226216b70dc",
        "49014284ee512ca3ba354cdd26fdc3a36e5e41693069e7fa89fb45d8c687802c8362440d78ab2c727e7827af",
        "5663be939dd4888ace2214195d0e8861f7dfbcc0c3c886c03ee2424d960192010158c016737b5a6edaf09f13",
        "f65d830e476c41a07c7e6badfc1ff2e2a70b0f1ad551ef429e0ef6b0d85b0834c08ffdef70af1745ad61b833",
        "81339680ae39b9c92e5cdb8475f5efd7b76b3f7877126431960b60a5a61b3a12ee1e5f1eea7958b16d0c4859",
        "9bf4f6bee36b3343cf080726272642fc2eb20811fffdea452422b842a36e46d441f8c3f756c608d417943fb7",
        "7a8fdc13b99403e5bb94d6a809d67cdfbffe00d687862536d8dcbb9a0d94a3aa080c8fe40379d52d3f982a52",
        "1af9900d8034fb0ae504b28073dc59a189c126ab9fe636588d1034f9dc00ebb01e8729d663404e00f0e38e90",
        "2af72e2b92387dcab96bea2b445b8f3f6c2bafb3fc01aa152bf874c8d4b3b46bfbf5b6167a139ca4cda71a91",
        "7762b3013a7b6e7bcb9fe6fc13b3213636dd97389174e56d63302a1fde2f20938e20c7bc6bdfe8890528b53c",
        "72f1f346d5a8d964a46f2f49ea554eb3754a8788caeed7fc6e49acd25302f3f8e53b1173264a443e665bc09d",
        "3a73f183ed3deb90974a6c993cd0aa6fae24e23fef2e493416d858f981dda4632e306b7544ec9fb65c144bae",
        "b456c895baf6e310f611537be8e07e4ebddec383c455fe882539b08fa0073a7e66cc5ee81f836dfec3ef43d7",
        "7dc30b260ebe17f1c13eb609897cba3648ebe0a7dae509fddfddf290e69d7a25ac5db1920dd5806c6165fe49",
        "05fccdd96355636883c977d68d987672c1d96c6efae19bfa7494f89b66d61e0980847448463834485b075158",
        "33ed34ae181adfb4ec769836a626d4efa240c6f1f010a1f142c9f948edde0a0840b66c9e248698f456397ed4",
        "dc6c3e3ec5bac71812ad41e36531e8ba62faf269cbbce55ae5e3201d443f3504ea9727787ad20ff0b8e73eda",
        "0d7c522fd467beec602f7a536da1c248262305d26efe21f17ddb9b5409fe19145aa3df1629d5a381c8303528",
        "4fc949410a7c1d66e727cd2e96b0c2664754dfa7c7c465be6555e462bf83b9404a4f266b0df00373f8de23b9",
        "0c28c92a9c33e7a65aa6258cb1d5b26ec1f74c05430d67c0122e19c0f5b066e16727145c0047e77b8113d41e",
        "73456795f5c6db66d4caaab7d25c18a72a163d75b9ec4569146cb20de5ac44b365b03452be4c05734b28603c",
    );

    /// nDPI/quic_frags_ch_in_multiple_packets.pcapng frame 1: v1 client Initial, first part of the ClientHello.
    const FRAGS_FRAME1: &str = concat!(
        "c30000000108e0ea07d1045fdfdf085bb4b299cb9dcac40044b6b9cce1dff4908dedd93e453b7453113bc0dc",
        "71a19ab6f09d099af923d83e7f22618b8774a6905bc4a8bd7d3e5787673ec7983bee154d266575e89f813f15",
        "350401d38b5addc13264c0e9291b5e816e1d7a4928e473d46c48a274d99240eb8fde91fff12a0bf71eed4c14",
        "3383638bdd4a42aa30275f5ea9140750f95fd16ea2757b2cd615d6f00507761ee0b1fc88f5e75051448d979f",
        "fcfe003078ad51785833aeb739b5d0ef2c876b2c2c57b663230a11e4858643b65b131c01ab4d036950e2a257",
        "237d8ada4ca01b8582ed0f016f485314c1bf9b2c049fbcb8d79d4e493e276540cabc39587155a3b85faa4d5b",
        "296bf887edcd94bb23e1a5362f2231f441e654c59cd98524c57a3d8b5b01653f6605ce91b08894b005a88b31",
        "8fb9ffbd038a80259aac950bb48534b026e3eedf51cfc226c7f47fc1436cf1a3304178af87f9fb42d5647f78",
        "532e16774b6c4ac00e988c63c703188602d5566ad5b7b4c1471668b4bb0c3001392a06380b7ec9ec0282bef8",
        "74e2f5c98f5cf7510558189878f19f63d831fad9af3f0d05d2ef871479ab20a1723ffdf72acaa1bff9d12790",
        "4cb2425f5fe74562c13cd4cea841c2bd351d96a907c74104875274e2dc53fc6eef7db9078804e8c6eb66beb0",
        "e8363b0a1ace81cd955b0a317a1b19a38d6b58166c390348c8fccbbfd2740518a9fb0ec626663173edee6dee",
        "a0c5d6b3f56f929f8dc2b1b44842b85b0a01c66972df2c6df761c694e17fba961669643211ae97c796278d93",
        "41381c77ef996ea74d79307291ca51cfcb5ade7e5a8b875afc4c9f8c7e95d403bd7d7ed79f3b095dd7330c01",
        "64cd916b36ad1211d6d51277393fb10b78227bab669a731076e5ec78599cf95d89693e7faba31153f4e5c18d",
        "11abb12d27cf996f3197a88baee23c42c7da0c9a2ebacfae6e5f0dea20d34e794c475c9c9ca405b0e437b857",
        "3695478970ca0cca1aa967c782f7254bde223fa839bca1ec5e7a36a4dee42e14570d2b5ce2b9bea0ca69fad2",
        "383be489e2134e0c74dc1da950d296f512eed4f86d6d7519b98d2088f9e03df2a08cc116c1b81a87922fc939",
        "ef79a2fab04a9ff637ebde416bb32f86356fceca8ae40e746923c4687f31b0d6d2f188394f821d67f6b1f247",
        "5a5175bcbd0677ffac31c47936b1a2d3f45a10298201c21daff2149102cd5aacf5a4bb8b6c960dc25f4b8d00",
        "1729d43f55062a125efee5315e287ba97b61790ec55f122402156fddc3e809103bd427ecd84fc47b2d5f54a4",
        "56e653095bd3eb88973b1a85adcb1ef4a4e759b0af075e24043e260a25a4a2a0dd1caf6f010eba4c51fba725",
        "15a7f0f88b9975264edb883086e11721b2f8443ac619c3f80ff484b24d58d1cc5cbbbf91f501a2ea402504c2",
        "71fb0286881a7aa803e9ee5e49808de4f4fdf97a46377f867f83f125f0ec4e3b11632f6925cb5f68f0b786a8",
        "723a340a7c2c76adba6f802f4f311541c898ed2c9c469e425402e1b797a5056a4515be8b19fb933ade551cb3",
        "7f7eaf7aae883039caeecd009f00fe2f3b941c641becb599dc835ec6810c27dc2b76713ffb2865c638afed10",
        "09a48a6312b74e77224dbb954f67a68097baa04d7b24568c28bffea0da80de5cbe4a7cb9dcb1eddc39c65737",
        "d64069d22694f6c35c468a2972f654df0322ec77e7ef981b6e1f6d25a7c3ebb3b66055420631dfe9592455fe",
    );

    /// nDPI/quic_frags_ch_in_multiple_packets.pcapng frame 2: v1 client Initial, rest of the ClientHello.
    const FRAGS_FRAME2: &str = concat!(
        "c80000000108e0ea07d1045fdfdf085bb4b299cb9dcac40044b6743ffa9c06bb24575ed08f4b89eaed25fa82",
        "b0f12dfb9efc45a30439c5b1a1c2fef0b23c9ba9627f7907de2e21cdf945001727376c69b2f6a4c5d3e5283f",
        "245ba7e87014c3bb0d96f7adab9a5d1b9a0a137bcaffd483cc95d3ce07af120f5708b2b9def98a28d900a7ca",
        "483cbe6e3fce76c82c560ee7df4d20e1de3be6a1ccaea8fc91ef02b2d9a9964264532dc8e1618d66b4dfc027",
        "b420ba092644f9153bf4a83876fcbdfc154e5379401237d4f827d15fbeeeb43f8631e3ae00ea1f9f42ed4bd4",
        "e0dbbff6aa03c674ce981a0770af782cfa08d7fcb8fa17b167c7b5781c1a85c460631acfedd5935ab47e2703",
        "c3f62529505bf1a3c4888268155a2fda6cce8c3702a661308d2d7a3ad31e07b5a37f04224fec8d525ff2d285",
        "fd1cc9ed4e7f58a6b81292adeb92f21479feda58692cee3e577cdb27529afb33010d06af2a8e27f654fa3af1",
        "4774edfc0691c395c1ecb010e62822db8ae4d151daf278940836c7a94012b1926f7a39030db63a3263ea95f6",
        "1a2029a290a58c2f850c16e93bb1f0f26348bfa7cbcbbafb9a770c1dbe735f8b099e892273aefb67e2328951",
        "d73325ea90a04008364a0ec356d50590c9551f84501aa19bb69b69466738f534925b029adce9b5186f19d8c6",
        "202c1edf189a82a1042a0150c01fffbde6f3d760c4099101414ba485bb021311e997c1ee7805ef29203203ad",
        "836539cf8c16c50d1a065279ac375c3aaeffc490a993f7c28e9d6fe46b6dd3f07a50c865b4dd00bea897732b",
        "682081c29f3b0b33ea177dcf728f8c3d3a5004841ea7dc674bb761be7f30bba6a58f0ba30e1802ecf88f5acf",
        "b11fb2fc442459e1da60b17ff34c09a7dc9beffda9fab6ec65aec3fcfcfdc1d6188f4727ad7621ae0f47607b",
        "8f67dc0a0df192e6f6088a165844631b10c6c670580b74e00d95b4eba9ea7ba9e61a22ee5bb38dabb6ff7119",
        "800be3dcb3c53909263ee86e99345838378663a8d06d062ae30de43dc32ec77a0807a4b6d81cfd1c9018658f",
        "7f539d06b18e67cf3ab1595261f548e773bcc0ba75630098d50985cdd3e949ebed8b32765d8bc527e630df38",
        "abd6ac01c43e1b867b680e0f9a106c2a23288dc97807088d7724e429257b616e94408faf1693836e5417519a",
        "6b3ab49b1117af4930bfd8f81fc1507de856648234b89c4961e38af3704831bf77b41ea404b5c0d606c0d993",
        "cd643f3c28f98fd09dc3aea69ba4436566abc439bfa1293d344305ad8ef128aec87ae6efacf59de960c3749f",
        "41a2fa7937384788abb05524b1fddd1ed40e9b535162e5d7d411cad8e26095acb42daebccbfd4aae85949d9f",
        "5a7288ecb4308d18fdb9db0782ba274e2b5d9ea712da75114fcd9124b2cfef901aec1af2ffbe981660c9145d",
        "1d7932ff2392ad31b16e63629103ff05739a3b79e5af1794ed2aae3a1a3aa1f3069000fd9bd9e70f4e090695",
        "c36ecca69c1b869135200293d1a7e347360f9a021c17d105efdb59d3d463891a4819fe43a4dbdada6b951eaf",
        "3c473f8dff64d9f0a9c5464b67a4d3115d6b0ca88bba72be3d0655ae029e04e652e2472c74a05d76058285cb",
        "2333f2e7131d118919165c4a453e0feafbc699f1c194bed9665f345a61c09ef54b0388a73fd37a350ea0a44b",
        "9a7d03078810bc459eebee9ffb360496f3f37e7548420fb069d2e39098151b624b727668b614586f1117db25",
    );

    /// zeek/quic/chromium-115.0.5790.110-api-cirrus-com.pcap frame 1: v1 client Initial from Chromium 115,
    /// CRYPTO frames out of order, SNI "api.cirrus-ci.com".
    const CIRRUS_FRAME1: &str = concat!(
        "c0000000010895412c47018cdfe8004046006e2385e694b43534cc4506131c629fc029f854dad8927dbf2545",
        "a59d323e2d507b2bad115094ecccaa094e76cb0782e728d7cd8153197fe90e58048434b9b3a16cd4581ddf44",
        "89d7ba28eea7972516afab349ac3886fbd6c060b11021ea4218be2963df82cb9298c8094e9fe22d3b9c93ca3",
        "9e13d88a550f8a364f6b7207cbdf854c692922857793d8b942bf08e0ff79140c9156f10acb0505b154ce4ce2",
        "b2b1ef4dc7bf55bfa59da71008bef7926851e9e43d25c025287fe4e43064eb21bea4740827e6aea6a2a2e576",
        "328cf7dd7099a6b1cb13f80515cf34dc11953bceff3058b3d0185db75cf8ac4856cccc6c523be67edd515a90",
        "521994ae829430b2300111a1ca12d74caed8ac0c42c1b42f12ee95e8edf905a3feaae08087c7ddedfd01c079",
        "ba4e73c8c46b67fad96bf49d2355c2f98a19832e3ce981d8fb8019bd3769b6ccafbcc75b8eeff0b75a304ccf",
        "2b5215a3c1b47df45ae3ce613773390017e19705e96e198fb4365ec07cac463214e38c5d7b43861200dd760b",
        "af3508f47b1ed3ef6e6041943a5a8f8384ec7ab84364c118b774f23d48640051236f7b465399b982e5aa793e",
        "72bb76c40ec762682caa658967dad360b551cadcf3dce30fbb798d40e844a7de1125c5610b190c40dab8455f",
        "7fe41a3716b30754697e1aa522ce1b5f9f4b23487ae43739ed6059881d8a6fa5dc07c0a0de85b766626ea551",
        "72d8330719228e44e0e7ba876890f0b2f10752efc2a6a035f0222967c24929148086604350fffa795aa20430",
        "3385c8bbb31a780b87550f3ed6643d8ca6fe87eb2cedd34d148e01f36475595f21db340cfac48a6dac342310",
        "c107fdc9446f0439d65e20c692ddd4385a053bb11330bc9d144300d87a7ba2c7c32ef2437d6580df2ea3b0f8",
        "beba4fd541c0c9f0c597fb9386291780bcc69a45e9c1079f55840e552234133882677a430d75d1e48b404975",
        "c7abdf3eb76eeebb73d3af9962b45b5071c3096c73a3e90e2c563b7cccb53e95686bbc61db2a5f722d8cbd5d",
        "960f29d511c71ab6aa6db57b14218ebbca305a4fff4a050473a3dde6d6a822f238a168df69f4b612b68d7f7d",
        "bd80e0ba46be41a91ab062525bbd310af8b54830f2571782b565b6cf9de46efbf0c0a812d211a2095d51af57",
        "89ccbc42509f9af182e74aa833897f0665a881cef92692f6a59fd183b67c63f8b1f4765a6a7cbfd6a7126ed6",
        "d198923b5ba945337d09653108efe3ab9a4ab77709e196bd4ea5eb5ebcd50c6acd1b12428977e563fc709292",
        "69d5339ae66ac2d8d4101e73b313ae29736b614c31dc62f047be12c52b4f3ea96275c7cfd3e4089ed37188be",
        "7ece4d94f417b224663d59071779e0e3ae13ad7a6d8bb6f197993de6182571750470b2385dc4a6fee2b4f940",
        "8053edc24407b5d4ca1c8d2b246ddb69a45c20c4d43f2129554be3d45d542f8127abe81160f0b46f5ce22c13",
        "f59b37e0cbb3f36e765f56bc73ce174f1bbebc46a161aaed714a309245f73de0c5f9beea5201da0a912b30ed",
        "0212efe108e18595c56695c07a6934a12b9916dce3ebcd8b690e2dd7eca1a4d9612c4e513dda1dd36876b49f",
        "c9808b455d3541988706788c2788011cfd0e0e08251c7ebd4cdff0f0fb06be319bd35c7922477d53d32e8c18",
        "3880c74eb76d609220df6fd27ea0651589e749ad4e01420ebcc2f3752cbf4a5cb9391156c5ce6114d1739b5c",
        "a4f1c2eeb49f544ffe31456c994584d2bd4b",
    );

    /// nDPI/quic-mvfst-exp.pcap frame 1: mvfst (0xfaceb00e) client Initial,
    /// SNI "video.fmct2-3.fna.fbcdn.net".
    const MVFST_FRAME1: &str = concat!(
        "cafaceb00e0835f8db2e66102717000044be24552568b6f4a21a6108faf7fee82695e6117b8bf08d28fd125c",
        "fee0c61fecc5e4de9cf077db55f2134dd6302317e5bd1e05adc3bd1cf675d3f79d6b7a45d27a5a567d453506",
        "7c0813b7e6e8134f7cb6bc4512c6480cee3f0c64a1c71b681d7caf6c52456496343557fee54230ad78476254",
        "a48b52bdbae14d48d9bf00b97460869482bfe1a29af833e1ac886ca25c0c571830a646014526ba32a506bb0d",
        "9900fc1490bce068d6ba9750240ef98d96588c5c72e442e6c706a7e2c06aec0e2af0d4baab30c86dce887c6f",
        "93ee2acbfb604421c66470f9ada6733fbbf163966ce865d238828e14d5bdfa92b48e619501bade2a092b13db",
        "0d84247927b10323f501a399c8555ee167ee9d52c90fc6a4f6dba4d9051ce3d1dfcb850309896aff42d6f27f",
        "6d3028b9069c9be90946513830d4bff1c6cc089829e73d88bca5d3123876c46504f8f7fea93debebc7582141",
        "2392c98242520c88363a8d00b3ed7d466b9eef66a8b0f8d1f251d1c8fedbdaa495445bf39022f7864b438611",
        "8d3b6ffcbe4e836add5dc5eb1888c5a4861a299281f7bce5c47af990d41ad9a5c21aee784fd286f924893f85",
        "8bdf3837e25c6da79ddeb9fa5c9bdf128b3a463540e1b6787c785edc49c55f79c9b96d563f803aba3441bdf7",
        "7f4b8e055861c6f3d4c519e9d41bdea061aa22afe07d7e84ce88cbf52afbd21bb487def3e75839abf1b6caa0",
        "cc4ed31c715c3ed6d90cef4e2371564fb52d4a2111f336bcb55a28782f9e6e2f26ce81fb7c18745e52a5573b",
        "5aed9ae4e68c7bd7c6492afa15b764ee99a6df5989f924d412f1b9aa18a00760db600b9e94cded57180a2c56",
        "946635db6787d80920787617b6b40587ae42091f5dba454711d4734852dc17bd2d1d86d9991f879be555a64e",
        "3c9e21c4989befe30cfd4c1750728e130978d360b27a59c5725c29ee1d42169b342f88bf03a9ca984af0315e",
        "d130cbf0014e1b0d5cce807ed4182d15db7189187075a889d1844a769f449195670433db990292fed9aa0156",
        "631d7104d9dbcfd58c9c56c191edc3958460a597749ed04384f7a16f5586831b6591218eedb8d8a82405614c",
        "61cebd4c8c487c26450cdca0b0c604c99701288854993411963a7427a1a5ea89bb1319d910e710d483fc4922",
        "898de83f57f9837b41f2512837a51b8801fd1eccced9d2036d84d178d7fff61134dfaabcf9ab5567702c5c79",
        "af0393676070ab55c95f46385fd15873cc65921389adea3d25c5171ecb14b93528e8158044553d6e19706af2",
        "b2deeec9d24328cdd8c6fd66e8706da22ae29dbd89f09701785c0e3da54bc40e75742e10064a2803798f5611",
        "5ab934f53c91a2f468aa5c57db192630930e4090bd59c04ac09ddfecee3081531ffc26dc87de51da52621ebd",
        "141627d093d926713f7f6582f86f3741064d4f1a172ddf72163c6f98943b5b52f8cd97f6778f74138a5da8b7",
        "c0105b9334a16e2c6810f8b64de181ffe6aa3036b272bd57b32328b2b2802888aa18971d11e66b2522549f3d",
        "bc1225b4c1d6ec6cdeba9e39ff22bdbb5288ecde0b3b163495c9b25cea66ea681aac3bfd299a171ccb5c65f3",
        "762d36520c5b25457730d7adc285a7b62390fd9ff8f6ebad4c298ee765b252da7ab93d903e0a5839a7746159",
        "222663105113530dae845d08867b000c9ed5ec1d81818ccaec2a6250f4516288af599fad8d201b692136ef02",
    );

    /// nDPI/quic_t51.pcap frame 1: Google T051 (0x54303531) client Initial, SNI "www.google.com".
    const T51_FRAME1: &str = concat!(
        "c15430353108ff9415b5b005860d0000453495cd6c78ab2880cd312769b2e008aaa61f91ff63764e5a29bfa2",
        "f509327be26808a2975e4ccb1b7589a66473fcd0e5e2cf3a2d6ba6051d567d55e01c119a3ca6012089865483",
        "bd1b35e774db6b816369f80080496a84da65ce1d94afc1e13894142f9689831dc5cbc7dd2d9596684af91736",
        "814407a8060b933aafcf933a3582e576294ac5c0b0fd3a09fb3bb97c74c06d08a9145a9b0fde462daee80425",
        "3b8cf13fc23d9013533d5a4e76f92ae06cd88a0879b43a2f3ffda0bef1047ca0f4155ac4338e47326a03160d",
        "ac9c1e8f99da087662a1822687a914db2a82d3bcb9658d0e26a2b0734740308fac2b7910356f2cc2e4659413",
        "704f5bc48849b9c07808dafddba911023681e18e42a8300479aaf94ed089dc8bb40b66f3063a22e49f4b3e2c",
        "150506217f1b6a19d5fd3b79c034a8dd6cc56abd897be36306a366059b6279d3ba0f3015cba8f256d9ada3fd",
        "796b74872a2c92d7cb5aee89eb7661fa1fe5c4da317429eb0c8eabcb3690b11e6f446a1b7f34cc702152fc13",
        "7c288462fc1237cf8b3dbeddd472aedc946f6df338036bba0f7fdc71ce3407c8e9b7ab7c9954c26bdd8ceecf",
        "218157c31c2be889a4f1445d3b50b6564dbb911632d70371bf40bce5d1bd90400dcf46a30ed6be182ccf4884",
        "bfbd4e3226f64b2493cd6716c6dca9e50f3c2225e52bda928a19d4d7b8be51c933bbdc3f01e44491daf8f323",
        "b649dfd43f4599c691a0ada0cb0153464da3d9129778d3463f77ce181311995b2d9ed30ef47942411d29a969",
        "0827e8f0faf0ea147315641c1ca37a71e6d24ab188a4d56e08eef0d5a249fcb589025ee5a40ea9b0f4abe792",
        "d39e354f9ea0b6e76d08bf0099da097db6fe93a7bcc04352a700132c6184f503c5a7134eec82cb4d60f43eea",
        "349980873de4e4c0b6cd39baec820b63585e67602e62f4306103acb376c9b633cd6beb95d6955b422570e92d",
        "a7bf12a0b6ae59f434ae5e1bec6d33a9e464aad5857479ec0c513ea707a7a349c1561aff97339d117f5d22b9",
        "280eea95f39f2636f6a30c39c75fc4531693c6611002e428b5deaa333e1631e03ea55886d8ddd0cc5adf10a2",
        "e291277dfd581789e3efc2981d9ad5db3c65ea285c955561e221d7345188faceb7bec15710e4c17a37cfb2be",
        "be5664c3275fa8d64364f775d413f6d0f366b5f0d24f75743a91fdba42371ce11aa74ef026ad687fe9f986e3",
        "322b898ec0f73f2de1e3bd41fafd4cb3b793407924e5675954ea95b3afac9804cd5f791efd22a0ed31223e41",
        "9f1adb2e79706cd7cf8d519371134087bd60537d89f2bafaac2c7109a4efe1153b29d890fb38a00b42ca2bbc",
        "7838fb3d9f629ad8a50fcb6e66acb43f864e488edcecaeaa90d8cccd7198716f4924342c442f339050c6e990",
        "59f0dd71af10308956997247552a8e20c538bf3f25fb9ea61135a321d678e615c157760b0bf63c61b1d394f9",
        "2495a2c05c5650d3d1741a53bc34b4c3fa7835dfdcd863daa2b602bf5ac41406d826917817a237d07f167925",
        "cacf38420c928ad3e703c2c523aac4912715387ed4beb980745de2662a1285b927cc115234ab5629310644fc",
        "6d8c0b8cc08a084db04a14c0dc16612db9e3922edfe11e8287b8ec1fe4f2d09285e6af6681c243a18b9f360a",
        "11d72d306bd9a8c54e5ec3d09d89686e655f842a07600a932fefab23e5765e02a6ce97440f2730c2c48b9155",
        "a8614e25180a0f30fde4c5ab1f0a750753f57a82473b0b76ec9246bd729959777a42d03b48f009acf16d5522",
        "49d8a4724385b8ab19245373aa096c940af0d6c5d26060fbb400cc5ec2836d1548f1f5a02ab5104a1dc211e5",
        "4014c71240c850e3969bc03691e3efd9bc76053c55b820f3d83efcce1e75",
    );

    /// nDPI/quic_t51.pcap frame 2: the server's T051 Initial (other keys).
    const T51_FRAME2: &str = concat!(
        "c0543035310008ff9415b5b005860d004534700ee86f90d1bba48db2a0cc133eeaae2f149df8a3655f07870f",
        "e8c64cb4c7e66dd2ce9ead69bb9169f6fb5a30ad84dd23da7cf4ea56ffaa6da70bfdbf4279063272c8bbae43",
        "ba8c8331970ecdaeafefa3b94b14a4e76402ce4ae416157d00263e65c41b25609b209e520d53ed58fa16c966",
        "9c357dd3d227810aabd97ddb00bddab387c1f0ed1b02aeb82369e78d7452b17b4e17e59e7050ce22486c528c",
        "dcfbc3369c987a91ccc037a04eed0e81db84f8a5317b7ff496a2d021d309a2a19196be6b0aded6e3ac218e36",
        "649cec6e8403e78232d11463fcaaf15c8a3929881da95dfcbec91823f2358090ba849689635a5bf23e899d93",
        "9bcdd827450b65973cbabc050d81f76a3d409209707e5a84340456d7eff45a07fc09d353d7c16269b022b3e5",
        "fbbcf2ff2b4adf566232ef6ae544d45f386ef2ee7cf1d4ac1039073c682545dc259853e2e6775d1c29132c4d",
        "10de9feb7b09f253e83e9ccca9914bdcc7cbc75e7f0d952feb2be1e6ba927328975972752e689bd3315c2629",
        "a9e817b9666215349bcc9be113845aa8ea96aa50b70b20cee324a9d3071846be978b3ff2a47b012c182e8d93",
        "6871477107ddacae62e15af53e10a5cdaa7be7e2c37db4ffc1e1523cd543497e92aa69f7794db0b7c557ab3c",
        "6d85a4e138ae0d64dab422f6beafd7e3d0fdddd1d0b94571b275848f5f82734a6547de21e8c5373c3ce1908f",
        "006284645f434628ffabbfb29ca4c7b0aa6b9794b2af3aa60dab6047a8cf9e2e18754222a55c73db100c0d27",
        "e018726e77159eb7483bd17bd48115276709c83425472ae83f0b069aaf8b355c233cba1ce811e7f8d1b1c87f",
        "fd5c3cf8a4727e411af523d32ab9bca3a02a55009f53e0777466c43e2e75154ae21af742adaacf4cb31878cf",
        "905e55df53dd3be2db9630838a5d1ab4cf673736114034f15c8cb844e0616d1174182e71c72ff91b56771151",
        "179d4815edc280a12a1162c264f9e84175d1e2ff6fda64b4cff465206a3d377b564052a83fa4b6e0ce43a082",
        "d901630944cacb5e9b4d09dd1896e7d6b34973d60f3a500f7ec6bd4a96a6f721263b803d13a1a7479039ec8f",
        "e929b99bc1dad5ff4c0d3fe60d6a8dfe206e14e44f38979b2a26039ad053a2d16a7d75b5b718329f0e841d42",
        "73484fa997831d4d358688a78b2e32ba55c8248cadd00af662d98015df88c7c231d91b0d8ffd4e8aacc09f62",
        "828b81cb5aede1b010982dd5310e013540f3a61d48dad42bc0a6eaaa65c68eeedaf0937477c71116475e55a2",
        "57957e33aca0f2327ec3bd6161efbd4119d60d6c71845c2a4b74689b93607cbdeac993c083b0744ef55c182d",
        "e4d6dda15717480494f560b07d3fcc5cab6d392a88cb024ae727a034dd8b42d9c13efc67d323aaeb49d727db",
        "6b901c7d6ec1080f165be8e45f124469e6b6a6c10a8424843035d28a45a4450700a551cac175c53fcd81f88c",
        "4070fe027e08acf45fbaff600e0d2b524c09c30db6c21e602e546467f4b2cb9042953cc7f448dedaad509641",
        "b83723487719604de4d67eb57ea30626e10f855c3152aa2ce24d38d8b7ddbda0168d7a437b0da2d934a047cc",
        "4f5a4699d98ca68624e2248a56d24677ccb0e3fe2a139dcb1918a8907b960c95b84ef303e0ace907e235f785",
        "05dcaca8625c30b68225ed5741962c7986421eff48d5f61177bac72432794cbc46f59a0a06fcb2f6a005aee0",
        "a741d24cde4449505d19771b53b0bd58b52ac962a9f785c1917ec37ae16bb68a8342760c3327f20eaf6db951",
        "13f43bfc9fbc08cd4e8dfddca81e90622996b480af6bea07b8faa324269412603d1b980f34ca98830128d1d1",
        "63e1a4e14df54d5fe575c37983986d0d85f6d030378bbb447cacdf6d4618",
    );

    /// zeek/quic/chromium-115.0.5790.110-google-de-fragmented.pcap frame 4: the client's second v1
    /// Initial (ACK + PADDING), sent to the server's DCID da37463b0eb7cc5d but protected with keys of
    /// the original DCID 5a37463b0eb7cc5d.
    const GOOGLE_DE_FRAME4: &str = concat!(
        "c50000000108da37463b0eb7cc5d000044bcd600c4d80385070330f77d3b3fe2ee37a7714e5017bce28edf4a",
        "d061f245568e04a31cc8b9d19b3aea242184acf8182db6d44512fc91698b1e50d46cbc83ae18f132e5d2abfe",
        "67a363422ffce31b11787c249a0444881badb9e6e0596c452771160bc58bceeb19e153d47edc679b683a6a6e",
        "8bd508b330a4d6751042dc25738a9c7ba4b3b7e3ed2502e9bc96292ee343da39bad48dcda223a448568c7312",
        "3655938e2108b58d7c268cc560a63e1e326de19467c6b6bdb38d8e342abf8dc1189a614afafa93d42b637a00",
        "c9637ea649d7d56bdd36255fc85f8b589377665c4dfb142dcee380f95a4e82870252c1f8867704bcc65b33e4",
        "f24be6cf89255583ff59c92467d0f6eabb5031e5228315485796939ff2e3730e84973c08df5291eeec291886",
        "225003a6405471c43a627ecb76a52244a261a0735e7b785ac0735714f1d9b21d1272a0b2dabf70a8c78e5e14",
        "8032c3c9da7467afe6de06d13f6e7f7a1a8d6428aec8f8e355b34251beb92ae50a56779478293c1a05302bc5",
        "d8f50f9833418505ca275c037151324720b087d05a9c23afe81a06de8d0414dd4df200d406cd0c8933632f89",
        "613994b738c752858031be0b280d025dd320f377cea9990a6b0f1bc87c92159fc4fbdb9341a648e1bc6b7869",
        "dcbedc6548c45dd8ea4a2c9e9d9d2ec60c3890e30517d72e5324411620c7631523dc325717d8045d39b83a01",
        "2099831a114d24512da6bd57b2adfe9967991b9d2958853f3de6422c93da02f08ca09105d5bb2aec9e9f0337",
        "672a4a2127d141cd63084c08b8bd8867e2c340d3c7588454ec4acc76570ef17d7e0bdcf35890ccd61110d1f8",
        "540bf3e27e23daa0c500ccb2004c238c6069c3f8edc2d99cbaf15bdf0949c020108b684f551b65ca9b118b5e",
        "927c71a2632da3a61332fde2a1649e770a63e27bef8c0f9a1a77e1f7da8a3be765bf82e7caa313d1bac4cac0",
        "c7f9c6aded8796927fe50a559ea6ff5383a6d74560fa0f6e53d4234d4491c98034a810456e9881641f165d0f",
        "a9b4ae2d06b3d6a29cd069cbfa9bc62f69d04c6584c46fc8d4c64e8c5d67e7513cd3e607ec548e4d5120d94e",
        "f6aa75d79bb42cdcc7829a62a29d9bf5867e4150eff821848199484df4024772368d2ee949a49f3bb4052703",
        "1d4a1d7001f97aa24d8a0b699eebddcda6bb18ffbf3b9edff1120738de56e5db5f3c45ac168059025fae1219",
        "1e0525d997bd48e0c93a3f87eeb9da9e047d97934520119bf541beab54a01c8ebc4114cd974336b331e41308",
        "5a5c001f8123b57d0e1bd030aff7e6460d0f35dc3f1816cb5e7fbaca7e75c95d6bdd76287792a2d781106601",
        "5a2990fbb93b6c51f512babd6c0ed354c3048e1de3c15a8b592a12cd5c9a72ba576eb4084f51a9c7acaeff5e",
        "021a1508d8751f803e2503ffccbdcea90b281696d12cc9e57a2901594e84477add7fe9fcb905fd593ee9fa79",
        "83b93294f3fdcd1bf395b573d7f9eed697d2e5113943ee9ca1f1b8b90b36aa803c9f1a236681c2f8a585c679",
        "775c9f469a86dc563d37e0266124b0695d98ca30ee2335220b71a3f78e82d9cf64a764254d71278215bf873a",
        "0cd998a33469fba245aac62884f783f9756106128a0e21f8177f6286f6a2de4c29cec570d27f41b8aa44613c",
        "cc5bc4f8309bb7d3eda27da52376dcbf9211426cb8a6c6bd6a0f4dc1bea65159ffda9f36f5439a1ef776",
    );
    // ---- RFC test vectors. ----

    /// RFC 9001 Appendix A.2: the protected 1200-byte client Initial (DCID 8394c8f03e515708).
    const RFC9001_A2_PACKET: &str = concat!(
        "c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11",
        "d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f399",
        "1c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c",
        "8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df6212",
        "30c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5",
        "457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c208",
        "4dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec",
        "4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3",
        "485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db",
        "059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c",
        "7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f8",
        "9937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556",
        "be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c74",
        "68449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663a",
        "c69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00",
        "f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632",
        "291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe58964",
        "25c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd",
        "14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ff",
        "ef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198",
        "e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009dd",
        "c324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73",
        "203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77f",
        "cb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450e",
        "fc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03ade",
        "a2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e724047",
        "90a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2",
        "162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f4",
        "40591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca0",
        "6948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e",
        "8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0",
        "be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f09400",
        "54da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab",
        "760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9",
        "f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4",
        "056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd4684064",
        "7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241",
        "e221af44860018ab0856972e194cd934",
    );

    /// RFC 9369 Appendix A.2: the same client Initial protected as QUIC v2.
    const RFC9369_A2_PACKET: &str = concat!(
        "d76b3343cf088394c8f03e5157080000449ea0c95e82ffe67b6abcdb4298b485",
        "dd04de806071bf03dceebfa162e75d6c96058bdbfb127cdfcbf903388e99ad04",
        "9f9a3dd4425ae4d0992cfff18ecf0fdb5a842d09747052f17ac2053d21f57c5d",
        "250f2c4f0e0202b70785b7946e992e58a59ac52dea6774d4f03b55545243cf1a",
        "12834e3f249a78d395e0d18f4d766004f1a2674802a747eaa901c3f10cda5500",
        "cb9122faa9f1df66c392079a1b40f0de1c6054196a11cbea40afb6ef5253cd68",
        "18f6625efce3b6def6ba7e4b37a40f7732e093daa7d52190935b8da58976ff33",
        "12ae50b187c1433c0f028edcc4c2838b6a9bfc226ca4b4530e7a4ccee1bfa2a3",
        "d396ae5a3fb512384b2fdd851f784a65e03f2c4fbe11a53c7777c023462239dd",
        "6f7521a3f6c7d5dd3ec9b3f233773d4b46d23cc375eb198c63301c21801f6520",
        "bcfb7966fc49b393f0061d974a2706df8c4a9449f11d7f3d2dcbb90c6b877045",
        "636e7c0c0fe4eb0f697545460c806910d2c355f1d253bc9d2452aaa549e27a1f",
        "ac7cf4ed77f322e8fa894b6a83810a34b361901751a6f5eb65a0326e07de7c12",
        "16ccce2d0193f958bb3850a833f7ae432b65bc5a53975c155aa4bcb4f7b2c4e5",
        "4df16efaf6ddea94e2c50b4cd1dfe06017e0e9d02900cffe1935e0491d77ffb4",
        "fdf85290fdd893d577b1131a610ef6a5c32b2ee0293617a37cbb08b847741c3b",
        "8017c25ca9052ca1079d8b78aebd47876d330a30f6a8c6d61dd1ab5589329de7",
        "14d19d61370f8149748c72f132f0fc99f34d766c6938597040d8f9e2bb522ff9",
        "9c63a344d6a2ae8aa8e51b7b90a4a806105fcbca31506c446151adfeceb51b91",
        "abfe43960977c87471cf9ad4074d30e10d6a7f03c63bd5d4317f68ff325ba3bd",
        "80bf4dc8b52a0ba031758022eb025cdd770b44d6d6cf0670f4e990b22347a7db",
        "848265e3e5eb72dfe8299ad7481a408322cac55786e52f633b2fb6b614eaed18",
        "d703dd84045a274ae8bfa73379661388d6991fe39b0d93debb41700b41f90a15",
        "c4d526250235ddcd6776fc77bc97e7a417ebcb31600d01e57f32162a8560cacc",
        "7e27a096d37a1a86952ec71bd89a3e9a30a2a26162984d7740f81193e8238e61",
        "f6b5b984d4d3dfa033c1bb7e4f0037febf406d91c0dccf32acf423cfa1e70710",
        "10d3f270121b493ce85054ef58bada42310138fe081adb04e2bd901f2f13458b",
        "3d6758158197107c14ebb193230cd1157380aa79cae1374a7c1e5bbcb80ee23e",
        "06ebfde206bfb0fcbc0edc4ebec309661bdd908d532eb0c6adc38b7ca7331dce",
        "8dfce39ab71e7c32d318d136b6100671a1ae6a6600e3899f31f0eed19e3417d1",
        "34b90c9058f8632c798d4490da4987307cba922d61c39805d072b589bd52fdf1",
        "e86215c2d54e6670e07383a27bbffb5addf47d66aa85a0c6f9f32e59d85a44dd",
        "5d3b22dc2be80919b490437ae4f36a0ae55edf1d0b5cb4e9a3ecabee93dfc6e3",
        "8d209d0fa6536d27a5d6fbb17641cde27525d61093f1b28072d111b2b4ae5f89",
        "d5974ee12e5cf7d5da4d6a31123041f33e61407e76cffcdcfd7e19ba58cf4b53",
        "6f4c4938ae79324dc402894b44faf8afbab35282ab659d13c93f70412e85cb19",
        "9a37ddec600545473cfb5a05e08d0b209973b2172b4d21fb69745a262ccde96b",
        "a18b2faa745b6fe189cf772a9f84cbfc",
    );

    /// RFC 9001 / RFC 9369 Appendix A.2: the client's CRYPTO frame (offset 0, 241 bytes of
    /// ClientHello), padded with PADDING frames to a 1162-byte payload.
    const RFC_A2_CRYPTO_FRAME: &str = concat!(
        "060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868",
        "04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578",
        "616d706c652e636f6dff01000100000a00080006001d00170018001000070005",
        "04616c706e000500050100000000003300260024001d00209370b2c9caa47fba",
        "baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400",
        "0d0010000e0403050306030203080408050806002d00020101001c0002400100",
        "3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000",
        "75300901100f088394c8f03e51570806048000ffff",
    );

    /// RFC 9001 Appendix A.3: the server's protected Initial (server keys).
    const RFC9001_A3_PACKET: &str = concat!(
        "cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a",
        "5816b6394100f37a1c69797554780bb38cc5a99f5ede4cf73c3ec2493a1839b3",
        "dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3bded74b562bfb19fb84",
        "022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc4",
        "2158407dd074ee",
    );
    // ---- Synthetic packets (protected with the RFC-checked `protect`). ----

    const DCID: &[u8] = b"\x01\x02\x03\x04\x05\x06\x07\x08";

    #[test]
    fn frames_ack_close_padding_ping_then_crypto() {
        let mut frames = vec![0x01, 0x00, 0x00];
        // ACK: largest 10, delay 0x1234 (2-byte varint), 2 ranges, first range 1, two
        // (gap, len) pairs.
        frames.extend_from_slice(&[0x02, 0x0a, 0x52, 0x34, 0x02, 0x01, 0x00, 0x01, 0x01, 0x00]);
        // ACK_ECN with three counts.
        frames.extend_from_slice(&[0x03, 0x0a, 0x00, 0x00, 0x00, 0x05, 0x06, 0x07]);
        frames.extend(crypto(0, b"\x01\x00\x00\x02hi"));
        // CONNECTION_CLOSE: code 0x0a, frame type 0x06, reason "bye".
        frames.extend_from_slice(&[0x1c, 0x0a, 0x06, 0x03, b'b', b'y', b'e']);
        frames.extend(crypto(6, b"more"));
        let packet = client_initial(VERSION_1, DCID, 0, &frames, 1100);
        let got = client_initials(&packet, None).unwrap();
        assert_eq!(
            got.crypto,
            vec![(0, b"\x01\x00\x00\x02hi".to_vec()), (6, b"more".to_vec())]
        );
    }

    #[test]
    fn unknown_frame_stops_but_keeps_earlier_crypto() {
        let mut frames = crypto(0, b"abc");
        // NEW_TOKEN (0x07) is not allowed in Initial packets: stop there.
        frames.extend_from_slice(&[0x07, 0x01, 0xff]);
        frames.extend(crypto(3, b"def"));
        let got = client_initials(&client_initial(VERSION_1, DCID, 0, &frames, 0), None).unwrap();
        assert_eq!(got.crypto, vec![(0, b"abc".to_vec())]);
        // A CRYPTO frame longer than the payload stops too.
        let mut frames = crypto(0, b"abc");
        frames.extend_from_slice(&[0x06, 0x00, 0x40, 0xff, 0x01]);
        let got = client_initials(&client_initial(VERSION_1, DCID, 0, &frames, 0), None).unwrap();
        assert_eq!(got.crypto, vec![(0, b"abc".to_vec())]);
    }

    #[test]
    fn gquic_frames() {
        // T051: PING 0x07, CRYPTO 0x08; 0x06 is not CRYPTO there (gQUIC STOP_WAITING).
        let frames = [
            &[0x07u8, 0x08, 0x00, 0x02, b'h', b'i'][..],
            &crypto(2, b"no"),
        ]
        .concat();
        let got = client_initials(&client_initial(VERSION_T051, DCID, 1, &frames, 1200), None);
        assert_eq!(got.unwrap().crypto, vec![(0, b"hi".to_vec())]);
    }

    #[test]
    fn coalesced_packets_and_bounds() {
        let p = profile(VERSION_1).unwrap();
        let m = key_material(p.salt, p.labels, DCID).unwrap();
        let first = client_initial(VERSION_1, DCID, 0, &crypto(0, b"one"), 0);
        // A Handshake packet (type 2) is stepped over by its Length.
        let hs_payload = crypto(0, b"handshake");
        let hs = protect(
            &m,
            &long_header(VERSION_1, 2, DCID, &[], None, 0, 1, hs_payload.len()),
            &hs_payload,
        );
        // An Initial with a token.
        let payload = crypto(3, b"two");
        let with_token = protect(
            &m,
            &long_header(
                VERSION_1,
                0,
                DCID,
                b"scid",
                Some(b"token!"),
                1,
                1,
                payload.len(),
            ),
            &payload,
        );
        // A short-header packet ends the walk.
        let short = [0x40u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        let after_short = client_initial(VERSION_1, DCID, 2, &crypto(6, b"three"), 0);
        let datagram = [&first[..], &hs, &with_token, &short, &after_short].concat();
        let got = client_initials(&datagram, None).unwrap();
        assert_eq!(got.decrypted, 2);
        assert_eq!(got.crypto, vec![(0, b"one".to_vec()), (3, b"two".to_vec())]);

        // At most MAX_PACKETS packets are walked.
        let one = client_initial(VERSION_1, DCID, 0, &crypto(0, b"x"), 0);
        let many: Vec<u8> = (0..MAX_PACKETS + 4).flat_map(|_| one.clone()).collect();
        let got = client_initials(&many, None).unwrap();
        assert_eq!(got.decrypted, MAX_PACKETS);
        assert_eq!(got.crypto.len(), MAX_PACKETS);

        // A truncated last packet is skipped; the first still counts.
        let cut = [&first[..], &one[..one.len() - 1]].concat();
        assert_eq!(client_initials(&cut, None).unwrap().decrypted, 1);
    }

    #[test]
    fn version_negotiation_retry_and_unknown_versions() {
        // Version Negotiation: version 0, whatever the fixed bit.
        let vn = [&[0x80u8, 0, 0, 0, 0, 8][..], DCID, &[0], &[0, 0, 0, 1]].concat();
        let got = client_initials(&vn, None).unwrap();
        assert_eq!(
            got,
            Initials {
                version: Some(0),
                ..Initials::default()
            }
        );
        // Retry (type 3 in v1): the version is known, nothing else.
        let retry = [
            &[0xf0u8, 0, 0, 0, 1, 8][..],
            DCID,
            &[0],
            b"token and a tag......",
        ]
        .concat();
        let got = client_initials(&retry, None).unwrap();
        assert_eq!(
            got,
            Initials {
                version: Some(VERSION_1),
                ..Initials::default()
            }
        );
        // A greased version: plausible, but no keys.
        let grease = [
            &[0xc0u8, 0x1a, 0x2a, 0x3a, 0x4a, 8][..],
            DCID,
            &[0, 0, 0x41, 0x00],
        ]
        .concat();
        let got = client_initials(&grease, None).unwrap();
        assert_eq!(
            got,
            Initials {
                version: Some(0x1a2a_3a4a),
                ..Initials::default()
            }
        );
        // gQUIC Q046 is a long header too, but not decryptable here.
        let q046 = [&[0xc3u8, b'Q', b'0', b'4', b'6', 0x50][..], DCID, &[0; 20]].concat();
        assert!(is_long_header(&q046));
        assert_eq!(
            client_initials(&q046, None).unwrap().version,
            Some(0x5130_3436)
        );
    }

    #[test]
    fn not_long_headers() {
        assert!(client_initials(&[], None).is_none());
        assert!(client_initials(&[0xc0, 0, 0, 0, 1], None).is_none());
        assert!(!is_long_header(&[0x40, 0, 0, 0, 1, 0, 0, 0]));
        // Fixed bit clear (not Version Negotiation).
        assert!(!is_long_header(&[0x80, 0, 0, 0, 1, 0, 0, 0]));
        // Implausible version.
        assert!(!is_long_header(&[0xc0, 0x12, 0x34, 0x56, 0x78, 0, 0, 0]));
        // DCID too long, or longer than the payload.
        assert!(!is_long_header(&[0xc0, 0, 0, 0, 1, 21, 0, 0]));
        assert!(!is_long_header(&[0xc0, 0, 0, 0, 1, 8, 0, 0]));
        // DNS, a TLS record: not QUIC.
        assert!(!is_long_header(&unhex("12340100000100000000000003777777")));
        assert!(!is_long_header(&unhex("160301020001000200030300000000")));
        assert!(is_long_header(&[0xc0, 0, 0, 0, 1, 0, 0]));
    }

    #[test]
    fn names() {
        assert_eq!(version_name(1), "v1");
        assert_eq!(version_name(0x6b33_43cf), "v2");
        assert_eq!(version_name(0xff00_001d), "draft-29");
        assert_eq!(version_name(0xff00_0017), "draft-23");
        assert_eq!(version_name(0xface_b00e), "mvfst-exp");
        assert_eq!(version_name(0xface_b002), "mvfst-draft-27");
        assert_eq!(version_name(0xface_b001), "mvfst-draft-22");
        assert_eq!(version_name(0xface_b010), "mvfst-0xfaceb010");
        assert_eq!(version_name(0x5130_3436), "Q046");
        assert_eq!(version_name(0x5430_3531), "T051");
        assert_eq!(version_name(0), "negotiation");
        assert_eq!(version_name(0x1a2a_3a4a), "0x1a2a3a4a");
        assert_eq!(version_name(0x5130_3a36), "0x51303a36");
    }

    #[test]
    fn salts() {
        assert_eq!(initial_salt(1).unwrap(), (&SALT_V1, LABELS_V1));
        assert_eq!(initial_salt(VERSION_2).unwrap(), (&SALT_V2, LABELS_V2));
        for d in 0x1d..=0x20 {
            assert_eq!(initial_salt(0xff00_0000 | d).unwrap().0, &SALT_DRAFT_29);
        }
        for d in 0x17..=0x1c {
            assert_eq!(initial_salt(0xff00_0000 | d).unwrap().0, &SALT_DRAFT_23);
        }
        assert_eq!(initial_salt(VERSION_MVFST_EXP).unwrap().0, &SALT_DRAFT_23);
        assert_eq!(initial_salt(VERSION_MVFST_27).unwrap().0, &SALT_DRAFT_23);
        assert_eq!(initial_salt(VERSION_T051).unwrap(), (&SALT_T51, LABELS_V1));
        assert_eq!(initial_salt(VERSION_T050).unwrap().0, &SALT_T50);
        assert!(initial_salt(0).is_none());
        assert!(initial_salt(0x5130_3530).is_none());
        assert!(initial_salt(0xff00_0015).is_none());
        assert!(initial_salt(0x1a2a_3a4a).is_none());
    }

    // ---- Robustness. ----

    fn all_captures() -> Vec<Vec<u8>> {
        [
            D29_FRAME1,
            V2_FRAME1,
            FRAGS_FRAME1,
            FRAGS_FRAME2,
            CIRRUS_FRAME1,
            MVFST_FRAME1,
            T51_FRAME1,
            T51_FRAME2,
            GOOGLE_DE_FRAME4,
            RFC9001_A2_PACKET,
            RFC9369_A2_PACKET,
            RFC9001_A3_PACKET,
        ]
        .iter()
        .map(|h| unhex(h))
        .collect()
    }

    #[test]
    fn every_prefix_never_panics() {
        for payload in all_captures() {
            let full = client_initials(&payload, None).unwrap();
            let first_len = LongHeader::parse(&payload).unwrap().packet_len;
            for n in 0..=payload.len() {
                let Some(got) = client_initials(&payload[..n], None) else {
                    assert!(n <= 6 + usize::from(payload[5]));
                    continue;
                };
                assert_eq!(got.version, full.version);
                // A packet cut short never decrypts; once the first is whole, it does.
                if n < first_len {
                    assert_eq!(got.decrypted, 0);
                } else if full.decrypted > 0 {
                    assert!(got.decrypted >= 1);
                }
                assert!(got.decrypted <= full.decrypted);
            }
        }
    }

    #[test]
    fn mutations_never_panic() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let captures = all_captures();
        let mut decrypted = 0;
        for i in 0..6000 {
            let mut p = captures[i % captures.len()].clone();
            // Mostly header bytes (where the parsing is), sometimes anywhere.
            for _ in 0..1 + next() % 4 {
                let at = if next() % 4 == 0 {
                    (next() % p.len() as u64) as usize
                } else {
                    (next() % 64.min(p.len() as u64)) as usize
                };
                match next() % 4 {
                    0 => p[at] ^= 1 << (next() % 8),
                    1 => p[at] = next() as u8,
                    2 => p.truncate(at),
                    _ => p.insert(at, next() as u8),
                }
                if p.is_empty() {
                    break;
                }
            }
            if let Some(got) = client_initials(&p, None) {
                decrypted += got.decrypted;
                let mut r = Reassembly::new(4096);
                reassemble(&mut r, &got);
            }
            let _ = is_long_header(&p);
        }
        // Some mutations leave the packet intact enough (trailing bytes, padding).
        assert!(decrypted > 0);
    }

    #[test]
    fn random_payloads_never_panic() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..3000 {
            let len = (next() % 1400) as usize;
            let mut p: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if let Some(first) = p.first_mut() {
                *first |= 0xc0;
            }
            if p.len() >= 5 {
                let versions = [
                    1u32,
                    VERSION_2,
                    0xff00_001d,
                    VERSION_T051,
                    VERSION_MVFST_EXP,
                ];
                let v = versions[(next() % versions.len() as u64) as usize];
                p[1..5].copy_from_slice(&v.to_be_bytes());
            }
            let _ = client_initials(&p, None);
            let _ = client_initials(&p, Some(&p[..p.len().min(8)]));
        }
    }
}
