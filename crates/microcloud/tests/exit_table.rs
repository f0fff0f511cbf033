//! README.md's table of exit statuses ("Exit statuses of `microcloud
//! preseed`") lists exactly the codes of `microcloud::exit::Exit`, each
//! with the meaning the enum gives it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use microcloud::exit::Exit;

/// The `| code | meaning | ...` rows of the table under `heading`.
fn table_rows(readme: &str, heading: &str) -> Vec<(u8, String)> {
    let start = readme
        .find(heading)
        .unwrap_or_else(|| panic!("README.md has no line {heading:?}"));
    readme[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|row| {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let code = cells.get(1)?.parse().ok()?;
            Some((code, (*cells.get(2)?).to_owned()))
        })
        .collect()
}

#[test]
fn the_readme_exit_table_is_the_exit_enum() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let rows = table_rows(
        &readme,
        "Exit statuses of `microcloud preseed`, for a pipeline:",
    );
    let expected: Vec<(u8, String)> = Exit::ALL
        .into_iter()
        .map(|e| (e.code(), e.meaning().to_owned()))
        .collect();
    assert_eq!(
        rows, expected,
        "README.md's exit table and `enum Exit` (crates/microcloud/src/exit.rs) differ: change both together"
    );
}

#[test]
fn a_missing_table_is_reported() {
    let result = std::panic::catch_unwind(|| table_rows("no table here", "Exit statuses"));
    let message = result
        .err()
        .and_then(|e| e.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    assert_eq!(message, "README.md has no line \"Exit statuses\"");
}
