//! Hiding secret values from the source lines that diagnostics quote.
//!
//! Redaction is by position: every value held by a key that holds a secret
//! (or that a "did you mean" hint would map to one, such as
//! `sesion_passphrase`) is blanked over its byte range in the parsed tree,
//! whatever its text looks like (folded over several lines, quoted with
//! escapes, in a JSON-style flow mapping). Only a document that cannot be
//! parsed at all, which has no tree, falls back to a line scan, which
//! blanks more rather than less. The text of a secret found this way is
//! also hidden wherever else it appears (pasted under another key).

use std::ops::Range;

use crate::node::{Loc, Node, NodeKind};
use crate::shape::closest;

/// Keys whose value is a secret.
const SECRET_KEYS: &[&str] = &["session_passphrase"];
/// Keys that are close to a secret key without holding a secret: a name is
/// mapped to the nearest of these and [`SECRET_KEYS`], as the "did you
/// mean" hint does.
const NEIGHBOURS: &[&str] = &["session_passphrase_file", "session_timeout"];

/// What replaces a secret value.
pub(crate) const MASK: &str = "<redacted>";

/// Whether a key named `name` holds, or was probably meant to hold, a secret.
pub(crate) fn is_secret_key(name: &str) -> bool {
    if SECRET_KEYS.contains(&name) {
        return true;
    }
    let candidates: Vec<&str> = SECRET_KEYS.iter().chain(NEIGHBOURS).copied().collect();
    closest(name, &candidates).is_some_and(|best| SECRET_KEYS.contains(&best))
}

/// The source with every secret value blanked out, line structure kept (so
/// that every line number still points at the same line).
pub(crate) fn redact_source(source: &str, tree: Option<&Node>) -> String {
    let mut spans = Vec::new();
    match tree {
        Some(tree) => {
            secret_spans(tree, source, &mut spans);
            // A secret pasted under another key as well (a value that is
            // not the secret's own) is hidden too.
            let copies: Vec<&str> = spans
                .iter()
                .filter_map(|r| source.get(r.clone()))
                .map(|s| s.trim_matches(['"', '\'']))
                .filter(|s| !s.trim().is_empty() && !s.contains('\n'))
                .collect();
            let mut more = Vec::new();
            for copy in copies {
                more.extend(source.match_indices(copy).map(|(i, c)| i..i + c.len()));
            }
            spans.extend(more);
        }
        None => scanned_spans(source, &mut spans),
    }
    apply(source, spans)
}

/// Byte ranges of every secret value in `node`.
fn secret_spans(node: &Node, source: &str, out: &mut Vec<Range<usize>>) {
    match &node.kind {
        NodeKind::Map(entries) => {
            for (key, value) in entries {
                if is_secret_key(&key.name) {
                    value_spans(value, source, out);
                } else {
                    secret_spans(value, source, out);
                }
            }
        }
        NodeKind::Seq(items) => {
            for item in items {
                secret_spans(item, source, out);
            }
        }
        _ => {}
    }
}

/// Byte ranges covering the whole of a secret `value`: every scalar in it,
/// and, for a scalar without a known byte range, the rest of its line and
/// every line after it that is indented deeper than the value's key. A
/// secret that YAML read as a mapping (a passphrase holding `: `, written
/// on the line below its key or in braces) has secret text in its keys
/// too: they are covered like scalars.
fn value_spans(value: &Node, source: &str, out: &mut Vec<Range<usize>>) {
    match &value.kind {
        NodeKind::Map(entries) => {
            for (k, v) in entries {
                located_span(&k.loc, source, out);
                value_spans(v, source, out);
            }
        }
        NodeKind::Seq(items) => {
            for v in items {
                value_spans(v, source, out);
            }
        }
        NodeKind::Null => {}
        _ => located_span(&value.loc, source, out),
    }
}

/// The bytes of the scalar (value or key) at `loc`: its known byte range,
/// or else from its column to where a value written there can end at the
/// latest (`continuation_end`).
fn located_span(loc: &Loc, source: &str, out: &mut Vec<Range<usize>>) {
    match loc.byte_offset.zip(loc.byte_len) {
        Some((start, len)) => out.push(start..start.saturating_add(len).min(source.len())),
        None => {
            if let Some(start) = line_start(source, loc.line) {
                let column = usize::try_from(loc.column).unwrap_or(1).max(1) - 1;
                let from = source[start..]
                    .char_indices()
                    .nth(column)
                    .map_or(source.len(), |(i, _)| start + i);
                out.push(from..continuation_end(source, start));
            }
        }
    }
}

/// Byte offset where 1-based line `line` starts.
fn line_start(source: &str, line: u32) -> Option<usize> {
    let skip = usize::try_from(line).ok()?.checked_sub(1)?;
    if skip == 0 {
        return Some(0);
    }
    source.match_indices('\n').nth(skip - 1).map(|(i, _)| i + 1)
}

/// The end of the line starting at `start` and of every following line that
/// is blank or indented deeper than it (with spaces or tabs): where a value
/// written on that line can end at the latest.
fn continuation_end(source: &str, start: usize) -> usize {
    let indent = |line: &str| line.len() - line.trim_start_matches([' ', '\t']).len();
    let first = &source[start..];
    let first_line = first.split('\n').next().unwrap_or("");
    let base = indent(first_line.strip_prefix("- ").unwrap_or(first_line))
        + usize::from(first_line.trim_start().starts_with("- ")) * 2;
    let mut end = start + first_line.len();
    let mut at = end;
    while at < source.len() {
        let next = &source[at + 1..];
        let line = next.split('\n').next().unwrap_or("");
        if !line.trim().is_empty() && indent(line) <= base {
            break;
        }
        at = at + 1 + line.len();
        end = at;
    }
    end
}

/// For a document that does not parse: every line with a key that is, or
/// looks like, a secret key, from after its colon, and the lines that
/// continue it.
fn scanned_spans(source: &str, out: &mut Vec<Range<usize>>) {
    let mut start = 0;
    for line in source.split('\n') {
        if let Some(after) = secret_colon(line) {
            out.push(start + after..continuation_end(source, start));
        }
        start += line.len() + 1;
    }
}

/// The byte offset just after the colon of the first secret-looking key on
/// `line`, if there is one.
fn secret_colon(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_alphabetic() {
            let from = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || b"_-".contains(&bytes[i]))
            {
                i += 1;
            }
            let word = &line[from..i];
            let rest = line[i..].trim_start_matches(['"', '\'']).trim_start();
            if rest.starts_with(':') && is_secret_key(word) {
                let value = rest[1..].trim_start_matches([' ', '\t']);
                return Some(line.len() - value.len());
            }
        } else {
            i += 1;
        }
    }
    None
}

/// `source` with each range replaced: its first line by [`MASK`] (padded
/// with spaces to the original width when more text follows on that line,
/// so that carets further right still line up), its later lines emptied.
fn apply(source: &str, mut spans: Vec<Range<usize>>) -> String {
    spans.retain(|r| r.start < r.end && source.is_char_boundary(r.start));
    spans.sort_by_key(|r| r.start);
    let mut out = String::with_capacity(source.len());
    let mut at = 0;
    for span in spans {
        let start = span.start.max(at);
        let mut end = span.end.min(source.len());
        while !source.is_char_boundary(end) {
            end += 1;
        }
        if start >= end {
            continue;
        }
        out.push_str(&source[at..start]);
        let secret = &source[start..end];
        let mut lines = secret.split('\n');
        let first = lines.next().unwrap_or("");
        out.push_str(MASK);
        let rest_of_line = source[end..].split('\n').next().unwrap_or("");
        let multi = secret.contains('\n');
        if !multi && !rest_of_line.trim().is_empty() {
            let width = first.chars().count();
            out.push_str(&" ".repeat(width.saturating_sub(MASK.len())));
        }
        for _ in lines {
            out.push('\n');
        }
        at = end;
    }
    out.push_str(&source[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys_and_their_misspellings() {
        for name in [
            "session_passphrase",
            "sesion_passphrase",
            "session_passphrse",
            "Session_Passphrase",
            "session-passphrase",
        ] {
            assert!(is_secret_key(name), "{name}");
        }
        for name in [
            "session_passphrase_file",
            "session_passphrase_fil",
            "session_timeout",
            "name",
            "initiator",
        ] {
            assert!(!is_secret_key(name), "{name}");
        }
    }

    #[test]
    fn unparsed_documents_are_scanned_line_by_line() {
        let source = "a: 1\nsesion_passphrase: one\n  two\n\tthree\nb: [\n";
        let shown = redact_source(source, None);
        assert_eq!(shown, "a: 1\nsesion_passphrase: <redacted>\n\n\nb: [\n");
        let json = "{\"x\": 1, \"session_passphrase\": \"s\\u0065cret\", \"y\": [}";
        let shown = redact_source(json, None);
        assert!(!shown.contains("cret"), "{shown}");
    }
}
