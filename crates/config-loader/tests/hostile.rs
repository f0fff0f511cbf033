//! Hostile input: every case ends in a clear diagnostic, never a panic, and
//! within bounded work (timings live in the benchmark, not here).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use config_loader::{FakeEnvironment, Report, load, load_bytes};
use proptest::prelude::*;

fn messages(report: &Report) -> Vec<String> {
    report
        .diagnostics()
        .iter()
        .map(|d| d.message.clone())
        .collect()
}

/// A "billion laughs" document: nine levels of nine-fold aliases.
pub fn alias_bomb() -> String {
    let mut doc = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for pair in names.windows(2) {
        let (prev, next) = (pair[0], pair[1]);
        let refs = vec![format!("*{prev}"); 9].join(",");
        doc.push_str(&format!("{next}: &{next} [{refs}]\n"));
    }
    doc
}

#[test]
fn alias_bomb_is_rejected() {
    let report = load(&alias_bomb(), &FakeEnvironment::default());
    assert!(!report.is_valid());
    let m = messages(&report);
    assert!(
        m[0].starts_with("the document exceeds the parser's limits"),
        "{m:?}"
    );
}

#[test]
fn oversized_input_is_rejected_before_parsing() {
    let big = "#".repeat(50 * 1024 * 1024);
    let report = load(&big, &FakeEnvironment::default());
    assert_eq!(
        messages(&report),
        vec!["the document is 52428800 bytes; the limit is 16777216 bytes".to_owned()]
    );
}

#[test]
fn binary_junk_is_not_text() {
    let junk: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let report = load_bytes(&junk, &FakeEnvironment::default());
    assert_eq!(
        messages(&report),
        vec!["the document is not valid UTF-8 text".to_owned()]
    );
    let d = report.diagnostics().iter().next().unwrap();
    assert_eq!(d.line(), Some(1));
}

#[test]
fn control_characters_are_a_syntax_error() {
    let report = load("initiator: a\u{0}\n", &FakeEnvironment::default());
    assert!(!report.is_valid());
    assert_eq!(report.diagnostics().iter().next().unwrap().line(), Some(1));
}

#[test]
fn deep_nesting_is_bounded() {
    let deep = format!("systems: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let report = load(&deep, &FakeEnvironment::default());
    assert!(!report.is_valid(), "{:?}", messages(&report));
}

#[test]
fn duplicate_keys_are_errors() {
    let report = load("initiator: a\ninitiator: b\n", &FakeEnvironment::default());
    let d = report.diagnostics().iter().next().unwrap();
    assert_eq!((d.line(), d.column()), (Some(2), Some(1)));
    assert!(d.message == "duplicate key `initiator`", "{}", d.message);
}

#[test]
fn several_documents_are_rejected() {
    let report = load(
        "initiator: a\n---\ninitiator: b\n",
        &FakeEnvironment::default(),
    );
    assert!(!report.is_valid());
}

#[test]
fn huge_numbers_are_out_of_range() {
    let report = load(
        "initiator: a\nlookup_subnet: 10.0.0.0/24\nsystems:\n  - name: a\nlookup_timeout: 99999999999999999999999\n",
        &FakeEnvironment::default(),
    );
    assert!(!report.is_valid());
    assert_eq!(report.diagnostics().iter().next().unwrap().line(), Some(5));
}

#[test]
fn tags_do_not_construct_anything() {
    let report = load(
        "initiator: !!python/object:os.system a\nlookup_subnet: 10.0.0.0/24\nsystems:\n  - name: a\n",
        &FakeEnvironment::default(),
    );
    // Either read as plain text or refused; never acted upon.
    if let Some(p) = report.preseed() {
        assert!(format!("{:?}", p.initiator).contains("\"a\""));
    }
}

const VALID: &str = include_str!("../../../examples/unicast-3-nodes-ovn-ceph.yaml");

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let report = load_bytes(&bytes, &FakeEnvironment::default());
        let _ = report.render("x");
        let _ = report.to_json();
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,512}") {
        let report = load(&text, &FakeEnvironment::default());
        let _ = report.render("x");
    }

    #[test]
    fn mutated_examples_never_panic_and_point_inside_the_document(
        at in 0usize..VALID.len(),
        replacement in prop::sample::select(vec!["", ":", "-", "[", "{", "\"", "'", "&a", "*a", "\n", "  ", "#", "!", "|", "0x", "~"]),
        remove in 0usize..8,
    ) {
        let mut text = VALID.to_owned();
        let start = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        let end = (start + remove..=text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
        text.replace_range(start..end, replacement);
        let report = load(&text, &FakeEnvironment { files: vec![("passphrase.txt".into(), "x".into())], ..Default::default() });
        let lines = u32::try_from(text.lines().count()).unwrap() + 1;
        for d in report.diagnostics().iter() {
            if let Some(line) = d.line() {
                prop_assert!(line >= 1 && line <= lines, "line {} of {}: {}", line, lines, d.message);
            }
        }
        let _ = report.render("x");
    }
}
