//! The built component imports nothing beyond DESIGN §2's list, so the same `.wasm` runs on
//! Spin unchanged. Reads the real release build (`make build` makes it).

use std::path::PathBuf;
use wasmparser::{Parser, Payload};

/// WASI 0.2 (cli, io, clocks, random, http) and the Spin interfaces we implement.
const ALLOWED: &[&str] = &[
    "wasi:cli/",
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:http/",
    "fermyon:spin/sqlite@2.0.0",
    "spin:sqlite/sqlite@3.0.0",
    "fermyon:spin/key-value@2.0.0",
    "fermyon:spin/variables@2.0.0",
];

#[test]
fn component_imports_only_what_spin_provides() {
    let path = std::env::var_os("EDGEPEDIA_WASM").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../target/wasm32-wasip2/release/edgepedia.wasm")
        },
        PathBuf::from,
    );
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run `make build` first)", path.display()));
    let mut imports = Vec::new();
    let mut depth = 0;
    for payload in Parser::new(0).parse_all(&bytes) {
        match payload.expect("a valid component") {
            // Only the outer component's imports are what the host must provide.
            Payload::ComponentImportSection(section) if depth == 0 => {
                for import in section {
                    imports.push(import.expect("an import").name.0.to_owned());
                }
            }
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = (depth as i32 - 1).max(0) as usize,
            _ => {}
        }
    }
    // `cargo test -p edgepedia-host --test component_imports -- --nocapture` lists them.
    println!("component imports: {imports:#?}");
    assert!(
        imports.iter().any(|i| i.starts_with("fermyon:spin/sqlite")),
        "{imports:?}"
    );
    let refused: Vec<&String> = imports
        .iter()
        .filter(|i| !ALLOWED.iter().any(|a| i.starts_with(a)))
        .collect();
    assert!(
        refused.is_empty(),
        "imports Spin may not provide: {refused:?}\nall: {imports:?}"
    );
}
