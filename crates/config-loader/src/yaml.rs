//! The one place that knows which YAML library we use.
//!
//! `serde_yaml` is deprecated upstream; we use `serde-saphyr` (no unsafe,
//! fuzzed, panic-free by design, line/column for every node, a duplicate-key
//! policy and input budgets). Everything else in the crate sees [`Node`]
//! trees and raw serde types produced here, so swapping the library means
//! rewriting this file only.
//!
//! Hostile input is bounded in three ways before or while parsing: a byte
//! limit on the whole document ([`MAX_INPUT_BYTES`]), serde-saphyr's budget
//! (nodes, depth, aliases, anchors, scalar bytes) and its alias replay limits,
//! which stop "billion laughs" documents after a bounded amount of work.

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Budget, DuplicateKeyPolicy, Options, Spanned};
use std::fmt;

use crate::node::{Key, Loc, Node, NodeKind};

/// Largest preseed document accepted, in bytes. A 1,000-system file with 24
/// direct disks per system is under 2 MiB.
pub const MAX_INPUT_BYTES: usize = 16 * 1024 * 1024;

/// Why a document could not be parsed as YAML at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub message: String,
    pub help: String,
    pub loc: Option<Loc>,
}

const SYNTAX_HELP: &str =
    "fix the YAML syntax first; other problems are reported once the document parses";

fn options() -> Options {
    let mut budget = Budget::default();
    budget.max_nodes = 1_000_000;
    budget.max_events = 2_000_000;
    budget.max_depth = 32;
    budget.max_aliases = 10_000;
    budget.max_anchors = 10_000;
    budget.max_documents = 1;
    budget.max_recorded_anchor_events = 20_000;
    budget.max_recorded_anchor_bytes = 4 * 1024 * 1024;
    budget.max_total_scalar_bytes = MAX_INPUT_BYTES;
    let mut options = Options::default();
    options.budget = Some(budget);
    options.duplicate_keys = DuplicateKeyPolicy::Error;
    options.alias_limits.max_total_replayed_events = 50_000;
    options.alias_limits.max_replay_stack_depth = 16;
    options
}

/// Parses `source` into a located node tree. This is the single entry point
/// for YAML syntax: every later stage works on its output.
pub(crate) fn parse(source: &str) -> Result<Node, SyntaxError> {
    if source.len() > MAX_INPUT_BYTES {
        return Err(SyntaxError {
            message: format!(
                "the document is {} bytes; the limit is {} bytes",
                source.len(),
                MAX_INPUT_BYTES
            ),
            help: "a preseed file is a few kilobytes; check that the right file was given"
                .to_owned(),
            loc: None,
        });
    }
    let tree: Spanned<Tree> =
        serde_saphyr::from_str_with_options(source, options()).map_err(syntax_error)?;
    Ok(tree.into())
}

fn syntax_error(error: serde_saphyr::Error) -> SyntaxError {
    let loc = error
        .location()
        .filter(|l| l.line() > 0)
        .map(|l| Loc::from_location(&l));
    let mut message = error.without_snippet().to_string();
    // serde-saphyr appends " at line N, column M"; we render locations ourselves.
    if let Some(cut) = message.find(" at line ") {
        message.truncate(cut);
    }
    let mut help = SYNTAX_HELP.to_owned();
    if let Some(rest) = message.strip_prefix("budget breached: ") {
        message = format!("the document exceeds the parser's limits ({rest})");
        help = "preseed files are small and need few anchors and aliases; write the values out"
            .to_owned();
    } else if let Some(rest) = message.strip_prefix("duplicate mapping key: ") {
        let key = rest
            .split(", set DuplicateKeyPolicy")
            .next()
            .unwrap_or(rest);
        message = format!("duplicate key `{key}`");
        help =
            "a key may appear only once in a mapping; remove or merge the repeated one".to_owned();
    }
    SyntaxError { message, help, loc }
}

/// Deserialisation target that keeps every value with its location.
enum Tree {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Tree>>),
    Map(Vec<(Spanned<String>, Spanned<Tree>)>),
}

impl From<Spanned<Tree>> for Node {
    fn from(spanned: Spanned<Tree>) -> Node {
        let loc = Loc::from_location(&spanned.referenced);
        let kind = match spanned.value {
            Tree::Null => NodeKind::Null,
            Tree::Bool(b) => NodeKind::Bool(b),
            Tree::Int(i) => NodeKind::Int(i),
            Tree::Float(f) => NodeKind::Float(f),
            Tree::Str(s) => NodeKind::Str(s),
            Tree::Seq(items) => NodeKind::Seq(items.into_iter().map(Node::from).collect()),
            Tree::Map(entries) => NodeKind::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| {
                        (
                            Key {
                                loc: Loc::from_location(&k.referenced),
                                name: k.value,
                            },
                            Node::from(v),
                        )
                    })
                    .collect(),
            ),
        };
        Node { kind, loc }
    }
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TreeVisitor)
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Tree;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Tree, E> {
        Ok(Tree::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Tree, E> {
        Ok(Tree::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Tree, D::Error> {
        Tree::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Tree, E> {
        Ok(Tree::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Tree, E> {
        Ok(Tree::Int(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Tree, E> {
        Ok(Tree::Int(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Tree, E> {
        Ok(Tree::Int(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Tree, E> {
        Ok(i128::try_from(v).map_or(Tree::Float(v as f64), Tree::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Tree, E> {
        Ok(Tree::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Tree, E> {
        Ok(Tree::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Tree, E> {
        Ok(Tree::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Tree, E> {
        Ok(Tree::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Tree::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Tree::Map(entries))
    }
}
