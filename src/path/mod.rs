//! Path: evidence of where a flow's packets travel between the gateway and the destination, and
//! the transit verdict per destination. Sources: imported traceroutes (RIPE Atlas results
//! measured from the gateway, `replay --paths` / `[paths] files`) whose hops are geolocated like
//! destinations (physical location); the AS path from an MRT RIB dump with each AS's RIR
//! registration country (`bgp`: legal exposure); and the speed-of-light bound from the flow's
//! handshake RTT (`reach`), which can prove that a jurisdiction was out of physical reach and so
//! clear location evidence (never registration). Active probing is not built yet (see
//! ARCHITECTURE.md). Deterministic and I/O-free: callers read the files and pass them in.

pub mod atlas;
pub mod bgp;
pub mod reach;

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;
use serde::Serialize;

use crate::geo::{Country, GeoDb};
use atlas::Traceroute;
use reach::{Bound, LatLon, Shapes};

/// One responding hop of a path, geolocated.
#[derive(Debug, Clone, PartialEq)]
pub struct HopGeo {
    pub hop: u16,
    pub address: IpAddr,
    pub country: Option<Country>,
    /// Median RTT of the hop's replies, ms.
    pub rtt_ms: Option<f64>,
    /// MPLS labels seen in the hop's ICMP extensions.
    pub mpls: Vec<u32>,
}

/// A path toward one destination.
#[derive(Debug, Clone, PartialEq)]
pub struct PathRecord {
    pub destination: IpAddr,
    /// Where the evidence came from, e.g. `ripe-atlas msm 1033154 probe 3564`.
    pub measurement: String,
    pub hops: Vec<HopGeo>,
    /// Hop numbers that did not answer at all.
    pub silent_hops: Vec<u16>,
    pub reached: bool,
}

impl PathRecord {
    /// Geolocates the responding hops of a traceroute (overrides, special ranges and databases,
    /// exactly as for destinations). `None` without a destination address.
    pub fn from_traceroute(t: &Traceroute, geo: &GeoDb) -> Option<PathRecord> {
        let destination = t.dst_addr?;
        let mut hops = Vec::new();
        let mut silent_hops = Vec::new();
        for h in &t.hops {
            let addrs = h.addresses();
            if addrs.is_empty() {
                silent_hops.push(h.hop);
            }
            for a in addrs {
                let replies = h.replies.iter().filter(|r| r.from == Some(a));
                let mut rtts: Vec<f64> = replies.clone().filter_map(|r| r.rtt_ms).collect();
                rtts.sort_by(f64::total_cmp);
                let mut mpls: Vec<u32> = replies.flat_map(|r| r.mpls.iter().copied()).collect();
                mpls.dedup();
                hops.push(HopGeo {
                    hop: h.hop,
                    address: a,
                    country: geo.resolve(a).country,
                    rtt_ms: rtts.get(rtts.len() / 2).copied(),
                    mpls,
                });
            }
        }
        let measurement = if t.source == "ripe-atlas" {
            format!(
                "ripe-atlas msm {} probe {}",
                t.msm_id.map_or_else(|| "?".into(), |m| m.to_string()),
                t.prb_id.map_or_else(|| "?".into(), |p| p.to_string())
            )
        } else {
            format!(
                "{} from {}",
                t.source,
                t.src_addr.map_or_else(|| "?".into(), |a| a.to_string())
            )
        };
        Some(PathRecord {
            destination,
            measurement,
            hops,
            silent_hops,
            reached: t.is_success(),
        })
    }

    /// Countries of the responding hops before the destination, in path order, each once (the
    /// destination's own country is residency's business, not transit's).
    pub fn crossed(&self) -> Vec<Country> {
        let mut out: Vec<Country> = Vec::new();
        let on_path = self.hops.iter().filter(|h| h.address != self.destination);
        for c in on_path.filter_map(|h| h.country) {
            if !out.contains(&c) {
                out.push(c);
            }
        }
        out
    }
}

/// Imported paths by destination. A destination without its own path uses a path measured
/// toward its /24 (IPv4) or /48 (IPv6): routes are announced per prefix, not per address.
#[derive(Debug, Default)]
pub struct PathDb {
    by_dst: HashMap<IpAddr, PathRecord>,
    by_prefix: HashMap<IpNet, IpAddr>,
    /// RIB and AS registration countries, when both were given.
    bgp: Option<(bgp::Rib, bgp::AsCountries)>,
}

/// The prefix a path stands for: the /24 (IPv4) or /48 (IPv6) around `ip`.
pub fn prefix_of(ip: IpAddr) -> Option<IpNet> {
    let len = if ip.is_ipv4() { 24 } else { 48 };
    IpNet::new(ip, len).ok().map(|n| n.trunc())
}

impl PathDb {
    /// Keeps, per destination, the latest traceroute that has one.
    pub fn from_traceroutes(traces: &[Traceroute], geo: &GeoDb) -> PathDb {
        let mut latest: HashMap<IpAddr, ((bool, i64), PathRecord)> = HashMap::new();
        for t in traces {
            let Some(rec) = PathRecord::from_traceroute(t, geo) else {
                continue;
            };
            // Traces with responding hops beat empty ones, then the latest wins.
            let rank = (!rec.hops.is_empty(), t.timestamp.unwrap_or(i64::MIN));
            match latest.get(&rec.destination) {
                Some((old, _)) if *old > rank => {}
                _ => {
                    latest.insert(rec.destination, (rank, rec));
                }
            }
        }
        let mut db = PathDb::default();
        // Sorted, so the destination standing for a prefix (the lowest address measured in it)
        // does not depend on hash order.
        let mut all: Vec<(IpAddr, PathRecord)> =
            latest.into_iter().map(|(d, (_, r))| (d, r)).collect();
        all.sort_by_key(|(d, _)| *d);
        for (dst, rec) in all {
            if let Some(p) = prefix_of(dst) {
                db.by_prefix.entry(p).or_insert(dst);
            }
            db.by_dst.insert(dst, rec);
        }
        db
    }

    /// Adds BGP evidence.
    pub fn with_bgp(mut self, rib: bgp::Rib, stats: bgp::AsCountries) -> PathDb {
        self.bgp = Some((rib, stats));
        self
    }

    /// Destinations with a traceroute.
    pub fn len(&self) -> usize {
        self.by_dst.len()
    }

    /// No evidence of any kind.
    pub fn is_empty(&self) -> bool {
        self.by_dst.is_empty() && self.bgp.is_none()
    }

    /// The AS path toward `ip` with registration countries.
    pub fn as_path(&self, ip: IpAddr) -> Option<(IpNet, Vec<bgp::AsHop>)> {
        let (rib, stats) = self.bgp.as_ref()?;
        bgp::as_path(rib, stats, ip)
    }

    /// The path toward `ip`, or toward its prefix.
    pub fn lookup(&self, ip: IpAddr) -> Option<&PathRecord> {
        self.by_dst.get(&ip).or_else(|| {
            let dst = self.by_prefix.get(&prefix_of(ip)?)?;
            self.by_dst.get(dst)
        })
    }
}

/// One piece of transit evidence in a record: a traceroute hop located in a jurisdiction
/// (`basis: "location"`), or an AS on the BGP path registered in one (`basis: "registration"`,
/// legal exposure).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    pub source: &'static str,
    pub basis: &'static str,
    pub country: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hop: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mpls: Vec<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measurement: Option<String>,
}

/// What the handshake RTT says about one jurisdiction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RttCheck {
    pub country: String,
    pub distance_km: f64,
    /// `excluded`: out of reach, so not crossed whatever the other evidence says.
    pub verdict: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RttBound {
    pub rtt_ms: f64,
    pub reach_km: f64,
    pub checked: Vec<RttCheck>,
}

/// The transit verdict of a flow (`transit` in alert and flow records).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transit {
    /// Forbidden jurisdictions the path crosses (after the RTT bound).
    pub jurisdictions: Vec<String>,
    pub evidence: Vec<Evidence>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_bound: Option<RttBound>,
    /// Forbidden jurisdictions the path evidence named but the RTT proves were not reached.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cleared_by_rtt: Vec<String>,
}

/// The facts a transit verdict is drawn from.
#[derive(Debug, Default)]
pub struct TransitFacts<'a> {
    pub path: Option<&'a PathRecord>,
    /// Forbidden countries the traceroute's hops are located in.
    pub denied_location: Vec<Country>,
    /// The AS path (covering prefix, ASes) and the forbidden countries ASes are registered in.
    pub as_path: Option<(IpNet, Vec<bgp::AsHop>)>,
    pub denied_registration: Vec<Country>,
    pub site: Option<LatLon>,
    /// Handshake RTT toward the destination, as seen at the gateway.
    pub rtt: Option<Duration>,
}

/// Draws the transit verdict. The RTT bound, when the site location and the flow's handshake
/// RTT are known, clears located hops out of reach; registration is legal, not physical, and
/// stays. `None` when no evidence named a forbidden jurisdiction.
pub fn transit_verdict(f: &TransitFacts<'_>) -> Option<Transit> {
    if f.denied_location.is_empty() && f.denied_registration.is_empty() {
        return None;
    }
    let mut remaining: Vec<Country> = f.denied_location.clone();
    let mut cleared = Vec::new();
    let rtt_bound = match (f.site, f.rtt, f.denied_location.is_empty()) {
        (Some(site), Some(rtt), false) => {
            let shapes = Shapes::bundled();
            let mut checked = Vec::new();
            let rtt_ms = rtt.as_secs_f64() * 1000.0;
            for c in &f.denied_location {
                // A hop there answering slower than the whole handshake means the handshake
                // was not answered by the destination (a SYN proxy, a cache): no bound then.
                let contradicted = f.path.is_some_and(|p| {
                    p.hops
                        .iter()
                        .any(|h| h.country == Some(*c) && h.rtt_ms.is_some_and(|r| r > rtt_ms))
                });
                let (verdict, distance_km) = match reach::bound(shapes, site, rtt, *c) {
                    Bound::Excludes { distance_km, .. } if contradicted => {
                        ("contradicted", distance_km)
                    }
                    Bound::Excludes { distance_km, .. } => ("excluded", distance_km),
                    Bound::Inconclusive { distance_km, .. } => ("within_reach", distance_km),
                    Bound::NoShape => continue,
                };
                if verdict == "excluded" {
                    remaining.retain(|x| x != c);
                    cleared.push(c.to_string());
                }
                checked.push(RttCheck {
                    country: c.to_string(),
                    distance_km: distance_km.round(),
                    verdict,
                });
            }
            Some(RttBound {
                rtt_ms: (rtt.as_secs_f64() * 1e6).round() / 1e3,
                reach_km: reach::reach_km(rtt).round(),
                checked,
            })
        }
        _ => None,
    };
    let mut evidence: Vec<Evidence> = Vec::new();
    if let Some(path) = f.path {
        evidence.extend(
            path.hops
                .iter()
                .filter(|h| h.country.is_some_and(|c| remaining.contains(&c)))
                .map(|h| Evidence {
                    source: "traceroute",
                    basis: "location",
                    country: h.country.map(|c| c.to_string()).unwrap_or_default(),
                    hop: Some(h.hop),
                    address: Some(h.address),
                    rtt_ms: h.rtt_ms,
                    mpls: h.mpls.clone(),
                    asn: None,
                    registry: None,
                    prefix: None,
                    measurement: Some(path.measurement.clone()),
                }),
        );
    }
    if let Some((prefix, hops)) = &f.as_path {
        evidence.extend(
            hops.iter()
                .filter(|h| {
                    h.country
                        .is_some_and(|c| f.denied_registration.contains(&c))
                })
                .map(|h| Evidence {
                    source: "bgp",
                    basis: "registration",
                    country: h.country.map(|c| c.to_string()).unwrap_or_default(),
                    hop: None,
                    address: None,
                    rtt_ms: None,
                    mpls: Vec::new(),
                    asn: Some(h.asn),
                    registry: h.registry.clone(),
                    prefix: Some(prefix.to_string()),
                    measurement: None,
                }),
        );
    }
    let mut jurisdictions: Vec<Country> = remaining;
    jurisdictions.extend(f.denied_registration.iter().copied());
    jurisdictions.sort();
    jurisdictions.dedup();
    Some(Transit {
        jurisdictions: jurisdictions.iter().map(|c| c.to_string()).collect(),
        evidence,
        rtt_bound,
        cleared_by_rtt: cleared,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(hop_rtt_ms: f64) -> PathRecord {
        PathRecord {
            destination: "203.0.113.10".parse().unwrap(),
            measurement: "test".into(),
            hops: vec![
                HopGeo {
                    hop: 1,
                    address: "198.51.100.1".parse().unwrap(),
                    country: Country::parse("US"),
                    rtt_ms: Some(hop_rtt_ms),
                    mpls: vec![],
                },
                HopGeo {
                    hop: 2,
                    address: "203.0.113.10".parse().unwrap(),
                    country: Country::parse("DE"),
                    rtt_ms: Some(hop_rtt_ms + 1.0),
                    mpls: vec![],
                },
            ],
            silent_hops: vec![],
            reached: true,
        }
    }

    fn facts(p: &PathRecord, rtt_ms: u64) -> TransitFacts<'_> {
        TransitFacts {
            path: Some(p),
            denied_location: vec![Country::parse("US").unwrap()],
            site: Some(LatLon {
                lat: 50.11,
                lon: 8.68,
            }),
            rtt: Some(Duration::from_millis(rtt_ms)),
            ..TransitFacts::default()
        }
    }

    #[test]
    fn the_destination_is_not_a_transit_country() {
        let p = path(5.0);
        let crossed: Vec<String> = p.crossed().iter().map(|c| c.to_string()).collect();
        assert_eq!(crossed, ["US"], "DE is only the destination");
    }

    #[test]
    fn a_short_rtt_clears_a_hop_unless_the_hop_itself_answered_slower() {
        // Frankfurt, 20 ms: the US is out of reach, and the US hop answered in 5 ms: cleared.
        let p = path(5.0);
        let v = transit_verdict(&facts(&p, 20)).unwrap();
        assert!(v.jurisdictions.is_empty() && v.evidence.is_empty(), "{v:?}");
        assert_eq!(v.cleared_by_rtt, ["US"]);
        // The hop answered in 90 ms, slower than the 20 ms handshake: something nearer answered
        // the handshake (a SYN proxy); the bound does not clear the US.
        let p = path(90.0);
        let v = transit_verdict(&facts(&p, 20)).unwrap();
        assert_eq!(v.jurisdictions, ["US"]);
        assert!(v.cleared_by_rtt.is_empty());
        assert_eq!(v.rtt_bound.unwrap().checked[0].verdict, "contradicted");
        // No site or no RTT: no bound at all.
        let p = path(5.0);
        let v = transit_verdict(&TransitFacts {
            site: None,
            ..facts(&p, 20)
        })
        .unwrap();
        assert_eq!(v.jurisdictions, ["US"]);
        assert!(v.rtt_bound.is_none());
        assert!(transit_verdict(&TransitFacts {
            denied_location: vec![],
            ..facts(&p, 20)
        })
        .is_none());
    }
}
