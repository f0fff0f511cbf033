//! Strict loader for microcloud preseed files.
//!
//! Pure: no network, no tokio, no direct file or environment access (both are
//! injected through [`Environment`]). Deterministic: the same input gives the
//! same [`Preseed`] or the same diagnostics, in the same order.
//!
//! Loading runs in stages, each collecting every problem it can find before
//! the next one starts:
//!
//! 1. [`yaml`](crate::yaml): bounded parse into a located tree (syntax,
//!    duplicate keys, size and alias budgets);
//! 2. [`shape`]: the tree against the JSON Schema generated from [`raw`]
//!    (unknown keys with "did you mean", wrong types, missing keys);
//! 3. serde into the raw types, from the checked tree with the rejected
//!    parts left out, so that stage 4 still runs on everything else;
//! 4. [`validate`](crate::validate): raw → domain types ([`model`]), with
//!    every semantic rule.

pub mod diagnostic;
mod env;
pub mod filter;
pub mod model;
pub mod node;
pub mod raw;
mod redact;
pub mod shape;
mod validate;
mod yaml;

pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use env::{
    Environment, FakeEnvironment, FileKind, MAX_SECRET_FILE_BYTES, SecretFile, SecretFileError,
};
pub use model::{Mode, Preseed};
pub use node::KeyPath;
pub use validate::PASSPHRASE_ENV;
pub use yaml::MAX_INPUT_BYTES;

/// The outcome of loading one document: the preseed when there was no
/// error, and every diagnostic (warnings included) either way.
#[derive(Debug, Clone)]
pub struct Report {
    preseed: Option<Preseed>,
    diagnostics: Diagnostics,
    display_source: String,
    tree: Option<node::Node>,
}

impl Report {
    /// The validated preseed, when the document had no error.
    pub fn preseed(&self) -> Option<&Preseed> {
        self.preseed.as_ref()
    }

    /// Every diagnostic, in source order.
    pub fn diagnostics(&self) -> &Diagnostics {
        &self.diagnostics
    }

    /// Whether the document can be used.
    pub fn is_valid(&self) -> bool {
        self.preseed.is_some()
    }

    /// Human rendering, with source lines (secrets redacted) and carets.
    pub fn render(&self, name: &str) -> String {
        self.diagnostics.render(name, &self.display_source)
    }

    /// Machine rendering: `{"valid": bool, "diagnostics": [...]}`.
    pub fn to_json(&self) -> serde_json::Value {
        self.diagnostics.to_json()
    }

    /// This report's diagnostics plus `extra` ones found by a later stage
    /// (the planner), each located in this document from its key path when
    /// it has no position yet. Render them with [`Report::render_diagnostics`].
    pub fn with_extra(&self, extra: impl IntoIterator<Item = Diagnostic>) -> Diagnostics {
        let mut all: Vec<Diagnostic> = self.diagnostics.iter().cloned().collect();
        for mut d in extra {
            if d.loc.is_none()
                && let Some(tree) = &self.tree
            {
                d.loc = Some(tree.locate(&d.path));
            }
            all.push(d);
        }
        Diagnostics::new(all)
    }

    /// Human rendering of `diagnostics` (e.g. from [`Report::with_extra`])
    /// against this document, exactly as [`Report::render`] does.
    pub fn render_diagnostics(&self, name: &str, diagnostics: &Diagnostics) -> String {
        diagnostics.render(name, &self.display_source)
    }
}

/// Loads and validates a preseed document from bytes (which need not be
/// UTF-8: anything else is reported, not a panic).
pub fn load_bytes(bytes: &[u8], env: &dyn Environment) -> Report {
    match std::str::from_utf8(bytes) {
        Ok(text) => load(text, env),
        Err(e) => {
            let valid = &bytes[..e.valid_up_to()];
            let text = String::from_utf8_lossy(valid);
            let line = text.matches('\n').count() + 1;
            let column = text.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            let loc = node::Loc {
                line: u32::try_from(line).unwrap_or(u32::MAX),
                column: u32::try_from(column).unwrap_or(u32::MAX),
                byte_offset: None,
                byte_len: None,
            };
            let d = Diagnostic::error(KeyPath::root(), "the document is not valid UTF-8 text")
                .at(loc)
                .with_help("a preseed is a YAML text file; check that the right file was given");
            Report {
                preseed: None,
                diagnostics: Diagnostics::new(vec![d]),
                display_source: String::new(),
                tree: None,
            }
        }
    }
}

/// Loads and validates a preseed document.
pub fn load(source: &str, env: &dyn Environment) -> Report {
    let mut out = Vec::new();
    let tree = match yaml::parse(source) {
        Ok(tree) => tree,
        Err(e) => {
            let mut d = Diagnostic::error(KeyPath::root(), e.message).with_help(e.help);
            d.loc = e.loc;
            return finish(None, vec![d], source, None);
        }
    };
    let Some(value) = shape::check(&tree, source, &mut out) else {
        return finish(None, out, source, Some(&tree));
    };
    let raw: raw::RawPreseed = match serde_json::from_value(value) {
        Ok(raw) => raw,
        Err(e) => {
            out.push(Diagnostic::error(
                KeyPath::root(),
                format!("internal error: the checked document does not fit the raw types: {e}"),
            ));
            return finish(None, out, source, Some(&tree));
        }
    };
    let preseed = validate::validate(&raw, &tree, source, env, &mut out);
    finish(preseed, out, source, Some(&tree))
}

fn finish(
    preseed: Option<Preseed>,
    out: Vec<Diagnostic>,
    source: &str,
    tree: Option<&node::Node>,
) -> Report {
    // A preseed is only handed out when no stage found an error.
    let preseed = preseed.filter(|_| !out.iter().any(Diagnostic::is_error));
    Report {
        preseed,
        diagnostics: Diagnostics::new(out),
        display_source: if source.len() > MAX_INPUT_BYTES {
            // Nothing of an oversized document is shown; do not copy it.
            String::new()
        } else {
            redact::redact_source(source, tree)
        },
        tree: tree.cloned(),
    }
}
