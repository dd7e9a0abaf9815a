//! CLI: clap argument types and the subcommands (`run`, `replay`, `check-config`, `lookup`).
//! Each subcommand loads config, asks the modules that own the work, and prints; `run` also owns
//! the daemon's process concerns (signals, reload, dropping root). It never reads packets or
//! evaluates rules itself.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use crate::alert::alertmanager::AlertmanagerSink;
use crate::alert::JsonLines;
use crate::capture::live::{Backend, LiveCapture};
use crate::config::{self, Config};
use crate::engine::Runtime;
use crate::geo::{GeoConfig, GeoDb};
use crate::metrics::exporter::{Exporter, HttpServer};
use crate::path::{atlas, bgp, PathDb, PathRecord};
use crate::pipeline::{self, Control, Outcome, Sinks, Source};

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

/// Options `run` and `replay` share.
#[derive(Debug, Clone, clap::Args)]
pub struct PipelineArgs {
    /// Config file (default: the bundled rules/sovereign.toml; `run` re-reads it on SIGHUP).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Write alerts (JSON lines) to this file instead of stdout (`run` appends, `replay`
    /// truncates).
    #[arg(long)]
    pub alerts: Option<PathBuf>,
    /// Write one flow record (JSON lines) per flow to this file.
    #[arg(long)]
    pub flows: Option<PathBuf>,
    /// Worker threads (default: [pipeline] workers, else one per core). Alerts and flows are
    /// the same whatever the number; only their order in the files differs.
    #[arg(long)]
    pub workers: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay pcap/pcapng files through the pipeline; alerts go to stdout or --alerts.
    Replay {
        #[command(flatten)]
        common: PipelineArgs,
        /// Print the pipeline counters (Prometheus text format) after the summary.
        #[arg(long)]
        stats: bool,
        /// Traceroutes measured from the gateway (RIPE Atlas or scamper JSON / JSON lines), as path
        /// evidence for tenants' deny_transit (repeatable; added to [paths] files).
        #[arg(long = "paths")]
        paths: Vec<PathBuf>,
        /// MRT RIB dump of the gateway's BGP view (with --rir-stats; overrides [paths] mrt).
        #[arg(long)]
        mrt: Option<PathBuf>,
        /// RIR delegated-extended statistics file(s) (repeatable; added to [paths] rir_stats).
        #[arg(long = "rir-stats")]
        rir_stats: Vec<PathBuf>,
        /// Capture files, replayed in the order given.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run as a gateway sidecar: capture live on an interface until SIGTERM/SIGINT; SIGHUP
    /// reloads the config. Alerts go to stdout or --alerts, and to [[alert.sink]]s.
    Run {
        /// Interface to capture on.
        #[arg(long, short)]
        iface: String,
        #[command(flatten)]
        common: PipelineArgs,
        /// Prometheus endpoint (/metrics, /healthz) (default: [metrics] listen, 127.0.0.1:9477).
        #[arg(long)]
        metrics: Option<std::net::SocketAddr>,
        /// Capture backend.
        #[arg(long, value_enum, default_value_t = Backend::Pcap)]
        capture: Backend,
        /// Drop root to this user once the capture, sockets and files are open.
        #[arg(long)]
        user: Option<String>,
    },
    /// Trace the path to DEST from here (flow-stable traceroute; needs CAP_NET_RAW): hops with
    /// countries and the verdict against --deny (default: every tenant's deny_transit).
    Trace {
        /// Config file for overrides, databases, [probe] settings (default: bundled).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Jurisdictions (country codes or groups) the path must not cross.
        #[arg(long, value_delimiter = ',')]
        deny: Vec<String>,
        /// udp (Paris), icmp or tcp (default: [probe] protocol).
        #[arg(long)]
        protocol: Option<String>,
        dest: IpAddr,
    },
    /// Summarise imported traceroutes: per probe, the hops' countries and the verdict.
    Paths {
        /// Config file for overrides and databases (default: bundled).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Jurisdictions (country codes or groups) the paths must not cross; default: every
        /// tenant's deny_transit in the config.
        #[arg(long, value_delimiter = ',')]
        deny: Vec<String>,
        /// One JSON object per traceroute.
        #[arg(long)]
        json: bool,
        /// RIPE Atlas traceroute results or scamper JSON (JSON, JSON lines, or a download wrapper).
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

/// A JSON-lines sink on a file or stdout. `replay` truncates (one run, one file); `run`
/// appends, so a restart keeps earlier alerts and logrotate's copytruncate leaves no holes.
fn sink(path: Option<&Path>, append: bool) -> Result<JsonLines> {
    Ok(match path {
        Some(p) => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .append(append)
                .truncate(!append)
                .open(p)
                .with_context(|| format!("{}: cannot open for writing", p.display()))?;
            JsonLines::new(Box::new(f))
        }
        None => JsonLines::new(Box::new(std::io::stdout())),
    })
}

/// Runs a parsed command; returns the process exit code.
pub fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Replay {
            common:
                PipelineArgs {
                    config,
                    alerts,
                    flows,
                    workers,
                },
            stats,
            paths,
            mrt,
            rir_stats,
            files,
        } => {
            check_distinct(alerts.as_deref(), flows.as_deref())?;
            let cfg = load_config(config.as_deref())?;
            let geo = Arc::new(GeoDb::open(&cfg.geo)?);
            let mut rt = Runtime::new(&cfg, geo.clone(), &hmac_key(&cfg)?);
            let mut path_files = cfg.path_files.clone();
            path_files.extend(paths);
            let mut stats_files = cfg.rir_stats.clone();
            stats_files.extend(rir_stats);
            let mrt = mrt.or_else(|| cfg.mrt.clone());
            rt.paths = Arc::new(load_paths(&path_files, mrt.as_deref(), &stats_files, &geo)?);
            let rt = Arc::new(rt);
            let sinks = Sinks {
                alerts: sink(alerts.as_deref(), false)?,
                flows: flows.as_deref().map(|p| sink(Some(p), false)).transpose()?,
                alertmanager: None,
                // Replay never probes.
                probe: None,
            };
            let n = worker_count(workers, &cfg)?;
            let exp = Exporter::new(n)?;
            let out = pipeline::run(
                rt,
                Source::Replay(files),
                sinks,
                cfg.pipeline.channel_batches,
                exp,
                Arc::new(Control::default()),
            )?;
            report(&out, stats)?;
            Ok(if out.capture_errors.is_empty() { 0 } else { 1 })
        }
        Command::Run {
            iface,
            common,
            metrics,
            capture,
            user,
        } => run_daemon(RunArgs {
            iface,
            common,
            metrics,
            capture,
            user,
        }),
        Command::Paths {
            config,
            deny,
            json,
            files,
        } => paths_command(config.as_deref(), &deny, json, &files),
        Command::Trace {
            config,
            deny,
            protocol,
            dest,
        } => trace_command(config.as_deref(), &deny, protocol.as_deref(), dest),
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
                "  capture: snaplen {}, promiscuous {}, buffer {} bytes, filter {:?}",
                cfg.capture.snaplen,
                cfg.capture.promiscuous,
                cfg.capture.buffer_bytes,
                cfg.capture.bpf_filter.as_deref().unwrap_or("")
            );
            println!(
                "  pipeline: workers {}, {} batches per worker; metrics on {}",
                cfg.pipeline.workers.map_or_else(
                    || format!("{} (cores)", pipeline::default_workers()),
                    |n| n.to_string()
                ),
                cfg.pipeline.channel_batches,
                cfg.metrics_listen
            );
            for am in &cfg.alertmanager {
                println!(
                    "  alertmanager: {} (batch {}, spool {} up to {} alerts)",
                    crate::alert::alertmanager::redacted_url(&am.url),
                    am.batch_size,
                    am.spool_dir.display(),
                    am.spool_max_alerts
                );
            }
            println!(
                "  jurisdiction groups: {}",
                cfg.jurisdictions
                    .groups
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            println!(
                "  app: alerts wait up to {} ms for a hostname; DNS cache {} addresses, TTL {}-{} s",
                cfg.app.name_wait.as_millis(),
                cfg.app.names.max_entries,
                cfg.app.names.min_ttl.as_secs(),
                cfg.app.names.max_ttl.as_secs()
            );
            for t in &cfg.policy.tenants {
                let pats = |v: &[crate::policy::HostPattern]| {
                    v.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
                };
                println!(
                    "  tenant {}: networks {}; allow {} ({} countries); allow_hosts [{}]; deny_hosts [{}]; detect [{}]; declared {}",
                    t.id,
                    t.networks
                        .iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    t.allow_names.join(", "),
                    t.allow.len(),
                    pats(&t.allow_hosts),
                    pats(&t.deny_hosts),
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

fn check_distinct(alerts: Option<&Path>, flows: Option<&Path>) -> Result<()> {
    if let (Some(a), Some(f)) = (alerts, flows) {
        let same =
            a == f || matches!((a.canonicalize(), f.canonicalize()), (Ok(x), Ok(y)) if x == y);
        if same {
            anyhow::bail!("--alerts and --flows name the same file {}", a.display());
        }
    }
    Ok(())
}

fn worker_count(arg: Option<usize>, cfg: &Config) -> Result<usize> {
    match arg.or(cfg.pipeline.workers) {
        Some(0) => anyhow::bail!("--workers must be at least 1"),
        Some(n) if n > 256 => anyhow::bail!("--workers {n} is more than 256"),
        Some(n) => Ok(n),
        None => Ok(pipeline::default_workers()),
    }
}

/// Summary and counters on stderr at the end of a run.
fn report(out: &Outcome, stats: bool) -> Result<()> {
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
    Ok(())
}

struct RunArgs {
    iface: String,
    common: PipelineArgs,
    metrics: Option<std::net::SocketAddr>,
    capture: Backend,
    user: Option<String>,
}

/// Builds the runtime of a reloaded config; the per-run random HMAC key is kept when the
/// config sets none, so hashes stay joinable across reloads.
fn reload_runtime(
    path: Option<&Path>,
    boot: &Config,
    run_key: &[u8],
    rtt_bound: bool,
) -> Result<(Config, Arc<Runtime>)> {
    let cfg = load_config(path)?;
    let geo = Arc::new(GeoDb::open(&cfg.geo)?);
    // Compared with the config the process started with: these never change without a restart.
    if cfg.capture != boot.capture
        || cfg.pipeline != boot.pipeline
        || cfg.metrics_listen != boot.metrics_listen
        || cfg.alertmanager != boot.alertmanager
        || cfg.flow.max_flows != boot.flow.max_flows
        || cfg.app.names != boot.app.names
    {
        tracing::warn!(file = %cfg.file, "config_reload_partial: [capture], [pipeline], [metrics], [[alert.sink]], flow.max_flows and [app] dns_* differ from the running process; they take effect at restart");
    }
    let key = cfg
        .hmac_key
        .as_ref()
        .map_or_else(|| run_key.to_vec(), |k| k.bytes().to_vec());
    // Probing is started at boot; [probe] changes apply at restart.
    let rt = live_runtime(&cfg, geo, &key, boot.probe.enabled, rtt_bound)?;
    Ok((cfg, Arc::new(rt)))
}

/// The runtime `run` uses: the config's path evidence loaded, probing and the RTT bound set.
fn live_runtime(
    cfg: &Config,
    geo: Arc<GeoDb>,
    key: &[u8],
    probe: bool,
    rtt_bound: bool,
) -> Result<Runtime> {
    let mut rt = Runtime::new(cfg, geo.clone(), key);
    rt.paths = Arc::new(load_paths(
        &cfg.path_files,
        cfg.mrt.as_deref(),
        &cfg.rir_stats,
        &geo,
    )?);
    rt.probe = probe;
    rt.rtt_bound = rtt_bound;
    Ok(rt)
}

/// Drops root for `user` (supplementary groups, group, user).
fn drop_privileges(user: &str) -> Result<()> {
    use nix::unistd::{setgid, setgroups, setuid, User};
    let u = User::from_name(user)
        .with_context(|| format!("--user {user}: cannot look up the user"))?
        .ok_or_else(|| anyhow::anyhow!("--user {user}: no such user"))?;
    setgroups(&[u.gid]).with_context(|| format!("--user {user}: setgroups"))?;
    setgid(u.gid).with_context(|| format!("--user {user}: setgid"))?;
    setuid(u.uid).with_context(|| format!("--user {user}: setuid"))?;
    tracing::info!(
        user,
        uid = u.uid.as_raw(),
        gid = u.gid.as_raw(),
        "privileges_dropped"
    );
    Ok(())
}

fn run_daemon(a: RunArgs) -> Result<i32> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

    check_distinct(a.common.alerts.as_deref(), a.common.flows.as_deref())?;
    let cfg = load_config(a.common.config.as_deref())?;
    let key = hmac_key(&cfg)?;
    let geo = Arc::new(GeoDb::open(&cfg.geo)?);
    // pnet gives no kernel timestamps: handshake RTTs are then not trustworthy as bounds.
    let rtt_bound = a.capture == Backend::Pcap;
    let rt = live_runtime(&cfg, geo.clone(), &key, cfg.probe.enabled, rtt_bound)?;
    if cfg.probe.enabled && a.user.is_some() {
        anyhow::bail!(
            "{}: [probe] enabled needs raw sockets for every trace, which --user gives up; run without --user (with CAP_NET_RAW) or disable [probe]",
            cfg.file
        );
    }
    let rt = Arc::new(rt);
    let n = worker_count(a.common.workers, &cfg)?;
    let exp = Exporter::new(n)?;
    exp.pipeline
        .start_time
        .set(crate::time::wall_clock().0 as f64 / 1e9);

    // Everything that needs root is opened before privileges are dropped.
    let cap = LiveCapture::open(&a.iface, a.capture, &cfg.capture)?;
    let listen = a.metrics.unwrap_or(cfg.metrics_listen);
    let http = HttpServer::start(listen, exp.clone())?;
    let mut sinks = Sinks {
        alerts: sink(a.common.alerts.as_deref(), true)?,
        flows: a
            .common
            .flows
            .as_deref()
            .map(|p| sink(Some(p), true))
            .transpose()?,
        alertmanager: None,
        probe: cfg.probe.enabled.then(|| (cfg.probe.clone(), geo.clone())),
    };
    let mut signals = signal_hook::iterator::Signals::new([SIGHUP, SIGTERM, SIGINT])
        .context("cannot install signal handlers")?;
    if let Some(u) = &a.user {
        drop_privileges(u)?;
    }
    // The spool is opened as the user the daemon runs as (it keeps writing files there).
    for (i, c) in cfg.alertmanager.iter().enumerate() {
        if i > 0 {
            anyhow::bail!(
                "{}: only one [[alert.sink]] of type alertmanager is supported",
                cfg.file
            );
        }
        sinks.alertmanager = Some(AlertmanagerSink::start(c.clone(), exp.pipeline.clone())?);
    }

    let control = Arc::new(Control::default());
    let channel_batches = cfg.pipeline.channel_batches;
    let handle = signals.handle();
    let sig_thread = {
        let control = control.clone();
        let exp = exp.clone();
        let path = a.common.config.clone();
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                let boot = cfg;
                let mut stopping = false;
                for sig in signals.forever() {
                    match sig {
                        SIGHUP => match reload_runtime(path.as_deref(), &boot, &key, rtt_bound) {
                            Ok((c, rt)) => {
                                if !control.request_reload(rt, Duration::from_secs(5)) {
                                    tracing::warn!("config_reload: the capture thread has not taken the new config yet; it will");
                                }
                                exp.pipeline.reloads.with_label_values(&["ok"]).inc();
                                exp.pipeline.last_reload_ok.set(1);
                                tracing::info!(result = "ok", file = %c.file, "config_reload");
                            }
                            Err(e) => {
                                exp.pipeline.reloads.with_label_values(&["error"]).inc();
                                exp.pipeline.last_reload_ok.set(0);
                                tracing::error!(result = "error", error = %format!("{e:#}"), "config_reload: keeping the running config");
                            }
                        },
                        _ if stopping => {
                            // A second SIGTERM/SIGINT: the operator does not want to wait for
                            // the drain (pending alerts stay in the Alertmanager spool).
                            tracing::warn!(signal = sig, "shutdown_forced");
                            std::process::exit(1);
                        }
                        _ => {
                            stopping = true;
                            tracing::info!(signal = sig, "shutdown_requested");
                            control.request_stop();
                        }
                    }
                }
            })?
    };

    tracing::info!(iface = %a.iface, workers = n, metrics = %http.addr, "running");
    let out = pipeline::run(
        rt,
        Source::Live(cap),
        sinks,
        channel_batches,
        exp.clone(),
        control,
    );
    handle.close();
    let _ = sig_thread.join();
    drop(http);
    let out = out?;
    report(&out, false)?;
    if let Some(e) = &out.live_error {
        anyhow::bail!("{e}");
    }
    Ok(0)
}

/// Reads traceroute files (hops geolocated with `geo`) and BGP data into path evidence.
fn load_paths(
    files: &[PathBuf],
    mrt: Option<&Path>,
    rir_stats: &[PathBuf],
    geo: &GeoDb,
) -> Result<PathDb> {
    let mut traces = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("{}: cannot read", f.display()))?;
        traces.extend(atlas::parse(&text, &f.display().to_string())?);
    }
    let mut db = PathDb::from_traceroutes(&traces, geo);
    match (mrt, rir_stats.is_empty()) {
        (Some(m), false) => {
            let file =
                std::fs::File::open(m).with_context(|| format!("{}: cannot read", m.display()))?;
            let rib = bgp::Rib::read(std::io::BufReader::new(file), &m.display().to_string())?;
            let mut stats = bgp::AsCountries::default();
            for f in rir_stats {
                let text = std::fs::read_to_string(f)
                    .with_context(|| format!("{}: cannot read", f.display()))?;
                stats.add(&text, &f.display().to_string())?;
            }
            tracing::info!(prefixes = rib.len(), "bgp_loaded");
            db = db.with_bgp(rib, stats);
        }
        (None, true) => {}
        _ => anyhow::bail!(
            "--mrt and --rir-stats go together: the AS path needs the ASes' registration countries"
        ),
    }
    if !files.is_empty() {
        tracing::info!(
            files = files.len(),
            traceroutes = traces.len(),
            destinations = db.len(),
            "paths_loaded"
        );
    }
    Ok(db)
}

fn paths_command(
    config: Option<&Path>,
    deny: &[String],
    json: bool,
    files: &[PathBuf],
) -> Result<i32> {
    let cfg = load_config(config)?;
    let geo = GeoDb::open(&cfg.geo)?;
    let forbidden = forbidden_set(&cfg, deny)?;
    let mut out = std::io::stdout().lock();
    let mut crossing = 0;
    let mut total = 0;
    for f in files {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("{}: cannot read", f.display()))?;
        for t in atlas::parse(&text, &f.display().to_string())? {
            total += 1;
            let rec = PathRecord::from_traceroute(&t, &geo);
            let crossed: Vec<String> = rec
                .as_ref()
                .map(|r| r.crossed().iter().map(|c| c.to_string()).collect())
                .unwrap_or_default();
            let denied: Vec<String> = rec
                .as_ref()
                .map(|r| {
                    r.crossed()
                        .into_iter()
                        .filter(|c| forbidden.contains(*c))
                        .map(|c| c.to_string())
                        .collect()
                })
                .unwrap_or_default();
            if !denied.is_empty() {
                crossing += 1;
            }
            let verdict = match (&rec, denied.is_empty()) {
                (None, _) => "no_destination",
                (Some(_), true) => "clear",
                (Some(_), false) => "crosses_denied",
            };
            if json {
                let hops: Vec<serde_json::Value> = rec
                    .as_ref()
                    .map(|r| {
                        r.hops
                            .iter()
                            .map(|h| {
                                serde_json::json!({
                                    "hop": h.hop,
                                    "address": h.address,
                                    "country": h.country.map(|c| c.to_string()),
                                    "rtt_ms": h.rtt_ms,
                                    "mpls": h.mpls,
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                serde_json::to_writer(
                    &mut out,
                    &serde_json::json!({
                        "file": f.display().to_string(),
                        "msm_id": t.msm_id,
                        "prb_id": t.prb_id,
                        "origin": t.origin,
                        "dst_addr": t.dst_addr,
                        "hops": hops,
                        "silent_hops": rec.as_ref().map(|r| r.silent_hops.clone()).unwrap_or_default(),
                        "reached": t.is_success(),
                        "countries": crossed,
                        "denied": denied,
                        "verdict": verdict,
                    }),
                )?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "msm {} probe {} {} -> {}: {} hops, {} responding, countries [{}], {}{}",
                    t.msm_id.map_or_else(|| "?".into(), |m| m.to_string()),
                    t.prb_id.map_or_else(|| "?".into(), |p| p.to_string()),
                    t.origin.map_or_else(|| "?".into(), |o| o.to_string()),
                    t.dst_addr.map_or_else(|| "?".into(), |d| d.to_string()),
                    t.total_hops(),
                    rec.as_ref().map_or(0, |r| r.hops.len()),
                    crossed.join(" "),
                    verdict,
                    if denied.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", denied.join(", "))
                    }
                )?;
            }
        }
    }
    writeln!(
        std::io::stderr(),
        "traceroutes={total} crossing_denied={crossing} denied=[{}]",
        forbidden
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(",")
    )?;
    Ok(0)
}

/// What must not be crossed: `--deny` (codes or groups), else every tenant's deny_transit.
fn forbidden_set(cfg: &Config, deny: &[String]) -> Result<crate::geo::CountrySet> {
    let mut forbidden = crate::geo::CountrySet::new();
    if deny.is_empty() {
        for t in &cfg.policy.tenants {
            for c in t.deny_transit.iter() {
                forbidden.insert(c);
            }
        }
    } else {
        for d in deny {
            let d = d.trim();
            if let Some(g) = cfg.jurisdictions.groups.get(d) {
                for c in g.members.iter() {
                    forbidden.insert(c);
                }
            } else if let Some(c) = crate::geo::Country::parse(d) {
                forbidden.insert(c);
            } else {
                anyhow::bail!("--deny {d:?} is neither a country code nor a jurisdiction group");
            }
        }
    }
    Ok(forbidden)
}

fn trace_command(
    config: Option<&Path>,
    deny: &[String],
    protocol: Option<&str>,
    dest: IpAddr,
) -> Result<i32> {
    let cfg = load_config(config)?;
    let geo = GeoDb::open(&cfg.geo)?;
    let forbidden = forbidden_set(&cfg, deny)?;
    let mut pc = cfg.probe.clone();
    if let Some(p) = protocol {
        pc.protocol = crate::probe::Protocol::parse(p)
            .ok_or_else(|| anyhow::anyhow!("--protocol {p:?} is not one of udp, icmp, tcp"))?;
    }
    let hops = crate::probe::traceroute(dest, &pc)?;
    let rec = crate::probe::path_record(dest, &hops, &geo, pc.protocol);
    let mut out = std::io::stdout().lock();
    for h in &hops {
        if h.addrs.is_empty() {
            writeln!(out, "{:>3}  *", h.ttl)?;
        }
        for a in &h.addrs {
            let country = geo
                .resolve(*a)
                .country
                .map_or_else(|| "-".to_string(), |c| c.to_string());
            let mpls = if h.mpls.is_empty() {
                String::new()
            } else {
                format!(" mpls {:?}", h.mpls)
            };
            writeln!(
                out,
                "{:>3}  {a}  {country}  {}{mpls}",
                h.ttl,
                h.best_ms
                    .map_or_else(|| "-".to_string(), |v| format!("{v:.3} ms"))
            )?;
        }
    }
    let crossed: Vec<String> = rec.crossed().iter().map(|c| c.to_string()).collect();
    let denied: Vec<String> = rec
        .crossed()
        .into_iter()
        .filter(|c| forbidden.contains(*c))
        .map(|c| c.to_string())
        .collect();
    writeln!(
        out,
        "countries [{}]; {}; verdict: {}",
        crossed.join(" "),
        if rec.reached {
            "destination reached"
        } else {
            "destination not reached"
        },
        if denied.is_empty() {
            "clear".to_string()
        } else {
            format!("crosses {}", denied.join(", "))
        }
    )?;
    Ok(if denied.is_empty() { 0 } else { 3 })
}
