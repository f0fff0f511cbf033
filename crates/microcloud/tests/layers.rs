//! The modules of `crates/microcloud/src` form one-way layers: every
//! `crate::a::...` path in a module names a module of a lower layer (or
//! its own), and the submodules of one directory module (`output::events`,
//! `output::report`, ...) do not use each other in a circle. The order is
//! the one ARCHITECTURE.md documents on its "Layers of crates/microcloud,
//! from the bottom:" line; every module must be on it.
//!
//! Test code (from a file's `#[cfg(test)]` on) may reach any layer, and
//! `main.rs` (the binary) sits above them all.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LAYERS_LINE: &str = "Layers of crates/microcloud, from the bottom:";

/// The layer order from ARCHITECTURE.md's line: every `name` in backticks.
fn documented_order(architecture: &str) -> Vec<String> {
    let line = architecture
        .lines()
        .find(|l| l.contains(LAYERS_LINE))
        .unwrap_or_else(|| panic!("ARCHITECTURE.md has no line with {LAYERS_LINE:?}"));
    line.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// A module's path (`["output", "report"]`) from its file under `src/`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The `crate::` paths a module's non-test code names, as its first two
/// segments.
fn crate_edges(source: &str) -> BTreeSet<Vec<String>> {
    let mut edges = BTreeSet::new();
    for line in source.lines() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            break;
        }
        let code = line.split("//").next().unwrap_or_default();
        for (at, _) in code.match_indices("crate::") {
            // `crate::` inside a longer word (`microcloud_crate::`) is not a path.
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let path: Vec<String> = code[at + "crate::".len()..]
                .split("::")
                .map(|s| {
                    s.chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect::<String>()
                })
                .take_while(|s| !s.is_empty())
                .take(2)
                .collect();
            if !path.is_empty() {
                edges.insert(path);
            }
        }
    }
    edges
}

/// Every problem with the modules' `uses` (module path -> `crate::` paths)
/// against `order` (bottom first); empty when the layers hold.
fn problems(uses: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>, order: &[String]) -> Vec<String> {
    let rank = |m: &str| order.iter().position(|o| o == m);
    let mut problems = Vec::new();
    let mut children: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut child_edges: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (module, targets) in uses {
        let top = &module[0];
        let Some(from) = rank(top) else {
            problems.push(format!(
                "module `{top}` is not on ARCHITECTURE.md's layer line"
            ));
            continue;
        };
        if let Some(child) = module.get(1) {
            children
                .entry(top.clone())
                .or_default()
                .insert(child.clone());
        }
        for target in targets {
            let to_top = &target[0];
            match rank(to_top) {
                None => problems.push(format!(
                    "`{}` uses `crate::{to_top}`, which is not on the layer line",
                    module.join("::")
                )),
                Some(to) if to > from => problems.push(format!(
                    "`{}` uses `crate::{}`, a higher layer ({to_top} is above {top})",
                    module.join("::"),
                    target.join("::")
                )),
                Some(_) => {
                    if let (Some(a), Some(b)) = (module.get(1), target.get(1))
                        && to_top == top
                        && a != b
                    {
                        child_edges
                            .entry((top.clone(), a.clone()))
                            .or_default()
                            .insert(b.clone());
                    }
                }
            }
        }
    }
    for (top, kids) in &children {
        if let Some(cycle) = find_cycle(top, kids, &child_edges) {
            problems.push(format!(
                "the submodules of `{top}` use each other in a circle: {}",
                cycle.join(" -> ")
            ));
        }
    }
    problems
}

/// A circle among `kids` of `top`, as the path that closes it.
fn find_cycle(
    top: &str,
    kids: &BTreeSet<String>,
    edges: &BTreeMap<(String, String), BTreeSet<String>>,
) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        top: &str,
        edges: &BTreeMap<(String, String), BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|s| s == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if !done.insert(node.to_owned()) {
            return None;
        }
        stack.push(node.to_owned());
        for next in edges
            .get(&(top.to_owned(), node.to_owned()))
            .into_iter()
            .flatten()
        {
            if let Some(cycle) = visit(next, top, edges, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    kids.iter()
        .find_map(|k| visit(k, top, edges, &mut Vec::new(), &mut done))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("src/ entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn modules_depend_only_downwards_in_the_documented_order() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let architecture =
        std::fs::read_to_string(root.join("../../ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let order = documented_order(&architecture);
    let src = root.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut uses = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&src).expect("under src/");
        if relative == Path::new("lib.rs") || relative == Path::new("main.rs") {
            continue;
        }
        let source = std::fs::read_to_string(&file).expect("readable source");
        uses.entry(module_path(relative))
            .or_insert_with(BTreeSet::new)
            .extend(crate_edges(&source));
    }
    assert!(
        uses.len() > 10,
        "found only {} modules under src/",
        uses.len()
    );
    let problems = problems(&uses, &order);
    assert!(
        problems.is_empty(),
        "layer problems:\n{}",
        problems.join("\n")
    );
}

// The checker itself, on made-up modules: it has to be able to fail.

fn uses_of(edges: &[(&str, &str)]) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let split = |s: &str| s.split("::").map(str::to_owned).collect::<Vec<_>>();
    let mut uses: BTreeMap<_, BTreeSet<_>> = BTreeMap::new();
    for (from, to) in edges {
        uses.entry(split(from)).or_default().insert(split(to));
    }
    uses
}

fn order(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn an_edge_up_the_order_is_a_problem() {
    let uses = uses_of(&[("exit", "run::Ending"), ("run", "exit::Exit")]);
    assert_eq!(
        problems(&uses, &order(&["exit", "run"])),
        ["`exit` uses `crate::run::Ending`, a higher layer (run is above exit)"]
    );
}

#[test]
fn a_module_off_the_layer_line_is_a_problem() {
    let uses = uses_of(&[("stray", "exit::Exit"), ("run", "nowhere::X")]);
    assert_eq!(
        problems(&uses, &order(&["exit", "run"])),
        [
            "`run` uses `crate::nowhere`, which is not on the layer line",
            "module `stray` is not on ARCHITECTURE.md's layer line",
        ]
    );
}

#[test]
fn a_circle_between_submodules_is_a_problem() {
    let uses = uses_of(&[
        ("output::events", "output::report"),
        ("output::report", "output::progress"),
        ("output::progress", "output::events"),
    ]);
    assert_eq!(
        problems(&uses, &order(&["output"])),
        [
            "the submodules of `output` use each other in a circle: events -> report -> progress -> events"
        ]
    );
}

#[test]
fn edges_are_read_from_code_before_the_tests() {
    let source = "use crate::output::Format;\n\
                  // crate::ignored::InAComment\n\
                  let x = crate::exit::Exit::Invalid; other_crate::no::Path;\n\
                  #[cfg(test)]\n\
                  use crate::cli::Cli;\n";
    let edges: Vec<String> = crate_edges(source).iter().map(|p| p.join("::")).collect();
    assert_eq!(edges, ["exit::Exit", "output::Format"]);
}
