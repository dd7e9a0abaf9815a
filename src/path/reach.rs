//! Reach: how far a packet can have gone, from the handshake RTT seen at the gateway, and how far
//! a jurisdiction is from the site. Light in fibre covers about 200 km per millisecond one way, so
//! a round trip of `rtt` ms stays within `rtt x 100` km of the site; a jurisdiction whose nearest
//! point is farther than that (minus a safety margin for the shapes) cannot have been crossed.
//! Country outlines come from the bundled Natural Earth data (`data/geo/country-shapes.tsv`).
//! Pure functions and one lazily parsed table; no I/O.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use crate::geo::Country;

/// Mean Earth radius (IUGG), km.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;
/// One-way speed of light in fibre (refractive index ~1.47 gives ~204 km/ms; rounded down, so
/// the bound errs towards "could have reached").
pub const FIBRE_KM_PER_MS: f64 = 200.0;
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
            let ring: Vec<(f64, f64)> = pts
                .split_whitespace()
                .filter_map(|p| {
                    let (lon, lat) = p.split_once(',')?;
                    Some((lon.parse().ok()?, lat.parse().ok()?))
                })
                .collect();
            if ring.len() >= 3 {
                rings.entry(c).or_default().push(ring);
            }
        }
        Shapes { rings }
    }

    pub fn has(&self, c: Country) -> bool {
        self.rings.contains_key(&c)
    }

    /// Whether `p` lies inside one of the country's rings (ray casting on lon/lat).
    pub fn contains(&self, c: Country, p: LatLon) -> bool {
        self.rings.get(&c).is_some_and(|rings| {
            rings.iter().any(|ring| {
                let mut inside = false;
                let mut j = ring.len() - 1;
                for i in 0..ring.len() {
                    let (xi, yi) = ring[i];
                    let (xj, yj) = ring[j];
                    if (yi > p.lat) != (yj > p.lat)
                        && p.lon < (xj - xi) * (p.lat - yi) / (yj - yi) + xi
                    {
                        inside = !inside;
                    }
                    j = i;
                }
                inside
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
    fn reach_is_100_km_per_ms_of_round_trip() {
        assert_eq!(reach_km(Duration::from_millis(50)), 5_000.0);
        assert_eq!(reach_km(Duration::from_micros(1_500)), 150.0);
    }

    #[test]
    fn frankfurt_under_about_50_ms_proves_no_us_transit() {
        let s = Shapes::bundled();
        // Nearest US soil from Frankfurt is northern Maine (47.08 N, 67.81 W): 5,382 km.
        let d = s.distance_km(us(), FRANKFURT).unwrap();
        assert!((5_370.0..5_400.0).contains(&d), "{d}");
        // Worked numbers: 50 ms reaches 5,000 km < 5,382 - 50 km: excluded.
        assert!(matches!(
            bound(s, FRANKFURT, Duration::from_millis(50), us()),
            Bound::Excludes { reach_km, .. } if reach_km == 5_000.0
        ));
        // The threshold is (distance - margin) / 100 km per ms: 53.3 ms.
        let threshold_ms = (d - SHAPE_MARGIN_KM) / 100.0;
        assert!((53.0..53.6).contains(&threshold_ms), "{threshold_ms}");
        assert!(matches!(
            bound(s, FRANKFURT, Duration::from_micros(53_000), us()),
            Bound::Excludes { .. }
        ));
        assert!(matches!(
            bound(s, FRANKFURT, Duration::from_micros(53_600), us()),
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
