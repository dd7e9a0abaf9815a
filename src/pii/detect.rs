//! Identifier detection: finds and validates personal identifiers (e-mail addresses, payment
//! card numbers, IBANs) in arbitrary byte slices, and produces their canonical (hashable) and
//! masked (printable) forms.
//!
//! What this module owns:
//! - the matchers: a single linear pass per enabled detector over raw bytes (any content,
//!   UTF-8 or not), with strict boundary rules and validation (Luhn + issuer prefix/length for
//!   cards, country format + mod-97 via `iban_validate` for IBANs, RFC 5321-style shape for
//!   e-mail, including `%40`-encoded addresses in form posts and query strings);
//! - [`canonical`], so one identifier written in different ways hashes the same;
//! - [`mask`], the only printable rendering of an identifier.
//!
//! What it must never do: allocate per scanned byte (scanning only pushes to the caller's
//! `Vec<Match>`; validation uses stack buffers), log anything, or return or print a raw
//! identifier other than as the byte range of a [`Match`]. It never panics on any input.
//!
//! Precision is preferred over recall: a candidate that is ambiguous (embedded in a longer
//! token, inconsistent grouping, failing a checksum) is dropped rather than reported.

/// One kind of identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Detector {
    Email,
    PaymentCard,
    Iban,
}

impl Detector {
    /// Every detector, in a stable order.
    pub const ALL: [Detector; 3] = [Detector::Email, Detector::PaymentCard, Detector::Iban];

    /// Stable name used in configuration and reports.
    pub fn name(self) -> &'static str {
        match self {
            Detector::Email => "email",
            Detector::PaymentCard => "payment_card",
            Detector::Iban => "iban",
        }
    }

    /// Inverse of [`Detector::name`] (exact, lowercase names only).
    pub fn from_name(s: &str) -> Option<Detector> {
        Detector::ALL.into_iter().find(|d| d.name() == s)
    }

    fn bit(self) -> u8 {
        match self {
            Detector::Email => 1,
            Detector::PaymentCard => 2,
            Detector::Iban => 4,
        }
    }
}

/// Small bitset of enabled detectors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DetectorSet(u8);

impl DetectorSet {
    pub fn empty() -> Self {
        DetectorSet(0)
    }

    pub fn insert(&mut self, d: Detector) {
        self.0 |= d.bit();
    }

    pub fn contains(self, d: Detector) -> bool {
        self.0 & d.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn union(self, o: Self) -> Self {
        DetectorSet(self.0 | o.0)
    }

    /// Enabled detectors, in [`Detector::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Detector> {
        Detector::ALL.into_iter().filter(move |d| self.contains(*d))
    }
}

/// One validated identifier: `haystack[start..end]` (end exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    pub detector: Detector,
    pub start: usize,
    pub end: usize,
}

/// Whether any detector finds an identifier in `haystack` (for strings copied from payloads
/// into records: hostnames, paths, content types).
pub fn contains_identifier(haystack: &[u8]) -> bool {
    // Fast path: an e-mail address needs '@' (or "%40"), a card at least 12 digits, an IBAN
    // its country code and check digits ("LV80..."; some countries' accounts hold letters).
    let digits = haystack.iter().filter(|b| b.is_ascii_digit()).count();
    let iban_start = haystack.windows(4).any(|w| {
        w[0].is_ascii_alphabetic()
            && w[1].is_ascii_alphabetic()
            && w[2].is_ascii_digit()
            && w[3].is_ascii_digit()
    });
    if digits < 12 && !iban_start && !haystack.iter().any(|b| *b == b'@' || *b == b'%') {
        return false;
    }
    let mut all = DetectorSet::empty();
    for d in Detector::ALL {
        all.insert(d);
    }
    let mut out = Vec::new();
    scan(haystack, all, &mut out);
    !out.is_empty()
}

/// Appends every validated identifier found in `haystack` to `out` (in order of start offset).
/// Never panics on any input.
///
/// Matches of different detectors never overlap: if two do (e.g. a card-shaped digit group
/// inside a printed IBAN, or an all-digit e-mail local part), the one starting first (then the
/// longer one) is kept. Existing contents of `out` are left untouched.
pub fn scan(haystack: &[u8], set: DetectorSet, out: &mut Vec<Match>) {
    let base = out.len();
    let mut kinds = 0;
    if set.contains(Detector::Email) {
        scan_emails(haystack, out);
        kinds += 1;
    }
    if set.contains(Detector::PaymentCard) {
        scan_cards(haystack, out);
        kinds += 1;
    }
    if set.contains(Detector::Iban) {
        scan_ibans(haystack, out);
        kinds += 1;
    }
    if kinds < 2 {
        // A single matcher already yields sorted, disjoint matches.
        return;
    }
    let Some(tail) = out.get_mut(base..) else {
        return;
    };
    tail.sort_unstable_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then(b.end.cmp(&a.end))
            .then(a.detector.cmp(&b.detector))
    });
    // Drop overlaps in place (no allocation).
    let mut write = base;
    for read in base..out.len() {
        let m = out[read];
        if write > base && m.start < out[write - 1].end {
            continue;
        }
        out[write] = m;
        write += 1;
    }
    out.truncate(write);
}

/// Canonical form used for hashing, so the same identifier written differently hashes the same:
/// card -> digits only; IBAN -> uppercase alphanumerics without spaces; email -> lowercased
/// (a `%40`-encoded address is percent-decoded, so it equals the plain spelling).
pub fn canonical(d: Detector, raw: &[u8]) -> Vec<u8> {
    match d {
        Detector::PaymentCard => raw.iter().copied().filter(u8::is_ascii_digit).collect(),
        Detector::Iban => raw
            .iter()
            .copied()
            .filter(u8::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase())
            .collect(),
        Detector::Email => {
            let mut v = Vec::with_capacity(raw.len());
            match split_email(raw) {
                Some((local, domain, true)) => {
                    percent_decode_into(local, &mut v);
                    v.push(b'@');
                    v.extend_from_slice(domain);
                }
                _ => v.extend_from_slice(raw),
            }
            v.make_ascii_lowercase();
            v
        }
    }
}

/// Masked form safe to print. email: first char of local part + "***@" + domain
/// (e.g. "m***@example.org"); card: first 6 digits (BIN) + stars + last 4, digits only
/// (e.g. "411111******1111"); iban: country code + check digits + stars + last 4
/// (e.g. "DE89**************3000", length preserved, no spaces). Inputs too short to keep
/// anything hidden are fully starred; bytes that are not plausible identifier characters are
/// replaced, so the output is always printable ASCII.
pub fn mask(d: Detector, raw: &[u8]) -> String {
    match d {
        Detector::PaymentCard => {
            let digits = || raw.iter().copied().filter(u8::is_ascii_digit);
            keep_ends(digits(), digits().count(), 6, 4)
        }
        Detector::Iban => {
            let chars = || {
                raw.iter()
                    .copied()
                    .filter(u8::is_ascii_alphanumeric)
                    .map(|c| c.to_ascii_uppercase())
            };
            keep_ends(chars(), chars().count(), 4, 4)
        }
        Detector::Email => {
            let Some((local, domain, encoded)) = split_email(raw) else {
                return String::from("***");
            };
            let mut s = String::with_capacity(domain.len() + 5);
            let first = if encoded {
                let mut one = Vec::with_capacity(local.len());
                percent_decode_into(local, &mut one);
                one.first().copied()
            } else {
                local.first().copied()
            };
            if let Some(c) = first {
                s.push(if c.is_ascii_graphic() {
                    char::from(c)
                } else {
                    '*'
                });
            }
            s.push_str("***@");
            for &c in domain {
                s.push(if c.is_ascii_alphanumeric() || c == b'-' || c == b'.' {
                    char::from(c)
                } else {
                    '?'
                });
            }
            s
        }
    }
}

/// `len` characters from `it`, keeping the first `head` and last `tail`, starring the rest;
/// all stars if that would reveal everything.
fn keep_ends(it: impl Iterator<Item = u8>, len: usize, head: usize, tail: usize) -> String {
    let reveal = len > head + tail;
    it.enumerate()
        .map(|(i, c)| {
            if reveal && (i < head || i >= len - tail) {
                char::from(c)
            } else {
                '*'
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// E-mail
// ---------------------------------------------------------------------------------------------

const EMAIL_MAX: usize = 254;
const LOCAL_MAX: usize = 64;
const DOMAIN_MAX: usize = 253;
const LABEL_MAX: usize = 63;

/// RFC 5322 `atext` plus '.'.
fn is_local_char(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'.' | b'!'
                | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'/'
                | b'='
                | b'?'
                | b'^'
                | b'_'
                | b'`'
                | b'{'
                | b'|'
                | b'}'
                | b'~'
                | b'-'
        )
}

/// Legal local-part characters that, in the cleartext protocols scanned here, are nearly always
/// structure (`key=value&key=value`, `?query`, `/path`) rather than part of an address; the left
/// expansion stops at them. In a `%40`-encoded address `+` means a space, so it stops there too.
fn is_local_stop(c: u8, encoded: bool) -> bool {
    matches!(c, b'=' | b'&' | b'?' | b'/') || (encoded && c == b'+')
}

fn is_domain_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'.'
}

/// "TLDs" that are really file extensions (`icon@2x.png`); none is a delegated TLD.
fn is_file_extension(tld: &[u8]) -> bool {
    const EXT: [&[u8]; 10] = [
        b"png", b"jpg", b"jpeg", b"gif", b"svg", b"webp", b"ico", b"bmp", b"js", b"css",
    ];
    EXT.iter().any(|e| e.eq_ignore_ascii_case(tld))
}

fn scan_emails(h: &[u8], out: &mut Vec<Match>) {
    let mut i = 0;
    // The left expansion never reaches back into the previous match.
    let mut floor = 0;
    while i < h.len() {
        let Some(off) = h[i..].iter().position(|&c| c == b'@' || c == b'%') else {
            break;
        };
        i += off;
        let sep_len = match h[i] {
            b'@' => 1,
            b'%' if h.get(i + 1) == Some(&b'4') && h.get(i + 2) == Some(&b'0') => 3,
            _ => {
                i += 1;
                continue;
            }
        };
        match email_at(h, i, sep_len, floor) {
            Some((start, end)) => {
                out.push(Match {
                    detector: Detector::Email,
                    start,
                    end,
                });
                i = end;
                floor = end;
            }
            None => i += 1,
        }
    }
}

/// Tries an address around the separator at `at` ('@', or "%40" when `sep_len == 3`).
/// Bounded work: at most ~192 bytes left and 254 bytes right.
fn email_at(h: &[u8], at: usize, sep_len: usize, floor: usize) -> Option<(usize, usize)> {
    let encoded = sep_len == 3;
    // Raw bytes allowed for the local part (an encoded one may spell characters as %HH).
    let walk_max = if encoded { 3 * LOCAL_MAX } else { LOCAL_MAX };

    // Left: expand over local-part characters, stopping at a non-local char, a structural
    // delimiter, or a double dot.
    let mut k = at;
    while k > floor {
        let c = h[k - 1];
        if !is_local_char(c) || is_local_stop(c, encoded) {
            break;
        }
        // An earlier encoded '@' ends an encoded local part (keeps "a%40a%40a…" linear).
        if encoded && c == b'0' && k >= 3 && h[k - 3] == b'%' && h[k - 2] == b'4' {
            break;
        }
        if c == b'.' && k < at && h[k] == b'.' {
            break;
        }
        k -= 1;
        if at - k > walk_max {
            return None;
        }
    }
    // Trim leading punctuation (quotes, braces, a dot left by "..", ...): an address starts
    // with an alphanumeric or '_'. Encoded punctuation (`%22`) is trimmed as a unit.
    while k < at {
        let c = h[k];
        if c.is_ascii_alphanumeric() || c == b'_' {
            break;
        }
        if encoded && c == b'%' && k + 3 <= at {
            if let (Some(hi), Some(lo)) = (hex_val(h[k + 1]), hex_val(h[k + 2])) {
                let v = hi * 16 + lo;
                if v.is_ascii_alphanumeric() || v == b'_' {
                    break;
                }
                k += 3;
                continue;
            }
        }
        k += 1;
    }
    let local = h.get(k..at)?;
    if local.is_empty() || local.last() == Some(&b'.') {
        return None;
    }
    let local_len = if encoded {
        decoded_len(local)
    } else {
        local.len()
    };
    if local_len > LOCAL_MAX {
        return None;
    }

    // Right: domain characters, stopping at a double dot.
    let ds = at + sep_len;
    let mut j = ds;
    while j < h.len() {
        let c = h[j];
        if !is_domain_char(c) || (c == b'.' && j > ds && h[j - 1] == b'.') {
            break;
        }
        j += 1;
        if j - ds > DOMAIN_MAX + 1 {
            return None;
        }
    }
    // Sentence punctuation after an address ("mail jane@example.com.") is not part of it.
    let mut e = j;
    while e > ds && matches!(h[e - 1], b'.' | b'-') {
        e -= 1;
    }
    let domain = h.get(ds..e)?;
    if !valid_domain(domain) || local_len + 1 + domain.len() > EMAIL_MAX {
        return None;
    }
    Some((k, e))
}

fn valid_domain(d: &[u8]) -> bool {
    if d.is_empty() || d.len() > DOMAIN_MAX {
        return false;
    }
    let mut labels = 0usize;
    let mut tld: &[u8] = &[];
    for label in d.split(|&c| c == b'.') {
        if label.is_empty()
            || label.len() > LABEL_MAX
            || label.first() == Some(&b'-')
            || label.last() == Some(&b'-')
        {
            return false;
        }
        labels += 1;
        tld = label;
    }
    labels >= 2
        && tld.len() >= 2
        && tld.iter().all(u8::is_ascii_alphabetic)
        && !is_file_extension(tld)
}

/// Splits a matched address into (local, domain, encoded). The separator is the last '@' (or,
/// if there is none, the last "%40"): a domain contains neither.
fn split_email(raw: &[u8]) -> Option<(&[u8], &[u8], bool)> {
    if let Some(p) = raw.iter().rposition(|&c| c == b'@') {
        return Some((raw.get(..p)?, raw.get(p + 1..)?, false));
    }
    let p = raw.windows(3).rposition(|w| w == b"%40")?;
    Some((raw.get(..p)?, raw.get(p + 3..)?, true))
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes every valid `%HH`; other bytes are copied.
fn percent_decode_into(s: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' && i + 2 < s.len() {
            if let (Some(hi), Some(lo)) = (hex_val(s[i + 1]), hex_val(s[i + 2])) {
                out.push(hi * 16 + lo);
                i += 3;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
}

fn decoded_len(s: &[u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%'
            && i + 2 < s.len()
            && hex_val(s[i + 1]).is_some()
            && hex_val(s[i + 2]).is_some()
        {
            i += 3;
        } else {
            i += 1;
        }
        n += 1;
    }
    n
}

// ---------------------------------------------------------------------------------------------
// Payment cards
// ---------------------------------------------------------------------------------------------

const PAN_MIN: usize = 13;
const PAN_MAX: usize = 19;

fn digit_run_end(h: &[u8], mut i: usize) -> usize {
    while i < h.len() && h[i].is_ascii_digit() {
        i += 1;
    }
    i
}

fn is_digit_at(h: &[u8], i: usize) -> bool {
    h.get(i).is_some_and(u8::is_ascii_digit)
}

/// A digit run is only a candidate when it stands alone: not touching a letter or digit, and
/// not part of a decimal number or a hyphen-joined number chain ("1.4111…", "2024-4111…").
fn card_left_ok(h: &[u8], start: usize) -> bool {
    match start.checked_sub(1).and_then(|p| h.get(p)) {
        None => true,
        Some(&c) if c.is_ascii_alphanumeric() => false,
        Some(&c) => !(matches!(c, b'.' | b'-') && start >= 2 && is_digit_at(h, start - 2)),
    }
}

fn card_right_ok(h: &[u8], end: usize) -> bool {
    match h.get(end) {
        None => true,
        Some(&c) if c.is_ascii_alphanumeric() => false,
        Some(&c) => !(matches!(c, b'.' | b'-') && is_digit_at(h, end + 1)),
    }
}

fn scan_cards(h: &[u8], out: &mut Vec<Match>) {
    let n = h.len();
    let mut i = 0;
    while i < n {
        let Some(off) = h[i..].iter().position(u8::is_ascii_digit) else {
            break;
        };
        i += off;
        // `i` starts a digit run (the previous byte is not a digit).
        let start = i;
        let first_end = digit_run_end(h, start);
        let mut end = first_end;
        let mut total = first_end - start;
        // Grouped form: a first group of 4, then groups of 3..=6 joined by one consistent
        // separator (4-4-4-4, 4-4-4-4-3, 4-6-5, 4-6-4, 4-3-3-3, 4-4-5 ...).
        if total == 4 {
            if let Some(&sep) = h.get(first_end) {
                if (sep == b' ' || sep == b'-') && is_digit_at(h, first_end + 1) {
                    let mut pos = first_end;
                    while h.get(pos) == Some(&sep) && is_digit_at(h, pos + 1) {
                        let group_end = digit_run_end(h, pos + 1);
                        let len = group_end - (pos + 1);
                        if !(3..=6).contains(&len) {
                            break;
                        }
                        total += len;
                        pos = group_end;
                    }
                    end = pos;
                }
            }
        }
        // The whole run is consumed whether or not it validates: no sub-run is a candidate.
        i = end;
        if !(PAN_MIN..=PAN_MAX).contains(&total)
            || !card_left_ok(h, start)
            || !card_right_ok(h, end)
        {
            continue;
        }
        let mut digits = [0u8; PAN_MAX];
        let mut len = 0;
        for &c in &h[start..end] {
            if c.is_ascii_digit() {
                if let Some(slot) = digits.get_mut(len) {
                    *slot = c - b'0';
                    len += 1;
                }
            }
        }
        if valid_pan(&digits[..len]) {
            out.push(Match {
                detector: Detector::PaymentCard,
                start,
                end,
            });
        }
    }
}

/// `d` holds digit values (0..=9).
fn valid_pan(d: &[u8]) -> bool {
    if !(PAN_MIN..=PAN_MAX).contains(&d.len()) {
        return false;
    }
    if d.iter().all(|&x| Some(&x) == d.first()) {
        return false;
    }
    luhn_ok(d) && issuer_accepts(d)
}

fn luhn_ok(d: &[u8]) -> bool {
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            let x = u32::from(x);
            if i % 2 == 1 {
                let y = x * 2;
                if y > 9 {
                    y - 9
                } else {
                    y
                }
            } else {
                x
            }
        })
        .sum();
    sum % 10 == 0
}

/// Issuer identification number (prefix) and the lengths that issuer uses.
fn issuer_accepts(d: &[u8]) -> bool {
    let len = d.len();
    let prefix = |k: usize| -> u32 { d.iter().take(k).fold(0u32, |a, &x| a * 10 + u32::from(x)) };
    let (p1, p2, p3, p4, p6) = (prefix(1), prefix(2), prefix(3), prefix(4), prefix(6));
    // Visa
    if p1 == 4 {
        return matches!(len, 13 | 16 | 19);
    }
    // Mastercard
    if (51..=55).contains(&p2) || (2221..=2720).contains(&p4) {
        return len == 16;
    }
    // American Express
    if p2 == 34 || p2 == 37 {
        return len == 15;
    }
    // Discover
    if p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 {
        return (16..=19).contains(&len);
    }
    // JCB
    if (3528..=3589).contains(&p4) {
        return (16..=19).contains(&len);
    }
    // Diners Club
    if (300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39 {
        return (14..=19).contains(&len);
    }
    // UnionPay
    if p2 == 62 {
        return (16..=19).contains(&len);
    }
    // Maestro (12-digit Maestro is below the 13-digit minimum and not detected)
    if p2 == 50
        || (56..=58).contains(&p2)
        || p4 == 6304
        || p4 == 6759
        || p6 == 676_770
        || p6 == 676_774
    {
        return (13..=19).contains(&len);
    }
    false
}

// ---------------------------------------------------------------------------------------------
// IBAN
// ---------------------------------------------------------------------------------------------

const IBAN_MAX: usize = 34;
/// Shortest IBAN in the registry (Norway).
const IBAN_MIN: usize = 15;

fn is_iban_char(c: u8) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit()
}

fn scan_ibans(h: &[u8], out: &mut Vec<Match>) {
    let mut i = 0;
    let n = h.len();
    while i + 4 <= n {
        let Some(off) = h[i..n - 3].iter().position(u8::is_ascii_uppercase) else {
            break;
        };
        i += off;
        let head =
            h[i + 1].is_ascii_uppercase() && h[i + 2].is_ascii_digit() && h[i + 3].is_ascii_digit();
        if head && (i == 0 || !h[i - 1].is_ascii_alphanumeric()) {
            if let Some(end) = iban_at(h, i) {
                out.push(Match {
                    detector: Detector::Iban,
                    start: i,
                    end,
                });
                i = end;
                continue;
            }
        }
        i += 1;
    }
}

/// Incremental ISO 7064 mod-97-10 over an IBAN being read left to right: the BBAN is folded in
/// as it arrives and the rearranged "CCdd" tail is applied per candidate length, so trying every
/// candidate end costs one pass. Only candidates passing it reach `iban_validate`.
struct Mod97 {
    /// "CCdd" as the number it stands for in the rearranged IBAN (letters are 10..=35).
    tail: u32,
    /// BBAN read so far, congruent mod 97.
    rem: u64,
}

impl Mod97 {
    fn new(head: &[u8]) -> Mod97 {
        let tail = head.iter().fold(0u32, |acc, &c| {
            let (v, scale) = iban_char_value(c);
            acc * scale + v
        });
        Mod97 { tail, rem: 0 }
    }

    fn push(&mut self, c: u8) {
        let (v, scale) = iban_char_value(c);
        // Reduced lazily: stays below 2^40 after a reduction, so one step never overflows.
        self.rem = self.rem * u64::from(scale) + u64::from(v);
        if self.rem >= 1 << 40 {
            self.rem %= 97;
        }
    }

    fn ok(&self) -> bool {
        ((self.rem % 97) * 1_000_000 + u64::from(self.tail)) % 97 == 1
    }
}

/// Value of an IBAN character in the mod-97 expansion and the power of ten it occupies
/// (digit -> 1 decimal digit, letter A..Z -> 10..=35, 2 decimal digits).
fn iban_char_value(c: u8) -> (u32, u32) {
    if c.is_ascii_digit() {
        (u32::from(c - b'0'), 10)
    } else {
        (
            u32::from(c.to_ascii_uppercase().wrapping_sub(b'A')) % 26 + 10,
            100,
        )
    }
}

/// Tries an IBAN starting at `start` (which holds "CCdd"); returns its end.
fn iban_at(h: &[u8], start: usize) -> Option<usize> {
    let head = h.get(start..start + 4)?;
    let mut buf = [0u8; IBAN_MAX];
    buf[..4].copy_from_slice(head);
    let mut len = 4;
    let mut m97 = Mod97::new(head);
    let after_head = start + 4;

    let grouped = h.get(after_head) == Some(&b' ')
        && h.get(after_head + 1).is_some_and(u8::is_ascii_alphanumeric);
    if !grouped {
        // Electronic form: the whole uppercase/digit run, not followed by any alphanumeric.
        let mut j = after_head;
        while j < h.len() && is_iban_char(h[j]) {
            *buf.get_mut(len)? = h[j];
            m97.push(h[j]);
            len += 1;
            j += 1;
        }
        if h.get(j).is_some_and(u8::is_ascii_alphanumeric) {
            return None;
        }
        return (m97.ok() && iban_valid(&buf[..len])).then_some(j);
    }

    // Paper form: groups of exactly four after single spaces, the last one may be shorter.
    // Every group end is a possible end (the country fixes the length); try longest first.
    // (byte end, electronic length, mod-97 ok)
    let mut ends = [(0usize, 0usize, false); IBAN_MAX / 4 + 1];
    let mut n_ends = 0;
    let mut pos = after_head;
    while h.get(pos) == Some(&b' ') && h.get(pos + 1).is_some_and(u8::is_ascii_alphanumeric) {
        let gs = pos + 1;
        let mut ge = gs;
        while ge < h.len() && h[ge].is_ascii_alphanumeric() && ge - gs <= 4 {
            ge += 1;
        }
        let group = &h[gs..ge];
        if group.len() > 4
            || !group.iter().all(|&c| is_iban_char(c))
            || len + group.len() > IBAN_MAX
        {
            break;
        }
        for &c in group {
            buf[len] = c;
            m97.push(c);
            len += 1;
        }
        let Some(slot) = ends.get_mut(n_ends) else {
            break;
        };
        *slot = (ge, len, m97.ok());
        n_ends += 1;
        pos = ge;
        if group.len() < 4 {
            break;
        }
    }
    ends[..n_ends]
        .iter()
        .rev()
        .find(|&&(_, l, ok)| ok && iban_valid(&buf[..l]))
        .map(|&(end, _, _)| end)
}

/// Country-specific length/format and mod-97, via `iban_validate`.
fn iban_valid(electronic: &[u8]) -> bool {
    if !(IBAN_MIN..=IBAN_MAX).contains(&electronic.len()) {
        return false;
    }
    match core::str::from_utf8(electronic) {
        Ok(s) => s.parse::<iban::Iban>().is_ok(),
        Err(_) => false,
    }
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path of `contains_identifier` never hides what `scan` finds.
    #[test]
    fn contains_identifier_fast_path_misses_nothing() {
        for hit in [
            "maria.garcia@example.org",
            "/u/maria.garcia%40example.org",
            "NO9386011117947",
            "NO93 8601 1117 947",
            "4111 1111 1111 1111",
            "GB82WEST12345698765432",
            "LV80BANK0000435195001",
            "QA58DOHB00001234567890ABCDEFG",
        ] {
            assert!(contains_identifier(hit.as_bytes()), "{hit}");
        }
        for miss in [
            "api.example.eu",
            "text/html; charset=utf-8",
            "/v1/records/12345",
        ] {
            assert!(!contains_identifier(miss.as_bytes()), "{miss}");
        }
    }
    use Detector::{Email, Iban, PaymentCard};

    fn set_of(ds: &[Detector]) -> DetectorSet {
        let mut s = DetectorSet::empty();
        for &d in ds {
            s.insert(d);
        }
        s
    }

    fn all() -> DetectorSet {
        set_of(&Detector::ALL)
    }

    fn check(input: &str, set: DetectorSet, expected: &[(Detector, &str)]) {
        let mut out = Vec::new();
        scan(input.as_bytes(), set, &mut out);
        let got: Vec<(Detector, &str)> = out
            .iter()
            .map(|m| (m.detector, &input[m.start..m.end]))
            .collect();
        assert_eq!(got, expected, "input: {input:?}");
    }

    fn check_table(set: DetectorSet, table: &[(&str, &[(Detector, &str)])]) {
        for (input, expected) in table {
            check(input, set, expected);
        }
    }

    #[test]
    fn detector_names_round_trip() {
        for d in Detector::ALL {
            assert_eq!(Detector::from_name(d.name()), Some(d));
        }
        assert_eq!(Email.name(), "email");
        assert_eq!(PaymentCard.name(), "payment_card");
        assert_eq!(Iban.name(), "iban");
        assert_eq!(Detector::from_name("card"), None);
        assert_eq!(Detector::from_name("EMAIL"), None);
        assert_eq!(Detector::from_name(""), None);
    }

    #[test]
    fn detector_set_ops() {
        let mut s = DetectorSet::empty();
        assert!(s.is_empty());
        assert_eq!(s, DetectorSet::default());
        assert_eq!(s.iter().count(), 0);
        s.insert(Iban);
        s.insert(Iban);
        assert!(s.contains(Iban) && !s.contains(Email) && !s.is_empty());
        let u = s.union(set_of(&[Email]));
        assert_eq!(u.iter().collect::<Vec<_>>(), vec![Email, Iban]);
        assert_eq!(all().iter().collect::<Vec<_>>(), Detector::ALL.to_vec());
    }

    #[test]
    fn cards_valid_brands() {
        let s = set_of(&[PaymentCard]);
        check_table(
            s,
            &[
                ("4111111111111111", &[(PaymentCard, "4111111111111111")]),
                ("visa 4222222222222 (13)", &[(PaymentCard, "4222222222222")]),
                (
                    "visa19=4111111111111111110;",
                    &[(PaymentCard, "4111111111111111110")],
                ),
                ("mc 5555555555554444", &[(PaymentCard, "5555555555554444")]),
                (
                    "mc2 2223003122003222.",
                    &[(PaymentCard, "2223003122003222")],
                ),
                ("amex 378282246310005", &[(PaymentCard, "378282246310005")]),
                (
                    "disc 6011111111111117",
                    &[(PaymentCard, "6011111111111117")],
                ),
                (
                    "disc19 6011000000000000001",
                    &[(PaymentCard, "6011000000000000001")],
                ),
                ("jcb 3530111333300000", &[(PaymentCard, "3530111333300000")]),
                ("diners 30569309025904", &[(PaymentCard, "30569309025904")]),
                (
                    "unionpay 6200000000000005",
                    &[(PaymentCard, "6200000000000005")],
                ),
                (
                    "maestro 6759649826438453",
                    &[(PaymentCard, "6759649826438453")],
                ),
                (
                    "maestro15 500000000000005",
                    &[(PaymentCard, "500000000000005")],
                ),
            ],
        );
    }

    #[test]
    fn cards_grouped_and_in_context() {
        let s = set_of(&[PaymentCard]);
        check_table(
            s,
            &[
                (
                    "4111 1111 1111 1111",
                    &[(PaymentCard, "4111 1111 1111 1111")],
                ),
                (
                    "4111-1111-1111-1111",
                    &[(PaymentCard, "4111-1111-1111-1111")],
                ),
                (
                    "Amex: 3782 822463 10005 exp",
                    &[(PaymentCard, "3782 822463 10005")],
                ),
                (
                    "Amex 3782-822463-10005",
                    &[(PaymentCard, "3782-822463-10005")],
                ),
                (
                    "diners 3056 930902 5904",
                    &[(PaymentCard, "3056 930902 5904")],
                ),
                (
                    "{\"pan\":\"5555555555554444\"}",
                    &[(PaymentCard, "5555555555554444")],
                ),
                (
                    "card=4111111111111111&cvv=123",
                    &[(PaymentCard, "4111111111111111")],
                ),
                ("card=4111+1111+1111+1111", &[]),
                (
                    "[4111111111111111,5555555555554444]",
                    &[
                        (PaymentCard, "4111111111111111"),
                        (PaymentCard, "5555555555554444"),
                    ],
                ),
                (
                    "a 4111111111111111 b 4111-1111-1111-1111 c",
                    &[
                        (PaymentCard, "4111111111111111"),
                        (PaymentCard, "4111-1111-1111-1111"),
                    ],
                ),
                // A short space-separated field after the number is not part of it.
                (
                    "4111 1111 1111 1111 12/27",
                    &[(PaymentCard, "4111 1111 1111 1111")],
                ),
                (
                    "4111-1111-1111-1111 4111 1111 1111 1111",
                    &[
                        (PaymentCard, "4111-1111-1111-1111"),
                        (PaymentCard, "4111 1111 1111 1111"),
                    ],
                ),
            ],
        );
    }

    #[test]
    fn cards_rejected() {
        let s = set_of(&[PaymentCard]);
        check_table(
            s,
            &[
                // Luhn-invalid
                ("4111111111111112", &[]),
                ("5555 5555 5555 4445", &[]),
                ("378282246310006", &[]),
                // Luhn-valid but wrong length for the brand
                ("amex16 3714496353984314", &[]),
                ("visa15 411111111111116", &[]),
                ("visa17 41111111111111113", &[]),
                ("mc15 555555555555442", &[]),
                // Unknown issuer prefix
                ("9111111111111110", &[]),
                // All same digit
                ("0000000000000000", &[]),
                ("0000 0000 0000 0000", &[]),
                // Embedded in longer digit runs or tokens
                ("14111111111111111", &[]),
                ("41111111111111111", &[]),
                ("12345678904111111111111111", &[]),
                ("id=a4111111111111111", &[]),
                ("4111111111111111x", &[]),
                ("_4111111111111111", &[(PaymentCard, "4111111111111111")]),
                ("1.4111111111111111", &[]),
                ("4111111111111111.25", &[]),
                ("2024-4111111111111111", &[]),
                ("4111111111111111-2", &[]),
                // Inconsistent or odd grouping
                ("4111 1111-1111 1111", &[]),
                ("4111  1111 1111 1111", &[]),
                ("41 11 11 11 11 11 11 11", &[]),
                ("41111111 11111111", &[]),
                ("4111-1111-1111-1111-12", &[]),
                // Too many digits when grouped
                ("4111 1111 1111 1111 1111", &[]),
                ("1234 4111 1111 1111 1111", &[]),
                // Too short
                ("411111111111", &[]),
            ],
        );
    }

    #[test]
    fn ibans() {
        let s = set_of(&[Iban]);
        check_table(
            s,
            &[
                (
                    "DE89370400440532013000",
                    &[(Iban, "DE89370400440532013000")],
                ),
                (
                    "iban: GB82WEST12345698765432.",
                    &[(Iban, "GB82WEST12345698765432")],
                ),
                (
                    "FR1420041010050500013M02606",
                    &[(Iban, "FR1420041010050500013M02606")],
                ),
                (
                    "{\"iban\":\"NL91ABNA0417164300\"}",
                    &[(Iban, "NL91ABNA0417164300")],
                ),
                (
                    "iban=DE89370400440532013000&x=1",
                    &[(Iban, "DE89370400440532013000")],
                ),
                (
                    "DE89 3704 0044 0532 0130 00",
                    &[(Iban, "DE89 3704 0044 0532 0130 00")],
                ),
                (
                    "pay to DE89 3704 0044 0532 0130 00 today",
                    &[(Iban, "DE89 3704 0044 0532 0130 00")],
                ),
                (
                    "GB82 WEST 1234 5698 7654 32",
                    &[(Iban, "GB82 WEST 1234 5698 7654 32")],
                ),
                (
                    "FR14 2004 1010 0505 0001 3M02 606",
                    &[(Iban, "FR14 2004 1010 0505 0001 3M02 606")],
                ),
                // Greedy grouping must stop at the country length (NL = 18, a multiple-of-4 end).
                (
                    "NL91 ABNA 0417 1643 00 1234",
                    &[(Iban, "NL91 ABNA 0417 1643 00")],
                ),
                ("NL91 ABNA 0417 1643 0012 34", &[]),
                ("DE89 3704 0044 0532 0130 0012", &[]),
                (
                    "two: DE89370400440532013000,GB82WEST12345698765432",
                    &[
                        (Iban, "DE89370400440532013000"),
                        (Iban, "GB82WEST12345698765432"),
                    ],
                ),
            ],
        );
    }

    #[test]
    fn ibans_rejected() {
        let s = set_of(&[Iban]);
        check_table(
            s,
            &[
                // Checksum
                ("DE88370400440532013000", &[]),
                ("GB82WEST12345698765431", &[]),
                ("DE88 3704 0044 0532 0130 00", &[]),
                // mod-97 valid, wrong length for the country
                ("DE813704004405320130000", &[]),
                ("DE5137040044053201300", &[]),
                ("NL06ABNA04171643001", &[]),
                // mod-97 valid, unknown country
                ("XX46370400440532013000", &[]),
                // Lowercase / glued to other alphanumerics
                ("de89370400440532013000", &[]),
                ("DE89370400440532013000a", &[]),
                ("xDE89370400440532013000", &[]),
                ("1DE89370400440532013000", &[]),
                ("DE89370400440532013000X", &[]),
                // Broken grouping
                ("DE89 370400440532013000", &[]),
                ("DE89  3704 0044 0532 0130 00", &[]),
                ("DE89 3704 0044 0532 0130 00x", &[]),
            ],
        );
    }

    #[test]
    fn emails() {
        let s = set_of(&[Email]);
        check_table(
            s,
            &[
                ("jane.doe@example.com", &[(Email, "jane.doe@example.com")]),
                (
                    "{\"email\":\"jane.doe@example.com\"}",
                    &[(Email, "jane.doe@example.com")],
                ),
                (
                    "email=jane.doe%40example.com&x=1",
                    &[(Email, "jane.doe%40example.com")],
                ),
                (
                    "email=jane%2Btag%40example.com",
                    &[(Email, "jane%2Btag%40example.com")],
                ),
                (
                    "msg=Contact+me+at+jane%40example.com",
                    &[(Email, "jane%40example.com")],
                ),
                (
                    "to: jane+news@example.com",
                    &[(Email, "jane+news@example.com")],
                ),
                (
                    "From: Jane <jane_doe-1@mail.eu.example.co.uk>",
                    &[(Email, "jane_doe-1@mail.eu.example.co.uk")],
                ),
                (
                    "GET /u?email=Jane@Example.ORG HTTP/1.1",
                    &[(Email, "Jane@Example.ORG")],
                ),
                (
                    "mailto:o'brien@example.ie",
                    &[(Email, "o'brien@example.ie")],
                ),
                ("'jane@example.com'", &[(Email, "jane@example.com")]),
                ("write to jane@example.com.", &[(Email, "jane@example.com")]),
                ("see...jane@example.com", &[(Email, "jane@example.com")]),
                ("a@b.co c@d.io", &[(Email, "a@b.co"), (Email, "c@d.io")]),
                ("q=a%40b%40example.com", &[(Email, "b%40example.com")]),
                (
                    "q=%22jane%40example.com%22",
                    &[(Email, "jane%40example.com")],
                ),
                (
                    "x@xn--bcher-kva.example",
                    &[(Email, "x@xn--bcher-kva.example")],
                ),
            ],
        );
    }

    #[test]
    fn emails_rejected() {
        let s = set_of(&[Email]);
        check_table(
            s,
            &[
                ("a@b", &[]),
                ("foo@bar.c", &[]),
                ("x@-bad.com", &[]),
                ("x@bad-.com", &[]),
                ("@example.com", &[]),
                ("jane.@example.com", &[]),
                ("jane@example.", &[]),
                ("jane@example..com", &[]),
                ("jane@.example.com", &[]),
                ("jane@example.c0m", &[]),
                ("jane@example.123", &[]),
                ("icon@2x.png", &[]),
                ("%40example.com", &[]),
                ("user@localhost", &[]),
                ("a@@example.com", &[]),
            ],
        );
        // Local part too long (65), label too long (64).
        let long_local = format!("{}@example.com", "a".repeat(65));
        check(&long_local, s, &[]);
        let ok_local = format!("{}@example.com", "a".repeat(64));
        check(&ok_local, s, &[(Email, ok_local.as_str())]);
        let long_label = format!("a@{}.com", "b".repeat(64));
        check(&long_label, s, &[]);
        // Total length > 254.
        let long_total = format!(
            "{}@{}.{}.{}.{}.com",
            "a".repeat(64),
            "b".repeat(60),
            "c".repeat(60),
            "d".repeat(60),
            "e".repeat(5)
        );
        assert!(long_total.len() > 254);
        check(&long_total, s, &[]);
    }

    #[test]
    fn mixed_detectors_ordered_and_disjoint() {
        let input =
            "iban=DE89370400440532013000&email=m.x%40example.org&card=4111 1111 1111 1111 x@y.de";
        check(
            input,
            all(),
            &[
                (Iban, "DE89370400440532013000"),
                (Email, "m.x%40example.org"),
                (PaymentCard, "4111 1111 1111 1111"),
                (Email, "x@y.de"),
            ],
        );
        // A Luhn/IIN-valid digit group inside a printed IBAN is the IBAN, not a card.
        check(
            "DE89 4111 1111 1111 1111 11",
            all(),
            &[(Iban, "DE89 4111 1111 1111 1111 11")],
        );
        check(
            "DE89 4111 1111 1111 1111 11",
            set_of(&[PaymentCard]),
            &[(PaymentCard, "4111 1111 1111 1111")],
        );
        // An all-digit e-mail local part is the e-mail.
        check(
            "4111111111111111@example.com",
            all(),
            &[(Email, "4111111111111111@example.com")],
        );
        check(
            "4111111111111111@example.com",
            set_of(&[PaymentCard]),
            &[(PaymentCard, "4111111111111111")],
        );
        // Existing contents of `out` are preserved.
        let mut out = vec![Match {
            detector: Iban,
            start: 99,
            end: 100,
        }];
        scan(b"x 4111111111111111 jane@example.com", all(), &mut out);
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].start, 99);
        // Empty set finds nothing.
        let mut out = Vec::new();
        scan(
            b"4111111111111111 jane@example.com DE89370400440532013000",
            DetectorSet::empty(),
            &mut out,
        );
        assert!(out.is_empty());
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(
            canonical(PaymentCard, b"4111 1111-1111 1111"),
            b"4111111111111111"
        );
        assert_eq!(
            canonical(PaymentCard, b"3782 822463 10005"),
            b"378282246310005"
        );
        assert_eq!(
            canonical(Iban, b"DE89 3704 0044 0532 0130 00"),
            b"DE89370400440532013000"
        );
        assert_eq!(
            canonical(Iban, b"gb82 west 1234 5698 7654 32"),
            b"GB82WEST12345698765432"
        );
        assert_eq!(
            canonical(Email, b"Jane.Doe@Example.COM"),
            b"jane.doe@example.com"
        );
        assert_eq!(
            canonical(Email, b"jane.doe%40example.com"),
            b"jane.doe@example.com"
        );
        assert_eq!(
            canonical(Email, b"Jane%2BTag%40Example.com"),
            b"jane+tag@example.com"
        );
        assert_eq!(
            canonical(Email, b"jane+tag@example.com"),
            b"jane+tag@example.com"
        );
        // A literal '%' in a plain address is kept.
        assert_eq!(canonical(Email, b"a%2Bb@example.com"), b"a%2bb@example.com");
    }

    #[test]
    fn mask_forms() {
        assert_eq!(mask(PaymentCard, b"4111111111111111"), "411111******1111");
        assert_eq!(
            mask(PaymentCard, b"4111 1111 1111 1111"),
            "411111******1111"
        );
        assert_eq!(mask(PaymentCard, b"3782 822463 10005"), "378282*****0005");
        assert_eq!(mask(PaymentCard, b"4222222222222"), "422222***2222");
        assert_eq!(
            mask(PaymentCard, b"4111111111111111110"),
            "411111*********1110"
        );
        assert_eq!(
            mask(Iban, b"DE89370400440532013000"),
            "DE89**************3000"
        );
        assert_eq!(
            mask(Iban, b"DE89 3704 0044 0532 0130 00"),
            "DE89**************3000"
        );
        assert_eq!(mask(Iban, b"NL91ABNA0417164300"), "NL91**********4300");
        assert_eq!(mask(Email, b"m.x@example.org"), "m***@example.org");
        assert_eq!(mask(Email, b"jane.doe%40example.com"), "j***@example.com");
        assert_eq!(mask(Email, b"%6Aane%40example.com"), "j***@example.com");
        // Degenerate inputs never reveal the value and stay printable.
        assert_eq!(mask(PaymentCard, b"1234567890"), "**********");
        assert_eq!(mask(Iban, b"DE89"), "****");
        assert_eq!(mask(Email, b"no-separator"), "***");
        assert_eq!(mask(Email, b"\xff@ex\x00ample.com"), "****@ex?ample.com");
    }

    #[test]
    fn found_values_mask_and_canonicalize_consistently() {
        let input =
            "a=4111-1111-1111-1111&b=4111111111111111&c=Jane%40Example.com&d=jane@example.com \
                     e=DE89 3704 0044 0532 0130 00 f=DE89370400440532013000";
        let mut out = Vec::new();
        scan(input.as_bytes(), all(), &mut out);
        assert_eq!(out.len(), 6);
        for pair in out.chunks(2) {
            let a = &input.as_bytes()[pair[0].start..pair[0].end];
            let b = &input.as_bytes()[pair[1].start..pair[1].end];
            assert_eq!(pair[0].detector, pair[1].detector);
            assert_eq!(
                canonical(pair[0].detector, a),
                canonical(pair[1].detector, b)
            );
        }
    }

    /// Deterministic LCG (Numerical Recipes constants).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
    }

    fn assert_well_formed(h: &[u8], out: &[Match]) {
        let mut prev_end = 0;
        for m in out {
            assert!(m.start < m.end && m.end <= h.len());
            assert!(m.start >= prev_end, "sorted and disjoint");
            prev_end = m.end;
            let raw = &h[m.start..m.end];
            let masked = mask(m.detector, raw);
            assert!(masked.bytes().all(|c| c.is_ascii_graphic()));
            assert!(!canonical(m.detector, raw).is_empty());
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = Lcg(0x5eed);
        let buf: Vec<u8> = (0..1 << 20).map(|_| rng.next() as u8).collect();
        let mut out = Vec::new();
        scan(&buf, all(), &mut out);
        assert_well_formed(&buf, &out);

        // Biased towards the interesting alphabet, so every code path is exercised.
        const ALPHA: &[u8] = b"0123456789     ----....@@%40ABDEGNLFRWSTabcxyz_+=&'\"\xff\x00";
        let buf: Vec<u8> = (0..1 << 20)
            .map(|_| ALPHA[rng.next() as usize % ALPHA.len()])
            .collect();
        out.clear();
        scan(&buf, all(), &mut out);
        assert_well_formed(&buf, &out);

        // Every byte value, alone, around and inside identifiers.
        let every: Vec<u8> = (0..=255u8).collect();
        out.clear();
        scan(&every, all(), &mut out);
        assert_well_formed(&every, &out);
        let seeds: [&[u8]; 5] = [
            b"4111 1111 1111 111",
            b"DE89 3704 0044 0532 0130 0",
            b"jane@example.co",
            b"jane%4",
            b"%",
        ];
        for b in 0..=255u8 {
            for seed in seeds {
                for at in [0, seed.len() / 2, seed.len()] {
                    let mut v = seed.to_vec();
                    v.insert(at, b);
                    out.clear();
                    scan(&v, all(), &mut out);
                    assert_well_formed(&v, &out);
                    for d in Detector::ALL {
                        let _ = mask(d, &v);
                        let _ = canonical(d, &v);
                    }
                }
            }
            for d in Detector::ALL {
                let _ = mask(d, &[b]);
                let _ = canonical(d, &[b]);
            }
        }
        for d in Detector::ALL {
            assert_eq!(mask(d, b""), if d == Email { "***" } else { "" });
            assert!(canonical(d, b"").is_empty());
        }
        // Random slices through mask/canonical.
        for _ in 0..10_000 {
            let a = rng.next() as usize % buf.len();
            let len = rng.next() as usize % 300;
            let s = &buf[a..(a + len).min(buf.len())];
            for d in Detector::ALL {
                assert!(mask(d, s).is_ascii());
                let _ = canonical(d, s);
            }
        }
    }

    /// Worst-case shapes for the matchers' expansion loops: they must stay well-formed (their
    /// cost is measured in benches/pipeline.rs, never asserted on the wall clock).
    #[test]
    fn adversarial_inputs_are_scanned_correctly() {
        let patterns: [&[u8]; 10] = [
            b"@", b"%40", b"a%40", b"a@", b"a.", b"4111 ", b"1", b"DE89 ", b"DE89", b"a@b.",
        ];
        for p in patterns {
            let buf: Vec<u8> = p.iter().copied().cycle().take(64 * 1024).collect();
            let mut out = Vec::new();
            scan(&buf, all(), &mut out);
            assert_well_formed(&buf, &out);
        }
    }
}
