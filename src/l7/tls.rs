//! TLS ClientHello parsing and the JA4 client fingerprint.
//!
//! Owns: recognising the start of a TLS client stream, reassembling the
//! ClientHello handshake message from TLS records (TCP) or taking it from raw
//! handshake bytes (the CRYPTO stream of a QUIC Initial), extracting SNI, ALPN
//! and the version, and computing JA4 as specified by FoxIO
//! (`technical_details/JA4.md` in FoxIO-LLC/ja4).
//!
//! Never touches: I/O, the clock, or state across calls (each call re-parses
//! the bytes it is given). Never panics on any input: no unchecked indexing or
//! arithmetic, no `unsafe`. Borrows the input where it can; beyond the returned
//! strings/vecs it allocates only bounded scratch (a reassembly buffer when the
//! ClientHello spans records, and the sort buffers JA4 needs), all limited by
//! the 64 KiB ClientHello bound.

use std::borrow::Cow;

use sha2::{Digest, Sha256};

/// Largest ClientHello handshake message accepted, 4-byte header included.
const MAX_HELLO: usize = 64 * 1024;
/// Largest record-layer prefix scanned for one ClientHello (headers included).
const MAX_STREAM: usize = 2 * MAX_HELLO;
/// Largest TLS record fragment accepted (2^14 plus the ciphertext slack).
const MAX_RECORD: u16 = 16384 + 2048;
/// Smallest ClientHello body: version, random, three empty length prefixes.
const MIN_BODY: usize = 2 + 32 + 1 + 2 + 1;
const CT_HANDSHAKE: u8 = 22;
const HS_CLIENT_HELLO: u8 = 1;
const EXT_SERVER_NAME: u16 = 0x0000;
const EXT_SIG_ALGS: u16 = 0x000d;
const EXT_ALPN: u16 = 0x0010;
const EXT_SUPPORTED_VERSIONS: u16 = 0x002b;
const MAX_SNI_BYTES: usize = 255;
const MAX_ALPN_NAMES: usize = 8;
const MAX_ALPN_BYTES: usize = 32;
const HEX: &[u8; 16] = b"0123456789abcdef";
const NO_HASH: &str = "000000000000";

/// Outcome of parsing the bytes seen so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parse<T> {
    /// A complete, well-formed ClientHello was found.
    Done(T),
    /// Looks like the start of one, but more bytes are needed.
    NeedMore,
    /// Not a ClientHello (or malformed beyond repair): stop trying on this flow.
    NotThis,
}

impl<T> Parse<T> {
    fn then<U>(self, f: impl FnOnce(T) -> Parse<U>) -> Parse<U> {
        match self {
            Parse::Done(v) => f(v),
            Parse::NeedMore => Parse::NeedMore,
            Parse::NotThis => Parse::NotThis,
        }
    }
}

/// What the monitor keeps from a ClientHello.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientHello {
    /// server_name extension host_name, lower-cased, at most 255 bytes; non-UTF-8 bytes replaced (String::from_utf8_lossy).
    pub sni: Option<String>,
    /// ALPN protocol names in order (at most 8 kept, each at most 32 bytes, lossy UTF-8).
    pub alpn: Vec<String>,
    /// Highest non-GREASE version in supported_versions if present, else legacy_version (e.g. 0x0303, 0x0304).
    pub version: u16,
    /// The JA4 fingerprint (FoxIO spec), e.g. "t13d1516h2_8daaf6152771_b186095e22b6".
    pub ja4: String,
}

/// Parses a ClientHello from `stream`, the first bytes of a TCP client stream
/// (TLS record layer). The handshake message may span several handshake
/// records (content type 22); trailing bytes after it are ignored. Returns
/// `NotThis` if a record is not a handshake record, if the message is not a
/// ClientHello, if it is longer than 64 KiB, or if more than 128 KiB of
/// records would be needed to carry it.
#[must_use]
pub fn from_records(stream: &[u8]) -> Parse<ClientHello> {
    reassemble(stream).then(|msg| finish(&msg, false))
}

/// Parses a ClientHello from `hs`, raw handshake messages with no record
/// layer (e.g. the QUIC CRYPTO stream from offset 0). `quic` selects JA4's
/// 'q' prefix instead of 't'.
#[must_use]
pub fn from_handshake(hs: &[u8], quic: bool) -> Parse<ClientHello> {
    hello_header(hs.iter().copied()).then(|total| match hs.get(..total) {
        Some(msg) => finish(msg, quic),
        None => Parse::NeedMore,
    })
}

/// Cheap check on the first bytes of a client stream: could this be TLS?
/// True when `first` is non-empty and consistent with a handshake record
/// (type 22, version 3.0-3.4, length 1..=18432) carrying a ClientHello.
#[must_use]
pub fn looks_like_tls(first: &[u8]) -> bool {
    !first.is_empty()
        && record_prefix_ok(first)
        && first.get(5).map_or(true, |&t| t == HS_CLIENT_HELLO)
}

/// Human name of a TLS version: 0x0304 -> "TLSv1.3", ..., 0x0300 -> "SSLv3",
/// anything else -> "0x" and four lower-case hex digits.
#[must_use]
pub fn version_name(v: u16) -> String {
    match v {
        0x0304 => "TLSv1.3".into(),
        0x0303 => "TLSv1.2".into(),
        0x0302 => "TLSv1.1".into(),
        0x0301 => "TLSv1.0".into(),
        0x0300 => "SSLv3".into(),
        _ => format!("0x{v:04x}"),
    }
}

/// Bounds-checked big-endian reader over a borrowed slice.
#[derive(Clone, Copy)]
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = self.0.split_at_checked(n)?;
        self.0 = tail;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
}

/// Whether `p` (of any length) could start a handshake record.
fn record_prefix_ok(p: &[u8]) -> bool {
    let at = |i: usize| p.get(i).copied();
    at(0).map_or(true, |t| t == CT_HANDSHAKE)
        && at(1).map_or(true, |major| major == 3)
        && at(2).map_or(true, |minor| minor <= 4)
        && Reader(p.get(3..).unwrap_or_default())
            .u16()
            .map_or(true, |len| (1..=MAX_RECORD).contains(&len))
}

/// Checks the first bytes of a handshake message; `Done(total)` is the
/// message length including its 4-byte header.
fn hello_header(bytes: impl Iterator<Item = u8>) -> Parse<usize> {
    let mut h = [0u8; 6];
    let mut n = 0usize;
    for (slot, b) in h.iter_mut().zip(bytes) {
        *slot = b;
        n = n.saturating_add(1);
    }
    let [ty, l0, l1, l2, major, _] = h;
    if (n >= 1 && ty != HS_CLIENT_HELLO) || (n >= 5 && major != 3) {
        return Parse::NotThis;
    }
    if n < 4 {
        return Parse::NeedMore;
    }
    let body = usize::try_from(u32::from_be_bytes([0, l0, l1, l2])).unwrap_or(usize::MAX);
    match body.checked_add(4) {
        Some(total) if (MIN_BODY..=MAX_HELLO - 4).contains(&body) && n >= 6 => Parse::Done(total),
        Some(_) if (MIN_BODY..=MAX_HELLO - 4).contains(&body) => Parse::NeedMore,
        _ => Parse::NotThis,
    }
}

/// Collects the ClientHello handshake message from handshake records,
/// borrowing when one record holds all of it.
fn reassemble(stream: &[u8]) -> Parse<Cow<'_, [u8]>> {
    let mut r = Reader(stream);
    let mut acc: Cow<'_, [u8]> = Cow::Borrowed(&[]);
    loop {
        let consumed = stream.len().saturating_sub(r.0.len());
        if consumed > MAX_STREAM || !record_prefix_ok(r.0) {
            return Parse::NotThis;
        }
        let mut hdr = r;
        let (Some(_), Some(_), Some(len)) = (hdr.u8(), hdr.u16(), hdr.u16()) else {
            return Parse::NeedMore;
        };
        r = hdr;
        let len = usize::from(len);
        let frag = r.take(len.min(r.0.len())).unwrap_or_default();
        let whole_record = frag.len() == len;
        match hello_header(acc.iter().chain(frag).copied()) {
            Parse::NotThis => return Parse::NotThis,
            Parse::Done(total) if acc.len().saturating_add(frag.len()) >= total => {
                let tail = frag.get(..total.saturating_sub(acc.len())).unwrap_or(frag);
                if acc.is_empty() {
                    return Parse::Done(Cow::Borrowed(tail));
                }
                acc.to_mut().extend_from_slice(tail);
                return Parse::Done(acc);
            }
            _ if !whole_record => return Parse::NeedMore,
            _ => acc.to_mut().extend_from_slice(frag),
        }
    }
}

fn finish(msg: &[u8], quic: bool) -> Parse<ClientHello> {
    parse_hello(msg, quic).map_or(Parse::NotThis, Parse::Done)
}

/// Parses one complete ClientHello message (header included).
fn parse_hello(msg: &[u8], quic: bool) -> Option<ClientHello> {
    let mut r = Reader(msg.get(4..)?);
    let legacy = r.u16()?;
    r.take(32)?;
    if r.vec8()?.len() > 32 {
        return None;
    }
    let ciphers = r.vec16()?;
    if ciphers.len() % 2 != 0 {
        return None;
    }
    r.vec8()?;
    let exts = if r.0.is_empty() { &[][..] } else { r.vec16()? };
    let mut check = Reader(exts);
    while !check.0.is_empty() {
        check.u16()?;
        check.vec16()?;
    }
    Some(build(legacy, ciphers, exts, quic))
}

fn build(legacy: u16, ciphers: &[u8], exts: &[u8], quic: bool) -> ClientHello {
    let (mut sni, mut alpn, mut sigs, mut versions) = (None, None, None, None);
    let mut ext_count = 0usize;
    let mut hashed_exts = Vec::new();
    for (ty, data) in extensions(exts).filter(|(ty, _)| !is_grease(*ty)) {
        ext_count = ext_count.saturating_add(1);
        match ty {
            EXT_SERVER_NAME => _ = sni.get_or_insert(data),
            EXT_ALPN => _ = alpn.get_or_insert(data),
            EXT_SIG_ALGS => _ = sigs.get_or_insert(data),
            EXT_SUPPORTED_VERSIONS => _ = versions.get_or_insert(data),
            _ => {}
        }
        if ty != EXT_SERVER_NAME && ty != EXT_ALPN {
            hashed_exts.push(ty);
        }
    }
    let version = versions.and_then(highest_version).unwrap_or(legacy);
    let mut alpn_list = Reader(alpn.and_then(|d| Reader(d).vec16()).unwrap_or_default());
    let first_alpn = alpn_list.vec8();
    let alpn_names = std::iter::successors(first_alpn, |_| alpn_list.vec8())
        .take(MAX_ALPN_NAMES)
        .map(|name| lossy_bounded(name, MAX_ALPN_BYTES))
        .collect();
    let sigs = sigs.and_then(|d| Reader(d).vec16()).unwrap_or_default();

    let mut cs: Vec<u16> = u16s(ciphers).filter(|c| !is_grease(*c)).collect();
    cs.sort_unstable();
    hashed_exts.sort_unstable();
    let [a0, a1] = alpn_marker(first_alpn);
    let ja4 = format!(
        "{}{}{}{:02}{:02}{a0}{a1}_{}_{}",
        if quic { 'q' } else { 't' },
        ja4_version(version),
        if sni.is_some() { 'd' } else { 'i' },
        cs.len().min(99),
        ext_count.min(99),
        hash12(&cs, &[]),
        hash12(&hashed_exts, sigs),
    );
    ClientHello {
        sni: sni.and_then(parse_sni),
        alpn: alpn_names,
        version,
        ja4,
    }
}

/// Iterates (type, data) over an already length-checked extension block.
fn extensions(block: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut r = Reader(block);
    std::iter::from_fn(move || Some((r.u16()?, r.vec16()?)))
}

fn u16s(b: &[u8]) -> impl Iterator<Item = u16> + '_ {
    b.chunks_exact(2)
        .filter_map(|c| c.try_into().ok().map(u16::from_be_bytes))
}

/// GREASE values (RFC 8701): 0x0a0a, 0x1a1a, ..., 0xfafa.
fn is_grease(v: u16) -> bool {
    let [hi, lo] = v.to_be_bytes();
    hi == lo && lo & 0x0f == 0x0a
}

fn highest_version(data: &[u8]) -> Option<u16> {
    u16s(Reader(data).vec8()?).filter(|v| !is_grease(*v)).max()
}

fn parse_sni(data: &[u8]) -> Option<String> {
    let mut list = Reader(Reader(data).vec16()?);
    while !list.0.is_empty() {
        let (ty, name) = (list.u8()?, list.vec16()?);
        if ty == 0 {
            let mut s = lossy_bounded(name, MAX_SNI_BYTES);
            s.make_ascii_lowercase();
            return (!s.is_empty()).then_some(s);
        }
    }
    None
}

/// Lossy UTF-8 of at most `max` input bytes, cut to at most `max` output bytes.
fn lossy_bounded(bytes: &[u8], max: usize) -> String {
    let mut s = String::from_utf8_lossy(bytes.get(..max).unwrap_or(bytes)).into_owned();
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    s.truncate(end);
    s
}

fn ja4_version(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

fn nibble(n: u8) -> u8 {
    HEX.get(usize::from(n & 0x0f)).copied().unwrap_or(b'0')
}

/// First and last character of the first ALPN value; when either byte is not
/// ASCII alphanumeric, the first and last hex digit of the value instead.
fn alpn_marker(first: Option<&[u8]>) -> [char; 2] {
    match first.and_then(|v| Some((*v.first()?, *v.last()?))) {
        None => ['0', '0'],
        Some((a, b)) if a.is_ascii_alphanumeric() && b.is_ascii_alphanumeric() => {
            [char::from(a), char::from(b)]
        }
        Some((a, b)) => [char::from(nibble(a >> 4)), char::from(nibble(b))],
    }
}

/// First 12 hex digits of sha256("xxxx,xxxx,..." + optional "_" + sigs), or
/// zeros when `list` is empty. `sigs` is a raw u16 list; GREASE is dropped.
fn hash12(list: &[u16], sigs: &[u8]) -> String {
    if list.is_empty() {
        return NO_HASH.into();
    }
    let mut h = Sha256::new();
    feed(&mut h, list.iter().copied());
    let mut sigs = u16s(sigs).filter(|s| !is_grease(*s)).peekable();
    if sigs.peek().is_some() {
        h.update(b"_");
        feed(&mut h, sigs);
    }
    hex::encode(h.finalize().get(..6).unwrap_or_default())
}

/// Feeds "xxxx,xxxx,..." (4 lower-case hex digits per value) to `h`.
fn feed(h: &mut Sha256, items: impl Iterator<Item = u16>) {
    for (i, v) in items.enumerate() {
        if i > 0 {
            h.update(b",");
        }
        h.update([v >> 12, v >> 8, v >> 4, v].map(|n| nibble((n & 0x0f) as u8)));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    // zeek testing/btest/Traces/tls/tls13-ech.pcap (corpus zeek/tls/tls13-ech.pcap),
    // frame 7, TCP stream 1: Chrome ClientHello record with ECH and GREASE.
    const ECH_RECORD: &str = concat!(
        "1603010200010001fc0303d820986a1fb4dc3a70fac91f1359ff5e320c6a5e07397ab36f8c513be4585f5d20",
        "7c77f968ecbeda040598f47af5265fb5f0f5ef3279f08b43d03c31a57ce0c63000202a2a130113021303c02b",
        "c02fc02cc030cca9cca8c013c014009c009d002f003501000193dada0000ff010001000010000e000c026832",
        "08687474702f312e31000d00120010040308040401050308050501080606010033002b00291a1a000100001d",
        "0020231cb3a7bde0d15d97dfdfc4d315b112899e9480d1dc7a0e739c4058bbe7276d002d0002010144690005",
        "000302683200230000002b0007068a8a03040303000a000a00081a1a001d00170018fe0d00ba0000010001d1",
        "0020cce5c83299bb8dffdb74bafd0a1d524b82973e224c12999beed169ee7a9ad67d00900b7b2dc3b17adb2e",
        "abc1f7fabb61bdd5db777336a9da3679c5373ff69f0087b9453bd3ec42b6d17b1b7d024cd7c4b627d1b0cd3a",
        "e9fbe5422f132187789d6c7f89f29201ff0e64853d3988adb723fff552447ebd087a55422abe568a8dfe4596",
        "a5820f134ec9f192620e4b36776431e14e35a6c9ddbe912359b1bde0d74a062e634eb5ced3063bed83f0b562",
        "f26278030017000000050005010000000000120000000b00020100000000170015000012636c6f7564666c61",
        "72652d6563682e636f6d001b00030200029a9a0001000015000700000000000000",
    );
    // zeek testing/btest/Traces/tls/tls1.2.pcap (corpus zeek/tls/tls1.2.pcap), frame 4:
    // TLS 1.2 ClientHello record without SNI or ALPN.
    const TLS12_RECORD: &str = concat!(
        "160301013d01000139030350e731d038d05540f1aa6d49b553450b82a4e09e47f3dd1fee79a65bccd7049000",
        "00a0c030c02cc028c024c014c00ac022c02100a3009f006b006a0039003800880087c032c02ec02ac026c00f",
        "c005009d003d00350084c012c008c01cc01b00160013c00dc003000ac02fc02bc027c023c013c009c01fc01e",
        "00a2009e0067004000330032009a009900450044c031c02dc029c025c00ec004009c003c002f009600410007",
        "c011c007c00cc002000500040015001200090014001100080006000300ff020100006f000b00040300010200",
        "0a00340032000e000d0019000b000c00180009000a0016001700080006000700140015000400050012001300",
        "0100020003000f0010001100230000000d002200200601060206030501050205030401040204030301030203",
        "030201020202030101000f000101",
    );
    // zeek testing/btest/Traces/quic/chromium-115.0.5790.110-api-cirrus-com.pcap, frame 1:
    // the 574-byte "Reassembled QUIC CRYPTO" data (decrypted Initial) shown by tshark -x.
    const QUIC_CRYPTO: &str = concat!(
        "0100023a0303fcb40b41daf6dc08e746b70e8a909ca115104e32c2832fd1b3f9706ce3bae01e000006130113",
        "0213030100020b002b0003020304000a00080006001d001700180000001600140000116170692e6369727275",
        "732d63692e636f6d446900050003026833003300260024001d002010c27c809e9fbd1402b7cd8128d31043f0",
        "800808ab0605ede2c4377a3c02f958002d00020101001b0003020002000d0014001204030804040105030805",
        "050108060601020100100005000302683300390068040480f000000604806000002004800100000104800075",
        "3071270480005244090240670f00070480600000080240648000475204000000017128045256434d05048060",
        "0000d9317df10a00299305e34ec37e22030245c080ff73db0c000000011acaea7a000000010029010d00e800",
        "e2029a37519e419d0d9c909c4c38945a6fff59098997b175bc9ee2efe061f6ba57cc9a545882cb0c76609940",
        "7b4a039418505326896081d5371e8cdb8752749d03b7afad027c04eb3246876eaa35a46cd54ebed02ac4994c",
        "aed6b83594138ab5c55c082e35633acfd8ed35b5e8309b7aff54a0c08e76702960b822bf76fb1b13d733aee0",
        "3182cc7c6aecf30dd082e220c55b652cb6525e635c3067e7b5af7974295758dc09971ea9f8eb0561a3169069",
        "8bb5ef2c90a1d8784581346ac52a858f3f0af46e8eacec16e40e2c0df4d2d36e3cdf9720f162ae02465241b8",
        "89340f5f46ec022a2e5a730021209b869632c5deec3c38fd602fe97f2bf56595cf4ef6b5f479a7e9ed2a98b8",
        "1afd",
    );
    // Expected JA4 strings computed by an independent Python implementation of the spec.
    const ECH_JA4: &str = "t13d1517h2_8daaf6152771_b1ff8ab2d16f";
    const TLS12_JA4: &str = "t12i800500_15c493246000_3eafcbe19126";
    const QUIC_JA4: &str = "q13d0311h3_55b375c5d22e_3512bcbbc9ec";

    fn bytes(h: &str) -> Vec<u8> {
        hex::decode(h).unwrap()
    }

    fn done(p: Parse<ClientHello>) -> ClientHello {
        match p {
            Parse::Done(ch) => ch,
            other => panic!("expected Done, got {other:?}"),
        }
    }

    /// Re-frames a handshake message into records of at most `chunk` bytes.
    fn records(hs: &[u8], chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for c in hs.chunks(chunk) {
            out.extend([22, 3, 1]);
            out.extend((c.len() as u16).to_be_bytes());
            out.extend(c);
        }
        out
    }

    fn list16(vals: &[u16]) -> Vec<u8> {
        let mut v = ((vals.len() * 2) as u16).to_be_bytes().to_vec();
        vals.iter().for_each(|x| v.extend(x.to_be_bytes()));
        v
    }

    /// Builds a ClientHello handshake message.
    fn hello(ciphers: &[u16], exts: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend([7u8; 32]);
        body.push(0);
        body.extend(list16(ciphers));
        body.extend([1, 0]);
        let mut e = Vec::new();
        for (t, d) in exts {
            e.extend(t.to_be_bytes());
            e.extend((d.len() as u16).to_be_bytes());
            e.extend(d);
        }
        body.extend((e.len() as u16).to_be_bytes());
        body.extend(e);
        let mut m = vec![1];
        m.extend(&(body.len() as u32).to_be_bytes()[1..]);
        m.extend(body);
        m
    }

    // The worked example of FoxIO's JA4.md (ciphers, extensions, signature algorithms).
    const SPEC_CIPHERS: [u16; 15] = [
        0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
        0x009c, 0x009d, 0x002f, 0x0035,
    ];
    const SPEC_SIGS: [u16; 8] = [
        0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
    ];

    fn spec_exts(sigs: &[u16], versions: &[u16]) -> Vec<(u16, Vec<u8>)> {
        let order = [
            0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012,
            0x002b, 0xff01, 0x000b, 0x000a, 0x0015,
        ];
        let mut sni = vec![0, 14, 0, 0, 11];
        sni.extend(b"Example.COM");
        let mut sv = list16(versions);
        sv.remove(0);
        order
            .iter()
            .map(|&t| match t {
                0x0000 => (t, sni.clone()),
                0x0010 => (
                    t,
                    vec![
                        0, 12, 2, b'h', b'2', 8, b'h', b't', b't', b'p', b'/', b'1', b'.', b'1',
                    ],
                ),
                0x000d => (t, list16(sigs)),
                0x002b => (t, sv.clone()),
                _ => (t, Vec::new()),
            })
            .collect()
    }

    #[test]
    fn real_tls13_client_hello() {
        let ch = done(from_records(&bytes(ECH_RECORD)));
        assert_eq!(ch.sni.as_deref(), Some("cloudflare-ech.com"));
        assert_eq!(ch.alpn, ["h2", "http/1.1"]);
        assert_eq!(ch.version, 0x0304);
        assert_eq!(ch.ja4, ECH_JA4);
    }

    #[test]
    fn real_tls12_without_sni() {
        let ch = done(from_records(&bytes(TLS12_RECORD)));
        assert_eq!(ch.sni, None);
        assert!(ch.alpn.is_empty());
        assert_eq!(ch.version, 0x0303);
        assert_eq!(ch.ja4, TLS12_JA4);
        assert_eq!(&ch.ja4[3..4], "i");
    }

    #[test]
    fn quic_crypto_stream_gets_q_prefix() {
        let hs = bytes(QUIC_CRYPTO);
        let ch = done(from_handshake(&hs, true));
        assert_eq!(ch.sni.as_deref(), Some("api.cirrus-ci.com"));
        assert_eq!(ch.alpn, ["h3"]);
        assert_eq!(ch.version, 0x0304);
        assert_eq!(ch.ja4, QUIC_JA4);
        let tcp = done(from_handshake(&hs, false));
        assert_eq!(tcp.ja4, format!("t{}", &QUIC_JA4[1..]));
        for n in 0..hs.len() {
            assert_eq!(
                from_handshake(&hs[..n], true),
                Parse::NeedMore,
                "prefix {n}"
            );
        }
    }

    #[test]
    fn every_prefix_needs_more_until_complete() {
        let rec = bytes(ECH_RECORD);
        for n in 0..rec.len() {
            assert_eq!(from_records(&rec[..n]), Parse::NeedMore, "prefix {n}");
            assert_eq!(looks_like_tls(&rec[..n]), n > 0, "prefix {n}");
        }
        let mut longer = rec.clone();
        longer.extend(b"\x14\x03\x03\x00\x01\x01 trailing");
        assert_eq!(from_records(&longer), from_records(&rec));
    }

    #[test]
    fn hello_fragmented_over_records() {
        let whole = done(from_records(&bytes(ECH_RECORD)));
        let hs = &bytes(ECH_RECORD)[5..];
        for chunk in [1, 3, 100, 300] {
            let stream = records(hs, chunk);
            for n in (0..stream.len()).step_by(7) {
                assert_eq!(from_records(&stream[..n]), Parse::NeedMore);
            }
            assert_eq!(done(from_records(&stream)), whole, "chunk {chunk}");
        }
    }

    #[test]
    fn not_tls() {
        assert_eq!(from_records(b"GET / HTTP/1.1\r\n"), Parse::NotThis);
        assert!(!looks_like_tls(b"GET / HTTP/1.1\r\n"));
        assert!(!looks_like_tls(b""));
        assert_eq!(from_handshake(b"GET / HTTP/1.1\r\n", false), Parse::NotThis);
        // Application data record, a ServerHello, an oversized (64 KiB + 4) message.
        assert_eq!(from_records(&[23, 3, 3, 0, 5, 1]), Parse::NotThis);
        assert_eq!(from_records(&[22, 3, 3, 0, 5, 2, 0]), Parse::NotThis);
        assert_eq!(
            from_records(&[22, 3, 1, 0, 5, 1, 1, 0, 0, 3]),
            Parse::NotThis
        );
        assert_eq!(
            from_records(&[22, 3, 1, 0, 5, 1, 0, 0xff, 0xfc, 3]),
            Parse::NeedMore
        );
    }

    #[test]
    fn spec_example_and_grease() {
        let plain = hello(&SPEC_CIPHERS, &spec_exts(&SPEC_SIGS, &[0x0304, 0x0303]));
        let ch = done(from_handshake(&plain, false));
        assert_eq!(ch.ja4, "t13d1516h2_8daaf6152771_e5627efa2ab1");
        assert_eq!(ch.sni.as_deref(), Some("example.com"));
        assert_eq!(ch.version, 0x0304);
        // JA4.md: no signature algorithms -> no underscore, c = 6d807ffa2a79.
        let nosig = hello(&SPEC_CIPHERS, &spec_exts(&[], &[0x0304]));
        assert_eq!(
            done(from_handshake(&nosig, false)).ja4,
            "t13d1516h2_8daaf6152771_6d807ffa2a79"
        );
        // GREASE in ciphers, extensions, signature algorithms and versions is ignored.
        let mut ciphers = vec![0x0a0a];
        ciphers.extend(SPEC_CIPHERS);
        let mut sigs = vec![0x2a2a];
        sigs.extend(SPEC_SIGS);
        let mut exts = spec_exts(&sigs, &[0xfafa, 0x0304, 0x0303]);
        exts.insert(0, (0x1a1a, Vec::new()));
        exts.push((0xeaea, vec![0]));
        assert_eq!(done(from_handshake(&hello(&ciphers, &exts), false)), ch);
        assert!(is_grease(0x0a0a) && is_grease(0xfafa) && !is_grease(0x0a1a) && !is_grease(0x0b0b));
        // Only SNI and ALPN: nothing left to hash in part c; no ciphers: zeros in part b.
        let e = spec_exts(&[], &[]);
        let bare = hello(&[], &[e[1].clone(), e[3].clone()]);
        assert_eq!(
            done(from_handshake(&bare, true)).ja4,
            "q12d0002h2_000000000000_000000000000"
        );
    }

    #[test]
    fn alpn_marker_rules() {
        let m = |v: &[u8]| alpn_marker(Some(v)).iter().collect::<String>();
        assert_eq!(m(b"http/1.1"), "h1");
        assert_eq!(m(b"h"), "hh");
        assert_eq!(m(b""), "00");
        assert_eq!(m(&[0xab]), "ab");
        assert_eq!(m(&[0xab, 0xcd]), "ad");
        assert_eq!(m(&[0x30, 0xab]), "3b");
        assert_eq!(m(&[0x30, 0x31, 0xab, 0xcd]), "3d");
        assert_eq!(m(&[0x30, 0xab, 0xcd, 0x31]), "01");
        assert_eq!(alpn_marker(None), ['0', '0']);
    }

    #[test]
    fn mutations_never_panic() {
        let seeds = [
            bytes(ECH_RECORD),
            bytes(TLS12_RECORD),
            bytes(QUIC_CRYPTO),
            records(&bytes(ECH_RECORD)[5..], 50),
        ];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n.max(1) as u64) as usize
        };
        for i in 0..6000 {
            let mut b = seeds[i % seeds.len()].clone();
            for _ in 0..1 + rnd(4) {
                let at = rnd(b.len());
                match rnd(4) {
                    0 => b[at] = rnd(256) as u8,
                    1 => b.truncate(at),
                    2 => b.insert(at, rnd(256) as u8),
                    _ => b[at] ^= 1 << rnd(8),
                }
                if b.is_empty() {
                    b.push(22);
                }
            }
            for n in [b.len(), rnd(b.len() + 1)] {
                let _ = from_records(&b[..n]);
                let _ = from_handshake(&b[..n], i % 2 == 0);
                let _ = looks_like_tls(&b[..n]);
            }
        }
    }

    #[test]
    fn version_names() {
        assert_eq!(version_name(0x0304), "TLSv1.3");
        assert_eq!(version_name(0x0303), "TLSv1.2");
        assert_eq!(version_name(0x0302), "TLSv1.1");
        assert_eq!(version_name(0x0301), "TLSv1.0");
        assert_eq!(version_name(0x0300), "SSLv3");
        assert_eq!(version_name(0x7f1c), "0x7f1c");
    }
}
