//! Raw configuration: the serde structs that mirror `sovereign.toml` and `jurisdictions.toml`
//! key for key (`deny_unknown_fields` everywhere). Nothing here is validated; `config::compile`
//! turns these into runtime types. This module never touches the file system.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub site: RawSite,
    #[serde(default)]
    pub geo: RawGeo,
    #[serde(default)]
    pub flow: RawFlow,
    #[serde(default)]
    pub privacy: RawPrivacy,
    #[serde(default)]
    pub policy: RawPolicy,
    #[serde(default, rename = "tenant")]
    pub tenants: Vec<RawTenant>,
    #[serde(default)]
    pub capture: RawCapture,
    #[serde(default)]
    pub pipeline: RawPipeline,
    #[serde(default)]
    pub metrics: RawMetrics,
    #[serde(default)]
    pub alert: RawAlert,
    #[serde(default)]
    pub paths: RawPaths,
    #[serde(default)]
    pub probe: RawProbe,
    #[serde(default)]
    pub app: RawApp,
}

/// `[app]`: application metadata (hostnames) and the DNS name cache.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApp {
    /// How long an alert may wait for its flow to name itself (0: never wait).
    #[serde(default)]
    pub name_wait_ms: Option<u64>,
    #[serde(default)]
    pub dns_cache_entries: Option<usize>,
    #[serde(default)]
    pub dns_min_ttl_secs: Option<u64>,
    #[serde(default)]
    pub dns_max_ttl_secs: Option<u64>,
}

/// `[probe]`: live path measurement (`sovereign run` only).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProbe {
    #[serde(default)]
    pub enabled: Option<bool>,
    /// "udp" (Paris), "icmp" or "tcp".
    #[serde(default)]
    pub protocol: Option<String>,
    #[serde(default)]
    pub max_ttl: Option<u8>,
    #[serde(default)]
    pub rounds: Option<usize>,
    #[serde(default)]
    pub packets_per_second: Option<u32>,
    #[serde(default)]
    pub cache_secs: Option<u64>,
}

/// `[capture]`: live capture settings (`sovereign run`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCapture {
    #[serde(default)]
    pub snaplen: Option<u32>,
    #[serde(default)]
    pub promiscuous: Option<bool>,
    /// Kernel capture buffer in bytes.
    #[serde(default)]
    pub buffer_bytes: Option<u64>,
    /// BPF filter expression (libpcap backend only).
    #[serde(default)]
    pub bpf_filter: Option<String>,
}

/// `[pipeline]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPipeline {
    /// Worker threads; 0 or absent: one per core.
    #[serde(default)]
    pub workers: Option<usize>,
    /// Batches (of 64 frames) queued per worker before live capture drops.
    #[serde(default)]
    pub channel_batches: Option<usize>,
}

/// `[metrics]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// Address of the Prometheus endpoint (`/metrics`, `/healthz`).
    #[serde(default)]
    pub listen: Option<String>,
}

/// `[alert]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlert {
    #[serde(default)]
    pub sink: Vec<RawSink>,
}

/// `[[alert.sink]]`. Only `type = "alertmanager"` today; the JSON-lines sink is `--alerts`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSink {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: Option<String>,
    #[serde(default)]
    pub batch_size: Option<usize>,
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    #[serde(default)]
    pub retry_initial_ms: Option<u64>,
    #[serde(default)]
    pub retry_max_secs: Option<u64>,
    #[serde(default)]
    pub spool_dir: Option<String>,
    #[serde(default)]
    pub spool_max_alerts: Option<usize>,
    #[serde(default)]
    pub drain_timeout_secs: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSite {
    /// Name of this gateway, copied into every record as `sensor`.
    #[serde(default)]
    pub name: Option<String>,
    /// CIDRs of the inside (tenant) side of the gateway.
    pub inside: Vec<String>,
    /// Where the gateway is (for the speed-of-light bound on transit).
    #[serde(default)]
    pub location: Option<RawLocation>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLocation {
    pub lat: f64,
    pub lon: f64,
}

/// `[paths]`: path evidence.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPaths {
    /// Traceroutes measured from the gateway (RIPE Atlas or scamper JSON / JSON lines),
    /// relative to the config file.
    #[serde(default)]
    pub files: Vec<String>,
    /// MRT RIB dump (TABLE_DUMP_V2) of the gateway's BGP view.
    #[serde(default)]
    pub mrt: Option<String>,
    /// RIR delegated-extended statistics files (AS registration countries).
    #[serde(default)]
    pub rir_stats: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGeo {
    /// MaxMind DB files in priority order (relative to the config file); default: bundled.
    #[serde(default)]
    pub databases: Vec<String>,
    /// Verify databases fully when opening them (default true).
    #[serde(default)]
    pub verify: Option<bool>,
    #[serde(default)]
    pub cache_size: Option<usize>,
    #[serde(default, rename = "override")]
    pub overrides: Vec<RawOverride>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOverride {
    pub network: String,
    pub country: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFlow {
    #[serde(default)]
    pub max_flows: Option<usize>,
    #[serde(default)]
    pub tcp_handshake_timeout_secs: Option<u64>,
    #[serde(default)]
    pub tcp_established_timeout_secs: Option<u64>,
    #[serde(default)]
    pub tcp_closed_timeout_secs: Option<u64>,
    #[serde(default)]
    pub udp_timeout_secs: Option<u64>,
    #[serde(default)]
    pub other_timeout_secs: Option<u64>,
}

#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrivacy {
    /// Hex key for the HMAC of identifiers (at least 16 bytes); default: random per run.
    #[serde(default)]
    pub hmac_key: Option<String>,
}

impl std::fmt::Debug for RawPrivacy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is a secret: never printed.
        f.debug_struct("RawPrivacy")
            .field("hmac_key", &self.hmac_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    /// Jurisdiction groups file (relative to the config file); default: the bundled
    /// rules/jurisdictions.toml.
    #[serde(default)]
    pub jurisdictions: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTenant {
    pub id: String,
    pub networks: Vec<String>,
    pub allow: Vec<String>,
    #[serde(default)]
    pub deny_transit: Vec<String>,
    /// Hostname patterns ("api.example.eu", "*.example.eu") personal data may go to whatever
    /// their country.
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    /// Hostname patterns personal data must never go to.
    #[serde(default)]
    pub deny_hosts: Vec<String>,
    #[serde(default)]
    pub on_unknown: Option<String>,
    #[serde(default)]
    pub personal_data: RawPersonalData,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPersonalData {
    #[serde(default)]
    pub declared: Vec<String>,
    #[serde(default)]
    pub detect: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJurisdictions {
    pub group: BTreeMap<String, RawGroup>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGroup {
    pub description: String,
    pub source: String,
    pub members: Vec<String>,
}
