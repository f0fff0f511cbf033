//! Property tests of the filter language.

use proptest::prelude::*;

use super::super::parser;
use super::*;

fn field_of(kind: FieldKind) -> impl Strategy<Value = Field> {
    proptest::sample::select(
        Field::ALL
            .into_iter()
            .filter(|f| f.kind() == kind)
            .collect::<Vec<_>>(),
    )
}

fn any_op() -> impl Strategy<Value = CmpOp> {
    proptest::sample::select(CmpOp::ALL.to_vec())
}

fn eq_op() -> impl Strategy<Value = CmpOp> {
    prop_oneof![Just(CmpOp::Eq), Just(CmpOp::Ne)]
}

fn clause() -> impl Strategy<Value = Expr> {
    let text_value = prop_oneof![
        // Anything but a single quote (may hold `"` and specials).
        "[a-zA-Z0-9 _*?.:/()&|=!<>\"é-]{0,8}",
        // Anything but a double quote.
        "[a-zA-Z0-9 _*?.:/()&|=!<>'ß-]{0,8}",
    ];
    prop_oneof![
        (field_of(FieldKind::Text), eq_op(), text_value).prop_map(|(field, op, v)| {
            Expr::Clause(Clause {
                field,
                op,
                value: Value::Text(v),
            })
        }),
        (field_of(FieldKind::Unsigned), any_op(), any::<u64>()).prop_map(|(field, op, n)| {
            Expr::Clause(Clause {
                field,
                op,
                value: Value::Unsigned(n),
            })
        }),
        (field_of(FieldKind::Bool), eq_op(), any::<bool>()).prop_map(|(field, op, b)| {
            Expr::Clause(Clause {
                field,
                op,
                value: Value::Bool(b),
            })
        }),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    clause().prop_recursive(5, 48, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Expr::Not(Box::new(e))),
            proptest::collection::vec(inner.clone(), 2..5).prop_map(Expr::And),
            proptest::collection::vec(inner, 2..5).prop_map(Expr::Or),
        ]
    })
}

fn space() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(vec!["", "", " ", "  ", "\t", "\n "])
}

/// Source text of one clause, written in any of the accepted ways.
fn source_clause() -> impl Strategy<Value = String> {
    let bare_text = "[a-cA-C*?._:/0-9]{1,4}";
    let quoted_text = "[a-cA-C*? ()&|!]{0,4}".prop_map(|t| format!("\"{t}\""));
    let single_quoted = "[a-cA-C*?\"]{0,3}".prop_map(|t| format!("'{t}'"));
    let text_value = prop_oneof![bare_text.prop_map(String::from), quoted_text, single_quoted];
    let size_value = prop_oneof![
        (0u64..5_000).prop_map(|n| n.to_string()),
        (
            0u64..5,
            proptest::sample::select(vec!["B", "kB", "MB", "KiB", "MiB", "GiB"])
        )
            .prop_map(|(n, u)| format!("{n}{u}")),
        (0u64..5).prop_map(|n| format!("'{n}KiB'")),
    ];
    let bool_value = proptest::sample::select(vec![
        "true", "false", "1", "0", "t", "F", "TRUE", "False", "'true'",
    ]);
    let clause = prop_oneof![
        (field_of(FieldKind::Text), eq_op(), text_value).prop_map(|(f, op, v)| (
            f.name(),
            op.as_str(),
            v
        )),
        (Just("size"), any_op(), size_value).prop_map(|(f, op, v)| (f, op.as_str(), v)),
        (
            proptest::sample::select(vec!["numa_node", "block_size", "rpm"]),
            any_op(),
            0u64..5
        )
            .prop_map(|(f, op, v)| (f, op.as_str(), v.to_string())),
        (field_of(FieldKind::Bool), eq_op(), bool_value).prop_map(|(f, op, v)| (
            f.name(),
            op.as_str(),
            v.to_owned()
        )),
    ];
    (clause, space(), space())
        .prop_map(|((field, op, value), s1, s2)| format!("{field}{s1}{op}{s2}{value}"))
}

/// Source text of a whole expression, with random spacing, `!`,
/// parentheses and `&&`/`||` chains (no precedence hints).
fn source_expr() -> impl Strategy<Value = String> {
    source_clause().prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            (inner.clone(), space()).prop_map(|(e, s)| format!("!{s}{e}")),
            (inner.clone(), space(), space()).prop_map(|(e, a, b)| format!("({a}{e}{b})")),
            (
                inner.clone(),
                proptest::collection::vec(
                    (
                        inner,
                        proptest::sample::select(vec!["&&", "||"]),
                        space(),
                        space()
                    ),
                    1..4
                )
            )
                .prop_map(|(first, rest)| {
                    let mut out = first;
                    for (e, op, a, b) in rest {
                        out = format!("{out}{a}{op}{b}{e}");
                    }
                    out
                }),
        ]
    })
}

fn disk() -> impl Strategy<Value = Disk> {
    let t = || "[a-cA-C]{0,3}";
    let size = prop_oneof![
        proptest::sample::select(vec![
            0u64,
            1,
            999,
            1000,
            1024,
            2048,
            4096,
            1_000_000,
            1 << 20
        ]),
        0u64..6_000_000,
    ];
    (
        (t(), t(), t(), t(), t(), t(), t()),
        (t(), t(), t(), t(), t(), t()),
        (any::<bool>(), any::<bool>(), any::<bool>()),
        (size, 0u64..6, 0u64..6, 0u64..6),
    )
        .prop_map(
            |(
                (id, device, model, r#type, wwn, device_path, firmware_version),
                (serial, device_id, pci_address, usb_address, device_fs_uuid, used_by),
                (read_only, mounted, removable),
                (size, numa_node, block_size, rpm),
            )| Disk {
                id,
                device,
                model,
                r#type,
                read_only,
                mounted,
                size,
                removable,
                wwn,
                numa_node,
                device_path,
                block_size,
                firmware_version,
                rpm,
                serial,
                device_id,
                pci_address,
                usb_address,
                device_fs_uuid,
                used_by,
            },
        )
}

/// Case-insensitive equality as the glob matcher defines it.
fn ci_eq(a: &str, b: &str) -> bool {
    a.chars().count() == b.chars().count()
        && a.chars()
            .zip(b.chars())
            .all(|(x, y)| chars_eq_ignore_case(x, y))
}

/// Obviously-correct (exponential) reference glob matcher.
fn reference_glob(pattern: &[char], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('*', rest)) => {
            (0..=text.len()).any(|i| reference_glob(rest, text.get(i..).unwrap_or_default()))
        }
        Some((&p, rest)) => match text.split_first() {
            Some((&t, text_rest)) => {
                (p == '?' || chars_eq_ignore_case(p, t)) && reference_glob(rest, text_rest)
            }
            None => false,
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn display_round_trips(expr in expr()) {
        let source = expr.to_string();
        match parser::parse(&source) {
            Ok((parsed, warnings)) => {
                prop_assert_eq!(&parsed, &expr, "source: {}", source);
                prop_assert!(warnings.is_empty());
            }
            Err(errors) => prop_assert!(false, "{:?} failed: {:?}", source, errors),
        }
    }

    #[test]
    fn parse_never_panics(source in any::<String>()) {
        check_errors(&source)?;
    }

    #[test]
    fn parse_never_panics_on_filter_like_text(
        source in "[a-z_ ()&|=!<>\"'0-9A-Z*?.é\t-]{0,60}"
    ) {
        check_errors(&source)?;
    }

    #[test]
    fn canonical_form_means_the_same(source in source_expr(), disks in proptest::collection::vec(disk(), 8)) {
        let filter = match DiskFilter::parse(&source) {
            Ok(filter) => filter,
            Err(errors) => return Err(TestCaseError::fail(format!("{source:?}: {errors:?}"))),
        };
        let canonical = filter.to_string();
        let reparsed = match DiskFilter::parse(&canonical) {
            Ok(filter) => filter,
            Err(errors) => return Err(TestCaseError::fail(format!("{canonical:?}: {errors:?}"))),
        };
        prop_assert_eq!(&reparsed, &filter);
        prop_assert_eq!(reparsed.to_string(), canonical);
        for disk in &disks {
            prop_assert_eq!(filter.matches(disk), reparsed.matches(disk));
        }
    }

    #[test]
    fn literal_patterns_match_case_insensitive_equal_text(
        pattern in "[^*?]{0,6}",
        other in "[^*?]{0,6}",
        flips in proptest::collection::vec(any::<bool>(), 6),
    ) {
        // A case-flipped copy of the pattern must match; a random string
        // matches exactly when it is case-insensitively equal.
        let flipped: String = pattern
            .chars()
            .zip(flips.iter().cycle())
            .map(|(c, &flip)| {
                let swapped: Vec<char> = if c.is_lowercase() {
                    c.to_uppercase().collect()
                } else {
                    c.to_lowercase().collect()
                };
                match swapped.as_slice() {
                    [single] if flip && chars_eq_ignore_case(*single, c) => *single,
                    _ => c,
                }
            })
            .collect();
        prop_assert!(glob_match(&pattern, &pattern));
        prop_assert!(glob_match(&pattern, &flipped));
        prop_assert_eq!(glob_match(&pattern, &other), ci_eq(&pattern, &other));
    }

    #[test]
    fn ascii_literal_patterns_match_eq_ignore_ascii_case(
        pattern in "[a-cA-C.]{0,5}",
        text in "[a-cA-C.]{0,5}",
    ) {
        prop_assert_eq!(glob_match(&pattern, &text), pattern.eq_ignore_ascii_case(&text));
    }

    #[test]
    fn star_matches_everything(text in any::<String>()) {
        prop_assert!(glob_match("*", &text));
        let disk = Disk { serial: text, ..Disk::default() };
        prop_assert!(parse_ok("serial == '*'").matches(&disk));
    }

    #[test]
    fn glob_agrees_with_reference(pattern in "[abA*?]{0,7}", text in "[abAB]{0,8}") {
        let p: Vec<char> = pattern.chars().collect();
        let t: Vec<char> = text.chars().collect();
        prop_assert_eq!(glob_match(&pattern, &text), reference_glob(&p, &t));
    }
}

fn check_errors(source: &str) -> Result<(), TestCaseError> {
    let chars = source.chars().count();
    match DiskFilter::parse(source) {
        Ok(filter) => {
            for w in filter.warnings() {
                prop_assert!(w.offset + w.len <= chars);
            }
            // Whatever parses also round-trips.
            prop_assert_eq!(DiskFilter::parse(&filter.to_string()), Ok(filter));
        }
        Err(errors) => {
            prop_assert!(!errors.is_empty());
            for e in errors {
                prop_assert!(e.offset <= chars, "{:?}: {:?}", source, e);
                prop_assert!(e.offset + e.len <= chars, "{:?}: {:?}", source, e);
                prop_assert!(!e.message.is_empty());
            }
        }
    }
    Ok(())
}
