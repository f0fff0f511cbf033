//! Structural check of the located YAML tree against the JSON Schema that is
//! generated from the raw types.
//!
//! serde stops at the first unknown key or wrong type; this walk reports all
//! of them, each at its own line and column, with "did you mean" hints. Using
//! the generated schema (not a second hand-written description) keeps the
//! published schema, the serde types and this check in agreement by
//! construction. Only the schema constructs that schemars emits for
//! [`crate::raw`] are understood; the unit tests pin that.

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::diagnostic::Diagnostic;
use crate::node::{KeyPath, Loc, Node, NodeKind};
use crate::raw::RawPreseed;

/// The JSON Schema of the preseed, generated from [`RawPreseed`].
pub fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        serde_json::to_value(schemars::schema_for!(RawPreseed)).unwrap_or(Value::Null)
    })
}

/// Where each key name is valid, e.g. `cephfs` → [`ceph`]; used for hints
/// about keys written at the wrong level.
fn key_homes() -> &'static BTreeMap<String, Vec<String>> {
    static HOMES: OnceLock<BTreeMap<String, Vec<String>>> = OnceLock::new();
    HOMES.get_or_init(|| {
        let mut homes = BTreeMap::new();
        collect_homes(schema(), schema(), "", &mut homes, 0);
        homes
    })
}

fn collect_homes(
    root: &Value,
    schema: &Value,
    at: &str,
    homes: &mut BTreeMap<String, Vec<String>>,
    depth: usize,
) {
    if depth > 8 {
        return;
    }
    let schema = resolve(root, schema);
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            let home = if at.is_empty() {
                "the top level".to_owned()
            } else {
                format!("`{at}`")
            };
            homes.entry(name.clone()).or_default().push(home);
            let child = if at.is_empty() {
                name.clone()
            } else {
                format!("{at}.{name}")
            };
            collect_homes(root, sub, &child, homes, depth + 1);
        }
    }
    if let Some(items) = schema.get("items") {
        collect_homes(root, items, &format!("{at}[]"), homes, depth + 1);
    }
}

/// Follows `$ref`s and the `anyOf: [X, {type: null}]` that schemars emits
/// for optional structs. Returns the target schema and whether null is allowed.
fn resolve_nullable<'a>(root: &'a Value, schema: &'a Value) -> (&'a Value, bool) {
    let mut current = schema;
    let mut nullable = false;
    for _ in 0..8 {
        if let Some(branches) = current.get("anyOf").and_then(Value::as_array) {
            let is_null = |b: &&Value| b.get("type").and_then(Value::as_str) == Some("null");
            nullable |= branches.iter().any(|b| is_null(&b));
            match branches.iter().find(|b| !is_null(b)) {
                Some(branch) => current = branch,
                None => break,
            }
            continue;
        }
        let Some(reference) = current.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let Some(name) = reference.strip_prefix("#/$defs/") else {
            break;
        };
        match root.get("$defs").and_then(|d| d.get(name)) {
            Some(target) => current = target,
            None => break,
        }
    }
    (current, nullable)
}

fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    resolve_nullable(root, schema).0
}

/// Checks `node` against the preseed schema, appending every problem, and
/// returns the document as JSON with the rejected parts left out (a rejected
/// list item becomes an empty mapping so that later indices stay true), or
/// `None` when the document itself is unusable.
pub(crate) fn check(node: &Node, source: &str, out: &mut Vec<Diagnostic>) -> Option<Value> {
    let root = schema();
    walk(root, root, node, None, source, &KeyPath::root(), out)
}

fn types_of(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn describe(kind: &NodeKind) -> &'static str {
    match kind {
        NodeKind::Null => "nothing (an empty value)",
        NodeKind::Bool(_) => "true/false",
        NodeKind::Int(_) => "a whole number",
        NodeKind::Float(_) => "a decimal number",
        NodeKind::Str(_) => "text",
        NodeKind::Seq(_) => "a list",
        NodeKind::Map(_) => "a mapping (keys and values)",
    }
}

fn expected(types: &[&str]) -> String {
    let names: Vec<&str> = types
        .iter()
        .filter(|t| **t != "null")
        .map(|t| match *t {
            "string" => "text",
            "integer" => "a whole number",
            "number" => "a number",
            "boolean" => "true or false",
            "array" => "a list",
            "object" => "a mapping (keys and values)",
            other => other,
        })
        .collect();
    names.join(" or ")
}

fn walk(
    root: &Value,
    schema: &Value,
    node: &Node,
    key_loc: Option<Loc>,
    source: &str,
    path: &KeyPath,
    out: &mut Vec<Diagnostic>,
) -> Option<Value> {
    let (schema, nullable) = resolve_nullable(root, schema);
    let types = types_of(schema);
    let accepted = types.is_empty()
        || match &node.kind {
            NodeKind::Null => nullable || types.contains(&"null"),
            // Scalars are read by type: `name: 123` is the text "123".
            NodeKind::Bool(_) | NodeKind::Int(_) | NodeKind::Float(_) | NodeKind::Str(_)
                if types.contains(&"string") =>
            {
                true
            }
            NodeKind::Bool(_) => types.contains(&"boolean"),
            NodeKind::Int(_) => types.contains(&"integer") || types.contains(&"number"),
            NodeKind::Float(_) => types.contains(&"number"),
            NodeKind::Str(_) => false,
            NodeKind::Seq(_) => types.contains(&"array"),
            NodeKind::Map(_) => types.contains(&"object"),
        };
    if !accepted {
        let mut d = Diagnostic::error(
            path.clone(),
            format!(
                "expected {}, found {}",
                expected(&types),
                describe(&node.kind)
            ),
        )
        .at(node.loc);
        if path.is_root() {
            d = d.with_help("a preseed is a mapping with at least `systems` and `initiator` or `initiator_address`");
        } else if types.contains(&"boolean") && matches!(node.kind, NodeKind::Str(_)) {
            d = d.with_help("write true or false");
        } else if types.contains(&"array") && matches!(node.kind, NodeKind::Map(_)) {
            d = d.with_help("start each list item with \"- \"");
        } else if types.contains(&"integer")
            && matches!(node.kind, NodeKind::Str(_) | NodeKind::Float(_))
        {
            d = d.with_help("write a whole number without units or quotes, e.g. 60");
        }
        out.push(d);
        return None;
    }
    match &node.kind {
        NodeKind::Map(entries) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let mut kept = Map::new();
            for (key, value) in entries {
                match props.and_then(|p| p.get(&key.name)) {
                    Some(sub) => {
                        if let Some(v) = walk(
                            root,
                            sub,
                            value,
                            Some(key.loc),
                            source,
                            &path.key(&key.name),
                            out,
                        ) {
                            kept.insert(key.name.clone(), v);
                        }
                    }
                    None => out.push(
                        unknown_key(&key.name, props, path)
                            .at(key.loc)
                            .with_width(key.name.chars().count()),
                    ),
                }
            }
            if let Some(required) = schema.get("required").and_then(Value::as_array) {
                for name in required.iter().filter_map(Value::as_str) {
                    if !entries.iter().any(|(k, _)| k.name == name) {
                        out.push(
                            Diagnostic::error(
                                path.key(name),
                                format!("missing required key `{name}`"),
                            )
                            .at(key_loc.unwrap_or(node.loc))
                            .with_width(1),
                        );
                    }
                }
            }
            Some(Value::Object(kept))
        }
        NodeKind::Seq(items) => {
            let item_schema = schema.get("items").unwrap_or(&Value::Null);
            let kept = items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    walk(root, item_schema, item, None, source, &path.index(i), out)
                        .unwrap_or_else(|| Value::Object(Map::new()))
                })
                .collect();
            Some(Value::Array(kept))
        }
        NodeKind::Null => Some(Value::Null),
        _ if types.contains(&"string") => Some(Value::String(scalar_text(node, source))),
        NodeKind::Bool(b) => Some(Value::Bool(*b)),
        NodeKind::Float(f) => serde_json::Number::from_f64(*f).map(Value::Number),
        NodeKind::Str(s) => Some(Value::String(s.clone())),
        NodeKind::Int(i) => {
            let format = schema.get("format").and_then(Value::as_str);
            let fits = match format {
                Some("int64") => i64::try_from(*i).is_ok(),
                Some("uint32") => u32::try_from(*i).is_ok(),
                Some("uint64") => u64::try_from(*i).is_ok(),
                _ => true,
            };
            if !fits {
                out.push(
                    Diagnostic::error(path.clone(), format!("the number {i} is out of range"))
                        .at(node.loc),
                );
                return None;
            }
            i64::try_from(*i).ok().map(Value::from)
        }
    }
}

/// The text of a scalar read as a string: its source text when it was
/// written plainly (`name: 0123` is "0123", not 123).
fn scalar_text(node: &Node, source: &str) -> String {
    match &node.kind {
        NodeKind::Str(s) => s.clone(),
        NodeKind::Bool(b) => node
            .loc
            .slice(source)
            .map_or_else(|| b.to_string(), str::to_owned),
        NodeKind::Int(i) => node
            .loc
            .slice(source)
            .map_or_else(|| i.to_string(), str::to_owned),
        NodeKind::Float(f) => node
            .loc
            .slice(source)
            .map_or_else(|| f.to_string(), str::to_owned),
        _ => String::new(),
    }
}

fn unknown_key(name: &str, props: Option<&Map<String, Value>>, path: &KeyPath) -> Diagnostic {
    let here = if path.is_root() {
        "at the top level".to_owned()
    } else {
        format!("in `{path}`")
    };
    let d = Diagnostic::error(path.key(name), format!("unknown key `{name}` {here}"));
    let candidates: Vec<&str> = props
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default();
    if let Some(best) = closest(name, &candidates) {
        return d.with_help(format!("did you mean `{best}`?"));
    }
    if let Some(homes) = key_homes().get(name) {
        return d.with_help(format!("`{name}` belongs in {}", homes.join(" or ")));
    }
    if candidates.is_empty() {
        d
    } else {
        d.with_help(format!("valid keys here: {}", candidates.join(", ")))
    }
}

/// The candidate closest to `name`, if it is close enough to be a likely typo.
pub(crate) fn closest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lowered = name.to_lowercase().replace('-', "_");
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(&lowered, c), *c))
        .filter(|(distance, c)| *distance <= (c.len() / 3).max(1) || lowered == *c)
        .min()
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_uses_only_constructs_the_walk_understands() {
        fn visit(v: &Value, found: &mut Vec<String>) {
            if let Value::Object(map) = v {
                for (k, sub) in map {
                    let known = [
                        "$schema",
                        "title",
                        "description",
                        "type",
                        "properties",
                        "additionalProperties",
                        "required",
                        "items",
                        "$ref",
                        "$defs",
                        "format",
                        "minimum",
                        "default",
                        "anyOf",
                    ];
                    if !known.contains(&k.as_str()) {
                        found.push(k.clone());
                    }
                    if k == "properties" || k == "$defs" {
                        if let Value::Object(children) = sub {
                            children.values().for_each(|c| visit(c, found));
                        }
                    } else {
                        visit(sub, found);
                    }
                }
            }
        }
        let mut found = Vec::new();
        visit(schema(), &mut found);
        assert!(
            found.is_empty(),
            "schema uses constructs the shape check ignores: {found:?}"
        );
    }

    #[test]
    fn every_object_rejects_unknown_keys() {
        let defs = schema()["$defs"].as_object().expect("defs");
        assert_eq!(schema()["additionalProperties"], Value::Bool(false));
        for (name, def) in defs {
            assert_eq!(def["additionalProperties"], Value::Bool(false), "{name}");
        }
    }

    #[test]
    fn typo_hints() {
        assert_eq!(
            closest("sesion_passphrase", &["session_passphrase", "systems"]),
            Some("session_passphrase")
        );
        assert_eq!(closest("adress", &["address", "name"]), Some("address"));
        assert_eq!(closest("Name", &["address", "name"]), Some("name"));
        assert_eq!(closest("zzz", &["address", "name"]), None);
    }
}
