//! `--workers 1` and `--workers 4` must give the same alerts and flow records (as sets: only the
//! order of lines may differ) on every replay fixture and on the shared corpus.

mod common;

use std::path::{Path, PathBuf};

use common::{corpus, repo, scratch, sovereign, text};

/// Sorted lines of a JSON-lines file.
fn sorted_lines(path: &Path) -> Vec<String> {
    let s = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut v: Vec<String> = s.lines().map(str::to_string).collect();
    v.sort();
    v
}

/// Replays `files` with `workers` workers; returns (sorted alerts, sorted flows, exit code).
fn replay(
    dir: &Path,
    workers: usize,
    config: Option<&Path>,
    files: &[PathBuf],
) -> (Vec<String>, Vec<String>, i32) {
    let alerts = dir.join(format!("alerts-{workers}.jsonl"));
    let flows = dir.join(format!("flows-{workers}.jsonl"));
    let (a, f, w) = (
        alerts.display().to_string(),
        flows.display().to_string(),
        workers.to_string(),
    );
    let mut args = vec!["replay", "--workers", &w, "--alerts", &a, "--flows", &f];
    let cfg = config.map(|c| c.display().to_string());
    if let Some(c) = &cfg {
        args.extend(["--config", c]);
    }
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    args.extend(names.iter().map(String::as_str));
    let out = sovereign(&args);
    let code = out.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 1,
        "replay crashed: {}",
        text(&out.stderr)
    );
    (sorted_lines(&alerts), sorted_lines(&flows), code)
}

fn same_for_1_and_4(name: &str, config: Option<&Path>, files: &[PathBuf]) -> (usize, usize) {
    let dir = scratch(&format!("workers-{name}"));
    let one = replay(&dir, 1, config, files);
    let four = replay(&dir, 4, config, files);
    assert_eq!(one.2, four.2, "{name}: exit codes differ");
    assert_eq!(one.0.len(), four.0.len(), "{name}: alert counts differ");
    assert_eq!(one.0, four.0, "{name}: alerts differ");
    assert_eq!(one.1, four.1, "{name}: flow records differ");
    (one.0.len(), one.1.len())
}

#[test]
fn fixtures_give_the_same_alerts_and_flows_with_1_and_4_workers() {
    let cfg = repo().join("fixtures").join("sovereign-test.toml");
    let mut pcaps: Vec<PathBuf> = std::fs::read_dir(repo().join("fixtures"))
        .expect("fixtures/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    pcaps.sort();
    assert!(pcaps.len() >= 19, "fixtures missing: {pcaps:?}");
    let mut alerts = 0;
    for p in &pcaps {
        let name = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        alerts += same_for_1_and_4(&name, Some(&cfg), std::slice::from_ref(p)).0;
    }
    // The fixtures raise alerts (cases.rs); an empty comparison would prove nothing.
    assert!(alerts >= 15, "only {alerts} alerts over all fixtures");
}

#[test]
fn corpus_gives_the_same_alerts_and_flows_with_1_and_4_workers() {
    let Some(dir) = corpus("pcap") else { return };
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    let mut lines = manifest.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
    let c_path = header
        .iter()
        .position(|h| *h == "path")
        .expect("path column");
    let all: Vec<PathBuf> = lines
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| l.split('\t').nth(c_path).map(|p| dir.join(p)))
        .collect();
    assert!(all.len() > 50, "corpus has only {} captures", all.len());
    // The bundled config with a fixed HMAC key (else hashes differ between runs).
    let dir = scratch("workers-corpus-config");
    let cfg = dir.join("sovereign.toml");
    let bundled = std::fs::read_to_string(repo().join("rules").join("sovereign.toml"))
        .expect("rules/sovereign.toml");
    let keyed = bundled.replacen("# hmac_key = ", "hmac_key = ", 1);
    assert_ne!(
        keyed, bundled,
        "rules/sovereign.toml no longer has a commented hmac_key line"
    );
    std::fs::write(&cfg, keyed).expect("write config");
    let (_, flows) = same_for_1_and_4("corpus", Some(&cfg), &all);
    assert!(flows > 700, "only {flows} flows in the corpus");
}
