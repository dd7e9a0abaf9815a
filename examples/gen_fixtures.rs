//! Writes every scenario of `sovereign::fixture::cases` (and the demo capture) to `fixtures/`.
//! Run with `make fixtures`; `tests/golden.rs` checks the committed files match.

use std::path::Path;

use sovereign::fixture::{cases, pcap_bytes};

fn main() -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut all = cases::all();
    all.push(cases::demo());
    for c in all {
        let path = dir.join(format!("{}.pcap", c.name));
        std::fs::write(&path, pcap_bytes(c.linktype, &c.frames))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
