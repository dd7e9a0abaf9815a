//! Geo: address -> jurisdiction. Owns the resolution order (site overrides, addresses that embed
//! IPv4, IANA special-purpose ranges, databases in configured order), the bundled database and a
//! bounded per-worker answer cache. It never sees packets or flows, and never lets a database
//! place a special-purpose address (only an override can).

pub mod country;
pub mod db;
pub mod special;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;

use ipnet::IpNet;
use lru::LruCache;
use serde::Serialize;

pub use country::{Country, CountrySet};
pub use db::{Database, DbError, Record};
pub use special::SpecialRange;

/// Runtime geo settings (compiled from `[geo]`).
#[derive(Debug, Clone, PartialEq)]
pub struct GeoConfig {
    /// User databases in priority order; empty means the bundled one.
    pub databases: Vec<PathBuf>,
    /// Run the reader's full verification walk when opening user databases.
    pub verify: bool,
    /// Entries in each worker's answer cache.
    pub cache_size: usize,
    /// Site overrides; the most specific network wins.
    pub overrides: Vec<(IpNet, Country)>,
}

impl Default for GeoConfig {
    fn default() -> Self {
        GeoConfig {
            databases: Vec::new(),
            verify: true,
            cache_size: 65_536,
            overrides: Vec::new(),
        }
    }
}

/// Where a country came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Override,
    /// Index into [`GeoDb::databases`].
    Database(usize),
    /// No country: special-purpose range without override, or in no database.
    None,
}

/// How an IPv6 address embeds the IPv4 address it was geolocated by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Embedded {
    /// 64:ff9b::/96 (RFC 6052).
    Nat64,
    /// ::ffff:0:0/96.
    Ipv4Mapped,
    /// 2002::/16 (RFC 3056).
    SixToFour,
}

/// The answer for one address. Small and `Copy`, so it is cached and stored on flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub country: Option<Country>,
    pub source: Source,
    /// Special-purpose range of the address that was looked up (after IPv4 extraction).
    pub special: Option<&'static SpecialRange>,
    pub embedded: Option<(Embedded, Ipv4Addr)>,
}

/// Open databases and overrides; shared read-only by every worker.
#[derive(Debug)]
pub struct GeoDb {
    pub databases: Vec<Database>,
    overrides: Vec<(IpNet, Country)>,
}

#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    #[error(transparent)]
    Db(#[from] DbError),
}

impl GeoDb {
    /// Opens the configured databases (or the bundled one).
    pub fn open(cfg: &GeoConfig) -> Result<GeoDb, GeoError> {
        let databases = if cfg.databases.is_empty() {
            vec![Database::bundled()?]
        } else {
            cfg.databases
                .iter()
                .map(|p| Database::open(p, cfg.verify))
                .collect::<Result<_, _>>()?
        };
        let mut overrides = cfg.overrides.clone();
        // Most specific first, so the first match wins.
        overrides.sort_by_key(|o| std::cmp::Reverse(o.0.prefix_len()));
        Ok(GeoDb {
            databases,
            overrides,
        })
    }

    pub fn source_name(&self, s: Source) -> Option<&str> {
        match s {
            Source::Override => Some("override"),
            Source::Database(i) => self.databases.get(i).map(|d| d.name.as_str()),
            Source::None => None,
        }
    }

    fn override_for(&self, ip: IpAddr) -> Option<Country> {
        self.overrides
            .iter()
            .find(|(n, _)| n.contains(&ip))
            .map(|(_, c)| *c)
    }

    /// Resolves one address (uncached).
    pub fn resolve(&self, ip: IpAddr) -> Answer {
        if let Some(c) = self.override_for(ip) {
            return Answer {
                country: Some(c),
                source: Source::Override,
                special: None,
                embedded: None,
            };
        }
        let embedded = match ip {
            IpAddr::V6(v6) => embedded_v4(v6),
            IpAddr::V4(_) => None,
        };
        let target = match embedded {
            Some((_, v4)) => {
                let t = IpAddr::V4(v4);
                if let Some(c) = self.override_for(t) {
                    return Answer {
                        country: Some(c),
                        source: Source::Override,
                        special: None,
                        embedded,
                    };
                }
                t
            }
            None => ip,
        };
        if let Some(sp) = special::lookup(target) {
            return Answer {
                country: None,
                source: Source::None,
                special: Some(sp),
                embedded,
            };
        }
        for (i, db) in self.databases.iter().enumerate() {
            if let Ok(Some(c)) = db.country(target) {
                return Answer {
                    country: Some(c),
                    source: Source::Database(i),
                    special: None,
                    embedded,
                };
            }
        }
        Answer {
            country: None,
            source: Source::None,
            special: None,
            embedded,
        }
    }
}

/// IPv4 address embedded in NAT64 well-known, IPv4-mapped or 6to4 addresses.
pub fn embedded_v4(v6: Ipv6Addr) -> Option<(Embedded, Ipv4Addr)> {
    let s = v6.segments();
    let o = v6.octets();
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some((Embedded::Nat64, Ipv4Addr::new(o[12], o[13], o[14], o[15])));
    }
    if s[..6] == [0, 0, 0, 0, 0, 0xffff] {
        return Some((
            Embedded::Ipv4Mapped,
            Ipv4Addr::new(o[12], o[13], o[14], o[15]),
        ));
    }
    if s[0] == 0x2002 {
        return Some((Embedded::SixToFour, Ipv4Addr::new(o[2], o[3], o[4], o[5])));
    }
    None
}

/// Per-worker resolver: shared databases plus a bounded LRU cache of answers.
#[derive(Debug)]
pub struct Geo {
    db: Arc<GeoDb>,
    cache: LruCache<IpAddr, Answer>,
    pub hits: u64,
    pub misses: u64,
}

impl Geo {
    pub fn new(db: Arc<GeoDb>, cache_size: usize) -> Geo {
        let cap = NonZeroUsize::new(cache_size.max(1)).unwrap_or(NonZeroUsize::MIN);
        Geo {
            db,
            cache: LruCache::new(cap),
            hits: 0,
            misses: 0,
        }
    }

    pub fn lookup(&mut self, ip: IpAddr) -> Answer {
        if let Some(a) = self.cache.get(&ip) {
            self.hits += 1;
            return *a;
        }
        self.misses += 1;
        let a = self.db.resolve(ip);
        self.cache.put(ip, a);
        a
    }
}

/// Full report for `sovereign lookup`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ip: IpAddr,
    pub country: Option<String>,
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub special: Option<SpecialReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedded: Option<EmbeddedReport>,
    pub records: Vec<Record>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SpecialReport {
    pub name: &'static str,
    pub network: &'static str,
    pub rfc: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct EmbeddedReport {
    pub kind: Embedded,
    pub ipv4: Ipv4Addr,
}

impl GeoDb {
    pub fn report(&self, ip: IpAddr) -> Report {
        let a = self.resolve(ip);
        let target = a.embedded.map(|(_, v4)| IpAddr::V4(v4)).unwrap_or(ip);
        // The special range of the address itself, even when an override placed it.
        let special = a.special.or_else(|| special::lookup(target));
        Report {
            ip,
            country: a.country.map(|c| c.to_string()),
            source: self.source_name(a.source).map(str::to_string),
            special: special.map(|s| SpecialReport {
                name: s.name,
                network: s.network,
                rfc: s.rfc,
            }),
            embedded: a.embedded.map(|(kind, ipv4)| EmbeddedReport { kind, ipv4 }),
            records: self.databases.iter().map(|d| d.record(target)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geo(overrides: &[(&str, &str)]) -> GeoDb {
        let cfg = GeoConfig {
            overrides: overrides
                .iter()
                .filter_map(|(n, c)| Some((n.parse().ok()?, Country::parse(c)?)))
                .collect(),
            ..GeoConfig::default()
        };
        match GeoDb::open(&cfg) {
            Ok(g) => g,
            Err(e) => panic!("bundled db opens: {e}"),
        }
    }

    fn country(g: &GeoDb, ip: &str) -> (Option<String>, Option<&'static str>) {
        let ip: IpAddr = ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let a = g.resolve(ip);
        (a.country.map(|c| c.to_string()), a.special.map(|s| s.name))
    }

    #[test]
    fn special_ranges_never_take_a_database_country() {
        let g = geo(&[]);
        for ip in [
            "10.1.2.3",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "100.64.0.1",
            "198.18.0.1",
            "2001:db8::1",
            "fd00::1",
            "127.0.0.1",
        ] {
            let (c, sp) = country(&g, ip);
            assert_eq!(c, None, "{ip} must have no country");
            assert!(sp.is_some(), "{ip} is special-purpose");
        }
    }

    #[test]
    fn overrides_win_most_specific_first_even_for_special_ranges() {
        let g = geo(&[("198.51.100.0/24", "US"), ("198.51.100.128/25", "DE")]);
        assert_eq!(country(&g, "198.51.100.20").0.as_deref(), Some("US"));
        assert_eq!(country(&g, "198.51.100.200").0.as_deref(), Some("DE"));
    }

    #[test]
    fn nat64_mapped_and_6to4_use_the_embedded_ipv4() {
        let g = geo(&[("198.51.100.0/24", "FR")]);
        for ip in [
            "64:ff9b::198.51.100.9",
            "::ffff:198.51.100.9",
            "2002:c633:6409::1",
        ] {
            let parsed: IpAddr = ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            let a = g.resolve(parsed);
            assert_eq!(
                a.country.map(|c| c.to_string()).as_deref(),
                Some("FR"),
                "{ip}"
            );
            assert!(a.embedded.is_some());
        }
        // Without an override the embedded documentation address stays special.
        let g = geo(&[]);
        assert_eq!(
            country(&g, "64:ff9b::192.0.2.1"),
            (None, Some("documentation"))
        );
    }

    #[test]
    fn cache_counts_hits() {
        let mut g = Geo::new(Arc::new(geo(&[])), 2);
        let ip: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        g.lookup(ip);
        g.lookup(ip);
        assert_eq!((g.hits, g.misses), (1, 1));
    }
}
