//! Helpers shared by the integration tests: the binary, paths, golden files and the shared corpus.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the `sovereign` binary built for this test run.
pub fn sovereign(args: &[&str]) -> Output {
    match Command::new(env!("CARGO_BIN_EXE_sovereign"))
        .args(args)
        .output()
    {
        Ok(o) => o,
        Err(e) => panic!("cannot run sovereign {args:?}: {e}"),
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A fresh scratch directory under target/.
pub fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    if let Err(e) = std::fs::create_dir_all(&d) {
        panic!("mkdir {}: {e}", d.display());
    }
    d
}

pub fn update_golden() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

/// Compares `actual` with the golden file at `path` (rewritten when UPDATE_GOLDEN=1).
pub fn check_golden(path: &Path, actual: &[u8]) {
    if update_golden() {
        if let Err(e) = std::fs::write(path, actual) {
            panic!("write {}: {e}", path.display());
        }
        return;
    }
    let expected = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => panic!(
            "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
            path.display()
        ),
    };
    if expected != actual {
        panic!(
            "{} differs from the output (review, then UPDATE_GOLDEN=1 to refresh):\n--- expected\n{}\n--- actual\n{}",
            path.display(),
            text(&expected),
            text(actual)
        );
    }
}

/// `../shared/corpus/<sub>`: present, or a loud failure under CI=true, or None locally.
pub fn corpus(sub: &str) -> Option<PathBuf> {
    let p = repo().join("..").join("shared").join("corpus").join(sub);
    if p.is_dir() {
        return Some(p);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but the shared corpus {} is missing", p.display());
    }
    eprintln!(
        "note: {} missing; corpus test not run (it fails under CI=true)",
        p.display()
    );
    None
}

pub fn read_lines(path: &Path) -> Vec<serde_json::Value> {
    let s = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => panic!("read {}: {e}", path.display()),
    };
    s.lines()
        .map(|l| match serde_json::from_str(l) {
            Ok(v) => v,
            Err(e) => panic!("{}: bad JSON line {l:?}: {e}", path.display()),
        })
        .collect()
}
pub mod netns;
