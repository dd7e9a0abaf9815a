//! Live transit detection by probing (root; CI runs it): the tenant's traffic leaves the gateway
//! through a router an override places in the US, toward a server placed in Germany. The tenant
//! may send personal data to the EEA but must not transit the US: no residency alert, one transit
//! alert naming the US hop, found by `sovereign run`'s own traceroute. Then the routes move to a
//! router in Germany: once the cached path expires, new personal-data flows raise nothing.
//! `sovereign trace` shows the same paths. Only documentation addresses, only namespaces this
//! test creates.
//!
//! ```text
//!  t 192.0.2.10 ── g0 192.0.2.1 [g] g1 198.51.100.1 ── 198.51.100.2 [r1: US] 203.0.113.1 ── 203.0.113.2 [s]
//!                               [g] g2 192.0.2.65  ── 192.0.2.66   [r2: DE] 203.0.113.5 ── 203.0.113.6 [s]
//!  server address 203.0.113.100 (on s's loopback), port 8080
//! ```
// Helpers outside #[test] fns too: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::netns::{in_ns, ip, output, prerequisites, veth, wait_for, Proc, HTTP_SERVER};
use common::{read_lines, scratch, text};

const SERVER: &str = "203.0.113.100";
const US_ROUTER: &str = "198.51.100.2";
const DE_ROUTER: &str = "192.0.2.66";

/// Namespaces t, g, r1, r2, s; deleted on drop.
struct Net {
    p: String,
    namespaces: Vec<String>,
    procs: Vec<Proc>,
}

impl Net {
    fn ns(&self, role: &str) -> String {
        format!("{}{role}", self.p)
    }

    fn sh(&self, role: &str, script: &str) {
        let out = output(in_ns(&self.ns(role), "sh").args(["-c", script])).unwrap();
        assert!(
            out.status.success(),
            "{role}: {script}: {}",
            text(&out.stderr)
        );
    }

    fn new() -> Net {
        let p = format!("svpr{}", std::process::id() % 100_000);
        let mut net = Net {
            p: p.clone(),
            namespaces: Vec::new(),
            procs: Vec::new(),
        };
        for role in ["t", "g", "r1", "r2", "s"] {
            let ns = net.ns(role);
            if Path::new("/run/netns").join(&ns).exists() {
                ip(&["netns", "del", &ns]);
            }
            ip(&["netns", "add", &ns]);
            net.namespaces.push(ns);
        }
        let links = [
            ("t", "t0", "192.0.2.10/26", "g", "g0", "192.0.2.1/26"),
            ("g", "g1", "198.51.100.1/30", "r1", "r1a", "198.51.100.2/30"),
            ("r1", "r1b", "203.0.113.1/30", "s", "s0", "203.0.113.2/30"),
            ("g", "g2", "192.0.2.65/30", "r2", "r2a", "192.0.2.66/30"),
            ("r2", "r2b", "203.0.113.5/30", "s", "s1", "203.0.113.6/30"),
        ];
        for role in ["t", "g", "r1", "r2", "s"] {
            net.sh(role, "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6; echo 1 > /proc/sys/net/ipv4/ip_forward");
            ip(&["-n", &net.ns(role), "link", "set", "lo", "up"]);
        }
        for (ra, ia, aa, rb, ib, ab) in links {
            let (na, nb) = (net.ns(ra), net.ns(rb));
            let (da, db) = (format!("{p}{ia}"), format!("{p}{ib}"));
            veth((&da, &na), (&db, &nb));
            for (ns, dev, addr) in [(&na, &da, aa), (&nb, &db, ab)] {
                ip(&["-n", ns, "addr", "add", addr, "dev", dev]);
                ip(&["-n", ns, "link", "set", dev, "up"]);
            }
        }
        ip(&[
            "-n",
            &net.ns("s"),
            "addr",
            "add",
            &format!("{SERVER}/32"),
            "dev",
            "lo",
        ]);
        let routes: &[(&str, &str, &str)] = &[
            ("t", "default", "192.0.2.1"),
            ("r1", "203.0.113.100/32", "203.0.113.2"),
            ("r1", "192.0.2.0/24", "198.51.100.1"),
            ("r2", "203.0.113.100/32", "203.0.113.6"),
            ("r2", "192.0.2.0/26", "192.0.2.65"),
            ("s", "198.51.100.0/30", "203.0.113.1"),
            ("s", "192.0.2.64/30", "203.0.113.5"),
        ];
        for (role, dst, via) in routes {
            ip(&["-n", &net.ns(role), "route", "add", dst, "via", via]);
        }
        net.route_via_us(true);
        net
    }

    /// Both directions through r1 (US) or r2 (DE).
    fn route_via_us(&self, us: bool) {
        let (g_via, s_via) = if us {
            (US_ROUTER, "203.0.113.1")
        } else {
            (DE_ROUTER, "203.0.113.5")
        };
        ip(&[
            "-n",
            &self.ns("g"),
            "route",
            "replace",
            &format!("{SERVER}/32"),
            "via",
            g_via,
        ]);
        ip(&[
            "-n",
            &self.ns("s"),
            "route",
            "replace",
            "192.0.2.0/26",
            "via",
            s_via,
        ]);
    }

    fn post_personal_data(&self, body: &Path) -> u16 {
        let out = output(
            in_ns(&self.ns("t"), "curl")
                .args(["-sS", "-m", "5", "-o", "/dev/null", "-w", "%{local_port}"])
                .args(["--data-binary", &format!("@{}", body.display())])
                .arg(format!("http://{SERVER}:8080/records")),
        )
        .unwrap();
        assert!(out.status.success(), "POST: {}", text(&out.stderr));
        text(&out.stdout).trim().parse().unwrap()
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        self.procs.clear();
        for ns in &self.namespaces {
            let _ = std::process::Command::new("ip")
                .args(["netns", "del", ns])
                .status();
        }
    }
}

fn config(dir: &Path) -> String {
    let cfg = "[site]\nname = \"probe-gw\"\ninside = [\"192.0.2.0/26\"]\n\
         [[geo.override]]\nnetwork = \"198.51.100.0/24\"\ncountry = \"US\"\n\
         [[geo.override]]\nnetwork = \"203.0.113.0/24\"\ncountry = \"DE\"\n\
         [[geo.override]]\nnetwork = \"192.0.2.64/26\"\ncountry = \"DE\"\n\
         [privacy]\nhmac_key = \"000102030405060708090a0b0c0d0e0f\"\n\
         [flow]\ntcp_closed_timeout_secs = 1\n\
         [probe]\nenabled = true\nprotocol = \"udp\"\nmax_ttl = 6\nrounds = 1\npackets_per_second = 100\ncache_secs = 3\n\
         [metrics]\nlisten = \"127.0.0.1:9477\"\n\
         [[tenant]]\nid = \"eu-clinic\"\nnetworks = [\"192.0.2.0/26\"]\nallow = [\"EEA\"]\ndeny_transit = [\"US\"]\n\
         [tenant.personal_data]\ndetect = [\"email\"]\n";
    let p = dir.join("sovereign.toml");
    std::fs::write(&p, cfg).unwrap();
    p.display().to_string()
}

fn trace(net: &Net, cfg: &str) -> (i32, String) {
    let out = output(
        in_ns(&net.ns("g"), env!("CARGO_BIN_EXE_sovereign"))
            .args(["trace", "--config", cfg, "--deny", "US", SERVER]),
    )
    .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

#[test]
fn transit_through_a_us_router_is_found_by_probing_and_clears_when_routed_around() {
    if !prerequisites(&["ip", "curl", "python3"]) {
        return;
    }
    let dir = scratch("probe-transit");
    let net = Net::new();
    let mut net = net;
    let mut http = in_ns(&net.ns("s"), "python3");
    http.args(["-c", HTTP_SERVER, SERVER, "8080"]);
    net.procs
        .push(Proc::spawn("http server", http, &dir.join("http.log")));
    let body = dir.join("body.json");
    std::fs::write(&body, "{\"patient\":\"jane.doe@example.org\",\"x\":1}").unwrap();
    wait_for("the server through r1", Duration::from_secs(20), || {
        let out = output(in_ns(&net.ns("t"), "curl").args([
            "-sS",
            "-m",
            "2",
            "-o",
            "/dev/null",
            &format!("http://{SERVER}:8080/"),
        ]))?;
        out.status
            .success()
            .then_some(())
            .ok_or_else(|| text(&out.stderr))
    });
    let cfg = config(&dir);

    // `sovereign trace` sees the US router at hop 1 and says so (exit 3).
    let (code, out) = trace(&net, &cfg);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains(&format!("{US_ROUTER}  US")), "{out}");
    assert!(out.contains("verdict: crosses US"), "{out}");

    let alerts = dir.join("alerts.jsonl");
    let log = dir.join("sovereign.log");
    let mut cmd = in_ns(&net.ns("g"), env!("CARGO_BIN_EXE_sovereign"));
    cmd.args([
        "run",
        "--iface",
        &format!("{}g0", net.p),
        "--config",
        &cfg,
        "--workers",
        "2",
    ])
    .args([
        "--alerts",
        &alerts.display().to_string(),
        "--log",
        "info,sovereign::probe=debug",
        "--log-format",
        "json",
    ]);
    net.procs.push(Proc::spawn("sovereign", cmd, &log));
    wait_for("sovereign /healthz", Duration::from_secs(20), || {
        let out = output(in_ns(&net.ns("g"), "curl").args([
            "-sf",
            "-m",
            "1",
            "http://127.0.0.1:9477/healthz",
        ]))?;
        out.status
            .success()
            .then_some(())
            .ok_or_else(|| "not yet".to_string())
    });

    let port = net.post_personal_data(&body);
    let got = wait_for("the transit alert", Duration::from_secs(30), || {
        let a = if alerts.exists() {
            read_lines(&alerts)
        } else {
            Vec::new()
        };
        if a.is_empty() {
            Err("no alert yet".into())
        } else {
            Ok(a)
        }
    });
    assert_eq!(got.len(), 1, "{got:#?}");
    let a = &got[0];
    assert_eq!(
        a["alert"]["kind"], "transit",
        "DE is allowed: no residency alert: {a}"
    );
    assert_eq!(a["src_port"], port);
    assert_eq!(a["dest_ip"], SERVER);
    assert_eq!(a["dest_geo"]["country"], "DE");
    assert_eq!(a["transit"]["jurisdictions"], serde_json::json!(["US"]));
    let ev = &a["transit"]["evidence"][0];
    assert_eq!(
        (
            ev["hop"].as_u64(),
            ev["address"].as_str(),
            ev["country"].as_str()
        ),
        (Some(1), Some(US_ROUTER), Some("US")),
        "{a}"
    );
    assert_eq!(ev["measurement"], "probe udp from the gateway");

    // A second flow within the cache time (3 s) is judged on the cached path: a second transit
    // alert, no second trace.
    let port_cached = net.post_personal_data(&body);
    let got = wait_for("the second transit alert", Duration::from_secs(10), || {
        let a = read_lines(&alerts);
        if a.len() >= 2 {
            Ok(a)
        } else {
            Err(format!("{} alerts", a.len()))
        }
    });
    assert_eq!(got[1]["src_port"], port_cached);
    assert_eq!(got[1]["alert"]["kind"], "transit");
    let probes = std::fs::read_to_string(&log)
        .unwrap()
        .matches("probe_done")
        .count();
    assert_eq!(probes, 1, "the cached path was used");

    // Around the US: r2 (DE). Until the cached path (3 s) expires nothing is probed again; after
    // it, a new flow is probed, the path has no US hop, and no alert comes.
    net.route_via_us(false);
    let (code, out) = trace(&net, &cfg);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("{DE_ROUTER}  DE")) && out.contains("verdict: clear"),
        "{out}"
    );
    std::thread::sleep(Duration::from_millis(3_500));
    let port2 = net.post_personal_data(&body);
    wait_for("a second probe", Duration::from_secs(30), || {
        let l = std::fs::read_to_string(&log).unwrap_or_default();
        let n = l.matches("probe_done").count();
        if n >= 2 {
            Ok(())
        } else {
            Err(format!("{n} probes"))
        }
    });
    // The verdict is drawn right after the probe; give the sink a moment to write anything.
    std::thread::sleep(Duration::from_millis(500));
    let after = read_lines(&alerts);
    assert_eq!(
        after.len(),
        2,
        "a flow routed around the US alerted: {after:#?} (port {port2})"
    );
    let l = std::fs::read_to_string(&log).unwrap();
    assert!(
        l.contains(&format!("1:{DE_ROUTER}:DE 2:{SERVER}:DE")),
        "second probe went through r2: {l}"
    );
    assert!(
        l.contains(&format!("1:{US_ROUTER}:US 2:{SERVER}:DE")),
        "first through r1: {l}"
    );
    let m = output(in_ns(&net.ns("g"), "curl").args([
        "-sS",
        "-m",
        "2",
        "http://127.0.0.1:9477/metrics",
    ]))
    .unwrap();
    let m = text(&m.stdout);
    let metric = |name: &str| {
        m.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    assert_eq!(
        metric("sovereign_alerts_total{tenant=\"eu-clinic\",kind=\"transit\",country=\"DE\"}"),
        Some(2.0),
        "{m}"
    );
    assert_eq!(
        metric("sovereign_probe_traces_total{result=\"ok\"}"),
        Some(2.0),
        "{m}"
    );
    assert_eq!(metric("sovereign_probe_cache_hits_total"), Some(1.0), "{m}");
    assert_eq!(
        metric("sovereign_probe_requests_dropped_total"),
        Some(0.0),
        "{m}"
    );
    assert!(
        !l.contains("jane.doe")
            && !std::fs::read_to_string(&alerts)
                .unwrap()
                .contains("jane.doe")
    );
}
