//! Policy: tenants, jurisdiction groups and verdicts. Owns which inside address belongs to which
//! tenant (most specific network wins), whether a flow carries a tenant's personal data by
//! declaration, and the residency decision. Deterministic, no I/O: it is handed the facts (tenant,
//! destination answer, personal-data evidence) and returns what to raise.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::geo::{Country, CountrySet};
use crate::pii::DetectorSet;

/// A named set of countries from `rules/jurisdictions.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub description: String,
    pub source: String,
    pub members: CountrySet,
}

/// All jurisdiction groups, by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Jurisdictions {
    pub groups: BTreeMap<String, Group>,
}

/// What to do with personal data sent where no country is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnUnknown {
    Alert,
    Ignore,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    pub id: String,
    pub networks: Vec<IpNet>,
    /// Allowed destination countries (groups expanded).
    pub allow: CountrySet,
    /// `allow` as written in the config, for alert reasons ("not in EEA").
    pub allow_names: Vec<String>,
    /// Hostnames personal data may go to whatever their country (see [`Policy::decide`]).
    pub allow_hosts: Vec<HostPattern>,
    /// Hostnames personal data must never go to.
    pub deny_hosts: Vec<HostPattern>,
    /// Jurisdictions personal data must not transit (checked against path evidence).
    pub deny_transit: CountrySet,
    pub deny_transit_names: Vec<String>,
    pub on_unknown: OnUnknown,
    /// Inside networks whose every egress flow carries personal data.
    pub declared: Vec<IpNet>,
    /// Detectors run on this tenant's cleartext egress payloads.
    pub detect: DetectorSet,
}

/// A hostname pattern of `allow_hosts` / `deny_hosts`: an exact name (`api.example.eu`) or
/// `*.` and a suffix (`*.example.eu`: any name below example.eu, not example.eu itself, as in
/// TLS certificates but at any depth). Case-insensitive; a trailing dot is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    text: String,
    /// ".example.eu" for a wildcard, "api.example.eu" for an exact name.
    needle: String,
    wildcard: bool,
}

impl HostPattern {
    pub fn parse(s: &str) -> Result<HostPattern, &'static str> {
        let t = s.trim().trim_end_matches('.').to_ascii_lowercase();
        let (wildcard, name) = match t.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, t.as_str()),
        };
        if name.is_empty() {
            return Err("empty name");
        }
        if name.contains('*') {
            return Err("a wildcard is only allowed as the whole first label (\"*.example.eu\")");
        }
        let ok = name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
        if !ok || name.len() > 253 {
            return Err("not a hostname (labels of letters, digits, '-' and '_', dot-separated)");
        }
        Ok(HostPattern {
            text: s.trim().to_string(),
            needle: if wildcard {
                format!(".{name}")
            } else {
                name.to_string()
            },
            wildcard,
        })
    }

    /// Whether `host` (any case, optional trailing dot, optional ":port") matches.
    pub fn matches(&self, host: &str) -> bool {
        let h = host.trim_end_matches('.');
        // An HTTP Host may carry a port; SNI and DNS names never contain ':' (IPv6 literals
        // in Host headers are bracketed and never match a name pattern).
        let h = match h.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => h,
        };
        let h = h.trim_end_matches('.');
        if self.wildcard {
            h.len() > self.needle.len()
                && h.get(h.len() - self.needle.len()..)
                    .is_some_and(|tail| tail.eq_ignore_ascii_case(&self.needle))
        } else {
            h.eq_ignore_ascii_case(&self.needle)
        }
    }

    /// As written in the config.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Index into [`Policy::tenants`].
pub type TenantId = usize;

/// Alert kinds this stage raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Residency,
    UnknownJurisdiction,
    /// The path to the destination crosses a jurisdiction in the tenant's `deny_transit`.
    Transit,
    /// The flow's hostname matches the tenant's `deny_hosts`.
    DeniedHost,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Residency,
        Kind::UnknownJurisdiction,
        Kind::Transit,
        Kind::DeniedHost,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Residency => "residency",
            Kind::UnknownJurisdiction => "unknown_jurisdiction",
            Kind::Transit => "transit",
            Kind::DeniedHost => "denied_host",
        }
    }

    pub fn severity(self) -> &'static str {
        match self {
            Kind::Residency | Kind::Transit | Kind::DeniedHost => "high",
            Kind::UnknownJurisdiction => "medium",
        }
    }

    /// Bit for per-flow "already raised" sets.
    pub fn bit(self) -> u8 {
        match self {
            Kind::Residency => 1,
            Kind::UnknownJurisdiction => 2,
            Kind::Transit => 4,
            Kind::DeniedHost => 8,
        }
    }
}

/// Compiled tenants; shared read-only by every worker.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    pub tenants: Vec<Tenant>,
    /// (network, tenant) sorted most specific first.
    index: Vec<(IpNet, TenantId)>,
}

impl Policy {
    pub fn new(tenants: Vec<Tenant>) -> Policy {
        let mut index: Vec<(IpNet, TenantId)> = tenants
            .iter()
            .enumerate()
            .flat_map(|(i, t)| t.networks.iter().map(move |n| (*n, i)))
            .collect();
        index.sort_by(|a, b| b.0.prefix_len().cmp(&a.0.prefix_len()).then(a.1.cmp(&b.1)));
        Policy { tenants, index }
    }

    /// Tenant owning an inside address: the most specific network wins.
    pub fn tenant_of(&self, ip: IpAddr) -> Option<TenantId> {
        self.index
            .iter()
            .find(|(n, _)| n.contains(&ip))
            .map(|(_, t)| *t)
    }

    pub fn tenant(&self, id: TenantId) -> Option<&Tenant> {
        self.tenants.get(id)
    }

    /// Whether every egress flow of `ip` carries personal data of tenant `t`.
    pub fn is_declared(&self, t: TenantId, ip: IpAddr) -> bool {
        self.tenants
            .get(t)
            .is_some_and(|t| t.declared.iter().any(|n| n.contains(&ip)))
    }

    /// Destination decision for personal data of tenant `t` sent to a destination in `country`
    /// (None: unknown) under `host` (the flow's hostname, if known). Precedence:
    /// 1. `deny_hosts` matches the hostname -> [`Kind::DeniedHost`], whatever the country;
    /// 2. `allow_hosts` matches -> nothing (the country rules are waived for that name);
    /// 3. the country rules: `allow`, then `on_unknown`.
    ///
    /// Transit is decided separately and `allow_hosts` does not waive it. A name learned from a
    /// DNS answer (`from_dns`) counts for `deny_hosts` only: an answer is easier to forge than
    /// the flow's own SNI or Host, and a waiver must not rest on it. Pure and cheap (no
    /// allocation): it runs for every egress payload packet of a flow carrying personal data.
    pub fn decide(
        &self,
        t: TenantId,
        country: Option<Country>,
        host: Option<&str>,
        from_dns: bool,
    ) -> Option<Kind> {
        let tenant = self.tenants.get(t)?;
        if let Some(h) = host {
            if tenant.deny_hosts.iter().any(|p| p.matches(h)) {
                return Some(Kind::DeniedHost);
            }
            if !from_dns && tenant.allow_hosts.iter().any(|p| p.matches(h)) {
                return None;
            }
        }
        match country {
            Some(c) if tenant.allow.contains(c) => None,
            Some(_) => Some(Kind::Residency),
            None => match tenant.on_unknown {
                OnUnknown::Ignore => None,
                OnUnknown::Alert => Some(Kind::UnknownJurisdiction),
            },
        }
    }

    /// Jurisdictions of `crossed` that tenant `t` forbids personal data to transit.
    pub fn denied_transit(&self, t: TenantId, crossed: &[Country]) -> Vec<Country> {
        let Some(tenant) = self.tenants.get(t) else {
            return Vec::new();
        };
        let mut out: Vec<Country> = crossed
            .iter()
            .copied()
            .filter(|c| tenant.deny_transit.contains(*c))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The human reason of a verdict, built only when an alert is raised.
    pub fn reason(
        &self,
        t: TenantId,
        kind: Kind,
        country: Option<Country>,
        host: Option<&str>,
    ) -> String {
        let Some(tenant) = self.tenants.get(t) else {
            return String::new();
        };
        match (kind, country) {
            (Kind::DeniedHost, _) => {
                let h = host.unwrap_or_default();
                let p = tenant
                    .deny_hosts
                    .iter()
                    .find(|p| p.matches(h))
                    .map_or("", |p| p.as_str());
                format!(
                    "personal data of {} sent to {h}, which matches deny_hosts {p:?}",
                    tenant.id
                )
            }
            (Kind::Transit, _) => format!(
                "personal data of {} crosses a jurisdiction it must not transit ({})",
                tenant.id,
                tenant.deny_transit_names.join(", ")
            ),
            (Kind::Residency, Some(c)) => format!(
                "personal data of {} sent to {} (not in {})",
                tenant.id,
                c,
                tenant.allow_names.join(", ")
            ),
            _ => format!(
                "personal data of {} sent to a destination with no known jurisdiction",
                tenant.id
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(id: &str, nets: &[&str], allow: &[&str]) -> Tenant {
        let mut set = CountrySet::new();
        for c in allow.iter().filter_map(|c| Country::parse(c)) {
            set.insert(c);
        }
        Tenant {
            id: id.to_string(),
            networks: nets.iter().filter_map(|n| n.parse().ok()).collect(),
            allow: set,
            allow_names: allow.iter().map(|s| s.to_string()).collect(),
            allow_hosts: vec![],
            deny_hosts: vec![],
            deny_transit: CountrySet::new(),
            deny_transit_names: vec![],
            on_unknown: OnUnknown::Alert,
            declared: vec![],
            detect: DetectorSet::empty(),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn most_specific_network_wins_regardless_of_order() {
        let p = Policy::new(vec![
            tenant("wide", &["10.0.0.0/8"], &["DE"]),
            tenant("narrow", &["10.1.2.0/24"], &["DE"]),
        ]);
        assert_eq!(p.tenant_of(ip("10.1.2.3")), Some(1));
        assert_eq!(p.tenant_of(ip("10.9.9.9")), Some(0));
        assert_eq!(p.tenant_of(ip("192.0.2.1")), None);
    }

    #[test]
    fn verdicts() {
        let mut p = Policy::new(vec![tenant("acme-eu", &["10.0.0.0/8"], &["DE", "FR"])]);
        assert_eq!(p.decide(0, Country::parse("DE"), None, false), None);
        let us = Country::parse("US");
        let v = p
            .decide(0, us, None, false)
            .map(|k| (k, p.reason(0, k, us, None)));
        assert_eq!(
            v,
            Some((
                Kind::Residency,
                "personal data of acme-eu sent to US (not in DE, FR)".to_string()
            ))
        );
        assert_eq!(
            p.decide(0, None, None, false),
            Some(Kind::UnknownJurisdiction)
        );
        p.tenants[0].on_unknown = OnUnknown::Ignore;
        assert_eq!(p.decide(0, None, None, false), None);
    }

    #[test]
    fn host_patterns() {
        let w = HostPattern::parse("*.Example.EU.").expect("wildcard");
        assert!(w.matches("api.example.eu"));
        assert!(w.matches("a.b.EXAMPLE.eu."));
        assert!(w.matches("api.example.eu:8443"));
        assert!(!w.matches("example.eu"), "the wildcard needs a label below");
        assert!(!w.matches("badexample.eu"));
        let e = HostPattern::parse("api.example.eu").expect("exact");
        assert!(e.matches("API.example.eu"));
        assert!(!e.matches("x.api.example.eu"));
        for bad in [
            "",
            "*",
            "*.",
            "a.*.example.eu",
            "exa mple.eu",
            "a..b",
            "*example.eu",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad:?} must be refused");
        }
    }

    /// deny_hosts beats allow_hosts beats the country rules.
    #[test]
    fn host_precedence() {
        let mut p = Policy::new(vec![tenant("acme-eu", &["10.0.0.0/8"], &["DE"])]);
        let pat = |s: &str| HostPattern::parse(s).expect("pattern");
        p.tenants[0].allow_hosts = vec![pat("*.eu-saas.example")];
        p.tenants[0].deny_hosts = vec![pat("tracker.eu-saas.example"), pat("*.ads.example")];
        let us = Country::parse("US");
        let de = Country::parse("DE");
        // allow_hosts waives the country rule...
        assert_eq!(p.decide(0, us, Some("api.eu-saas.example"), false), None);
        assert_eq!(p.decide(0, None, Some("api.eu-saas.example"), false), None);
        // ...deny_hosts wins over allow_hosts and over an allowed country...
        assert_eq!(
            p.decide(0, us, Some("tracker.eu-saas.example"), false),
            Some(Kind::DeniedHost)
        );
        assert_eq!(
            p.decide(0, de, Some("x.ads.example"), false),
            Some(Kind::DeniedHost)
        );
        assert_eq!(
            p.reason(0, Kind::DeniedHost, de, Some("x.ads.example")),
            "personal data of acme-eu sent to x.ads.example, which matches deny_hosts \"*.ads.example\""
        );
        // A name from a DNS answer may deny, never allow.
        assert_eq!(
            p.decide(0, us, Some("api.eu-saas.example"), true),
            Some(Kind::Residency)
        );
        assert_eq!(
            p.decide(0, de, Some("x.ads.example"), true),
            Some(Kind::DeniedHost)
        );
        // ...and without a matching name the country decides.
        assert_eq!(
            p.decide(0, us, Some("other.example"), false),
            Some(Kind::Residency)
        );
        assert_eq!(p.decide(0, us, None, false), Some(Kind::Residency));
        assert_eq!(p.decide(0, de, None, false), None);
    }
}
