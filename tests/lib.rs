//! Shared helpers for the workspace-level tests.

pub mod lab;
pub mod real_cluster;
pub mod real_lab;
pub mod testbed;

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_owned)
        .unwrap_or_default()
}

/// Compares `actual` with the golden file at `path` (relative to the
/// workspace root). With `UPDATE_SNAPSHOTS=1` the file is (re)written
/// instead, so that a deliberate change is one command and a reviewed diff.
///
/// # Panics
/// When the file differs or is missing (this is a test helper).
pub fn assert_snapshot(path: &str, actual: &str) {
    let full = workspace_root().join(path);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        if let Some(dir) = full.parent() {
            std::fs::create_dir_all(dir)
                .unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        }
        std::fs::write(&full, actual).unwrap_or_else(|e| panic!("write {}: {e}", full.display()));
        return;
    }
    let expected = std::fs::read_to_string(&full).unwrap_or_else(|e| {
        panic!(
            "cannot read snapshot {path}: {e}\nrun the tests with UPDATE_SNAPSHOTS=1 to create it"
        )
    });
    if expected != actual {
        panic!(
            "snapshot {path} differs from the output\n--- expected\n{expected}\n--- actual\n{actual}\n\
             run the tests with UPDATE_SNAPSHOTS=1 if the change is intended, and review the diff"
        );
    }
}

/// `path` relative to the workspace root, as shown in rendered diagnostics.
pub fn relative_name(path: &Path) -> String {
    path.strip_prefix(workspace_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The YAML files directly inside `dir` (relative to the workspace root), sorted.
pub fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(workspace_root().join(dir))
        .unwrap_or_else(|e| panic!("read {dir}: {e}"))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

/// An environment for loading the shipped examples: no variables, and the
/// examples' passphrase file.
pub fn examples_environment() -> config_loader::FakeEnvironment {
    let passphrase = std::fs::read_to_string(workspace_root().join("examples/passphrase.txt"))
        .unwrap_or_default();
    config_loader::FakeEnvironment {
        vars: Vec::new(),
        files: vec![("passphrase.txt".to_owned(), passphrase)],
    }
}

/// The inventory in `dir` (relative to the workspace root): every `*.json`
/// file, with `@VERSION@` replaced by the workspace version (so that
/// re-run fixtures can state the `user.microcloud` value the planner sets).
///
/// # Panics
/// When the directory or a file cannot be read or parsed (test helper).
pub fn inventory_dir(dir: &str) -> planner::Inventory {
    let full = workspace_root().join(dir);
    let mut files: Vec<(String, String)> = std::fs::read_dir(&full)
        .unwrap_or_else(|e| panic!("read {}: {e}", full.display()))
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .map(|e| {
            let text = std::fs::read_to_string(e.path())
                .unwrap_or_else(|err| panic!("read {}: {err}", e.path().display()));
            (
                e.file_name().to_string_lossy().into_owned(),
                text.replace("@VERSION@", env!("CARGO_PKG_VERSION")),
            )
        })
        .collect();
    files.sort();
    planner::Inventory::from_files(files).unwrap_or_else(|e| panic!("inventory {dir}: {e}"))
}

/// Loads `examples/<stem>.yaml` with [`examples_environment`].
///
/// # Panics
/// When the example is missing or invalid (test helper).
pub fn example(stem: &str) -> config_loader::Preseed {
    let path = workspace_root()
        .join("examples")
        .join(format!("{stem}.yaml"));
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    config_loader::load(&text, &examples_environment())
        .preseed()
        .cloned()
        .unwrap_or_else(|| panic!("{stem} is invalid"))
}
