//! Parsing of numeric, size and boolean values.

/// Size units and their multipliers. Case-sensitive.
pub(crate) const SIZE_UNITS: [(&str, u64); 14] = [
    ("B", 1),
    ("kB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
    ("PB", 1_000_000_000_000_000),
    ("EB", 1_000_000_000_000_000_000),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
    ("PiB", 1 << 50),
    ("EiB", 1 << 60),
    ("", 1),
];

/// A value that could not be parsed: what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ValueError {
    /// What is wrong.
    pub(crate) message: String,
    /// How to fix it.
    pub(crate) help: String,
}

const SIZE_HELP: &str = "write a whole number of bytes, optionally followed by a unit: \
B, kB, MB, GB, TB, PB, EB (powers of 1000) or KiB, MiB, GiB, TiB, PiB, EiB (powers of 1024), \
e.g. 10GiB";

/// Parses a base-10 unsigned integer made only of ASCII digits.
///
/// Returns `Ok(None)` on overflow and `Err(())` if `digits` is not a number.
fn parse_digits(digits: &str) -> Result<Option<u64>, ()> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(());
    }
    let mut value: u64 = 0;
    for b in digits.bytes() {
        let digit = u64::from(b - b'0');
        match value.checked_mul(10).and_then(|v| v.checked_add(digit)) {
            Some(v) => value = v,
            None => return Ok(None),
        }
    }
    Ok(Some(value))
}

/// Parses a size such as `1024`, `500GB` or `10GiB` into bytes.
pub(crate) fn size_value(text: &str) -> Result<u64, ValueError> {
    let split = text
        .char_indices()
        .find(|(_, c)| !c.is_ascii_digit())
        .map_or(text.len(), |(i, _)| i);
    let (digits, unit) = text.split_at(split);
    let invalid = || {
        let case_fix = SIZE_UNITS
            .iter()
            .find(|(u, _)| !u.is_empty() && u.eq_ignore_ascii_case(unit))
            .filter(|_| !digits.is_empty());
        let help = match case_fix {
            Some((known, _)) => {
                format!("units are case-sensitive: did you mean \"{digits}{known}\"?")
            }
            None => SIZE_HELP.to_owned(),
        };
        ValueError {
            message: format!("\"{text}\" is not a size"),
            help,
        }
    };
    let Some(&(_, multiplier)) = SIZE_UNITS.iter().find(|(u, _)| *u == unit) else {
        return Err(invalid());
    };
    let number = parse_digits(digits).map_err(|()| invalid())?;
    match number.and_then(|n| n.checked_mul(multiplier)) {
        Some(bytes) => Ok(bytes),
        None => Err(ValueError {
            message: format!("\"{text}\" is too large"),
            help: format!("sizes can be at most {} bytes (just under 16EiB)", u64::MAX),
        }),
    }
}

/// Parses a plain base-10 unsigned integer for the field called `field`.
pub(crate) fn unsigned_value(text: &str, field: &str) -> Result<u64, ValueError> {
    match parse_digits(text) {
        Ok(Some(value)) => Ok(value),
        Ok(None) => Err(ValueError {
            message: format!("\"{text}\" is too large"),
            help: format!("\"{field}\" can be at most {}", u64::MAX),
        }),
        Err(()) => Err(ValueError {
            message: format!("\"{text}\" is not a whole number"),
            help: format!("\"{field}\" takes a non-negative base-10 integer, e.g. {field} == 0"),
        }),
    }
}

/// Parses a boolean the way Go's `strconv.ParseBool` does.
pub(crate) fn bool_value(text: &str) -> Result<bool, ValueError> {
    match text {
        "true" | "1" | "t" | "T" | "TRUE" | "True" => Ok(true),
        "false" | "0" | "f" | "F" | "FALSE" | "False" => Ok(false),
        _ => Err(ValueError {
            message: format!("\"{text}\" is not a boolean"),
            help: "use true or false".to_owned(),
        }),
    }
}

/// Parses a size such as `1024`, `500GB` or `10GiB` into a number of bytes.
///
/// The number must be a base-10 integer made of ASCII digits, optionally
/// followed (without a space) by one of the case-sensitive units `B`, `kB`,
/// `MB`, `GB`, `TB`, `PB`, `EB` (powers of 1000) or `KiB`, `MiB`, `GiB`,
/// `TiB`, `PiB`, `EiB` (powers of 1024). No unit means bytes.
///
/// # Errors
///
/// Returns a human-readable message (what is wrong, then how to fix it) if
/// `text` is not a size or if the result does not fit in a `u64`.
///
/// ```
/// use config_loader::filter::parse_size;
/// assert_eq!(parse_size("10GiB"), Ok(10 * 1024 * 1024 * 1024));
/// assert_eq!(parse_size("500GB"), Ok(500_000_000_000));
/// assert!(parse_size("20EiB").is_err());
/// ```
pub fn parse_size(text: &str) -> Result<u64, String> {
    size_value(text).map_err(|e| format!("{}; {}", e.message, e.help))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_without_units_are_bytes() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("18446744073709551615"), Ok(u64::MAX));
    }

    #[test]
    fn every_unit() {
        let cases: [(&str, u64); 13] = [
            ("3B", 3),
            ("3kB", 3_000),
            ("3MB", 3_000_000),
            ("3GB", 3_000_000_000),
            ("3TB", 3_000_000_000_000),
            ("3PB", 3_000_000_000_000_000),
            ("3EB", 3_000_000_000_000_000_000),
            ("3KiB", 3 * 1024),
            ("3MiB", 3 * 1024 * 1024),
            ("3GiB", 3 * 1024 * 1024 * 1024),
            ("3TiB", 3 * 1024 * 1024 * 1024 * 1024),
            ("3PiB", 3 * 1024 * 1024 * 1024 * 1024 * 1024),
            ("3EiB", 3 * 1024 * 1024 * 1024 * 1024 * 1024 * 1024),
        ];
        for (text, bytes) in cases {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
        assert_eq!(parse_size("15EiB"), Ok(15 << 60));
        assert_eq!(parse_size("18EB"), Ok(18_000_000_000_000_000_000));
    }

    #[test]
    fn size_overflow_is_an_error() {
        for text in [
            "20EiB",
            "16EiB",
            "19EB",
            "18446744073709551616",
            "99999999999999999999999KiB",
        ] {
            assert_eq!(
                size_value(text),
                Err(ValueError {
                    message: format!("\"{text}\" is too large"),
                    help: "sizes can be at most 18446744073709551615 bytes (just under 16EiB)"
                        .to_owned(),
                }),
                "{text}"
            );
        }
    }

    #[test]
    fn invalid_sizes() {
        for text in [
            "", "GiB", "10GB2", "1.5GiB", "-1", "+1", "10 GiB", "10KB", "10gb", "0x10", "١٢",
        ] {
            let err = size_value(text).err();
            assert_eq!(
                err.map(|e| e.message),
                Some(format!("\"{text}\" is not a size")),
                "{text}"
            );
        }
        assert_eq!(
            size_value("10GB2").err().map(|e| e.help),
            Some(SIZE_HELP.to_owned())
        );
        assert_eq!(
            size_value("10gib").err().map(|e| e.help),
            Some("units are case-sensitive: did you mean \"10GiB\"?".to_owned())
        );
        assert_eq!(
            parse_size("10GB2"),
            Err(format!("\"10GB2\" is not a size; {SIZE_HELP}"))
        );
    }

    #[test]
    fn unsigned_values() {
        assert_eq!(unsigned_value("0", "rpm"), Ok(0));
        assert_eq!(unsigned_value("7200", "rpm"), Ok(7200));
        assert_eq!(
            unsigned_value("18446744073709551616", "rpm"),
            Err(ValueError {
                message: "\"18446744073709551616\" is too large".to_owned(),
                help: "\"rpm\" can be at most 18446744073709551615".to_owned(),
            })
        );
        assert_eq!(
            unsigned_value("1GiB", "numa_node"),
            Err(ValueError {
                message: "\"1GiB\" is not a whole number".to_owned(),
                help: "\"numa_node\" takes a non-negative base-10 integer, e.g. numa_node == 0"
                    .to_owned(),
            })
        );
        for text in ["", "-1", "+1", "1e3", " 1"] {
            assert!(unsigned_value(text, "rpm").is_err(), "{text}");
        }
    }

    #[test]
    fn bool_values() {
        for text in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(bool_value(text), Ok(true), "{text}");
        }
        for text in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(bool_value(text), Ok(false), "{text}");
        }
        for text in ["yes", "no", "tRUE", "", "2"] {
            assert_eq!(
                bool_value(text),
                Err(ValueError {
                    message: format!("\"{text}\" is not a boolean"),
                    help: "use true or false".to_owned(),
                }),
                "{text}"
            );
        }
    }
}
