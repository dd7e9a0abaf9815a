//! `sovereign run` end to end on a live interface. A tenant host, a gateway and a server live in
//! network namespaces (tests/common/netns.rs); sovereign captures on the gateway's tenant-side
//! interface, sends alerts to an Alertmanager and is scraped by a Prometheus, both on the
//! gateway's loopback. The tests check the alert and flow records, Alertmanager's alerts across
//! an outage, the metrics, the alerting rules and every Grafana dashboard query, config reload on
//! SIGHUP, and the drain on SIGTERM.
//!
//! They need root and ip, curl, python3 (and prometheus, prometheus-alertmanager and
//! promtool for the first): without them they print why and pass, except under CI=true where
//! they fail. Each test has its own namespaces (so its own loopback: the fixed ports below never
//! collide) and scratch directory; a failing test prints the logs and records found there.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;

use common::netns::{
    in_ns, output, prerequisites, wait_for, Bed, Metrics, Proc, Response, SERVER_IP, SERVER_PORT,
    TENANT_IP,
};
use common::{read_lines, repo, scratch};

/// Tools every live test runs.
const TOOLS: &[&str] = &["ip", "curl", "python3"];
/// And those the end-to-end test adds.
const MONITORING_TOOLS: &[&str] = &["prometheus", "prometheus-alertmanager", "promtool"];

/// In the gateway namespace.
const METRICS: &str = "127.0.0.1:9477";
const ALERTMANAGER: &str = "127.0.0.1:9093";
const PROMETHEUS: &str = "127.0.0.1:9090";

const SENSOR: &str = "e2e-gw";
const TENANT: &str = "eu-clinic";
const TENANT_NET: &str = "192.0.2.0/24";

/// A request body with personal data (an e-mail address and a Luhn-valid test card number).
const PII_BODY: &str = r#"{"patient":"jane.doe@example.org","card":"4111 1111 1111 1111"}"#;
const QUIET_BODY: &str = r#"{"status":"ok"}"#;
/// The raw forms of the planted identifiers: none may appear in any output.
const LEAK_FORMS: &[&str] = &[
    "jane.doe@example.org",
    "jane.doe@",
    "jane.doe%40",
    "4111 1111 1111 1111",
    "4111111111111111",
];

/// Starting a process (sovereign, Alertmanager, Prometheus) until it answers.
const STARTUP: Duration = Duration::from_secs(30);
/// Something sovereign does within about a second (an alert, a metric, a flow's end).
const SOON: Duration = Duration::from_secs(20);
/// Spooled alerts reaching a restarted Alertmanager (retry back-off is at most 2 s here).
const AM_RETURN: Duration = Duration::from_secs(30);
/// SIGTERM to exit.
const EXIT: Duration = Duration::from_secs(30);

/// The test config: tenant eu-clinic (192.0.2.0/24) may send personal data to `allow`;
/// 198.51.100.0/24 (the server) is placed in the US; `alertmanager` adds the sink.
fn config(bed: &Bed, allow: &[&str], alertmanager: bool) -> String {
    let allow = allow
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let mut c = format!(
        r#"[site]
name = "{SENSOR}"
inside = ["{TENANT_NET}"]

[[geo.override]]
network = "198.51.100.0/24"
country = "US"

[privacy]
hmac_key = "0123456789abcdef0123456789abcdef"

[flow]
tcp_closed_timeout_secs = 1

[[tenant]]
id = "{TENANT}"
networks = ["{TENANT_NET}"]
allow = [{allow}]
[tenant.personal_data]
detect = ["email", "payment_card", "iban"]
"#
    );
    if alertmanager {
        c.push_str(&format!(
            r#"
[[alert.sink]]
type = "alertmanager"
url = "http://{ALERTMANAGER}"
batch_size = 16
timeout_secs = 2
retry_initial_ms = 200
retry_max_secs = 2
spool_dir = "{}"
spool_max_alerts = 1000
"#,
            bed.dir.join("spool").display()
        ));
    }
    c
}

/// Writes the two request bodies; returns (personal data, quiet).
fn bodies(bed: &Bed) -> (PathBuf, PathBuf) {
    (
        bed.write("pii-body.json", PII_BODY),
        bed.write("quiet-body.json", QUIET_BODY),
    )
}

/// A POST from the tenant that must succeed.
fn post(bed: &Bed, body: &Path, path: &str) -> Response {
    let r = bed
        .tenant
        .post(body, path)
        .unwrap_or_else(|e| panic!("tenant POST {path}: {e}"));
    assert_eq!(r.status, 200, "tenant POST {path}: {r:?}");
    r
}

/// The JSON records of a JSON-lines file written so far (a trailing partial line is skipped).
fn complete_lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rsplit_once('\n').map_or("", |(done, _)| done);
    complete
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{}: bad JSON line {l:?}: {e}", path.display()))
        })
        .collect()
}

/// `sovereign run` in the gateway namespace, capturing on its tenant-side interface.
struct Sovereign<'a> {
    bed: &'a Bed,
    proc: Proc,
    alerts: PathBuf,
    flows: PathBuf,
}

impl<'a> Sovereign<'a> {
    /// Starts it and waits for `/healthz` (capture running).
    fn start(bed: &'a Bed, config: &Path) -> Sovereign<'a> {
        let alerts = bed.dir.join("alerts.jsonl");
        let flows = bed.dir.join("flows.jsonl");
        let mut cmd = in_ns(&bed.gateway_ns(), env!("CARGO_BIN_EXE_sovereign"));
        cmd.args(["run", "--iface", &bed.gateway_tenant_iface()])
            .arg("--config")
            .arg(config)
            .arg("--alerts")
            .arg(&alerts)
            .arg("--flows")
            .arg(&flows)
            .args(["--metrics", METRICS, "--workers", "2"])
            .args(["--log", "info", "--log-format", "json"]);
        let proc = Proc::spawn("sovereign", cmd, &bed.dir.join("sovereign.log"));
        let mut s = Sovereign {
            bed,
            proc,
            alerts,
            flows,
        };
        let url = format!("http://{METRICS}/healthz");
        wait_for("sovereign's /healthz to answer 200 ok", STARTUP, || {
            s.proc.assert_running();
            match bed.get(&url, &[]) {
                Ok((200, body)) if body.trim() == "ok" => Ok(()),
                other => Err(format!("{other:?}")),
            }
        });
        s
    }

    fn metrics(&mut self) -> Result<Metrics, String> {
        self.proc.assert_running();
        match self.bed.get(&format!("http://{METRICS}/metrics"), &[])? {
            (200, body) => Metrics::parse(&body),
            (code, body) => Err(format!("/metrics: HTTP {code}: {body}")),
        }
    }

    /// Polls `/metrics` until `ok` holds; returns that scrape.
    fn wait_metrics(&mut self, what: &str, ok: impl Fn(&Metrics) -> bool) -> Metrics {
        wait_for(what, SOON, || {
            let m = self.metrics()?;
            if ok(&m) {
                Ok(m)
            } else {
                Err(brief(&m))
            }
        })
    }

    /// The alert records written so far.
    fn alerts(&self) -> Vec<Value> {
        complete_lines(&self.alerts)
    }

    /// Waits until at least `n` alerts are written; returns all of them.
    fn wait_alerts(&mut self, n: usize) -> Vec<Value> {
        wait_for(&format!("{n} alert(s) in the alert file"), SOON, || {
            self.proc.assert_running();
            let a = self.alerts();
            if a.len() >= n {
                Ok(a)
            } else {
                Err(format!("{} alert(s)", a.len()))
            }
        })
    }

    /// Waits for the flow record of the tenant's connection from `port` to the server, written
    /// when the flow ends: everything its packets raise has been raised by then.
    fn wait_flow_end(&mut self, port: u16) -> Value {
        let what = format!("the flow record of the connection from port {port}");
        wait_for(&what, SOON, || {
            self.proc.assert_running();
            let flows = complete_lines(&self.flows);
            flows
                .into_iter()
                .find(|f| is_request_flow(f, port))
                .ok_or_else(|| "not written yet".to_string())
        })
    }

    /// SIGTERM; it must drain and exit with status 0.
    fn terminate(&mut self) {
        self.proc.signal("TERM");
        let status = self.proc.wait_exit(EXIT);
        assert_eq!(
            status.code(),
            Some(0),
            "sovereign exited with {status} on SIGTERM"
        );
    }

    /// No raw identifier in the records, the spool or sovereign's log.
    fn assert_no_leaks(&self) {
        let mut files = vec![
            self.alerts.clone(),
            self.flows.clone(),
            self.proc.log.clone(),
        ];
        if let Ok(spool) = std::fs::read_dir(self.bed.dir.join("spool")) {
            files.extend(spool.filter_map(|e| e.ok().map(|e| e.path())));
        }
        for f in &files {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            for raw in LEAK_FORMS {
                assert!(
                    !text.contains(raw),
                    "raw identifier {raw:?} leaked into {}",
                    f.display()
                );
            }
        }
    }
}

/// The metrics a failing wait shows.
fn brief(m: &Metrics) -> String {
    m.samples
        .iter()
        .filter(|s| !s.name.starts_with("sovereign_packet_latency"))
        .map(|s| format!("{}{:?} {}", s.name, s.labels, s.value))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Whether a flow record is the tenant's connection from `port` to the server.
fn is_request_flow(f: &Value, port: u16) -> bool {
    f["src_ip"] == TENANT_IP
        && f["src_port"] == port
        && f["dest_ip"] == SERVER_IP
        && f["dest_port"] == SERVER_PORT
}

fn src_port(rec: &Value) -> u16 {
    rec["src_port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or_else(|| panic!("record without a src_port: {rec}"))
}

fn flow_id(rec: &Value) -> u64 {
    rec["flow_id"]
        .as_u64()
        .unwrap_or_else(|| panic!("record without a flow_id: {rec}"))
}

/// The `alert_id` label sovereign gives an alert record in Alertmanager.
fn alert_id(rec: &Value) -> String {
    format!(
        "{}-{}",
        flow_id(rec),
        rec["alert"]["kind"].as_str().unwrap_or("")
    )
}

/// A residency alert of eu-clinic for a request to the server, with masked, hashed identifiers.
fn check_residency_alert(a: &Value) {
    let fields = [
        ("event_type", &a["event_type"], "alert"),
        ("sensor", &a["sensor"], SENSOR),
        ("tenant", &a["tenant"], TENANT),
        ("src_ip", &a["src_ip"], TENANT_IP),
        ("dest_ip", &a["dest_ip"], SERVER_IP),
        ("proto", &a["proto"], "TCP"),
        ("direction", &a["direction"], "outbound"),
        ("alert.kind", &a["alert"]["kind"], "residency"),
        ("alert.severity", &a["alert"]["severity"], "high"),
        ("dest_geo.country", &a["dest_geo"]["country"], "US"),
    ];
    for (name, got, want) in fields {
        assert_eq!(got, want, "{name} of alert {a}");
    }
    assert_eq!(a["dest_port"], SERVER_PORT, "dest_port of alert {a}");
    let detected = a["personal_data"]["detected"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let masked: BTreeSet<(&str, &str)> = detected
        .iter()
        .map(|d| {
            (
                d["type"].as_str().unwrap_or(""),
                d["masked"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        masked,
        BTreeSet::from([
            ("email", "j***@example.org"),
            ("payment_card", "411111******1111")
        ]),
        "detected identifiers of alert {a}"
    );
    assert!(
        detected.iter().all(|d| d["hmac"]
            .as_str()
            .is_some_and(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()))),
        "identifiers without an HMAC-SHA-256 in alert {a}"
    );
}

/// An Alertmanager alert matches the alert record it was made from.
fn check_am_alert(am: &Value, rec: &Value) {
    let labels = &am["labels"];
    let want = [
        ("alertname", "sovereign_residency".to_string()),
        ("tenant", TENANT.to_string()),
        ("kind", "residency".to_string()),
        ("country", "US".to_string()),
        // The record's "high", in the Prometheus convention the bundled rules use.
        ("severity", "critical".to_string()),
        ("sensor", SENSOR.to_string()),
        ("alert_id", alert_id(rec)),
    ];
    for (k, v) in want {
        assert_eq!(
            labels[k],
            v.as_str(),
            "label {k} of Alertmanager alert {am}"
        );
    }
    let ann = &am["annotations"];
    assert_eq!(ann["reason"], rec["alert"]["reason"], "reason of {am}");
    assert!(
        ann["summary"].as_str().is_some_and(|s| !s.is_empty()),
        "no summary in {am}"
    );
    assert!(
        ann["flow"]
            .as_str()
            .is_some_and(|f| f.contains(&flow_id(rec).to_string())),
        "the flow annotation of {am} does not name flow {}",
        flow_id(rec)
    );
}

/// Alertmanager's sovereign alerts.
fn am_alerts(bed: &Bed) -> Result<Vec<Value>, String> {
    let url = format!("http://{ALERTMANAGER}/api/v2/alerts");
    match bed.get(&url, &[("filter", r#"alertname=~"sovereign_.*""#)])? {
        (200, body) => serde_json::from_str(&body).map_err(|e| format!("{e}: {body}")),
        (code, body) => Err(format!("HTTP {code}: {body}")),
    }
}

fn am_alert_ids(alerts: &[Value]) -> Vec<String> {
    alerts
        .iter()
        .map(|a| a["labels"]["alert_id"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Waits until `url` (in the gateway) answers 200, while `p` keeps running.
fn wait_ready(bed: &Bed, p: &mut Proc, url: &str) {
    wait_for(&format!("{} to be ready ({url})", p.name), STARTUP, || {
        p.assert_running();
        match bed.get(url, &[]) {
            Ok((200, _)) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
}

/// Alertmanager on the gateway's loopback, clustering off, every alert to a null receiver.
/// Restarting it keeps the storage directory (silences and notification log only: Alertmanager
/// holds alerts in memory).
fn start_alertmanager(bed: &Bed) -> Proc {
    let config = bed.write(
        "alertmanager.yml",
        "route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n",
    );
    let data = bed.dir.join("alertmanager-data");
    std::fs::create_dir_all(&data).unwrap_or_else(|e| panic!("{}: {e}", data.display()));
    let mut cmd = in_ns(&bed.gateway_ns(), "prometheus-alertmanager");
    cmd.arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.path={}", data.display()))
        .arg(format!("--web.listen-address={ALERTMANAGER}"))
        .arg("--cluster.listen-address=")
        .arg("--log.level=warn");
    let mut p = Proc::spawn("alertmanager", cmd, &bed.dir.join("alertmanager.log"));
    wait_ready(bed, &mut p, &format!("http://{ALERTMANAGER}/-/ready"));
    p
}

fn rules_file() -> PathBuf {
    repo()
        .join("grafana")
        .join("prometheus")
        .join("sovereign-rules.yml")
}

/// Prometheus on the gateway's loopback, scraping sovereign every second, with the repo's rules.
fn start_prometheus(bed: &Bed) -> Proc {
    let config = bed.write(
        "prometheus.yml",
        &format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - \"{}\"\n\
             scrape_configs:\n  - job_name: sovereign\n    static_configs:\n      - targets: [\"{METRICS}\"]\n",
            rules_file().display()
        ),
    );
    let data = bed.dir.join("prometheus-data");
    std::fs::create_dir_all(&data).unwrap_or_else(|e| panic!("{}: {e}", data.display()));
    let mut cmd = in_ns(&bed.gateway_ns(), "prometheus");
    cmd.arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address={PROMETHEUS}"))
        .arg("--log.level=warn");
    let mut p = Proc::spawn("prometheus", cmd, &bed.dir.join("prometheus.log"));
    wait_ready(bed, &mut p, &format!("http://{PROMETHEUS}/-/ready"));
    p
}

/// An instant query; Err carries Prometheus' error.
fn prom_query(bed: &Bed, expr: &str) -> Result<Vec<Value>, String> {
    let (code, body) = bed.get(
        &format!("http://{PROMETHEUS}/api/v1/query"),
        &[("query", expr)],
    )?;
    let v: Value = serde_json::from_str(&body).map_err(|e| format!("HTTP {code}: {e}: {body}"))?;
    if v["status"] != "success" {
        return Err(format!("HTTP {code}: {}: {}", v["errorType"], v["error"]));
    }
    match &v["data"]["result"] {
        Value::Array(r) => Ok(r.clone()),
        other => Err(format!("unexpected result {other}")),
    }
}

/// The value of the first series of an instant query, if any.
fn prom_value(bed: &Bed, expr: &str) -> Result<Option<f64>, String> {
    Ok(prom_query(bed, expr)?
        .first()
        .and_then(|s| s["value"][1].as_str())
        .and_then(|v| v.parse().ok()))
}

/// Every `targets[].expr` of a dashboard's panels, rows' nested panels included:
/// (panel title, expression).
fn panel_exprs(dashboard: &Value) -> Vec<(String, String)> {
    fn walk(v: &Value, out: &mut Vec<(String, String)>) {
        for key in ["panels", "rows"] {
            for p in v[key].as_array().into_iter().flatten() {
                let title = p["title"].as_str().unwrap_or("(untitled)");
                for t in p["targets"].as_array().into_iter().flatten() {
                    if let Some(e) = t["expr"].as_str().filter(|e| !e.trim().is_empty()) {
                        out.push((title.to_string(), e.to_string()));
                    }
                }
                walk(p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dashboard, &mut out);
    out
}

/// A dashboard expression as Grafana would send it with the default variables ("All").
fn grafana_to_promql(expr: &str) -> String {
    const VARIABLES: &[(&str, &str)] = &[
        ("$__rate_interval", "1m"),
        ("$__interval", "15s"),
        ("$__range", "5m"),
        ("${tenant}", ".*"),
        ("${instance}", ".*"),
        ("$tenant", ".*"),
        ("$instance", ".*"),
    ];
    VARIABLES
        .iter()
        .fold(expr.to_string(), |e, (var, value)| e.replace(var, value))
}

/// Every query of every dashboard in grafana/dashboards succeeds against the running Prometheus
/// and returns data; all failures are reported together.
fn check_dashboards(bed: &Bed) {
    let dir = repo().join("grafana").join("dashboards");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no dashboards in {}", dir.display());
    let mut failures = Vec::new();
    let mut queries = 0;
    for f in &files {
        let name = f.file_name().unwrap_or_default().to_string_lossy();
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let dashboard: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        for (panel, expr) in panel_exprs(&dashboard) {
            queries += 1;
            let q = grafana_to_promql(&expr);
            let why = if q.contains('$') {
                Some("uses a Grafana variable this test does not substitute".to_string())
            } else {
                match prom_query(bed, &q) {
                    Ok(r) if r.is_empty() => Some("empty result".to_string()),
                    Ok(_) => None,
                    Err(e) => Some(e),
                }
            };
            if let Some(why) = why {
                failures.push(format!("{name}, panel {panel:?}: {why}\n    {expr}"));
            }
        }
    }
    assert!(queries > 0, "no panel queries in {}", dir.display());
    assert!(
        failures.is_empty(),
        "{} of {queries} dashboard queries failed against Prometheus:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Prometheus scrapes sovereign, the rules file is valid, every dashboard query returns data.
fn check_prometheus(bed: &Bed) {
    wait_for(
        "Prometheus to scrape sovereign (up == 1, 3 samples of every alert and egress series)",
        STARTUP,
        || {
            let up = prom_value(bed, r#"up{job="sovereign"}"#)?;
            let samples = prom_value(
                bed,
                r#"min(count_over_time({__name__=~"sovereign_alerts_total|sovereign_egress_bytes_total"}[1m]))"#,
            )?;
            if up == Some(1.0) && samples.is_some_and(|n| n >= 3.0) {
                Ok(())
            } else {
                Err(format!("up {up:?}, samples {samples:?}"))
            }
        },
    );
    let rules = rules_file();
    let out = output(
        Command::new("promtool")
            .arg("check")
            .arg("rules")
            .arg(&rules),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "promtool check rules {}: {}\n{}{}",
        rules.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    check_dashboards(bed);
}

fn reloads(m: &Metrics, result: &str) -> Option<f64> {
    m.value("sovereign_config_reloads_total", &[("result", result)])
}

fn last_reload_ok(m: &Metrics) -> Option<f64> {
    m.value("sovereign_config_last_reload_successful", &[])
}

const US_ALERTS: &[(&str, &str)] = &[("tenant", TENANT), ("kind", "residency"), ("country", "US")];

fn egress(m: &Metrics, personal_data: &str) -> Option<f64> {
    m.value(
        "sovereign_egress_bytes_total",
        &[
            ("tenant", TENANT),
            ("country", "US"),
            ("personal_data", personal_data),
        ],
    )
}

#[test]
fn sidecar_end_to_end() {
    if !prerequisites(&[TOOLS, MONITORING_TOOLS].concat()) {
        return;
    }
    let bed = Bed::new("ee", scratch("sidecar-end-to-end"));
    let cfg = bed.write("sovereign.toml", &config(&bed, &["EEA"], true));
    let (pii, quiet) = bodies(&bed);
    let mut alertmanager = start_alertmanager(&bed);
    let _prometheus = start_prometheus(&bed);
    let mut sov = Sovereign::start(&bed, &cfg);

    // One request with personal data, one without.
    let first = post(&bed, &pii, "/records");
    let quiet_request = post(&bed, &quiet, "/status");
    sov.wait_alerts(1);
    // The quiet flow has ended (its record is written): it raised nothing.
    let quiet_flow = sov.wait_flow_end(quiet_request.local_port);
    assert_eq!(quiet_flow["flow"]["alerted"], false, "{quiet_flow}");
    let alerts = sov.alerts();
    assert_eq!(alerts.len(), 1, "exactly one alert expected: {alerts:#?}");
    let alert = &alerts[0];
    check_residency_alert(alert);
    assert_eq!(src_port(alert), first.local_port, "{alert}");

    // Alertmanager has it, once, with the record's evidence.
    let id = alert_id(alert);
    let listed = wait_for("Alertmanager to list the alert", SOON, || {
        let a = am_alerts(&bed)?;
        if am_alert_ids(&a).contains(&id) {
            Ok(a)
        } else {
            Err(format!("{:?}", am_alert_ids(&a)))
        }
    });
    assert_eq!(am_alert_ids(&listed), [id], "{listed:#?}");
    check_am_alert(&listed[0], alert);

    // Metrics.
    let m = sov.wait_metrics(
        "1 alert and 1 delivery counted, egress with personal data counted",
        |m| {
            m.value("sovereign_alerts_total", US_ALERTS) == Some(1.0)
                && m.value("sovereign_alertmanager_delivered_alerts_total", &[]) == Some(1.0)
                && egress(m, "true").is_some_and(|b| b > 0.0)
        },
    );
    assert!(
        m.value("sovereign_packets_total", &[])
            .is_some_and(|n| n > 0.0),
        "no packets counted: {}",
        brief(&m)
    );
    assert!(
        egress(&m, "false").is_some(),
        "no egress without personal data: {}",
        brief(&m)
    );
    assert_eq!(reloads(&m, "ok"), Some(0.0), "{}", brief(&m));
    assert_eq!(reloads(&m, "error"), Some(0.0), "{}", brief(&m));
    assert_eq!(
        m.value("sovereign_alertmanager_spooled_alerts", &[]),
        Some(0.0),
        "{}",
        brief(&m)
    );

    // Prometheus, the alerting rules and the dashboards.
    check_prometheus(&bed);

    // Alertmanager down: alerts are written, spooled, and delivered when it is back.
    alertmanager.kill();
    let outage: Vec<Response> = (0..3)
        .map(|i| post(&bed, &pii, &format!("/records/{i}")))
        .collect();
    let alerts = sov.wait_alerts(4);
    assert_eq!(alerts.len(), 4, "{alerts:#?}");
    sov.wait_metrics("the Alertmanager sink to notice the outage", |m| {
        m.value("sovereign_alertmanager_spooled_alerts", &[])
            .is_some_and(|n| n >= 1.0)
            || m.value("sovereign_alertmanager_post_failures_total", &[])
                .is_some_and(|n| n > 0.0)
    });
    let file_ids: BTreeSet<String> = alerts.iter().map(alert_id).collect();
    assert_eq!(file_ids.len(), 4, "alert ids are not unique: {file_ids:?}");
    let outage_ports: BTreeSet<u16> = outage.iter().map(|r| r.local_port).collect();
    let outage_ids: BTreeSet<String> = alerts
        .iter()
        .filter(|a| outage_ports.contains(&src_port(a)))
        .map(alert_id)
        .collect();
    assert_eq!(outage_ids.len(), 3, "alerts of the outage: {alerts:#?}");

    alertmanager = start_alertmanager(&bed);
    let listed = wait_for(
        "the restarted Alertmanager to receive the 3 alerts raised while it was down",
        AM_RETURN,
        || {
            let listed = am_alerts(&bed)?;
            let got: BTreeSet<String> = am_alert_ids(&listed).into_iter().collect();
            if outage_ids.is_subset(&got) {
                Ok(listed)
            } else {
                Err(format!("{got:?}"))
            }
        },
    );
    // Alertmanager keeps alerts in memory only: the first alert went to the killed instance
    // (checked above). Each alert is listed once, and only alerts of the file are.
    let ids = am_alert_ids(&listed);
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(unique.len(), ids.len(), "an alert is listed twice: {ids:?}");
    assert!(
        unique.is_subset(&file_ids),
        "Alertmanager lists {unique:?}, the alert file has {file_ids:?}"
    );
    for a in &listed {
        let rec = alerts
            .iter()
            .find(|r| alert_id(r) == a["labels"]["alert_id"])
            .unwrap_or_else(|| panic!("no alert record for {a}"));
        check_am_alert(a, rec);
    }
    sov.wait_metrics("every alert delivered and the spool empty", |m| {
        m.value("sovereign_alertmanager_delivered_alerts_total", &[])
            .is_some_and(|n| n >= 4.0)
            && m.value("sovereign_alertmanager_spooled_alerts", &[]) == Some(0.0)
    });

    sov.terminate();
    drop(alertmanager);

    // The records after the drain: 4 alerts, one per request with personal data; every flow
    // record says whether it alerted.
    let alerts = read_lines(&sov.alerts);
    assert_eq!(alerts.len(), 4, "{alerts:#?}");
    let mut pii_ports = outage_ports;
    pii_ports.insert(first.local_port);
    let alert_ports: BTreeSet<u16> = alerts.iter().map(src_port).collect();
    assert_eq!(
        alert_ports, pii_ports,
        "alerts are not the requests with personal data"
    );
    alerts.iter().for_each(check_residency_alert);
    let flows = read_lines(&sov.flows);
    for port in pii_ports.iter().chain([&quiet_request.local_port]) {
        let f = flows
            .iter()
            .find(|f| is_request_flow(f, *port))
            .unwrap_or_else(|| panic!("no flow record for the request from port {port}"));
        let pii_flow = *port != quiet_request.local_port;
        assert_eq!(f["flow"]["alerted"], pii_flow, "{f}");
        assert_eq!(f["tenant"], TENANT, "{f}");
    }
    sov.assert_no_leaks();
}

#[test]
fn sidecar_sighup_reload() {
    if !prerequisites(TOOLS) {
        return;
    }
    let bed = Bed::new("hu", scratch("sidecar-sighup"));
    let cfg = bed.write("sovereign.toml", &config(&bed, &["EEA"], false));
    let (pii, _) = bodies(&bed);
    let mut sov = Sovereign::start(&bed, &cfg);

    // EEA only: personal data to the US raises an alert.
    let r = post(&bed, &pii, "/eea-only");
    let alerts = sov.wait_alerts(1);
    assert_eq!(src_port(&alerts[0]), r.local_port, "{alerts:#?}");

    // US allowed after a reload: no alert.
    bed.write("sovereign.toml", &config(&bed, &["EEA", "US"], false));
    sov.proc.signal("HUP");
    let m = sov.wait_metrics("a successful reload", |m| reloads(m, "ok") == Some(1.0));
    assert_eq!(last_reload_ok(&m), Some(1.0), "{}", brief(&m));
    let r = post(&bed, &pii, "/us-allowed");
    sov.wait_flow_end(r.local_port);
    let alerts = sov.alerts();
    assert_eq!(
        alerts.len(),
        1,
        "US is allowed after the reload: {alerts:#?}"
    );

    // A broken config (an unknown key) is refused and the running one is kept. Were it
    // applied, its allow list (EEA only) would raise an alert.
    bed.write(
        "sovereign.toml",
        &format!("no_such_key = true\n{}", config(&bed, &["EEA"], false)),
    );
    sov.proc.signal("HUP");
    let m = sov.wait_metrics("the broken config to be refused", |m| {
        reloads(m, "error") == Some(1.0)
    });
    assert_eq!(last_reload_ok(&m), Some(0.0), "{}", brief(&m));
    assert_eq!(reloads(&m, "ok"), Some(1.0), "{}", brief(&m));
    sov.proc.assert_running();
    assert!(
        sov.proc.log_text().contains("no_such_key"),
        "the reload error does not name the unknown key"
    );
    let r = post(&bed, &pii, "/still-us-allowed");
    sov.wait_flow_end(r.local_port);
    let alerts = sov.alerts();
    assert_eq!(
        alerts.len(),
        1,
        "the refused config must not be applied (US stays allowed): {alerts:#?}"
    );

    // EEA only again: alerts again.
    bed.write("sovereign.toml", &config(&bed, &["EEA"], false));
    sov.proc.signal("HUP");
    let m = sov.wait_metrics("a second successful reload", |m| {
        reloads(m, "ok") == Some(2.0)
    });
    assert_eq!(last_reload_ok(&m), Some(1.0), "{}", brief(&m));
    let r = post(&bed, &pii, "/eea-only-again");
    let alerts = sov.wait_alerts(2);
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    assert_eq!(src_port(&alerts[1]), r.local_port, "{alerts:#?}");
    alerts.iter().for_each(check_residency_alert);

    sov.terminate();
    sov.assert_no_leaks();
}

#[test]
fn sidecar_sigterm_drains() {
    if !prerequisites(TOOLS) {
        return;
    }
    const POSTS: usize = 40;
    const BEFORE_SIGTERM: usize = 10;
    let bed = Bed::new("dr", scratch("sidecar-sigterm"));
    let cfg = bed.write("sovereign.toml", &config(&bed, &["EEA"], false));
    let (pii, _) = bodies(&bed);
    let mut sov = Sovereign::start(&bed, &cfg);

    // Sequential requests with personal data, each a connection of its own, going on while
    // sovereign shuts down.
    let done = Arc::new(AtomicUsize::new(0));
    let ports = Arc::new(Mutex::new(Vec::new()));
    let client = {
        let (tenant, pii, done, ports) =
            (bed.tenant.clone(), pii.clone(), done.clone(), ports.clone());
        std::thread::spawn(move || {
            let mut errors = Vec::new();
            for i in 0..POSTS {
                match tenant.post(&pii, &format!("/records/{i}")) {
                    Ok(r) if r.status == 200 => {
                        ports
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push(r.local_port);
                        done.fetch_add(1, Ordering::SeqCst);
                    }
                    other => errors.push(format!("POST {i}: {other:?}")),
                }
            }
            errors
        })
    };
    wait_for(
        &format!("{BEFORE_SIGTERM} requests to complete"),
        SOON,
        || match done.load(Ordering::SeqCst) {
            n if n >= BEFORE_SIGTERM => Ok(()),
            n => Err(format!("{n} completed")),
        },
    );
    // These completed before the signal: their personal data passed the gateway before it.
    let completed = done.load(Ordering::SeqCst);
    sov.terminate();
    let errors = client
        .join()
        .unwrap_or_else(|_| panic!("the request thread panicked"));
    if !errors.is_empty() {
        eprintln!(
            "note: requests that failed (after sovereign's exit they do not matter): {errors:#?}"
        );
    }

    // Every alert line is complete JSON; none was lost.
    let alerts = read_lines(&sov.alerts);
    assert!(
        alerts.len() >= completed,
        "{} alerts for {completed} requests with personal data completed before SIGTERM",
        alerts.len()
    );
    let ports: BTreeSet<u16> = ports
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .copied()
        .collect();
    let mut alerted_flows = BTreeSet::new();
    for a in &alerts {
        check_residency_alert(a);
        assert!(
            ports.contains(&src_port(a)),
            "alert for an unknown request: {a}"
        );
        assert!(
            alerted_flows.insert(flow_id(a)),
            "two alerts for one flow: {a}"
        );
    }
    // Every flow was written at shutdown; one with personal data detected has alerted, and
    // its alert is in the file.
    let flows = read_lines(&sov.flows);
    let flow_ids: BTreeSet<u64> = flows.iter().map(flow_id).collect();
    assert!(
        alerted_flows.is_subset(&flow_ids),
        "alerted flows without a flow record: {:?}",
        alerted_flows.difference(&flow_ids).collect::<Vec<_>>()
    );
    for f in &flows {
        let detected = f["personal_data"]["detected"]
            .as_array()
            .is_some_and(|d| !d.is_empty());
        if detected || f["flow"]["alerted"] == true {
            assert_eq!(
                f["flow"]["alerted"], true,
                "personal data but no alert: {f}"
            );
            assert!(
                alerted_flows.contains(&flow_id(f)),
                "flow record says alerted, its alert is not in the file: {f}"
            );
        }
    }
    sov.assert_no_leaks();
}

#[test]
fn metrics_text_format_parser() {
    let m = Metrics::parse(
        "# HELP x_total X.\n# TYPE x_total counter\nx_total 3\n\
         y{a=\"1\",b=\"q\\\"uote\"} 2.5\ny{a=\"2\",b=\"\"} 1 1700000000000\nz{} NaN\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.value("x_total", &[]), Some(3.0));
    assert_eq!(m.value("y", &[]), Some(3.5));
    assert_eq!(m.value("y", &[("a", "1")]), Some(2.5));
    assert_eq!(m.value("y", &[("b", "q\"uote")]), Some(2.5));
    assert_eq!(m.value("y", &[("a", "3")]), None);
    assert!(m.value("z", &[]).is_some_and(f64::is_nan));
    assert!(Metrics::parse("y{a=\"1\" 2\n").is_err());
}
