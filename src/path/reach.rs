//! Reach: how far a packet can have gone, from the handshake RTT seen at the gateway, and how far
//! a jurisdiction is from the site. Light in fibre covers about 204 km per millisecond one way, so
//! a round trip of `rtt` ms stays within `rtt x 102.1` km of the site; a jurisdiction whose nearest
//! point is farther than that (minus a safety margin for the shapes) cannot have been crossed.
//! Country outlines come from the bundled Natural Earth data (`data/geo/country-shapes.tsv`).
//! Pure functions and one lazily parsed table; no I/O.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use crate::geo::Country;

/// Mean Earth radius (IUGG), km.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;
/// One-way speed of light in standard single-mode fibre (group index 1.468: c / 1.468 =
/// 204.2 km/ms). Rounding up keeps the bound on the safe side ("could have reached"). Paths over
/// free-space links (microwave, satellite lasers, hollow-core fibre) are faster, up to c; the
/// bound assumes long-haul fibre, as every transoceanic path is today.
pub const FIBRE_KM_PER_MS: f64 = 204.2;
/// Outline edges are cut into pieces no longer than this, so the distance to the nearest point
/// is within half of it of the distance to the outline.
const MAX_EDGE_KM: f64 = 10.0;
/// Subtracted from every site-to-jurisdiction distance: shape generalisation and thinning
/// (see data/geo/README.md) plus the site's own coordinates being approximate.
pub const SHAPE_MARGIN_KM: f64 = 50.0;

const BUNDLED_SHAPES: &str = include_str!("../../data/geo/country-shapes.tsv");

/// A point on Earth in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatLon {
    pub lat: f64,
    pub lon: f64,
}

/// Great-circle distance (haversine), km.
pub fn haversine_km(a: LatLon, b: LatLon) -> f64 {
    let (p1, p2) = (a.lat.to_radians(), b.lat.to_radians());
    let dp = p2 - p1;
    let dl = (b.lon - a.lon).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// The farthest from the site any packet of a round trip of `rtt` can have been, km.
pub fn reach_km(rtt: Duration) -> f64 {
    rtt.as_secs_f64() * 1000.0 * FIBRE_KM_PER_MS / 2.0
}

/// Country outlines: outer rings of (lon, lat) points.
#[derive(Debug, Default)]
pub struct Shapes {
    rings: HashMap<Country, Vec<Vec<(f64, f64)>>>,
}

impl Shapes {
    /// The bundled outlines, parsed on first use.
    pub fn bundled() -> &'static Shapes {
        static SHAPES: OnceLock<Shapes> = OnceLock::new();
        SHAPES.get_or_init(|| Shapes::parse(BUNDLED_SHAPES))
    }

    /// Parses `CC<TAB>lon,lat lon,lat ...` lines; malformed lines and points are skipped.
    pub fn parse(text: &str) -> Shapes {
        let mut rings: HashMap<Country, Vec<Vec<(f64, f64)>>> = HashMap::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((cc, pts)) = line.split_once('\t') else {
                continue;
            };
            let Some(c) = Country::parse(cc.trim()) else {
                continue;
            };
            let raw: Vec<(f64, f64)> = pts
                .split_whitespace()
                .filter_map(|p| {
                    let (lon, lat) = p.split_once(',')?;
                    Some((lon.parse().ok()?, lat.parse().ok()?))
                })
                .collect();
            if raw.len() >= 3 {
                rings.entry(c).or_default().push(prepare(&raw));
            }
        }
        Shapes { rings }
    }

    pub fn has(&self, c: Country) -> bool {
        self.rings.contains_key(&c)
    }

    /// Whether `p` lies inside one of the country's rings (ray casting on unwrapped longitudes;
    /// a ring crossing the antimeridian runs past +-180, so the point is tried at lon +-360 too).
    pub fn contains(&self, c: Country, p: LatLon) -> bool {
        self.rings.get(&c).is_some_and(|rings| {
            rings.iter().any(|ring| {
                [p.lon, p.lon + 360.0, p.lon - 360.0]
                    .iter()
                    .any(|&lon| inside_ring(ring, lon, p.lat))
            })
        })
    }

    /// Distance from `p` to the country's nearest outline point (0 inside it), km; `None` when
    /// the country has no outline.
    pub fn distance_km(&self, c: Country, p: LatLon) -> Option<f64> {
        let rings = self.rings.get(&c)?;
        if self.contains(c, p) {
            return Some(0.0);
        }
        rings
            .iter()
            .flatten()
            .map(|&(lon, lat)| haversine_km(p, LatLon { lat, lon }))
            .min_by(f64::total_cmp)
    }
}

fn inside_ring(ring: &[(f64, f64)], lon: f64, lat: f64) -> bool {
    let mut inside = false;
    let mut j = ring.len() - 1;
    for i in 0..ring.len() {
        let (xi, yi) = ring[i];
        let (xj, yj) = ring[j];
        if (yi > lat) != (yj > lat) && lon < (xj - xi) * (lat - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// Unwraps longitudes (an edge never jumps more than 180 degrees, so rings crossing the
/// antimeridian stay contiguous) and cuts edges longer than [`MAX_EDGE_KM`].
fn prepare(raw: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut unwrapped: Vec<(f64, f64)> = Vec::with_capacity(raw.len());
    for &(lon, lat) in raw {
        let lon = match unwrapped.last() {
            Some(&(prev, _)) => {
                let mut l = lon;
                while l - prev > 180.0 {
                    l -= 360.0;
                }
                while prev - l > 180.0 {
                    l += 360.0;
                }
                l
            }
            None => lon,
        };
        unwrapped.push((lon, lat));
    }
    let mut out = Vec::with_capacity(unwrapped.len());
    for (i, &a) in unwrapped.iter().enumerate() {
        let b = unwrapped[(i + 1) % unwrapped.len()];
        out.push(a);
        let km = haversine_km(LatLon { lat: a.1, lon: a.0 }, LatLon { lat: b.1, lon: b.0 });
        let pieces = (km / MAX_EDGE_KM).ceil() as usize;
        for k in 1..pieces.min(10_000) {
            let f = k as f64 / pieces as f64;
            out.push((a.0 + (b.0 - a.0) * f, a.1 + (b.1 - a.1) * f));
        }
    }
    out
}

/// What an RTT says about one jurisdiction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// The jurisdiction is out of reach: the path cannot have touched it.
    Excludes { reach_km: f64, distance_km: f64 },
    /// It is within reach (or too near the site for any bound).
    Inconclusive { reach_km: f64, distance_km: f64 },
    /// No outline for it.
    NoShape,
}

/// Whether a round trip of `rtt` from `site` can have touched `c`.
pub fn bound(shapes: &Shapes, site: LatLon, rtt: Duration, c: Country) -> Bound {
    let reach_km = reach_km(rtt);
    match shapes.distance_km(c, site) {
        None => Bound::NoShape,
        Some(d) if d - SHAPE_MARGIN_KM > reach_km => Bound::Excludes {
            reach_km,
            distance_km: d,
        },
        Some(d) => Bound::Inconclusive {
            reach_km,
            distance_km: d,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRANKFURT: LatLon = LatLon {
        lat: 50.11,
        lon: 8.68,
    };
    const TORONTO: LatLon = LatLon {
        lat: 43.65,
        lon: -79.38,
    };
    const NEW_YORK: LatLon = LatLon {
        lat: 40.7128,
        lon: -74.0060,
    };
    const LONDON: LatLon = LatLon {
        lat: 51.5074,
        lon: -0.1278,
    };

    fn us() -> Country {
        Country::parse("US").unwrap()
    }

    #[test]
    fn haversine_matches_known_distances() {
        // London - New York: 5570 km great circle (published values 5567-5585 km by radius).
        let d = haversine_km(LONDON, NEW_YORK);
        assert!((d - 5570.2).abs() < 5.0, "{d}");
        // A quarter of the equator, and a pole to the equator: R x pi/2 = 10007.5 km.
        let q = haversine_km(
            LatLon { lat: 0.0, lon: 0.0 },
            LatLon {
                lat: 0.0,
                lon: 90.0,
            },
        );
        assert!((q - 10_007.5).abs() < 0.1, "{q}");
        let p = haversine_km(
            LatLon {
                lat: 90.0,
                lon: 0.0,
            },
            LatLon {
                lat: 0.0,
                lon: 45.0,
            },
        );
        assert!((p - 10_007.5).abs() < 0.1, "{p}");
        assert_eq!(haversine_km(FRANKFURT, FRANKFURT), 0.0);
        // Antipodes: half the circumference, no NaN from rounding.
        let a = haversine_km(
            LatLon {
                lat: 10.0,
                lon: 20.0,
            },
            LatLon {
                lat: -10.0,
                lon: -160.0,
            },
        );
        assert!((a - 20_015.1).abs() < 0.2, "{a}");
    }

    #[test]
    fn reach_is_about_102_km_per_ms_of_round_trip() {
        assert!((reach_km(Duration::from_millis(50)) - 5_105.0).abs() < 1e-6);
        assert!((reach_km(Duration::from_micros(1_500)) - 153.15).abs() < 1e-6);
    }

    #[test]
    fn frankfurt_under_about_50_ms_proves_no_us_transit() {
        let s = Shapes::bundled();
        // Nearest US soil from Frankfurt is northern Maine (47.08 N, 67.81 W): 5,382 km.
        let d = s.distance_km(us(), FRANKFURT).unwrap();
        assert!((5_370.0..5_400.0).contains(&d), "{d}");
        // Worked numbers: 50 ms reaches 50 x 102.1 = 5,105 km < 5,382 - 50 km: excluded.
        assert!(matches!(
            bound(s, FRANKFURT, Duration::from_millis(50), us()),
            Bound::Excludes { .. }
        ));
        // The threshold is (distance - margin) / 102.1 km per ms: 52.2 ms.
        let threshold_ms = (d - SHAPE_MARGIN_KM) / (FIBRE_KM_PER_MS / 2.0);
        assert!((52.0..52.4).contains(&threshold_ms), "{threshold_ms}");
        assert!(matches!(
            bound(s, FRANKFURT, Duration::from_micros(51_900), us()),
            Bound::Excludes { .. }
        ));
        assert!(matches!(
            bound(s, FRANKFURT, Duration::from_micros(52_500), us()),
            Bound::Inconclusive { .. }
        ));
        // 80 ms (a typical Frankfurt-New York RTT) cannot exclude it.
        assert!(matches!(
            bound(s, FRANKFURT, Duration::from_millis(80), us()),
            Bound::Inconclusive { .. }
        ));
    }

    #[test]
    fn toronto_allows_no_bound_on_us_transit() {
        let s = Shapes::bundled();
        // The US is across Lake Ontario: well within the 50 km margin.
        let d = s.distance_km(us(), TORONTO).unwrap();
        assert!(d < SHAPE_MARGIN_KM, "{d}");
        for ms in [1, 2, 5, 20] {
            assert!(
                matches!(
                    bound(s, TORONTO, Duration::from_millis(ms), us()),
                    Bound::Inconclusive { .. }
                ),
                "{ms} ms"
            );
        }
    }

    #[test]
    fn rings_across_the_antimeridian_contain_their_inland_points() {
        let s = Shapes::bundled();
        let ru = Country::parse("RU").unwrap();
        for (lat, lon) in [
            (64.99, 100.0),
            (68.95, 100.0),
            (55.75, 37.62),
            (66.0, 175.0),
            (65.0, -175.0),
        ] {
            let p = LatLon { lat, lon };
            assert!(s.contains(ru, p), "{lat},{lon} is in Russia");
            assert_eq!(s.distance_km(ru, p), Some(0.0));
        }
        // Fiji straddles 180 as well; the Atlantic is not in it.
        assert!(!s.contains(
            Country::parse("FJ").unwrap(),
            LatLon {
                lat: -16.53,
                lon: 0.0
            }
        ));
    }

    #[test]
    fn distance_is_to_the_outline_not_only_its_kept_points() {
        // A square with 1-degree (~111 km) edges: a point just outside the middle of an edge is
        // ~11 km from the outline though ~56 km from the nearest corner.
        let sh = Shapes::parse("ZZ\t0,0 1,0 1,1 0,1\n");
        let zz = Country::parse("ZZ").unwrap();
        let d = sh.distance_km(zz, LatLon { lat: 0.5, lon: 1.1 }).unwrap();
        assert!((10.0..17.0).contains(&d), "{d}");
        assert!(sh.contains(zz, LatLon { lat: 0.5, lon: 0.5 }));
    }

    #[test]
    fn shapes_contain_their_cities_and_cover_the_world() {
        let s = Shapes::bundled();
        let de = Country::parse("DE").unwrap();
        assert!(s.contains(de, FRANKFURT));
        assert!(!s.contains(de, LONDON));
        let denver = LatLon {
            lat: 39.74,
            lon: -104.99,
        };
        assert!(s.contains(us(), denver));
        assert_eq!(s.distance_km(us(), denver), Some(0.0));
        // New York is on the coast: inside, or within the thinning tolerance of the outline.
        assert!(s.distance_km(us(), NEW_YORK).unwrap() < 25.0);
        assert!(s.contains(Country::parse("CA").unwrap(), TORONTO));
        for cc in [
            "US", "PR", "GU", "CA", "GB", "FR", "BR", "IN", "AU", "JP", "ZA",
        ] {
            assert!(s.has(Country::parse(cc).unwrap()), "{cc}");
        }
        assert!(s.rings.len() > 230);
        assert!(Shapes::parse("X1\t1,2 3,4 5,6\nbad line\nDE\t1,1\n")
            .rings
            .is_empty());
    }
}
