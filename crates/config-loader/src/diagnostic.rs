//! Diagnostics: what is wrong, where, and what to do about it.
//!
//! Every problem found while loading a preseed becomes a [`Diagnostic`] with
//! a severity, a message, the key path it comes from, its 1-based line and
//! column, and an optional hint. They are collected, never returned one at a
//! time, and rendered either for people ([`Diagnostics::render`]) or for
//! programs ([`Diagnostics::to_json`]).

use serde::Serialize;
use std::fmt::Write as _;

use crate::node::{KeyPath, Loc};

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The preseed cannot be used.
    Error,
    /// The preseed can be used, but something deserves attention.
    Warning,
}

/// One problem in a preseed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong, in one sentence without a trailing period.
    pub message: String,
    /// The key path the problem comes from (the root for document-wide ones).
    pub path: KeyPath,
    /// Where in the source, when the problem has a position.
    pub loc: Option<Loc>,
    /// Width of the underline in characters, when known.
    pub width: Option<usize>,
    /// What to do about it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error at `path`.
    pub fn error(path: KeyPath, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            path,
            loc: None,
            width: None,
            help: None,
        }
    }

    /// A warning at `path`.
    pub fn warning(path: KeyPath, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(path, message)
        }
    }

    /// Adds a hint saying what to do.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Sets the position explicitly (otherwise it is looked up from the path).
    pub fn at(mut self, loc: Loc) -> Diagnostic {
        self.loc = Some(loc);
        self
    }

    /// Sets the underline width in characters.
    pub fn with_width(mut self, width: usize) -> Diagnostic {
        self.width = Some(width);
        self
    }

    /// 1-based line, if located.
    pub fn line(&self) -> Option<u32> {
        self.loc.map(|l| l.line)
    }

    /// 1-based column, if located.
    pub fn column(&self) -> Option<u32> {
        self.loc.map(|l| l.column)
    }

    /// Whether this is an error (as opposed to a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// All diagnostics for one document, in source order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(Vec<Diagnostic>);

/// JSON form of one diagnostic, as printed by `microcloud validate --format json`.
#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    severity: Severity,
    message: &'a str,
    path: Option<String>,
    line: Option<u32>,
    column: Option<u32>,
    help: Option<&'a str>,
}

/// JSON form of a whole validation result.
#[derive(Serialize)]
struct JsonReport<'a> {
    valid: bool,
    diagnostics: Vec<JsonDiagnostic<'a>>,
}

impl Diagnostics {
    pub(crate) fn new(mut list: Vec<Diagnostic>) -> Diagnostics {
        // Source order, errors before warnings on the same spot; stable for
        // everything else so that the output is deterministic.
        list.sort_by(|a, b| {
            let key = |d: &Diagnostic| (d.loc.map(|l| (l.line, l.column)), d.severity);
            key(a).cmp(&key(b))
        });
        list.dedup();
        Diagnostics(list)
    }

    /// The diagnostics, in source order.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether any of them is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.0.iter().filter(|d| d.is_error()).count()
    }

    /// Number of warnings.
    pub fn warning_count(&self) -> usize {
        self.0.len() - self.error_count()
    }

    /// The machine-readable report: `{"valid": bool, "diagnostics": [...]}`.
    pub fn to_json(&self) -> serde_json::Value {
        let report = JsonReport {
            valid: !self.has_errors(),
            diagnostics: self
                .0
                .iter()
                .map(|d| JsonDiagnostic {
                    severity: d.severity,
                    message: &d.message,
                    path: (!d.path.is_root()).then(|| d.path.to_string()),
                    line: d.line(),
                    column: d.column(),
                    help: d.help.as_deref(),
                })
                .collect(),
        };
        serde_json::to_value(report).unwrap_or(serde_json::Value::Null)
    }

    /// Renders every diagnostic for a person, with the offending source line
    /// and a caret, followed by a one-line summary. `name` is how the source
    /// is called in the output (a file name, or `<stdin>`). `source` is
    /// quoted as given: [`crate::Report`] passes its document with every
    /// secret value already blanked out by position.
    pub fn render(&self, name: &str, source: &str) -> String {
        let lines: Vec<&str> = source.lines().collect();
        let gutter = self
            .0
            .iter()
            .filter_map(Diagnostic::line)
            .max()
            .map_or(1, |l| l.to_string().len());
        let mut out = String::new();
        for d in &self.0 {
            render_one(&mut out, d, name, &lines, gutter);
        }
        let (errors, warnings) = (self.error_count(), self.warning_count());
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        match (errors, warnings) {
            (0, 0) => {
                let _ = writeln!(out, "{name}: valid");
            }
            (0, w) => {
                let _ = writeln!(out, "{name}: valid, with {}", plural(w, "warning"));
            }
            (e, w) => {
                let _ = write!(out, "{name}: invalid, {}", plural(e, "error"));
                if w > 0 {
                    let _ = write!(out, " and {}", plural(w, "warning"));
                }
                out.push('\n');
            }
        }
        out
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

fn render_one(out: &mut String, d: &Diagnostic, name: &str, lines: &[&str], gutter: usize) {
    let label = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let _ = writeln!(out, "{label}: {}", d.message);
    let pad = " ".repeat(gutter);
    let at_path = if d.path.is_root() {
        String::new()
    } else {
        format!(" ({})", d.path)
    };
    match d.loc {
        Some(loc) => {
            let _ = writeln!(out, "{pad}--> {name}:{}:{}{at_path}", loc.line, loc.column);
            let text = usize::try_from(loc.line)
                .ok()
                .and_then(|l| l.checked_sub(1))
                .and_then(|i| lines.get(i));
            if let Some(text) = text {
                // The source was redacted by position before it got here.
                let shown = *text;
                let col = usize::try_from(loc.column).unwrap_or(1).max(1);
                let rest = shown.chars().count().saturating_sub(col - 1);
                let width = d.width.unwrap_or(rest).clamp(1, rest.max(1));
                let _ = writeln!(out, "{pad} |");
                let _ = writeln!(out, "{:>gutter$} | {}", loc.line, shown.trim_end());
                let _ = writeln!(out, "{pad} | {}{}", " ".repeat(col - 1), "^".repeat(width));
            }
        }
        None => {
            let _ = writeln!(out, "{pad}--> {name}{at_path}");
        }
    }
    if let Some(help) = &d.help {
        let _ = writeln!(out, "{pad} = help: {help}");
    }
    out.push('\n');
}
