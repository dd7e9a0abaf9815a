//! Path: evidence of where a flow's packets travel between the gateway and the destination, and
//! the transit verdict per destination. Today: imported traceroutes (RIPE Atlas results measured
//! from the gateway, `replay --paths` / `[paths] files`) whose hops are geolocated like
//! destinations, and the speed-of-light bound from the flow's handshake RTT (`reach`), which can
//! prove that a jurisdiction was out of reach and so clear weaker evidence. Active probing and BGP
//! come later (see ARCHITECTURE.md). Deterministic and I/O-free: callers read the files and pass
//! the parsed traceroutes in.

pub mod atlas;
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
        let measurement = format!(
            "ripe-atlas msm {} probe {}",
            t.msm_id.map_or_else(|| "?".into(), |m| m.to_string()),
            t.prb_id.map_or_else(|| "?".into(), |p| p.to_string())
        );
        Some(PathRecord {
            destination,
            measurement,
            hops,
            silent_hops,
            reached: t.is_success(),
        })
    }

    /// Countries of the responding hops, in path order, each once.
    pub fn crossed(&self) -> Vec<Country> {
        let mut out: Vec<Country> = Vec::new();
        for c in self.hops.iter().filter_map(|h| h.country) {
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
}

fn prefix_of(ip: IpAddr) -> Option<IpNet> {
    let len = if ip.is_ipv4() { 24 } else { 48 };
    IpNet::new(ip, len).ok().map(|n| n.trunc())
}

impl PathDb {
    /// Keeps, per destination, the latest traceroute that has one.
    pub fn from_traceroutes(traces: &[Traceroute], geo: &GeoDb) -> PathDb {
        let mut latest: HashMap<IpAddr, (i64, PathRecord)> = HashMap::new();
        for t in traces {
            let Some(rec) = PathRecord::from_traceroute(t, geo) else {
                continue;
            };
            let ts = t.timestamp.unwrap_or(i64::MIN);
            match latest.get(&rec.destination) {
                Some((old, _)) if *old > ts => {}
                _ => {
                    latest.insert(rec.destination, (ts, rec));
                }
            }
        }
        let mut db = PathDb::default();
        for (dst, (_, rec)) in latest {
            if let Some(p) = prefix_of(dst) {
                db.by_prefix.entry(p).or_insert(dst);
            }
            db.by_dst.insert(dst, rec);
        }
        db
    }

    pub fn len(&self) -> usize {
        self.by_dst.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_dst.is_empty()
    }

    /// The path toward `ip`, or toward its prefix.
    pub fn lookup(&self, ip: IpAddr) -> Option<&PathRecord> {
        self.by_dst.get(&ip).or_else(|| {
            let dst = self.by_prefix.get(&prefix_of(ip)?)?;
            self.by_dst.get(dst)
        })
    }
}

/// One piece of transit evidence in a record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    pub source: &'static str,
    pub hop: u16,
    pub address: IpAddr,
    pub country: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mpls: Vec<u32>,
    pub measurement: String,
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

/// Checks a path against forbidden jurisdictions. `denied` are the forbidden countries the path
/// crosses (from [`crate::policy::Policy::denied_transit`]); the RTT bound, when the site location
/// and the flow's handshake RTT are known, clears those out of reach. `None` when nothing
/// forbidden was named.
pub fn transit_verdict(
    path: &PathRecord,
    denied: &[Country],
    site: Option<LatLon>,
    rtt: Option<Duration>,
) -> Option<Transit> {
    if denied.is_empty() {
        return None;
    }
    let mut remaining: Vec<Country> = denied.to_vec();
    let mut cleared = Vec::new();
    let rtt_bound = match (site, rtt) {
        (Some(site), Some(rtt)) => {
            let shapes = Shapes::bundled();
            let mut checked = Vec::new();
            let mut reach = reach::reach_km(rtt);
            for c in denied {
                match reach::bound(shapes, site, rtt, *c) {
                    Bound::Excludes {
                        reach_km,
                        distance_km,
                    } => {
                        reach = reach_km;
                        checked.push(RttCheck {
                            country: c.to_string(),
                            distance_km: distance_km.round(),
                            verdict: "excluded",
                        });
                        remaining.retain(|x| x != c);
                        cleared.push(c.to_string());
                    }
                    Bound::Inconclusive {
                        reach_km,
                        distance_km,
                    } => {
                        reach = reach_km;
                        checked.push(RttCheck {
                            country: c.to_string(),
                            distance_km: distance_km.round(),
                            verdict: "within_reach",
                        });
                    }
                    Bound::NoShape => {}
                }
            }
            Some(RttBound {
                rtt_ms: (rtt.as_secs_f64() * 1e6).round() / 1e3,
                reach_km: reach.round(),
                checked,
            })
        }
        _ => None,
    };
    let evidence = path
        .hops
        .iter()
        .filter(|h| h.country.is_some_and(|c| remaining.contains(&c)))
        .map(|h| Evidence {
            source: "traceroute",
            hop: h.hop,
            address: h.address,
            country: h.country.map(|c| c.to_string()).unwrap_or_default(),
            rtt_ms: h.rtt_ms,
            mpls: h.mpls.clone(),
            measurement: path.measurement.clone(),
        })
        .collect();
    Some(Transit {
        jurisdictions: remaining.iter().map(|c| c.to_string()).collect(),
        evidence,
        rtt_bound,
        cleared_by_rtt: cleared,
    })
}
