//! The passphrase never appears in what `validate` prints, however it is
//! written. Every document in `tests/leaks/` holds a passphrase made of the
//! words `xyzzy` and `plugh` (folded over lines, with tabs, escaped in
//! JSON style, under a misspelt or misplaced key, in a document that does
//! not parse) and has a diagnostic that quotes the lines it is on. No part
//! of either word may appear in the human rendering or in the JSON; the
//! human rendering must equal the `.txt` snapshot beside the document
//! (`UPDATE_SNAPSHOTS=1` rewrites them, review the diff).

#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "the test reads its documents and snapshots from files; the library stays pure"
)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use config_loader::{FakeEnvironment, load_bytes};
use std::path::{Path, PathBuf};

/// Fragments of the secret words (escapes can split a word, so shorter
/// pieces are searched for too).
const FRAGMENTS: [&str; 6] = ["xyzzy", "xyzz", "yzzy", "plugh", "plug", "lugh"];

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/leaks");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn no_output_shows_any_part_of_the_passphrase() {
    let files = cases();
    assert!(files.len() >= 7, "expected the leak cases, found {files:?}");
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        let source = String::from_utf8_lossy(&bytes);
        let name = format!(
            "tests/leaks/{}",
            file.file_name().unwrap().to_string_lossy()
        );
        assert!(
            FRAGMENTS.iter().any(|f| source.contains(f)),
            "{name} must hold the secret words"
        );
        // The override warning points at the passphrase key's value.
        let env = FakeEnvironment {
            vars: vec![(
                config_loader::PASSPHRASE_ENV.into(),
                "from the environment".into(),
            )],
            files: Vec::new(),
        };
        let report = load_bytes(&bytes, &env);
        let human = report.render(&name);
        let json = serde_json::to_string_pretty(&report.to_json()).unwrap();
        for fragment in FRAGMENTS {
            assert!(
                !human.contains(fragment),
                "{name}: the human output shows {fragment:?}:\n{human}"
            );
            assert!(
                !json.contains(fragment),
                "{name}: the JSON output shows {fragment:?}:\n{json}"
            );
        }
        assert!(
            human.contains("<redacted>"),
            "{name}: a diagnostic must quote the secret's line (redacted):\n{human}"
        );
        let snapshot = file.with_extension("txt");
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(&snapshot, &human).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&snapshot).unwrap_or_else(|e| {
            panic!(
                "cannot read {}: {e}; run with UPDATE_SNAPSHOTS=1",
                snapshot.display()
            )
        });
        assert_eq!(expected, human, "{name} renders differently");
    }
}
