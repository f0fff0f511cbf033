//! `microcloud completions` and `microcloud man`: the files the Debian
//! package installs. Checks that need a tool that may be absent (zsh, fish,
//! groff) run only where it is installed and say so otherwise.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use support::{run, text};

/// The subcommands every completion script and the main man page must name.
const SUBCOMMANDS: &[&str] = &[
    "validate",
    "plan",
    "preseed",
    "wait-ready",
    "schema",
    "completions",
    "man",
];

/// Whether `tool` can be run (it answers `--version`).
fn installed(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn completion(shell: &str) -> String {
    let out = run(["completions", shell]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let script = text(&out.stdout);
    for sub in SUBCOMMANDS {
        assert!(
            script.contains(sub),
            "{shell} completion does not mention `{sub}`"
        );
    }
    // Options of subcommands are completed too (fish writes `-l dry-run`).
    for option in ["dry-run", "inventory", "max-parallel"] {
        assert!(
            script.contains(option),
            "{shell} completion does not mention `{option}`"
        );
    }
    script
}

/// `tool ARGS FILE`, with `content` written to FILE (named `name`), or
/// `None` when `tool` is not installed.
fn run_on_file(tool: &str, args: &[&str], name: &str, content: &str) -> Option<Output> {
    if !installed(tool) {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(name);
    std::fs::write(&file, content).unwrap();
    let out = Command::new(tool)
        .args(args)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("run {tool}: {e}"));
    Some(out)
}

/// Checks `script` with `shell -n` (parse only), when `shell` is installed.
fn syntax_check(shell: &str, script: &str) {
    let Some(out) = run_on_file(shell, &["-n"], "microcloud-completion", script) else {
        eprintln!("{shell} is not installed: its completion's syntax is not checked");
        return;
    };
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{shell} -n rejects the completion: {}",
        text(&out.stderr)
    );
}

#[test]
fn bash_completion_names_every_subcommand_and_parses() {
    let script = completion("bash");
    assert!(script.contains("complete -F _microcloud"), "{script}");
    // bash is always there on Debian; the check is not optional.
    assert!(installed("bash"), "bash is needed for this test");
    syntax_check("bash", &script);
}

#[test]
fn bash_completion_completes_subcommands_when_sourced() {
    let script = completion("bash");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("microcloud.bash");
    std::fs::write(&file, script).unwrap();
    // What bash itself does on `microcloud va<TAB>`.
    let probe = format!(
        "source {}; COMP_WORDS=(microcloud va); COMP_CWORD=1; \
         _microcloud microcloud va microcloud; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display()
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &probe])
        .output()
        .expect("run bash");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "validate\n");
}

#[test]
fn zsh_completion_names_every_subcommand() {
    let script = completion("zsh");
    assert!(script.starts_with("#compdef microcloud"), "{script}");
    syntax_check("zsh", &script);
}

#[test]
fn fish_completion_names_every_subcommand() {
    let script = completion("fish");
    assert!(script.contains("complete -c microcloud"), "{script}");
    syntax_check("fish", &script);
}

#[test]
fn unknown_shell_is_a_usage_error_listing_the_shells() {
    let out = run(["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("invalid value 'tcsh' for '<SHELL>'"),
        "{stderr}"
    );
    assert!(stderr.contains("bash"), "{stderr}");
    assert!(stderr.contains("fish"), "{stderr}");
    assert!(out.stdout.is_empty());
}

/// Renders `page` with groff and fails on any warning, when groff is there.
fn groff_check(name: &str, page: &str) {
    let Some(out) = run_on_file("groff", &["-man", "-Tutf8", "-ww", "-z"], name, page) else {
        eprintln!("groff is not installed: {name} is not rendered");
        return;
    };
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "groff warns about {name}: {}",
        text(&out.stderr)
    );
}

#[test]
fn man_page_on_stdout_describes_every_subcommand() {
    let out = run(["man"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let page = text(&out.stdout);
    assert!(page.contains(".TH microcloud 1"), "{page}");
    assert!(page.contains(".SH NAME"), "{page}");
    assert!(page.contains(".SH SUBCOMMANDS"), "{page}");
    for sub in SUBCOMMANDS {
        assert!(
            page.contains(&format!("microcloud\\-{}(1)", sub.replace('-', "\\-"))),
            "the man page does not list microcloud-{sub}(1)"
        );
    }
    // The `help` subcommand has no page of its own, so it is not listed.
    assert!(!page.contains("microcloud\\-help"), "{page}");
    groff_check("microcloud.1", &page);
}

#[test]
fn man_dir_writes_one_page_per_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(["man", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut expected: Vec<String> = SUBCOMMANDS
        .iter()
        .map(|sub| format!("microcloud-{sub}.1"))
        .chain(["microcloud.1".to_owned()])
        .collect();
    expected.sort();
    assert_eq!(names, expected);
    let validate = std::fs::read_to_string(dir.path().join("microcloud-validate.1")).unwrap();
    let title = format!(
        ".TH microcloud-validate 1  \"microcloud {}\"",
        env!("CARGO_PKG_VERSION")
    );
    assert!(validate.contains(&title), "{validate}");
    assert!(validate.contains("Exit status: 0 when the file is valid"));
    for name in &names {
        let page = std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert!(page.contains(".TH "), "{name} has no .TH");
        groff_check(name, &page);
    }
}

#[test]
fn man_dir_that_does_not_exist_is_an_error_saying_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("man1");
    let out = run(["man", "--dir", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "error: cannot write the man pages into {}: not a directory (create it first)\n",
            missing.display()
        )
    );
    assert!(!Path::new(&missing).exists());
}
