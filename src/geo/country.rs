//! Country codes and sets of them: [`Country`] (two ASCII uppercase letters) and [`CountrySet`],
//! a fixed-size bitset over all 676 two-letter codes so membership tests on the hot path are one
//! shift and mask. Also the list of assigned ISO 3166-1 alpha-2 codes used to validate config.

use std::fmt;

/// An ISO 3166-1 alpha-2 code (or any two uppercase letters a database returns).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country([u8; 2]);

/// ISO 3166-1 alpha-2 officially assigned codes (249, from the ISO 3166 Maintenance Agency list
/// as shipped in pycountry 24.6), plus XK (Kosovo, user-assigned but used by the RIRs and
/// commercial databases).
const ASSIGNED: &str =
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ \
BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE \
DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS \
GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW \
KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW \
MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO \
RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM \
TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW XK";

impl Country {
    /// Two ASCII letters, case-insensitive; anything else is `None`.
    pub fn parse(s: &str) -> Option<Country> {
        match s.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Some(Country([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => None,
        }
    }

    /// Whether this is an assigned ISO 3166-1 alpha-2 code (or XK).
    pub fn is_assigned(self) -> bool {
        ASSIGNED.split(' ').any(|c| c.as_bytes() == self.0)
    }

    pub fn as_str(&self) -> &str {
        // Constructed only from ASCII letters.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    fn index(self) -> usize {
        usize::from(self.0[0] - b'A') * 26 + usize::from(self.0[1] - b'A')
    }

    fn from_index(i: usize) -> Country {
        Country([b'A' + (i / 26) as u8, b'A' + (i % 26) as u8])
    }
}

impl fmt::Debug for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Country {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A set of countries.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CountrySet([u64; 11]);

impl CountrySet {
    pub fn new() -> CountrySet {
        CountrySet::default()
    }

    pub fn insert(&mut self, c: Country) {
        let i = c.index();
        self.0[i / 64] |= 1 << (i % 64);
    }

    pub fn contains(&self, c: Country) -> bool {
        let i = c.index();
        self.0[i / 64] & (1 << (i % 64)) != 0
    }

    pub fn extend(&mut self, other: &CountrySet) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a |= *b;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }

    pub fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn iter(&self) -> impl Iterator<Item = Country> + '_ {
        (0..676)
            .filter(|i| self.0[i / 64] & (1 << (i % 64)) != 0)
            .map(Country::from_index)
    }
}

impl fmt::Debug for CountrySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_validate() {
        assert_eq!(
            Country::parse("de").map(|c| c.to_string()),
            Some("DE".to_string())
        );
        assert!(Country::parse("DEU").is_none());
        assert!(Country::parse("D1").is_none());
        assert!(Country::parse("DE").is_some_and(Country::is_assigned));
        assert!(!Country::parse("ZZ").is_some_and(Country::is_assigned));
        assert!(!Country::parse("EU").is_some_and(Country::is_assigned));
        assert_eq!(ASSIGNED.split(' ').count(), 250);
    }

    #[test]
    fn set_membership_covers_every_code() {
        let mut s = CountrySet::new();
        let aa = Country::parse("AA");
        let zz = Country::parse("ZZ");
        for c in [aa, zz].into_iter().flatten() {
            s.insert(c);
        }
        assert_eq!(s.len(), 2);
        assert!(zz.is_some_and(|c| s.contains(c)));
        assert!(!Country::parse("US").is_some_and(|c| s.contains(c)));
        assert_eq!(
            s.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            ["AA", "ZZ"]
        );
    }
}
