//! Config: reads `sovereign.toml` (and the jurisdiction groups file), parses it into the raw serde
//! structs of [`raw`] and compiles them into validated runtime types (site, geo, flow, privacy,
//! policy). Every error names the file, the key and the reason. It never spawns threads, opens
//! sockets or captures, and never opens geo databases (that is `geo`'s job; `check-config` asks it).

pub mod raw;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;

use crate::alert::alertmanager::AlertmanagerConfig;
use crate::capture::CaptureConfig;
use crate::flow::FlowConfig;
use crate::geo::{Country, CountrySet, GeoConfig};
use crate::l7::names::NameConfig;
use crate::path::reach::LatLon;
use crate::pii::{Detector, DetectorSet};
use crate::pipeline::PipelineConfig;
use crate::policy::{Group, HostPattern, Jurisdictions, OnUnknown, Policy, Tenant};
use crate::probe::{ProbeConfig, Protocol};
use raw::{RawConfig, RawJurisdictions};

/// The bundled jurisdiction groups (rules/jurisdictions.toml), used unless
/// `[policy] jurisdictions` names another file.
pub const BUNDLED_JURISDICTIONS: &str = include_str!("../../rules/jurisdictions.toml");
pub const BUNDLED_JURISDICTIONS_NAME: &str = "bundled:rules/jurisdictions.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: key `{key}`: {reason}")]
    Invalid {
        file: String,
        key: String,
        reason: String,
    },
}

/// Validated runtime configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where it was read from (for messages).
    pub file: String,
    pub site: Site,
    pub geo: GeoConfig,
    pub flow: FlowConfig,
    /// HMAC key for identifiers; `None` means generate one per run.
    pub hmac_key: Option<SecretKey>,
    pub jurisdictions: Jurisdictions,
    pub policy: Policy,
    pub capture: CaptureConfig,
    pub pipeline: PipelineConfig,
    /// Prometheus endpoint address.
    pub metrics_listen: SocketAddr,
    pub alertmanager: Vec<AlertmanagerConfig>,
    /// Imported traceroutes (`[paths] files`), resolved against the config file.
    pub path_files: Vec<PathBuf>,
    /// `[paths] mrt` and `rir_stats`.
    pub mrt: Option<PathBuf>,
    pub rir_stats: Vec<PathBuf>,
    pub probe: ProbeConfig,
    pub app: AppConfig,
}

/// `[app]`, compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppConfig {
    /// How long an alert waits for its flow's hostname (TLS/QUIC SNI, HTTP Host).
    pub name_wait: Duration,
    pub names: NameConfig,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            name_wait: Duration::from_millis(500),
            names: NameConfig::default(),
        }
    }
}

/// Default `[metrics] listen`.
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9477";

/// The HMAC key. Whoever holds it can test guesses against the hashes in alerts (a card's BIN
/// and last 4 leave few candidates), so it is never printed: `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(Vec<u8>);

impl SecretKey {
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey(<{} bytes>)", self.0.len())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    pub name: Option<String>,
    pub inside: Vec<IpNet>,
    /// Where the gateway is (`[site] location`), for the speed-of-light bound.
    pub location: Option<LatLon>,
}

impl Site {
    pub fn is_inside(&self, ip: std::net::IpAddr) -> bool {
        self.inside.iter().any(|n| n.contains(&ip))
    }
}

/// Reads and compiles a config file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: file.clone(),
        source,
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    compile_str(&text, &file, base)
}

/// A TOML error as `file:line:col: message`, without the quoted source line (which could be the
/// `hmac_key` line).
fn parse_error(file: &str, text: &str, e: &toml::de::Error) -> ConfigError {
    let at = e
        .span()
        .map(|sp| {
            let before = &text[..sp.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
            format!("line {line}, column {col}: ")
        })
        .unwrap_or_default();
    ConfigError::Parse {
        file: file.to_string(),
        message: format!("{at}{}", e.message().trim_end()),
    }
}

/// Parses and compiles config text; relative paths resolve against `base`.
pub fn compile_str(text: &str, file: &str, base: &Path) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| parse_error(file, text, &e))?;
    compile(raw, file, base)
}

struct Ctx<'a> {
    file: &'a str,
}

impl Ctx<'_> {
    fn err(&self, key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_string(),
            key: key.into(),
            reason: reason.into(),
        }
    }

    fn cidr(&self, key: String, s: &str) -> Result<IpNet, ConfigError> {
        let net: IpNet = s.parse().map_err(|_| {
            self.err(
                key.clone(),
                format!("{s:?} is not a CIDR network (e.g. \"10.0.0.0/8\")"),
            )
        })?;
        if net.trunc() != net {
            return Err(self.err(
                key,
                format!("{s:?} has host bits set; did you mean \"{}\"?", net.trunc()),
            ));
        }
        Ok(net)
    }

    fn country(&self, key: String, s: &str) -> Result<Country, ConfigError> {
        match Country::parse(s) {
            Some(c) if c.is_assigned() && s.bytes().all(|b| b.is_ascii_uppercase()) => Ok(c),
            Some(c) if c.is_assigned() => Err(self.err(
                key,
                format!("{s:?}: write country codes in upper case ({c})"),
            )),
            _ => Err(self.err(
                key,
                format!("{s:?} is not an ISO 3166-1 alpha-2 country code"),
            )),
        }
    }

    fn secs(&self, key: &str, v: Option<u64>, default: Duration) -> Result<Duration, ConfigError> {
        match v {
            None => Ok(default),
            Some(0) => Err(self.err(key, "must be at least 1 second")),
            Some(s) if s > 7 * 86_400 => {
                Err(self.err(key, format!("{s} is more than 7 days (604800 s)")))
            }
            Some(s) => Ok(Duration::from_secs(s)),
        }
    }
}

fn compile(raw: RawConfig, file: &str, base: &Path) -> Result<Config, ConfigError> {
    let cx = Ctx { file };

    // [site]
    if raw.site.inside.is_empty() {
        return Err(cx.err(
            "site.inside",
            "must list at least one CIDR of the inside network",
        ));
    }
    let inside = raw
        .site
        .inside
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let net = cx.cidr(format!("site.inside[{i}]"), s)?;
            if net.prefix_len() == 0 {
                return Err(cx.err(
                    format!("site.inside[{i}]"),
                    format!("{net} makes every address inside, so nothing would ever be egress"),
                ));
            }
            Ok(net)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let location = match &raw.site.location {
        None => None,
        Some(l) => {
            if !(-90.0..=90.0).contains(&l.lat) || !(-180.0..=180.0).contains(&l.lon) {
                return Err(cx.err(
                    "site.location",
                    format!(
                        "lat {} / lon {} is not a place (lat -90..90, lon -180..180, degrees)",
                        l.lat, l.lon
                    ),
                ));
            }
            Some(LatLon {
                lat: l.lat,
                lon: l.lon,
            })
        }
    };
    let site = Site {
        name: raw.site.name.clone(),
        inside,
        location,
    };

    // [geo]
    let mut geo = GeoConfig::default();
    for (i, d) in raw.geo.databases.iter().enumerate() {
        let p = resolve(base, d);
        if !p.is_file() {
            return Err(cx.err(
                format!("geo.databases[{i}]"),
                format!("{} does not exist or is not a file", p.display()),
            ));
        }
        geo.databases.push(p);
    }
    if let Some(v) = raw.geo.verify {
        geo.verify = v;
    }
    if let Some(n) = raw.geo.cache_size {
        if n == 0 || n > 16_777_216 {
            return Err(cx.err(
                "geo.cache_size",
                format!("{n} is out of range 1..=16777216"),
            ));
        }
        geo.cache_size = n;
    }
    let mut seen = HashSet::new();
    for (i, o) in raw.geo.overrides.iter().enumerate() {
        let net = cx.cidr(format!("geo.override[{i}].network"), &o.network)?;
        let c = cx.country(format!("geo.override[{i}].country"), &o.country)?;
        if !seen.insert(net) {
            return Err(cx.err(
                format!("geo.override[{i}].network"),
                format!("{net} is overridden twice"),
            ));
        }
        geo.overrides.push((net, c));
    }

    // [flow]
    let d = FlowConfig::default();
    let max_flows = raw.flow.max_flows.unwrap_or(d.max_flows);
    if max_flows == 0 || max_flows > 100_000_000 {
        return Err(cx.err(
            "flow.max_flows",
            format!("{max_flows} is out of range 1..=100000000"),
        ));
    }
    let flow = FlowConfig {
        max_flows,
        tcp_handshake_timeout: cx.secs(
            "flow.tcp_handshake_timeout_secs",
            raw.flow.tcp_handshake_timeout_secs,
            d.tcp_handshake_timeout,
        )?,
        tcp_established_timeout: cx.secs(
            "flow.tcp_established_timeout_secs",
            raw.flow.tcp_established_timeout_secs,
            d.tcp_established_timeout,
        )?,
        tcp_closed_timeout: cx.secs(
            "flow.tcp_closed_timeout_secs",
            raw.flow.tcp_closed_timeout_secs,
            d.tcp_closed_timeout,
        )?,
        udp_timeout: cx.secs(
            "flow.udp_timeout_secs",
            raw.flow.udp_timeout_secs,
            d.udp_timeout,
        )?,
        other_timeout: cx.secs(
            "flow.other_timeout_secs",
            raw.flow.other_timeout_secs,
            d.other_timeout,
        )?,
    };

    // [privacy]
    let hmac_key = match &raw.privacy.hmac_key {
        None => None,
        Some(h) => {
            let k = hex::decode(h.trim())
                .map_err(|_| cx.err("privacy.hmac_key", "must be hexadecimal"))?;
            if k.len() < 16 {
                return Err(cx.err(
                    "privacy.hmac_key",
                    format!("is {} bytes; use at least 16 (32 hex digits)", k.len()),
                ));
            }
            Some(SecretKey(k))
        }
    };

    // [policy] jurisdictions
    let jurisdictions = match &raw.policy.jurisdictions {
        None => compile_jurisdictions(BUNDLED_JURISDICTIONS, BUNDLED_JURISDICTIONS_NAME)?,
        Some(p) => {
            let path = resolve(base, p);
            let name = path.display().to_string();
            let text = std::fs::read_to_string(&path)
                .map_err(|e| cx.err("policy.jurisdictions", format!("cannot read {name}: {e}")))?;
            compile_jurisdictions(&text, &name)?
        }
    };

    // [[tenant]]
    let mut tenants = Vec::with_capacity(raw.tenants.len());
    let mut ids = HashSet::new();
    let mut owner: BTreeMap<IpNet, String> = BTreeMap::new();
    for (ti, t) in raw.tenants.iter().enumerate() {
        let k = |rest: &str| format!("tenant[{ti}].{rest}");
        if t.id.is_empty()
            || !t
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            return Err(cx.err(
                k("id"),
                format!(
                    "{:?} must be non-empty ASCII letters, digits, '-', '_' or '.'",
                    t.id
                ),
            ));
        }
        if !ids.insert(t.id.clone()) {
            return Err(cx.err(k("id"), format!("duplicate tenant id {:?}", t.id)));
        }
        if t.networks.is_empty() {
            return Err(cx.err(k("networks"), "must list at least one CIDR"));
        }
        let mut networks = Vec::new();
        for (i, s) in t.networks.iter().enumerate() {
            let net = cx.cidr(k(&format!("networks[{i}]")), s)?;
            if !site.inside.iter().any(|inside| inside.contains(&net)) {
                return Err(cx.err(k(&format!("networks[{i}]")), format!("{net} is not inside [site].inside, so its traffic would never count as egress")));
            }
            if let Some(other) = owner.insert(net, t.id.clone()) {
                return Err(cx.err(k(&format!("networks[{i}]")), format!("{net} is also a network of tenant {other:?}; overlapping is fine, identical is ambiguous")));
            }
            networks.push(net);
        }
        if t.allow.is_empty() {
            return Err(cx.err(k("allow"), "must list at least one country code or group"));
        }
        let allow = country_set(&cx, &jurisdictions, &t.allow, &k("allow"))?;
        let deny_transit = country_set(&cx, &jurisdictions, &t.deny_transit, &k("deny_transit"))?;
        let on_unknown = match t.on_unknown.as_deref() {
            None | Some("alert") => OnUnknown::Alert,
            Some("ignore") => OnUnknown::Ignore,
            Some(o) => {
                return Err(cx.err(
                    k("on_unknown"),
                    format!("{o:?}: expected \"alert\" or \"ignore\""),
                ))
            }
        };
        let mut declared = Vec::new();
        for (i, s) in t.personal_data.declared.iter().enumerate() {
            let key = k(&format!("personal_data.declared[{i}]"));
            let net = cx.cidr(key.clone(), s)?;
            if !networks.iter().any(|n| n.contains(&net)) {
                return Err(cx.err(key, format!("{net} is not inside the tenant's networks")));
            }
            declared.push(net);
        }
        let mut detect = DetectorSet::empty();
        for (i, s) in t.personal_data.detect.iter().enumerate() {
            let d = Detector::from_name(s).ok_or_else(|| {
                let known: Vec<&str> = Detector::ALL.iter().map(|d| d.name()).collect();
                cx.err(
                    k(&format!("personal_data.detect[{i}]")),
                    format!("unknown detector {s:?}; known: {}", known.join(", ")),
                )
            })?;
            detect.insert(d);
        }
        if detect.is_empty() && declared.is_empty() {
            return Err(cx.err(
                k("personal_data"),
                "declares no network and enables no detector, so the tenant's traffic can never carry personal data",
            ));
        }
        let hosts = |name: &str, list: &[String]| -> Result<Vec<HostPattern>, ConfigError> {
            list.iter()
                .enumerate()
                .map(|(i, p)| {
                    HostPattern::parse(p)
                        .map_err(|why| cx.err(k(&format!("{name}[{i}]")), format!("{p:?}: {why}")))
                })
                .collect()
        };
        let allow_hosts = hosts("allow_hosts", &t.allow_hosts)?;
        let deny_hosts = hosts("deny_hosts", &t.deny_hosts)?;
        tenants.push(Tenant {
            id: t.id.clone(),
            networks,
            allow,
            allow_names: t.allow.clone(),
            allow_hosts,
            deny_hosts,
            deny_transit,
            deny_transit_names: t.deny_transit.clone(),
            on_unknown,
            declared,
            detect,
        });
    }

    let mut path_files = Vec::new();
    for (i, f) in raw.paths.files.iter().enumerate() {
        let p = resolve(base, f);
        if !p.is_file() {
            return Err(cx.err(
                format!("paths.files[{i}]"),
                format!("{} does not exist or is not a file", p.display()),
            ));
        }
        path_files.push(p);
    }
    let existing = |key: String, f: &str| {
        let p = resolve(base, f);
        if p.is_file() {
            Ok(p)
        } else {
            Err(cx.err(
                key,
                format!("{} does not exist or is not a file", p.display()),
            ))
        }
    };
    let mrt = raw
        .paths
        .mrt
        .as_deref()
        .map(|f| existing("paths.mrt".into(), f))
        .transpose()?;
    let rir_stats = raw
        .paths
        .rir_stats
        .iter()
        .enumerate()
        .map(|(i, f)| existing(format!("paths.rir_stats[{i}]"), f))
        .collect::<Result<Vec<_>, _>>()?;
    if mrt.is_some() == rir_stats.is_empty() {
        return Err(cx.err(
            "paths.mrt",
            "mrt and rir_stats go together: the AS path needs the ASes' registration countries",
        ));
    }
    let probe = compile_probe(&cx, &raw.probe)?;
    let app = compile_app(&cx, &raw.app, &flow)?;
    let capture = compile_capture(&cx, &raw.capture)?;
    let pipeline = compile_pipeline(&cx, &raw.pipeline)?;
    let listen = raw
        .metrics
        .listen
        .as_deref()
        .unwrap_or(DEFAULT_METRICS_LISTEN);
    let metrics_listen = listen.parse().map_err(|_| {
        cx.err(
            "metrics.listen",
            format!("{listen:?} is not an address:port (e.g. \"127.0.0.1:9477\")"),
        )
    })?;
    let alertmanager = raw
        .alert
        .sink
        .iter()
        .enumerate()
        .map(|(i, s)| compile_sink(&cx, base, i, s))
        .collect::<Result<Vec<_>, _>>()?;

    Ok(Config {
        file: file.to_string(),
        site,
        geo,
        flow,
        hmac_key,
        jurisdictions,
        policy: Policy::new(tenants),
        capture,
        pipeline,
        metrics_listen,
        alertmanager,
        path_files,
        mrt,
        rir_stats,
        probe,
        app,
    })
}

fn compile_app(
    cx: &Ctx<'_>,
    raw: &raw::RawApp,
    flow: &FlowConfig,
) -> Result<AppConfig, ConfigError> {
    let d = AppConfig::default();
    let wait = raw.name_wait_ms.unwrap_or(d.name_wait.as_millis() as u64);
    if wait > 10_000 {
        return Err(cx.err(
            "app.name_wait_ms",
            format!("{wait} is more than 10000: alerts would be late for little gain"),
        ));
    }
    // A held alert must be decided before its flow can time out: then the outcome does not
    // depend on which frames (or worker ticks) happen to fall between the two.
    let shortest = [
        flow.tcp_handshake_timeout,
        flow.tcp_established_timeout,
        flow.tcp_closed_timeout,
        flow.udp_timeout,
        flow.other_timeout,
    ]
    .into_iter()
    .min()
    .unwrap_or_default();
    if Duration::from_millis(wait) >= shortest {
        return Err(cx.err(
            "app.name_wait_ms",
            format!(
                "{wait} ms is not shorter than the shortest flow timeout ({} s)",
                shortest.as_secs()
            ),
        ));
    }
    let entries = raw.dns_cache_entries.unwrap_or(d.names.max_entries);
    if entries > 16 << 20 {
        return Err(cx.err(
            "app.dns_cache_entries",
            format!("{entries} is more than 16777216"),
        ));
    }
    let min_ttl = cx.secs(
        "app.dns_min_ttl_secs",
        raw.dns_min_ttl_secs,
        d.names.min_ttl,
    )?;
    let max_ttl = cx.secs(
        "app.dns_max_ttl_secs",
        raw.dns_max_ttl_secs,
        d.names.max_ttl,
    )?;
    if min_ttl > max_ttl {
        return Err(cx.err("app.dns_min_ttl_secs", "is more than app.dns_max_ttl_secs"));
    }
    Ok(AppConfig {
        name_wait: Duration::from_millis(wait),
        names: NameConfig {
            max_entries: entries,
            min_ttl,
            max_ttl,
        },
    })
}

fn compile_capture(cx: &Ctx<'_>, raw: &raw::RawCapture) -> Result<CaptureConfig, ConfigError> {
    let d = CaptureConfig::default();
    let snaplen = raw.snaplen.unwrap_or(d.snaplen);
    if !(64..=262_144).contains(&snaplen) {
        return Err(cx.err(
            "capture.snaplen",
            format!("{snaplen} is out of range 64..=262144"),
        ));
    }
    let buffer_bytes = raw.buffer_bytes.unwrap_or(d.buffer_bytes);
    if !(65_536..=(1 << 31) - 1).contains(&buffer_bytes) {
        return Err(cx.err(
            "capture.buffer_bytes",
            format!("{buffer_bytes} is out of range 65536..=2147483647"),
        ));
    }
    let bpf_filter = raw
        .bpf_filter
        .as_ref()
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty());
    if let Some(f) = &bpf_filter {
        // Compiled against a dead Ethernet handle: a typo fails here, not at start of capture.
        let dead = pcap::Capture::dead(pcap::Linktype::ETHERNET)
            .map_err(|e| cx.err("capture.bpf_filter", format!("cannot check it: {e}")))?;
        dead.compile(f, true)
            .map_err(|e| cx.err("capture.bpf_filter", format!("{f:?}: {e}")))?;
    }
    Ok(CaptureConfig {
        snaplen,
        promiscuous: raw.promiscuous.unwrap_or(d.promiscuous),
        buffer_bytes,
        bpf_filter,
    })
}

fn compile_probe(cx: &Ctx<'_>, raw: &raw::RawProbe) -> Result<ProbeConfig, ConfigError> {
    let d = ProbeConfig::default();
    let protocol = match raw.protocol.as_deref() {
        None => d.protocol,
        Some(p) => Protocol::parse(p).ok_or_else(|| {
            cx.err(
                "probe.protocol",
                format!("{p:?} is not one of \"udp\", \"icmp\", \"tcp\""),
            )
        })?,
    };
    let max_ttl = raw.max_ttl.unwrap_or(d.max_ttl);
    if !(1..=64).contains(&max_ttl) {
        return Err(cx.err("probe.max_ttl", format!("{max_ttl} is out of range 1..=64")));
    }
    let rounds = raw.rounds.unwrap_or(d.rounds);
    if !(1..=10).contains(&rounds) {
        return Err(cx.err("probe.rounds", format!("{rounds} is out of range 1..=10")));
    }
    let pps = raw.packets_per_second.unwrap_or(d.packets_per_second);
    if !(1..=1000).contains(&pps) {
        return Err(cx.err(
            "probe.packets_per_second",
            format!("{pps} is out of range 1..=1000"),
        ));
    }
    Ok(ProbeConfig {
        enabled: raw.enabled.unwrap_or(false),
        protocol,
        max_ttl,
        rounds,
        packets_per_second: pps,
        cache: cx.secs("probe.cache_secs", raw.cache_secs, d.cache)?,
        grace: d.grace,
    })
}

fn compile_pipeline(cx: &Ctx<'_>, raw: &raw::RawPipeline) -> Result<PipelineConfig, ConfigError> {
    let d = PipelineConfig::default();
    let workers = match raw.workers {
        None | Some(0) => None,
        Some(n) if n > 256 => {
            return Err(cx.err("pipeline.workers", format!("{n} is more than 256")))
        }
        Some(n) => Some(n),
    };
    let channel_batches = raw.channel_batches.unwrap_or(d.channel_batches);
    if !(1..=65_536).contains(&channel_batches) {
        return Err(cx.err(
            "pipeline.channel_batches",
            format!("{channel_batches} is out of range 1..=65536"),
        ));
    }
    Ok(PipelineConfig {
        workers,
        channel_batches,
    })
}

fn compile_sink(
    cx: &Ctx<'_>,
    base: &Path,
    i: usize,
    raw: &raw::RawSink,
) -> Result<AlertmanagerConfig, ConfigError> {
    let k = |f: &str| format!("alert.sink[{i}].{f}");
    if raw.kind != "alertmanager" {
        return Err(cx.err(
            k("type"),
            format!(
                "{:?} is not a sink type (known: \"alertmanager\"; JSON lines go to --alerts)",
                raw.kind
            ),
        ));
    }
    let d = AlertmanagerConfig::default();
    let url = raw
        .url
        .as_deref()
        .ok_or_else(|| cx.err(k("url"), "is required (e.g. \"http://127.0.0.1:9093\")"))?
        .trim_end_matches('/')
        .to_string();
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    if !rest.is_some_and(|r| !r.is_empty() && !r.contains(char::is_whitespace)) {
        return Err(cx.err(
            k("url"),
            format!("{url:?} is not an http:// or https:// URL"),
        ));
    }
    let batch_size = raw.batch_size.unwrap_or(d.batch_size);
    if !(1..=10_000).contains(&batch_size) {
        return Err(cx.err(
            k("batch_size"),
            format!("{batch_size} is out of range 1..=10000"),
        ));
    }
    let spool_max_alerts = raw.spool_max_alerts.unwrap_or(d.spool_max_alerts);
    if !(1..=10_000_000).contains(&spool_max_alerts) {
        return Err(cx.err(
            k("spool_max_alerts"),
            format!("{spool_max_alerts} is out of range 1..=10000000"),
        ));
    }
    let retry_initial = match raw.retry_initial_ms {
        None => d.retry_initial,
        Some(ms) if (1..=600_000).contains(&ms) => Duration::from_millis(ms),
        Some(ms) => {
            return Err(cx.err(
                k("retry_initial_ms"),
                format!("{ms} is out of range 1..=600000"),
            ))
        }
    };
    let retry_max = cx.secs(&k("retry_max_secs"), raw.retry_max_secs, d.retry_max)?;
    if retry_max < retry_initial {
        return Err(cx.err(k("retry_max_secs"), "is shorter than retry_initial_ms"));
    }
    Ok(AlertmanagerConfig {
        url,
        batch_size,
        timeout: cx.secs(&k("timeout_secs"), raw.timeout_secs, d.timeout)?,
        retry_initial,
        retry_max,
        spool_dir: raw
            .spool_dir
            .as_deref()
            .map_or(d.spool_dir, |p| resolve(base, p)),
        spool_max_alerts,
        drain_timeout: cx.secs(
            &k("drain_timeout_secs"),
            raw.drain_timeout_secs,
            d.drain_timeout,
        )?,
    })
}

fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// Expands country codes and group names.
fn country_set(
    cx: &Ctx<'_>,
    j: &Jurisdictions,
    names: &[String],
    key: &str,
) -> Result<CountrySet, ConfigError> {
    let mut set = CountrySet::new();
    for (i, n) in names.iter().enumerate() {
        if let Some(g) = j.groups.get(n) {
            set.extend(&g.members);
        } else if n.len() == 2 {
            set.insert(cx.country(format!("{key}[{i}]"), n)?);
        } else {
            let known: Vec<&str> = j.groups.keys().map(String::as_str).collect();
            return Err(cx.err(
                format!("{key}[{i}]"),
                format!(
                    "{n:?} is neither a country code nor a jurisdiction group (groups: {})",
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(set)
}

/// Parses and resolves jurisdiction groups (members may name other groups; no cycles).
pub fn compile_jurisdictions(text: &str, file: &str) -> Result<Jurisdictions, ConfigError> {
    let raw: RawJurisdictions = toml::from_str(text).map_err(|e| parse_error(file, text, &e))?;
    let cx = Ctx { file };
    let mut done: BTreeMap<String, CountrySet> = BTreeMap::new();
    fn expand(
        cx: &Ctx<'_>,
        raw: &RawJurisdictions,
        name: &str,
        stack: &mut BTreeSet<String>,
        done: &mut BTreeMap<String, CountrySet>,
    ) -> Result<CountrySet, ConfigError> {
        if let Some(s) = done.get(name) {
            return Ok(*s);
        }
        let Some(g) = raw.group.get(name) else {
            return Err(cx.err(format!("group.{name}"), "no such group"));
        };
        if !stack.insert(name.to_string()) {
            return Err(cx.err(
                format!("group.{name}.members"),
                "groups refer to each other in a cycle",
            ));
        }
        let mut set = CountrySet::new();
        for (i, m) in g.members.iter().enumerate() {
            let key = format!("group.{name}.members[{i}]");
            if raw.group.contains_key(m) {
                set.extend(&expand(cx, raw, m, stack, done)?);
            } else if m.len() == 2 {
                set.insert(cx.country(key, m)?);
            } else {
                return Err(cx.err(key, format!("{m:?} is neither a country code nor a group")));
            }
        }
        stack.remove(name);
        done.insert(name.to_string(), set);
        Ok(set)
    }
    let mut groups = BTreeMap::new();
    for (name, g) in &raw.group {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(cx.err(
                format!("group.{name}"),
                "group names are upper case letters, digits and '_'",
            ));
        }
        if name.len() == 2 && Country::parse(name).is_some_and(Country::is_assigned) {
            return Err(cx.err(
                format!("group.{name}"),
                "a group may not take the name of a country code",
            ));
        }
        let members = expand(&cx, &raw, name, &mut BTreeSet::new(), &mut done)?;
        if members.is_empty() {
            return Err(cx.err(format!("group.{name}.members"), "is empty"));
        }
        groups.insert(
            name.clone(),
            Group {
                description: g.description.clone(),
                source: g.source.clone(),
                members,
            },
        );
    }
    Ok(Jurisdictions { groups })
}

#[cfg(test)]
mod tests;
