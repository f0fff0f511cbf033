//! A located YAML tree and key paths into it.
//!
//! The tree is what the structural check walks and what every diagnostic uses
//! to find its line and column from a key path such as `systems[1].address`.

use std::fmt;

/// A position in the source document: 1-based line and column (in
/// characters), plus the byte range of the node for slicing the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Loc {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub column: u32,
    /// Byte offset of the node in the source, when known.
    pub(crate) byte_offset: Option<usize>,
    /// Length of the node in bytes, when known.
    pub(crate) byte_len: Option<usize>,
}

impl Loc {
    pub(crate) fn from_location(location: &serde_saphyr::Location) -> Loc {
        let span = location.span();
        Loc {
            line: u32::try_from(location.line()).unwrap_or(u32::MAX),
            column: u32::try_from(location.column()).unwrap_or(u32::MAX),
            byte_offset: span.byte_offset().and_then(|o| usize::try_from(o).ok()),
            byte_len: span.byte_len().and_then(|o| usize::try_from(o).ok()),
        }
    }

    /// The source text this node was parsed from, if its byte range is known.
    pub(crate) fn slice<'s>(&self, source: &'s str) -> Option<&'s str> {
        let start = self.byte_offset?;
        let end = start.checked_add(self.byte_len?)?;
        source.get(start..end)
    }
}

/// A node of the located YAML tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub kind: NodeKind,
    pub loc: Loc,
}

/// The value of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NodeKind {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// A mapping key with its location.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Key {
    pub name: String,
    pub loc: Loc,
}

impl Node {
    /// The node at `path`, if every segment exists.
    pub fn get(&self, path: &KeyPath) -> Option<&Node> {
        path.segments()
            .iter()
            .try_fold(self, |node, seg| node.child(seg))
    }

    fn child(&self, seg: &Segment) -> Option<&Node> {
        match (&self.kind, seg) {
            (NodeKind::Map(entries), Segment::Key(k)) => entries
                .iter()
                .find(|(key, _)| key.name == *k)
                .map(|(_, v)| v),
            (NodeKind::Seq(items), Segment::Index(i)) => items.get(*i),
            _ => None,
        }
    }

    /// Where a diagnostic about `path` should point: the value when it
    /// exists, otherwise the key of the deepest existing ancestor.
    pub fn locate(&self, path: &KeyPath) -> Loc {
        let mut node = self;
        let mut loc = self.loc;
        for seg in path.segments() {
            match (&node.kind, seg) {
                (NodeKind::Map(entries), Segment::Key(k)) => {
                    match entries.iter().find(|(key, _)| key.name == *k) {
                        Some((key, value)) => {
                            // An empty value (`key:`) has no useful position
                            // of its own; point at its key instead.
                            loc = if value.kind == NodeKind::Null {
                                key.loc
                            } else {
                                value.loc
                            };
                            node = value;
                        }
                        None => return loc,
                    }
                }
                (NodeKind::Seq(items), Segment::Index(i)) => match items.get(*i) {
                    Some(item) => {
                        loc = item.loc;
                        node = item;
                    }
                    None => return loc,
                },
                _ => return loc,
            }
        }
        loc
    }
}

/// One step of a [`KeyPath`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Segment {
    /// A mapping key.
    Key(String),
    /// A sequence index (0-based).
    Index(usize),
}

/// A path to a value in the preseed, displayed as `systems[1].storage.ceph[0].path`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyPath(Vec<Segment>);

impl KeyPath {
    /// The empty path (the document root).
    pub fn root() -> KeyPath {
        KeyPath(Vec::new())
    }

    /// This path extended by a key.
    pub fn key(&self, key: &str) -> KeyPath {
        let mut segments = self.0.clone();
        segments.push(Segment::Key(key.to_owned()));
        KeyPath(segments)
    }

    /// This path extended by a sequence index.
    pub fn index(&self, index: usize) -> KeyPath {
        let mut segments = self.0.clone();
        segments.push(Segment::Index(index));
        KeyPath(segments)
    }

    /// The segments of the path, outermost first.
    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    /// Whether this is the document root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Segment::Key(k) if i == 0 => f.write_str(k)?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths_display_like_the_documentation() {
        let p = KeyPath::root()
            .key("systems")
            .index(1)
            .key("storage")
            .key("ceph")
            .index(0)
            .key("path");
        assert_eq!(p.to_string(), "systems[1].storage.ceph[0].path");
        assert_eq!(KeyPath::root().to_string(), "");
    }
}
