//! BGP evidence: the AS path toward a destination prefix from an MRT RIB dump (TABLE_DUMP_V2,
//! parsed by `bgpkit-parser`), and each AS's registration country from RIR delegated-extended
//! statistics files (`registry|cc|asn|start|count|date|status|...`). An AS registered in a
//! forbidden jurisdiction is *legal* exposure (its operator answers to that jurisdiction's law,
//! e.g. the CLOUD Act), which is reported apart from a hop physically located there and is not
//! cleared by the speed-of-light bound. Parsing takes readers and text; the caller opens files.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::geo::Country;

#[derive(Debug, thiserror::Error)]
pub enum BgpError {
    #[error("{file}: no RIB entries (not an MRT TABLE_DUMP_V2 RIB dump?)")]
    EmptyRib { file: String },
    #[error("{file}: no ASN records (not an RIR delegated-extended statistics file?)")]
    EmptyStats { file: String },
}

/// The chosen route per prefix: the shortest AS path any peer announced, counting prepends as
/// BGP does (ties: the lowest peer address), stored with the prepends removed. A stand-in for
/// the gateway's own BGP decision.
#[derive(Debug, Default)]
pub struct Rib {
    /// Per prefix length, longest first: prefix -> (announced length, AS path, peer).
    routes: BTreeMap<std::cmp::Reverse<u8>, HashMap<IpNet, Route>>,
    entries: usize,
}

type Route = (usize, Vec<u32>, IpAddr);

impl Rib {
    /// Reads an MRT RIB dump.
    pub fn read<R: Read>(reader: R, file: &str) -> Result<Rib, BgpError> {
        let mut rib = Rib::default();
        for elem in bgpkit_parser::BgpkitParser::from_reader(reader) {
            let Some(p) = elem.as_path.as_ref() else {
                continue;
            };
            let (Some(raw), Some(path)) = (p.to_u32_vec_opt(false), p.to_u32_vec_opt(true)) else {
                continue;
            };
            rib.insert(elem.prefix.prefix, (raw.len(), path, elem.peer_ip));
        }
        if rib.entries == 0 {
            return Err(BgpError::EmptyRib {
                file: file.to_string(),
            });
        }
        Ok(rib)
    }

    fn insert(&mut self, prefix: IpNet, route: Route) {
        self.entries += 1;
        let slot = self
            .routes
            .entry(std::cmp::Reverse(prefix.prefix_len()))
            .or_default();
        match slot.get(&prefix.trunc()) {
            Some((len, _, peer)) if (*len, *peer) <= (route.0, route.2) => {}
            _ => {
                slot.insert(prefix.trunc(), route);
            }
        }
    }

    /// Prefixes with a route.
    pub fn len(&self) -> usize {
        self.routes.values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Longest-prefix match: the covering prefix and its AS path (first AS = the neighbour).
    pub fn lookup(&self, ip: IpAddr) -> Option<(IpNet, &[u32])> {
        for (std::cmp::Reverse(len), table) in &self.routes {
            let Ok(net) = IpNet::new(ip, *len) else {
                continue;
            };
            if let Some((_, path, _)) = table.get(&net.trunc()) {
                return Some((net.trunc(), path));
            }
        }
        None
    }
}

/// AS -> registration country, from RIR delegated(-extended) statistics.
#[derive(Debug, Default)]
pub struct AsCountries {
    /// (first ASN, count, country, registry), sorted by first ASN.
    ranges: Vec<(u32, u32, Country, String)>,
}

impl AsCountries {
    /// Adds one statistics file's `asn` records (version, summary and other lines skipped).
    pub fn add(&mut self, text: &str, file: &str) -> Result<usize, BgpError> {
        let before = self.ranges.len();
        for line in text.lines() {
            let f: Vec<&str> = line.split('|').collect();
            if f.len() < 7 || f[2] != "asn" || f[0].starts_with('#') {
                continue;
            }
            let (Some(cc), Ok(start), Ok(count)) = (
                Country::parse(f[1]),
                f[3].parse::<u32>(),
                f[4].parse::<u32>(),
            ) else {
                continue;
            };
            if count == 0 || !matches!(f[6], "allocated" | "assigned") {
                continue;
            }
            self.ranges.push((start, count, cc, f[0].to_string()));
        }
        self.ranges.sort_by_key(|r| r.0);
        let added = self.ranges.len() - before;
        if added == 0 {
            return Err(BgpError::EmptyStats {
                file: file.to_string(),
            });
        }
        Ok(added)
    }

    /// Registration country and registry of an AS.
    pub fn of(&self, asn: u32) -> Option<(Country, &str)> {
        let i = self.ranges.partition_point(|r| r.0 <= asn);
        let (start, count, cc, reg) = self.ranges.get(i.checked_sub(1)?)?;
        (u64::from(asn) < u64::from(*start) + u64::from(*count)).then_some((*cc, reg.as_str()))
    }
}

/// One AS on the path toward a destination, with where it is registered.
#[derive(Debug, Clone, PartialEq)]
pub struct AsHop {
    pub asn: u32,
    pub country: Option<Country>,
    pub registry: Option<String>,
}

/// The AS path toward `ip` with registration countries; `None` without a route.
pub fn as_path(rib: &Rib, stats: &AsCountries, ip: IpAddr) -> Option<(IpNet, Vec<AsHop>)> {
    let (prefix, path) = rib.lookup(ip)?;
    let hops = path
        .iter()
        .map(|&asn| {
            let reg = stats.of(asn);
            AsHop {
                asn,
                country: reg.map(|(c, _)| c),
                registry: reg.map(|(_, r)| r.to_string()),
            }
        })
        .collect();
    Some((prefix, hops))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bgpkit_parser::encoder::MrtRibEncoder;
    use bgpkit_parser::models::{AsPath, BgpElem, NetworkPrefix};

    /// An MRT RIB dump with two peers: both announce 203.0.113.0/24, peer 1 via a longer path;
    /// a /16 covers the rest; prepending on one path.
    pub(crate) fn rib_bytes() -> Vec<u8> {
        let mut enc = MrtRibEncoder::new();
        let mut add = |peer: &str, prefix: &str, path: &[u32]| {
            let elem = BgpElem {
                timestamp: 1_700_000_000.0,
                peer_ip: peer.parse().unwrap(),
                peer_asn: path[0].into(),
                prefix: NetworkPrefix::new(prefix.parse().unwrap(), None),
                as_path: Some(AsPath::from_sequence(path)),
                ..Default::default()
            };
            enc.process_elem(&elem).unwrap();
        };
        add("192.0.2.1", "203.0.113.0/24", &[64500, 3356, 3320, 64511]);
        add("192.0.2.2", "203.0.113.0/24", &[64501, 64501, 3320, 64511]);
        add("192.0.2.1", "203.0.0.0/16", &[64500, 174, 64512]);
        add("192.0.2.1", "2001:db8::/32", &[64500, 6939, 64513]);
        enc.export_bytes().unwrap().to_vec()
    }

    const STATS: &str = "2|arin|20260101|4|19700101|20260101|-0500\n\
        arin|*|asn|*|3|summary\n\
        arin|US|asn|3356|1|20000301|allocated|x\n\
        arin|US|asn|174|1|19910412|assigned|x\n\
        ripencc|DE|asn|3320|1|19940803|allocated|y\n\
        ripencc|DE|asn|64500|12|20200101|allocated|z\n\
        arin|US|asn|6939|1|19960626|allocated|x\n\
        arin|US|ipv4|192.0.2.0|256|20000101|allocated|x\n\
        ripencc||asn|7|1||available|\n";

    #[test]
    fn rib_gives_the_shortest_deprepended_path_by_longest_prefix() {
        let rib = Rib::read(&rib_bytes()[..], "test.mrt").unwrap();
        assert_eq!(rib.len(), 3);
        let (p, path) = rib.lookup("203.0.113.10".parse().unwrap()).unwrap();
        assert_eq!(p.to_string(), "203.0.113.0/24");
        // Both announce 4 ASes (peer 2 by prepending, which counts as in BGP); the lower peer
        // address (192.0.2.1) wins the tie.
        assert_eq!(path, [64500, 3356, 3320, 64511]);
        let (p, path) = rib.lookup("203.0.7.1".parse().unwrap()).unwrap();
        assert_eq!(
            (p.to_string().as_str(), path),
            ("203.0.0.0/16", &[64500, 174, 64512][..])
        );
        assert_eq!(
            rib.lookup("2001:db8::5".parse().unwrap()).unwrap().1,
            [64500, 6939, 64513]
        );
        assert!(rib.lookup("198.51.100.1".parse().unwrap()).is_none());
        assert!(matches!(
            Rib::read(&b"not mrt"[..], "x"),
            Err(BgpError::EmptyRib { .. })
        ));
    }

    #[test]
    fn rir_stats_give_registration_countries() {
        let mut s = AsCountries::default();
        assert_eq!(s.add(STATS, "delegated").unwrap(), 5);
        assert_eq!(s.of(3356), Some((Country::parse("US").unwrap(), "arin")));
        assert_eq!(s.of(3320).map(|x| x.0.to_string()), Some("DE".into()));
        assert_eq!(
            s.of(64511).map(|x| x.0.to_string()),
            Some("DE".into()),
            "inside a 12-ASN block"
        );
        assert_eq!(s.of(64512), None, "just past the block");
        assert_eq!(s.of(7), None, "available, not registered");
        assert!(s.add("2|x|y\n", "empty").is_err());
        let rib = Rib::read(&rib_bytes()[..], "test.mrt").unwrap();
        let (_, hops) = as_path(&rib, &s, "203.0.113.10".parse().unwrap()).unwrap();
        let got: Vec<(u32, Option<String>)> = hops
            .iter()
            .map(|h| (h.asn, h.country.map(|c| c.to_string())))
            .collect();
        assert_eq!(
            got,
            [
                (64500, Some("DE".into())),
                (3356, Some("US".into())),
                (3320, Some("DE".into())),
                (64511, Some("DE".into()))
            ]
        );
    }
}
