//! MaxMind DB files (GeoIP2/GeoLite2 Country, City, ASN, Anonymous-IP, and the bundled
//! ip-location-db country database) opened through `maxminddb`, validated on open (metadata
//! sanity plus the reader's full verification walk) so a corrupt database fails loudly at start,
//! never mid-traffic. Owns decoding of records; never sees packets.

use std::borrow::Cow;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use maxminddb::{path, Reader};
use serde::{Deserialize, Serialize};

use super::country::Country;

/// The bundled country database (ip-location-db geo-whois-asn-country, CC BY 4.0, see
/// data/geo/README.md). Embedded so sovereign works with no setup.
pub const BUNDLED_MMDB: &[u8] = include_bytes!("../../data/geo/geo-whois-asn-country.mmdb");
pub const BUNDLED_NAME: &str = "bundled:geo-whois-asn-country";

/// Later than any real build date: databases claiming to be built after 2200 are corrupt.
const MAX_BUILD_EPOCH: u64 = 7_258_118_400;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{path}: cannot read geo database: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a valid MaxMind DB: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// One opened database.
#[derive(Debug)]
pub struct Database {
    /// File name (or [`BUNDLED_NAME`]), used as the `source` of answers.
    pub name: String,
    pub database_type: String,
    pub build_epoch: u64,
    reader: Reader<Cow<'static, [u8]>>,
}

/// Everything a database knows about one address (for `lookup`).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Record {
    pub database: String,
    pub found: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registered_country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub represented_country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_org: Option<String>,
    /// Anonymous-IP flags that are true, by their database names (`is_anonymous`, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub anonymous: Vec<&'static str>,
    /// GeoIP2 `traits.is_anycast`: the network is announced from several places.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub anycast: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawRecord<'a> {
    #[serde(borrow, default)]
    country: Option<IsoCode<'a>>,
    #[serde(borrow, default)]
    registered_country: Option<IsoCode<'a>>,
    #[serde(borrow, default)]
    represented_country: Option<IsoCode<'a>>,
    #[serde(borrow, default)]
    city: Option<City<'a>>,
    #[serde(default)]
    location: Option<Location>,
    #[serde(default)]
    autonomous_system_number: Option<u32>,
    #[serde(borrow, default)]
    autonomous_system_organization: Option<&'a str>,
    #[serde(borrow, default)]
    country_code: Option<&'a str>,
    #[serde(default)]
    is_anonymous: Option<bool>,
    #[serde(default)]
    is_anonymous_vpn: Option<bool>,
    #[serde(default)]
    is_hosting_provider: Option<bool>,
    #[serde(default)]
    is_public_proxy: Option<bool>,
    #[serde(default)]
    is_residential_proxy: Option<bool>,
    #[serde(default)]
    is_tor_exit_node: Option<bool>,
    #[serde(default)]
    traits: Option<Traits>,
}

#[derive(Deserialize)]
struct Traits {
    #[serde(default)]
    is_anycast: Option<bool>,
}

#[derive(Deserialize)]
struct IsoCode<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct City<'a> {
    #[serde(borrow, default)]
    names: Option<std::collections::BTreeMap<&'a str, &'a str>>,
}

#[derive(Deserialize)]
struct Location {
    #[serde(default)]
    latitude: Option<f64>,
    #[serde(default)]
    longitude: Option<f64>,
}

impl Database {
    pub fn open(path: &Path, verify: bool) -> Result<Database, DbError> {
        let bytes = std::fs::read(path).map_err(|source| DbError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        Database::from_bytes(Cow::Owned(bytes), name, path, verify)
    }

    pub fn bundled() -> Result<Database, DbError> {
        // The bundled database is verified by a test, not at every start.
        Database::from_bytes(
            Cow::Borrowed(BUNDLED_MMDB),
            BUNDLED_NAME.to_string(),
            Path::new(BUNDLED_NAME),
            false,
        )
    }

    fn from_bytes(
        bytes: Cow<'static, [u8]>,
        name: String,
        path: &Path,
        verify: bool,
    ) -> Result<Database, DbError> {
        let invalid = |message: String| DbError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let reader = Reader::from_source(bytes).map_err(|e| invalid(e.to_string()))?;
        let md = reader.metadata();
        if md.build_epoch > MAX_BUILD_EPOCH {
            return Err(invalid(format!(
                "metadata build_epoch {} is not a plausible date",
                md.build_epoch
            )));
        }
        if md.database_type.is_empty() {
            return Err(invalid("metadata database_type is empty".to_string()));
        }
        let database_type = md.database_type.clone();
        let build_epoch = md.build_epoch;
        let db = Database {
            name,
            database_type,
            build_epoch,
            reader,
        };
        if verify {
            db.verify()
                .map_err(|e| invalid(format!("verification failed: {e}")))?;
        }
        Ok(db)
    }

    /// Full verification of metadata, search tree and data section (`maxminddb`'s walk). It
    /// also demands a non-empty `description` map, as every MaxMind database has; databases
    /// without one (e.g. ip-location-db's) need `[geo] verify = false`.
    pub fn verify(&self) -> Result<(), String> {
        self.reader.verify().map_err(|e| {
            let msg = e.to_string();
            if msg.contains("description - Expected: non-empty map") {
                format!("{msg} (the metadata has no description; if the database is otherwise sound, set [geo] verify = false)")
            } else {
                msg
            }
        })
    }

    /// Country of `ip` by this database: GeoIP2 `country.iso_code`, else ip-location-db
    /// `country_code`. Errors (corrupt records) read as "no answer".
    pub fn country(&self, ip: IpAddr) -> Result<Option<Country>, String> {
        let r = self.reader.lookup(ip).map_err(|e| e.to_string())?;
        if !r.has_data() {
            return Ok(None);
        }
        if let Some(code) = r
            .decode_path::<&str>(&path!["country", "iso_code"])
            .map_err(|e| e.to_string())?
        {
            return Ok(Country::parse(code));
        }
        let code = r
            .decode_path::<&str>(&path!["country_code"])
            .map_err(|e| e.to_string())?;
        Ok(code.and_then(Country::parse))
    }

    /// Everything this database says about `ip`.
    pub fn record(&self, ip: IpAddr) -> Record {
        let mut out = Record {
            database: self.name.clone(),
            ..Record::default()
        };
        let r = match self.reader.lookup(ip) {
            Ok(r) => r,
            Err(e) => {
                out.error = Some(e.to_string());
                return out;
            }
        };
        if !r.has_data() {
            return out;
        }
        out.found = true;
        out.network = r.network().ok().map(|n| n.to_string());
        let raw: RawRecord<'_> = match r.decode() {
            Ok(Some(raw)) => raw,
            Ok(None) => return out,
            Err(e) => {
                out.error = Some(e.to_string());
                return out;
            }
        };
        let code = |c: Option<IsoCode<'_>>| c.and_then(|c| c.iso_code).map(str::to_string);
        out.country = code(raw.country).or_else(|| raw.country_code.map(str::to_string));
        out.registered_country = code(raw.registered_country);
        out.represented_country = code(raw.represented_country);
        out.city = raw
            .city
            .and_then(|c| c.names)
            .and_then(|n| n.get("en").map(|s| s.to_string()));
        if let Some(loc) = raw.location {
            out.latitude = loc.latitude;
            out.longitude = loc.longitude;
        }
        out.asn = raw.autonomous_system_number;
        out.as_org = raw.autonomous_system_organization.map(str::to_string);
        let flags = [
            ("is_anonymous", raw.is_anonymous),
            ("is_anonymous_vpn", raw.is_anonymous_vpn),
            ("is_hosting_provider", raw.is_hosting_provider),
            ("is_public_proxy", raw.is_public_proxy),
            ("is_residential_proxy", raw.is_residential_proxy),
            ("is_tor_exit_node", raw.is_tor_exit_node),
        ];
        out.anycast = raw.traits.and_then(|t| t.is_anycast).unwrap_or(false);
        out.anonymous = flags
            .iter()
            .filter(|(_, v)| *v == Some(true))
            .map(|(n, _)| *n)
            .collect();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bundled database has an empty metadata `description`, which `maxminddb`'s verifier
    /// refuses before walking the tree, so this test walks every network (with and without data)
    /// and decodes every record itself, bounded like the crate's own walk.
    #[test]
    fn bundled_database_is_sound() {
        let db = match Database::bundled() {
            Ok(db) => db,
            Err(e) => panic!("{e}"),
        };
        assert!(db.database_type.contains("country"), "{}", db.database_type);
        let verdict = db.verify();
        assert!(
            verdict.as_ref().is_err_and(|e| e.contains("description")),
            "{verdict:?}"
        );
        let md = db.reader.metadata();
        let limit = u64::from(md.node_count) * 3;
        let opts = maxminddb::WithinOptions::default().include_networks_without_data();
        let within = match db.reader.networks(opts) {
            Ok(w) => w,
            Err(e) => panic!("{e}"),
        };
        let (mut seen, mut with_country) = (0u64, 0u64);
        for item in within {
            let r = match item {
                Ok(r) => r,
                Err(e) => panic!("walk: {e}"),
            };
            if let Ok(Some(code)) = r.decode_path::<&str>(&path!["country_code"]) {
                assert!(Country::parse(code).is_some(), "bad code {code:?}");
                with_country += 1;
            }
            seen += 1;
            assert!(seen <= limit, "tree walk exceeds {limit} networks: cycle?");
        }
        assert!(
            with_country > 100_000,
            "{with_country} networks with a country"
        );
    }

    #[test]
    fn bundled_database_places_well_known_registrations() {
        let db = match Database::bundled() {
            Ok(db) => db,
            Err(e) => panic!("{e}"),
        };
        // Registrations stable for decades: Google public DNS (ARIN, US), RIPE NCC (NL),
        // Rogers (CA), Deutsche Telekom (DE), and Google over IPv6.
        for (ip, cc) in [
            ("8.8.8.8", "US"),
            ("193.0.6.139", "NL"),
            ("24.114.0.1", "CA"),
            ("194.25.2.129", "DE"),
            ("2001:4860:4860::8888", "US"),
        ] {
            let addr: IpAddr = match ip.parse() {
                Ok(a) => a,
                Err(e) => panic!("{e}"),
            };
            assert_eq!(
                db.country(addr).map(|c| c.map(|c| c.to_string())),
                Ok(Some(cc.to_string())),
                "{ip}"
            );
        }
    }
}
