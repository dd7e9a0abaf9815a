//! A live test bed for `sovereign run` (tests/sidecar.rs): three network namespaces joined by
//! veth pairs, the processes the tests start in them, small clients for the HTTP endpoints
//! (through curl inside a namespace), a parser for the Prometheus text format and a polling helper.
//!
//! ```text
//!  <p>t (tenant)              <p>g (gateway, IPv4 forwarding)               <p>s (server)
//!  192.0.2.10  <p>t0 ──── <p>g0  192.0.2.1 | 198.51.100.1  <p>g1 ──── <p>s0  198.51.100.10:8080
//! ```
//!
//! Addresses are documentation ranges only (RFC 5737), and traffic never leaves the namespaces
//! the bed creates. Everything is torn down on drop, also when a test panics; a panicking test
//! first prints the logs and records in its scratch directory.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::Duration;

pub const TENANT_IP: &str = "192.0.2.10";
pub const GATEWAY_TENANT_SIDE_IP: &str = "192.0.2.1";
pub const GATEWAY_SERVER_SIDE_IP: &str = "198.51.100.1";
pub const SERVER_IP: &str = "198.51.100.10";
pub const SERVER_PORT: u16 = 8080;

/// An HTTP server for the server namespace: answers GET and POST with 200 and a short body,
/// after reading the whole request body. HTTP/1.0, so every request is a connection of its own.
pub const HTTP_SERVER: &str = r#"
import http.server, sys

class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = answer

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
"#;

/// Starting the HTTP server until the tenant reaches it.
const STARTUP: Duration = Duration::from_secs(20);
/// How much of each file a failing test prints.
const DUMP_BYTES: usize = 16 * 1024;

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

/// Whether a live test can run here: root, and every tool in `tools` on PATH. Under CI=true a
/// missing piece fails the test; elsewhere the test prints why and should return.
pub fn prerequisites(tools: &[&str]) -> bool {
    let mut missing = Vec::new();
    if !nix::unistd::geteuid().is_root() {
        missing.push("root (network namespaces, live capture)".to_string());
    }
    for t in tools {
        if !on_path(t) {
            missing.push(format!("`{t}` on PATH"));
        }
    }
    if missing.is_empty() {
        return true;
    }
    let why = missing.join(", ");
    if ci() {
        panic!("CI=true but this live test cannot run: it needs {why}");
    }
    eprintln!("note: live test not run: it needs {why} (it fails under CI=true)");
    false
}

/// Runs a command to completion; Err says what was run and why it failed to start.
pub fn output(cmd: &mut Command) -> Result<Output, String> {
    cmd.stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))
}

/// Runs `ip ARGS`; panics with its stderr if it fails.
pub fn ip(args: &[&str]) {
    let out = output(Command::new("ip").args(args)).unwrap_or_else(|e| panic!("{e}"));
    if !out.status.success() {
        panic!(
            "ip {}: {}: {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
}

/// A veth pair, each end created in its namespace: `(name, namespace)`.
pub fn veth(a: (&str, &str), b: (&str, &str)) {
    ip(&[
        "link", "add", a.0, "netns", a.1, "type", "veth", "peer", "name", b.0, "netns", b.1,
    ]);
}

/// `ip netns exec NS PROGRAM` (arguments to be added).
pub fn in_ns(ns: &str, program: &str) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns, program]);
    c
}

/// Polls `f` every 100 ms until it returns Ok, for at most `limit`; panics naming `what` and
/// the last Err (the state seen) when time runs out.
pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Result<T, String>) -> T {
    let start = sovereign::time::monotonic();
    loop {
        match f() {
            Ok(v) => return v,
            Err(last) if start.elapsed() >= limit => {
                panic!("timed out after {limit:?} waiting for {what}; last seen: {last}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// A process started by a test, its stdout and stderr appended to a log file. Killed (SIGKILL)
/// when dropped if still running.
#[derive(Debug)]
pub struct Proc {
    pub name: String,
    pub log: PathBuf,
    child: Child,
}

impl Proc {
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> Proc {
        let open = || {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .unwrap_or_else(|e| panic!("{}: {e}", log.display()))
        };
        let child = cmd
            .stdin(Stdio::null())
            .stdout(open())
            .stderr(open())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        Proc {
            name: name.to_string(),
            log: log.to_path_buf(),
            child,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        match self.child.try_wait() {
            Ok(s) => s,
            Err(e) => panic!("{}: wait: {e}", self.name),
        }
    }

    /// Panics (naming the process and its log) if it has exited.
    pub fn assert_running(&mut self) {
        if let Some(s) = self.exited() {
            panic!(
                "{} exited unexpectedly ({s}); its log is {}",
                self.name,
                self.log.display()
            );
        }
    }

    /// Sends a signal by name (`HUP`, `TERM`, ...), with the shell's built-in kill (kill(1) is
    /// not installed everywhere).
    pub fn signal(&self, sig: &str) {
        let script = format!("kill -s {sig} {}", self.pid());
        let out =
            output(Command::new("sh").args(["-c", &script])).unwrap_or_else(|e| panic!("{e}"));
        if !out.status.success() {
            panic!(
                "{script} ({}): {}",
                self.name,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
    }

    /// Waits for the process to exit, for at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let what = format!("{} (pid {}) to exit", self.name, self.pid());
        wait_for(&what, limit, || {
            self.exited().ok_or_else(|| "running".to_string())
        })
    }

    /// SIGKILL, then reap. Never panics (it runs in Drop).
    pub fn kill(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // An error here means it exited meanwhile.
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What a request from the tenant got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// The tenant's port: `src_port` of the flow's records.
    pub local_port: u16,
}

/// The tenant host: makes requests to the server, one connection each.
#[derive(Debug, Clone)]
pub struct Tenant {
    ns: String,
}

impl Tenant {
    /// POSTs the contents of `body` to `path` on the server.
    pub fn post(&self, body: &Path, path: &str) -> Result<Response, String> {
        let data = format!("@{}", body.display());
        self.request(&[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &data,
            &format!("http://{SERVER_IP}:{SERVER_PORT}{path}"),
        ])
    }

    pub fn get(&self, path: &str) -> Result<Response, String> {
        self.request(&[&format!("http://{SERVER_IP}:{SERVER_PORT}{path}")])
    }

    fn request(&self, args: &[&str]) -> Result<Response, String> {
        let out = output(
            in_ns(&self.ns, "curl")
                .args(["-sS", "-m", "5", "-o", "/dev/null"])
                .args(["-w", "%{http_code} %{local_port}"])
                .args(args),
        )?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!(
                "curl {args:?}: {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let mut w = text.split_whitespace().map(str::parse::<u16>);
        match (w.next(), w.next()) {
            (Some(Ok(status)), Some(Ok(local_port))) => Ok(Response { status, local_port }),
            _ => Err(format!("curl {args:?}: unexpected output {text:?}")),
        }
    }
}

/// Three namespaces (tenant, gateway, server), their links and the server process.
#[derive(Debug)]
pub struct Bed {
    /// Prefix of every namespace and interface name: `sv<tag><pid mod 100000>`.
    pub prefix: String,
    /// Scratch directory for configs, logs and records (printed when a test fails).
    pub dir: PathBuf,
    pub tenant: Tenant,
    namespaces: Vec<String>,
    server: Option<Proc>,
}

impl Bed {
    /// Builds the topology and starts the HTTP server. `tag` (two letters) keeps the names of
    /// tests running in parallel apart; names stay within the 15 characters of an interface.
    pub fn new(tag: &str, dir: PathBuf) -> Bed {
        let prefix = format!("sv{tag}{}", std::process::id() % 100_000);
        let mut bed = Bed {
            tenant: Tenant {
                ns: format!("{prefix}t"),
            },
            prefix,
            dir,
            namespaces: Vec::new(),
            server: None,
        };
        for role in ["t", "g", "s"] {
            let ns = format!("{}{role}", bed.prefix);
            // Left by an earlier run with the same pid that was killed before cleaning up.
            if Path::new("/run/netns").join(&ns).exists() {
                ip(&["netns", "del", &ns]);
            }
            ip(&["netns", "add", &ns]);
            bed.namespaces.push(ns);
        }
        let (t, g, s) = (bed.tenant_ns(), bed.gateway_ns(), bed.server_ns());
        let p = &bed.prefix;
        let (t0, g0, g1, s0) = (
            format!("{p}t0"),
            format!("{p}g0"),
            format!("{p}g1"),
            format!("{p}s0"),
        );
        veth((&t0, &t), (&g0, &g));
        veth((&g1, &g), (&s0, &s));
        for ns in [&t, &g, &s] {
            // IPv4 only: no router solicitations or MLD reports in the capture.
            bed.sh(ns, "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6");
            bed.sh(ns, "echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6");
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        for (ns, dev, addr) in [
            (&t, &t0, format!("{TENANT_IP}/24")),
            (&g, &g0, format!("{GATEWAY_TENANT_SIDE_IP}/24")),
            (&g, &g1, format!("{GATEWAY_SERVER_SIDE_IP}/24")),
            (&s, &s0, format!("{SERVER_IP}/24")),
        ] {
            ip(&["-n", ns, "addr", "add", &addr, "dev", dev]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        for (ns, via) in [(&t, GATEWAY_TENANT_SIDE_IP), (&s, GATEWAY_SERVER_SIDE_IP)] {
            ip(&["-n", ns, "route", "add", "default", "via", via]);
        }
        bed.sh(&g, "echo 1 > /proc/sys/net/ipv4/ip_forward");

        let mut cmd = in_ns(&s, "python3");
        cmd.args(["-c", HTTP_SERVER, SERVER_IP, &SERVER_PORT.to_string()]);
        let log = bed.dir.join("http-server.log");
        bed.server = Some(Proc::spawn("http server", cmd, &log));
        // Through the gateway, before sovereign runs: proves the path, and fills ARP caches.
        let tenant = bed.tenant.clone();
        wait_for("the tenant to reach the HTTP server", STARTUP, || {
            if let Some(server) = bed.server.as_mut() {
                server.assert_running();
            }
            match tenant.get("/ready") {
                Ok(r) if r.status == 200 => Ok(()),
                other => Err(format!("{other:?}")),
            }
        });
        bed
    }

    pub fn tenant_ns(&self) -> String {
        format!("{}t", self.prefix)
    }

    /// The gateway namespace: sovereign, Alertmanager and Prometheus run here.
    pub fn gateway_ns(&self) -> String {
        format!("{}g", self.prefix)
    }

    pub fn server_ns(&self) -> String {
        format!("{}s", self.prefix)
    }

    /// The gateway's interface facing the tenant (where sovereign captures).
    pub fn gateway_tenant_iface(&self) -> String {
        format!("{}g0", self.prefix)
    }

    /// Runs a shell command in a namespace; panics if it fails.
    fn sh(&self, ns: &str, script: &str) {
        let out = output(in_ns(ns, "sh").args(["-c", script])).unwrap_or_else(|e| panic!("{e}"));
        if !out.status.success() {
            panic!(
                "{ns}: sh -c {script:?}: {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
    }

    /// Writes a file into the scratch directory; returns its path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, contents).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }

    /// GET `url` from inside the gateway namespace; `query` pairs are URL-encoded.
    /// Returns the status and the body.
    pub fn get(&self, url: &str, query: &[(&str, &str)]) -> Result<(u16, String), String> {
        let mut cmd = in_ns(&self.gateway_ns(), "curl");
        cmd.args(["-sS", "-m", "5", "-G", "-w", "\n%{http_code}"]);
        for (k, v) in query {
            cmd.arg("--data-urlencode").arg(format!("{k}={v}"));
        }
        let out = output(cmd.arg(url))?;
        if !out.status.success() {
            return Err(format!(
                "GET {url}: curl {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
        let code = code
            .trim()
            .parse()
            .map_err(|_| format!("GET {url}: no status in {text:?}"))?;
        Ok((code, body.to_string()))
    }

    /// Prints the tail of every log, record and config file in the scratch directory.
    fn dump(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .is_some_and(|x| x == "log" || x == "jsonl" || x == "toml" || x == "yml")
            })
            .collect();
        files.sort();
        for p in files {
            let mut bytes = Vec::new();
            if File::open(&p)
                .and_then(|mut f| f.read_to_end(&mut bytes))
                .is_err()
            {
                continue;
            }
            let from = bytes.len().saturating_sub(DUMP_BYTES);
            eprintln!(
                "----- {} ({} bytes{}) -----\n{}",
                p.display(),
                bytes.len(),
                if from > 0 { ", tail" } else { "" },
                String::from_utf8_lossy(&bytes[from..])
            );
        }
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        // Processes first (the server here; tests drop theirs before the bed), so that logs are
        // complete and nothing is left running in a deleted namespace.
        drop(self.server.take());
        if std::thread::panicking() {
            self.dump();
        }
        for ns in &self.namespaces {
            // Deleting a namespace also deletes its ends of the veth pairs.
            let ok = Command::new("ip")
                .args(["netns", "del", ns])
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                eprintln!("warning: could not delete network namespace {ns}");
            }
        }
    }
}

/// One sample of the Prometheus text format.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed `/metrics` page.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    pub samples: Vec<Sample>,
}

impl Metrics {
    /// Parses the text exposition format (`name{label="value",...} value [timestamp]`).
    pub fn parse(text: &str) -> Result<Metrics, String> {
        let mut samples = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let s = parse_sample(line)
                .ok_or_else(|| format!("metrics line {}: cannot parse {line:?}", i + 1))?;
            samples.push(s);
        }
        Ok(Metrics { samples })
    }

    /// The sum of the series of `name` whose labels include `labels`; None if there is none.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).is_some_and(|x| x == v))
            })
            .map(|s| s.value)
            .reduce(|a, b| a + b)
    }
}

fn parse_sample(line: &str) -> Option<Sample> {
    let end = line.find(|c: char| c == '{' || c.is_whitespace())?;
    let name = line[..end].to_string();
    let (labels, rest) = match line[end..].strip_prefix('{') {
        Some(after) => parse_labels(after)?,
        None => (BTreeMap::new(), &line[end..]),
    };
    let value = match rest.split_whitespace().next()? {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// Parses `k="v",k2="v2"}` (what follows `{`); returns the labels and the text after `}`.
fn parse_labels(s: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut labels = BTreeMap::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        if let Some(after) = rest.strip_prefix('}') {
            return Some((labels, after));
        }
        let (key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (_, '\\') => value.push(match chars.next()?.1 {
                    'n' => '\n',
                    c => c,
                }),
                (i, '"') => break i + 1,
                (_, c) => value.push(c),
            }
        };
        labels.insert(key.trim().to_string(), value);
        rest = &after[end..];
    }
}
