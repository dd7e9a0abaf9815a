//! CLI: clap argument types and the subcommands (`replay`, `check-config`, `lookup`). Each
//! subcommand loads config, asks the modules that own the work, and prints. It never opens
//! captures or evaluates rules itself.

use std::fs::File;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use crate::alert::JsonLines;
use crate::config::{self, Config};
use crate::engine::Runtime;
use crate::geo::{GeoConfig, GeoDb};
use crate::pipeline::{self, Sinks};

/// The default config, bundled so that `sovereign` runs with no files (rules/sovereign.toml).
pub const BUNDLED_CONFIG: &str = include_str!("../../rules/sovereign.toml");

#[derive(Debug, Parser)]
#[command(
    name = "sovereign",
    version,
    about = "Proves tenants' personal data stays in the jurisdictions it was promised to"
)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// Log filter (tracing EnvFilter syntax), e.g. "info" or "sovereign=debug".
    #[arg(long, default_value = "warn", global = true)]
    pub log: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay pcap/pcapng files through the pipeline; alerts go to stdout or --alerts.
    Replay {
        /// Config file (default: the bundled rules/sovereign.toml).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Write alerts (JSON lines) to this file instead of stdout.
        #[arg(long)]
        alerts: Option<PathBuf>,
        /// Write one flow record (JSON lines) per flow to this file.
        #[arg(long)]
        flows: Option<PathBuf>,
        /// Print the pipeline counters (Prometheus text format) after the summary.
        #[arg(long)]
        stats: bool,
        /// Capture files, replayed in the order given.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Validate a config file (and open its geo databases); prints what it compiled to.
    CheckConfig {
        /// Config file (default: the bundled rules/sovereign.toml).
        file: Option<PathBuf>,
    },
    /// Geolocate addresses as the pipeline would.
    Lookup {
        /// Config file for overrides and databases (default: bundled).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Use these MaxMind DB files instead of the config's (repeatable, in priority order).
        #[arg(long = "db")]
        dbs: Vec<PathBuf>,
        /// One JSON object per address.
        #[arg(long)]
        json: bool,
        #[arg(required = true)]
        ips: Vec<String>,
    },
}

/// Loads the given config or the bundled one.
pub fn load_config(path: Option<&Path>) -> Result<Config> {
    match path {
        Some(p) => Ok(config::load(p)?),
        None => Ok(config::compile_str(
            BUNDLED_CONFIG,
            "bundled:rules/sovereign.toml",
            Path::new("."),
        )?),
    }
}

fn hmac_key(cfg: &Config) -> Result<Vec<u8>> {
    if let Some(k) = &cfg.hmac_key {
        return Ok(k.bytes().to_vec());
    }
    let mut k = vec![0u8; 32];
    getrandom::fill(&mut k).map_err(|e| anyhow::anyhow!("cannot generate an HMAC key: {e}"))?;
    tracing::info!("privacy.hmac_key not set: identifier hashes use a random per-run key and cannot be joined across runs");
    Ok(k)
}

fn sink(path: Option<&Path>) -> Result<JsonLines> {
    Ok(match path {
        Some(p) => JsonLines::new(Box::new(
            File::create(p).with_context(|| format!("{}: cannot create", p.display()))?,
        )),
        None => JsonLines::new(Box::new(std::io::stdout())),
    })
}

/// Runs a parsed command; returns the process exit code.
pub fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Replay {
            config,
            alerts,
            flows,
            stats,
            files,
        } => {
            if let (Some(a), Some(f)) = (&alerts, &flows) {
                let same = a == f
                    || matches!((a.canonicalize(), f.canonicalize()), (Ok(x), Ok(y)) if x == y);
                if same {
                    anyhow::bail!("--alerts and --flows name the same file {}", a.display());
                }
            }
            let cfg = load_config(config.as_deref())?;
            let geo = Arc::new(GeoDb::open(&cfg.geo)?);
            let rt = Arc::new(Runtime::new(&cfg, geo, &hmac_key(&cfg)?));
            let sinks = Sinks {
                alerts: sink(alerts.as_deref())?,
                flows: flows.as_deref().map(|p| sink(Some(p))).transpose()?,
            };
            let out = pipeline::replay(rt, files, sinks)?;
            let mut err = std::io::stderr().lock();
            writeln!(err, "{}", out.summary.render())?;
            writeln!(
                err,
                "packets={} decode_errors={} flows={} evicted={} alerts={}",
                out.stats.packets,
                out.stats.decode_errors(),
                out.flows,
                out.stats.flows.evicted,
                out.alerts
            )?;
            if stats {
                write!(err, "{}", out.stats.render_prometheus())?;
            }
            for e in &out.capture_errors {
                writeln!(err, "error: {e}")?;
            }
            Ok(if out.capture_errors.is_empty() { 0 } else { 1 })
        }
        Command::CheckConfig { file } => {
            let cfg = load_config(file.as_deref())?;
            let geo = GeoDb::open(&cfg.geo)?;
            println!("{}: ok", cfg.file);
            println!(
                "  inside: {}",
                cfg.site
                    .inside
                    .iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            for d in &geo.databases {
                println!(
                    "  geo database: {} ({}, built {})",
                    d.name, d.database_type, d.build_epoch
                );
            }
            println!("  geo overrides: {}", cfg.geo.overrides.len());
            println!(
                "  jurisdiction groups: {}",
                cfg.jurisdictions
                    .groups
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            for t in &cfg.policy.tenants {
                println!(
                    "  tenant {}: networks {}; allow {} ({} countries); detect [{}]; declared {}",
                    t.id,
                    t.networks
                        .iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    t.allow_names.join(", "),
                    t.allow.len(),
                    t.detect
                        .iter()
                        .map(|d| d.name())
                        .collect::<Vec<_>>()
                        .join(", "),
                    t.declared.len()
                );
            }
            Ok(0)
        }
        Command::Lookup {
            config,
            dbs,
            json,
            ips,
        } => {
            let geo = if dbs.is_empty() {
                let cfg = load_config(config.as_deref())?;
                GeoDb::open(&cfg.geo)?
            } else {
                let mut gc = match config.as_deref() {
                    Some(p) => load_config(Some(p))?.geo,
                    None => GeoConfig::default(),
                };
                gc.databases = dbs;
                GeoDb::open(&gc)?
            };
            let mut parsed = Vec::with_capacity(ips.len());
            for s in &ips {
                let ip: IpAddr = s
                    .parse()
                    .map_err(|_| anyhow::anyhow!("{s:?} is not an IP address"))?;
                parsed.push(ip);
            }
            let mut out = std::io::stdout().lock();
            for ip in parsed {
                let r = geo.report(ip);
                if json {
                    serde_json::to_writer(&mut out, &r)?;
                    writeln!(out)?;
                } else {
                    let special = r
                        .special
                        .as_ref()
                        .map(|s| format!(" special={} ({}, {})", s.name, s.network, s.rfc))
                        .unwrap_or_default();
                    let emb = r
                        .embedded
                        .as_ref()
                        .map(|e| format!(" embedded_ipv4={}", e.ipv4))
                        .unwrap_or_default();
                    writeln!(
                        out,
                        "{} country={} source={}{}{}",
                        r.ip,
                        r.country.as_deref().unwrap_or("-"),
                        r.source.as_deref().unwrap_or("-"),
                        special,
                        emb
                    )?;
                }
            }
            Ok(0)
        }
    }
}
