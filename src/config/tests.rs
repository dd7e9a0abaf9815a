//! Config compiler tests: every rejected input names the file, the key and the reason.

use super::*;

const BASE: &str = r#"
[site]
inside = ["10.0.0.0/8"]
[[tenant]]
id = "acme-eu"
networks = ["10.1.0.0/16"]
allow = ["EEA"]
personal_data = { detect = ["email"] }
"#;

fn compile_text(t: &str) -> Result<Config, ConfigError> {
    compile_str(t, "test.toml", Path::new("."))
}

/// Asserts that `text` is refused with a message containing every fragment.
fn check_err(text: &str, fragments: &[&str]) {
    match compile_text(text) {
        Ok(_) => panic!("accepted, expected an error with {fragments:?}:\n{text}"),
        Err(e) => {
            let msg = e.to_string();
            for f in fragments {
                assert!(msg.contains(f), "error {msg:?} lacks {f:?}");
            }
            assert!(
                msg.starts_with("test.toml"),
                "error {msg:?} must name the file"
            );
        }
    }
}

#[test]
fn base_compiles_and_expands_groups() {
    let c = match compile_text(BASE) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    let t = &c.policy.tenants[0];
    assert_eq!(t.allow_names, ["EEA"]);
    for code in ["DE", "FR", "NO", "IS", "LI"] {
        assert!(
            Country::parse(code).is_some_and(|c| t.allow.contains(c)),
            "{code} in EEA"
        );
    }
    assert!(!Country::parse("US").is_some_and(|c| t.allow.contains(c)));
    assert_eq!(t.on_unknown, OnUnknown::Alert);
}

#[test]
fn bundled_jurisdictions_have_the_documented_sizes() {
    let j = match compile_jurisdictions(BUNDLED_JURISDICTIONS, "bundled") {
        Ok(j) => j,
        Err(e) => panic!("{e}"),
    };
    // EU: 27 member states plus outermost regions with their own ISO codes and Åland.
    let eu = &j.groups["EU"].members;
    for c in [
        "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT",
        "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
    ] {
        assert!(
            Country::parse(c).is_some_and(|c| eu.contains(c)),
            "{c} in EU"
        );
    }
    assert!(!Country::parse("GB").is_some_and(|c| eu.contains(c)));
    assert!(!Country::parse("CH").is_some_and(|c| eu.contains(c)));
    let fe = &j.groups["FIVE_EYES"].members;
    assert_eq!(fe.len(), 5);
    for g in j.groups.values() {
        assert!(!g.source.is_empty() && !g.description.is_empty());
    }
}

#[test]
fn rejects_with_file_key_and_reason() {
    check_err(
        &BASE.replace("[site]", "[site]\nbogus = 1"),
        &["unknown field", "bogus"],
    );
    check_err(
        &BASE.replace("10.0.0.0/8", "10.0.0.0/33"),
        &["site.inside[0]", "not a CIDR"],
    );
    check_err(
        &BASE.replace("10.0.0.0/8", "10.0.0.1/8"),
        &["site.inside[0]", "host bits"],
    );
    check_err(
        &BASE.replace("\"EEA\"", "\"XX\""),
        &["tenant[0].allow[0]", "country code"],
    );
    check_err(
        &BASE.replace("\"EEA\"", "\"de\""),
        &["tenant[0].allow[0]", "upper case"],
    );
    check_err(
        &BASE.replace("\"EEA\"", "\"EUROPE\""),
        &["tenant[0].allow[0]", "neither"],
    );
    check_err(
        &BASE.replace("10.1.0.0/16", "192.0.2.0/24"),
        &["tenant[0].networks[0]", "not inside [site].inside"],
    );
    check_err(&format!("{BASE}\n[[tenant]]\nid = \"acme-eu\"\nnetworks = [\"10.2.0.0/16\"]\nallow = [\"DE\"]\n"), &["tenant[1].id", "duplicate"]);
    check_err(
        &format!(
            "{BASE}\n[[tenant]]\nid = \"b\"\nnetworks = [\"10.1.0.0/16\"]\nallow = [\"DE\"]\n"
        ),
        &["tenant[1].networks[0]", "acme-eu"],
    );
    check_err(
        &format!("{BASE}on_unknown = \"maybe\"\n"),
        &["tenant[0].on_unknown", "maybe"],
    );
    check_err(
        &BASE.replace("[\"email\"]", "[\"ssn\"]"),
        &["tenant[0].personal_data.detect[0]", "unknown detector"],
    );
    check_err(
        &BASE.replace("{ detect", "{ declared = [\"10.2.0.0/24\"], detect"),
        &[
            "tenant[0].personal_data.declared[0]",
            "not inside the tenant",
        ],
    );
    check_err(
        &format!("[geo]\ndatabases = [\"/nonexistent/x.mmdb\"]\n{BASE}"),
        &["geo.databases[0]", "does not exist"],
    );
    check_err(
        &format!("[privacy]\nhmac_key = \"abcd\"\n{BASE}"),
        &["privacy.hmac_key", "at least 16"],
    );
    check_err(
        &format!("[flow]\nmax_flows = 0\n{BASE}"),
        &["flow.max_flows"],
    );
    check_err(
        &format!("[[geo.override]]\nnetwork = \"192.0.2.0/24\"\ncountry = \"USA\"\n{BASE}"),
        &["geo.override[0].country"],
    );
    check_err("[site]\ninside = []\n", &["site.inside", "at least one"]);
    check_err("not toml = = 1", &["test.toml", "line 1, column"]);
    check_err(
        &BASE.replace("10.0.0.0/8", "0.0.0.0/0"),
        &["site.inside[0]", "every address"],
    );
    check_err(
        &format!("[flow]\nudp_timeout_secs = 99999999\n{BASE}"),
        &["flow.udp_timeout_secs", "7 days"],
    );
    let no_pd = "[site]\ninside = [\"10.0.0.0/8\"]\n[[tenant]]\nid = \"t\"\nnetworks = [\"10.1.0.0/16\"]\nallow = [\"DE\"]\n";
    check_err(
        no_pd,
        &["tenant[0].personal_data", "never carry personal data"],
    );
}

#[test]
fn the_hmac_key_never_appears_in_errors_or_debug_output() {
    let key = "00112233445566778899aabbccddeeff";
    // A syntax error on the key's own line.
    let bad = format!("[privacy]\nhmac_key = \"{key}\" x\n{BASE}");
    let msg = compile_text(&bad).map(|_| ()).map_err(|e| e.to_string());
    assert!(
        msg.as_ref()
            .is_err_and(|m| !m.contains(key) && m.contains("line 2")),
        "{msg:?}"
    );
    let ok = match compile_text(&format!("[privacy]\nhmac_key = \"{key}\"\n{BASE}")) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    assert!(!format!("{ok:?}").contains(key));
    let raw: raw::RawConfig =
        match toml::from_str(&format!("[privacy]\nhmac_key = \"{key}\"\n{BASE}")) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        };
    assert!(!format!("{raw:?}").contains(key));
}

#[test]
fn jurisdiction_cycles_and_bad_members_are_refused() {
    let cyc = "[group.A1]\ndescription='a'\nsource='s'\nmembers=['B1']\n[group.B1]\ndescription='b'\nsource='s'\nmembers=['A1']\n";
    let e = compile_jurisdictions(cyc, "j.toml")
        .map(|_| ())
        .map_err(|e| e.to_string());
    assert!(
        e.as_ref()
            .is_err_and(|m| m.contains("cycle") && m.starts_with("j.toml")),
        "{e:?}"
    );
    let bad = "[group.X1]\ndescription='a'\nsource='s'\nmembers=['QQ']\n";
    let e = compile_jurisdictions(bad, "j.toml")
        .map(|_| ())
        .map_err(|e| e.to_string());
    assert!(
        e.as_ref().is_err_and(|m| m.contains("group.X1.members[0]")),
        "{e:?}"
    );
}

#[test]
fn sidecar_sections_compile_with_defaults_and_overrides() {
    let c = compile_text(BASE).expect("base");
    assert_eq!(c.capture, CaptureConfig::default());
    assert_eq!(c.pipeline, PipelineConfig::default());
    assert_eq!(c.metrics_listen.to_string(), DEFAULT_METRICS_LISTEN);
    assert!(c.alertmanager.is_empty());
    let text = format!(
        "{BASE}\n[capture]\nsnaplen = 1514\npromiscuous = false\nbuffer_bytes = 1048576\nbpf_filter = \"tcp or udp\"\n\
         [pipeline]\nworkers = 3\nchannel_batches = 8\n[metrics]\nlisten = \"[::1]:9999\"\n\
         [[alert.sink]]\ntype = \"alertmanager\"\nurl = \"http://127.0.0.1:9093/\"\nbatch_size = 10\nspool_dir = \"spool\"\nretry_initial_ms = 100\nretry_max_secs = 2\n"
    );
    let c = compile_text(&text).expect("sidecar config");
    assert_eq!(c.capture.snaplen, 1514);
    assert!(!c.capture.promiscuous);
    assert_eq!(c.capture.bpf_filter.as_deref(), Some("tcp or udp"));
    assert_eq!(c.pipeline.workers, Some(3));
    assert_eq!(c.pipeline.channel_batches, 8);
    assert_eq!(c.metrics_listen.to_string(), "[::1]:9999");
    let am = &c.alertmanager[0];
    assert_eq!(am.url, "http://127.0.0.1:9093", "trailing slash trimmed");
    assert_eq!(am.batch_size, 10);
    assert_eq!(
        am.spool_dir,
        Path::new("./spool"),
        "relative to the config file"
    );
    assert_eq!(am.retry_initial, Duration::from_millis(100));
    assert_eq!(am.retry_max, Duration::from_secs(2));
}

#[test]
fn sidecar_sections_refuse_bad_values_naming_the_key() {
    check_err(
        &format!("{BASE}\n[capture]\nsnaplen = 10\n"),
        &["capture.snaplen", "64..=262144"],
    );
    check_err(
        &format!("{BASE}\n[capture]\nbpf_filter = \"tcp and and\"\n"),
        &["capture.bpf_filter", "tcp and and"],
    );
    check_err(
        &format!("{BASE}\n[capture]\nsnaplen_bytes = 100\n"),
        &["unknown field", "snaplen_bytes"],
    );
    check_err(
        &format!("{BASE}\n[pipeline]\nworkers = 1000\n"),
        &["pipeline.workers", "256"],
    );
    check_err(
        &format!("{BASE}\n[metrics]\nlisten = \"localhost\"\n"),
        &["metrics.listen", "address:port"],
    );
    check_err(
        &format!("{BASE}\n[[alert.sink]]\ntype = \"slack\"\nurl = \"http://x\"\n"),
        &["alert.sink[0].type", "slack"],
    );
    check_err(
        &format!("{BASE}\n[[alert.sink]]\ntype = \"alertmanager\"\n"),
        &["alert.sink[0].url", "required"],
    );
    check_err(
        &format!("{BASE}\n[[alert.sink]]\ntype = \"alertmanager\"\nurl = \"ftp://x\"\n"),
        &["alert.sink[0].url", "http://"],
    );
    check_err(
        &format!("{BASE}\n[[alert.sink]]\ntype = \"alertmanager\"\nurl = \"http://x\"\nretry_initial_ms = 5000\nretry_max_secs = 1\n"),
        &["alert.sink[0].retry_max_secs", "shorter"],
    );
}

#[test]
fn app_section_and_host_patterns_compile_and_refuse_bad_values_naming_the_key() {
    let tenant_with = |extra: &str| {
        format!(
            "[site]\ninside = [\"10.0.0.0/8\"]\n[[tenant]]\nid = \"acme-eu\"\nnetworks = [\"10.1.0.0/16\"]\nallow = [\"EEA\"]\n{extra}\npersonal_data = {{ detect = [\"email\"] }}\n"
        )
    };
    let cfg = compile_text(&format!(
        "{}\n[app]\nname_wait_ms = 0\ndns_cache_entries = 10\ndns_min_ttl_secs = 5\ndns_max_ttl_secs = 3600\n",
        tenant_with("allow_hosts = [\"*.EU-SaaS.example\"]\ndeny_hosts = [\"tracker.example\"]")
    ))
    .expect("compiles");
    assert_eq!(cfg.app.name_wait, Duration::ZERO);
    assert_eq!(cfg.app.names.max_entries, 10);
    assert_eq!(cfg.app.names.min_ttl, Duration::from_secs(5));
    let t = &cfg.policy.tenants[0];
    assert!(t.allow_hosts[0].matches("api.eu-saas.example"));
    assert!(t.deny_hosts[0].matches("tracker.example"));
    assert_eq!(
        compile_text(BASE).expect("defaults").app,
        AppConfig::default()
    );
    check_err(
        &tenant_with("deny_hosts = [\"ok.example\", \"a.*.example\"]"),
        &["tenant[0].deny_hosts[1]", "a.*.example", "wildcard"],
    );
    check_err(
        &tenant_with("allow_hosts = [\"\"]"),
        &["tenant[0].allow_hosts[0]", "empty"],
    );
    check_err(
        &format!("{BASE}\n[app]\nname_wait_ms = 60000\n"),
        &["app.name_wait_ms", "10000"],
    );
    check_err(
        &format!("{BASE}\n[flow]\ntcp_closed_timeout_secs = 2\n[app]\nname_wait_ms = 3000\n"),
        &["app.name_wait_ms", "shortest flow timeout (2 s)"],
    );
    check_err(
        &format!("{BASE}\n[app]\ndns_min_ttl_secs = 600\ndns_max_ttl_secs = 60\n"),
        &["app.dns_min_ttl_secs", "dns_max_ttl_secs"],
    );
    check_err(
        &format!("{BASE}\n[app]\ndns_ttl = 5\n"),
        &["unknown field", "dns_ttl"],
    );
}
