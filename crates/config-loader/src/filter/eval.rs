//! Glob matching and evaluation of filter expressions against disks.

use super::lexer::CmpOp;
use super::parser::{Clause, Expr, Value};
use super::{Disk, Field};

/// Whether two characters are equal ignoring case (Unicode lowercase
/// mapping of each character, compared as sequences).
pub(crate) fn chars_eq_ignore_case(a: char, b: char) -> bool {
    a == b || a.to_lowercase().eq(b.to_lowercase())
}

/// Matches `text` against the glob `pattern`, ignoring case.
///
/// The whole text must match. `*` matches any sequence of characters
/// (including none), `?` matches exactly one character, and every other
/// character matches itself ignoring case.
///
/// Uses the iterative two-pointer algorithm with single-star backtracking:
/// O(pattern × text) in the worst case, never exponential, no recursion.
/// ASCII input (every disk field in practice) is matched on its bytes with
/// no allocation; other text is decoded into characters first.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    if pattern.is_ascii() && text.is_ascii() {
        glob_match_units(pattern.as_bytes(), text.as_bytes(), b'*', b'?', |a, b| {
            a.eq_ignore_ascii_case(b)
        })
    } else {
        let pattern: Vec<char> = pattern.chars().collect();
        let text: Vec<char> = text.chars().collect();
        glob_match_units(&pattern, &text, '*', '?', |a, b| {
            chars_eq_ignore_case(*a, *b)
        })
    }
}

/// [`glob_match`] over any units (bytes or characters).
fn glob_match_units<T: Copy + PartialEq>(
    pattern: &[T],
    text: &[T],
    any: T,
    one: T,
    eq: impl Fn(&T, &T) -> bool,
) -> bool {
    let (mut p, mut t) = (0, 0);
    // Position of the last `*` seen and the text position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while let Some(tc) = text.get(t) {
        match pattern.get(p) {
            Some(&pc) if pc == any => {
                star = Some((p, t));
                p += 1;
                continue;
            }
            Some(pc) if *pc == one || eq(pc, tc) => {
                p += 1;
                t += 1;
                continue;
            }
            _ => {}
        }
        match star {
            // Let the last `*` swallow one more unit and retry.
            Some((star_p, star_t)) => {
                p = star_p + 1;
                t = star_t + 1;
                star = Some((star_p, star_t + 1));
            }
            None => return false,
        }
    }
    pattern.iter().skip(p).all(|&c| c == any)
}

/// The value of one field of a disk.
enum FieldValue<'a> {
    Text(&'a str),
    Unsigned(u64),
    Bool(bool),
}

fn field_value(disk: &Disk, field: Field) -> FieldValue<'_> {
    match field {
        Field::Id => FieldValue::Text(&disk.id),
        Field::Device => FieldValue::Text(&disk.device),
        Field::Model => FieldValue::Text(&disk.model),
        Field::Type => FieldValue::Text(&disk.r#type),
        Field::ReadOnly => FieldValue::Bool(disk.read_only),
        Field::Mounted => FieldValue::Bool(disk.mounted),
        Field::Size => FieldValue::Unsigned(disk.size),
        Field::Removable => FieldValue::Bool(disk.removable),
        Field::Wwn => FieldValue::Text(&disk.wwn),
        Field::NumaNode => FieldValue::Unsigned(disk.numa_node),
        Field::DevicePath => FieldValue::Text(&disk.device_path),
        Field::BlockSize => FieldValue::Unsigned(disk.block_size),
        Field::FirmwareVersion => FieldValue::Text(&disk.firmware_version),
        Field::Rpm => FieldValue::Unsigned(disk.rpm),
        Field::Serial => FieldValue::Text(&disk.serial),
        Field::DeviceId => FieldValue::Text(&disk.device_id),
        Field::PciAddress => FieldValue::Text(&disk.pci_address),
        Field::UsbAddress => FieldValue::Text(&disk.usb_address),
        Field::DeviceFsUuid => FieldValue::Text(&disk.device_fs_uuid),
        Field::UsedBy => FieldValue::Text(&disk.used_by),
    }
}

fn compare<T: Ord>(actual: T, op: CmpOp, expected: T) -> bool {
    match op {
        CmpOp::Eq => actual == expected,
        CmpOp::Ne => actual != expected,
        CmpOp::Lt => actual < expected,
        CmpOp::Gt => actual > expected,
        CmpOp::Le => actual <= expected,
        CmpOp::Ge => actual >= expected,
    }
}

fn eval_clause(clause: &Clause, disk: &Disk) -> bool {
    match (field_value(disk, clause.field), &clause.value) {
        (FieldValue::Text(text), Value::Text(pattern)) => match clause.op {
            CmpOp::Eq => glob_match(pattern, text),
            CmpOp::Ne => !glob_match(pattern, text),
            // Rejected by the type pass.
            CmpOp::Lt | CmpOp::Gt | CmpOp::Le | CmpOp::Ge => false,
        },
        (FieldValue::Unsigned(actual), Value::Unsigned(expected)) => {
            compare(actual, clause.op, *expected)
        }
        (FieldValue::Bool(actual), Value::Bool(expected)) => compare(actual, clause.op, *expected),
        // A value of the wrong kind is rejected by the type pass.
        _ => false,
    }
}

/// Evaluates `expr` for `disk`.
pub(crate) fn eval(expr: &Expr, disk: &Disk) -> bool {
    match expr {
        Expr::Clause(clause) => eval_clause(clause, disk),
        Expr::Not(inner) => !eval(inner, disk),
        Expr::And(items) => items.iter().all(|item| eval(item, disk)),
        Expr::Or(items) => items.iter().any(|item| eval(item, disk)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_patterns_need_a_full_match() {
        assert!(glob_match("nvme", "nvme"));
        assert!(!glob_match("nvme", "nvme0"));
        assert!(!glob_match("nvme", "xnvme"));
        assert!(!glob_match("nvme", ""));
        assert!(glob_match("", ""));
        assert!(!glob_match("", "a"));
    }

    #[test]
    fn case_insensitive() {
        assert!(glob_match("NVMe", "nvme"));
        assert!(glob_match("intel ssd", "INTEL SSD"));
        assert!(glob_match("ÉCLAIR", "éclair"));
        assert!(glob_match("σ", "Σ"));
        assert!(!glob_match("a", "b"));
    }

    #[test]
    fn star() {
        assert!(glob_match("*", ""));
        assert!(glob_match("*", "anything at all"));
        assert!(glob_match("**", "x"));
        assert!(glob_match(
            "*lxd_disk1",
            "scsi-0QEMU_QEMU_HARDDISK_lxd_disk1"
        ));
        assert!(glob_match("*lxd_disk1", "LXD_DISK1"));
        assert!(!glob_match("*lxd_disk1", "lxd_disk10"));
        assert!(glob_match("INTEL*", "INTEL SSDPE2KX010T8"));
        assert!(glob_match("a*b*c", "abc"));
        assert!(glob_match("a*b*c", "aXXbYYbZZc"));
        assert!(!glob_match("a*b*c", "aXXbYYbZZ"));
        assert!(glob_match("*a*", "banana"));
    }

    #[test]
    fn question_mark() {
        assert!(glob_match("sd?", "sda"));
        assert!(!glob_match("sd?", "sd"));
        assert!(!glob_match("sd?", "sdaa"));
        assert!(glob_match("?", "é"));
        assert!(glob_match("?*", "x"));
        assert!(!glob_match("?*", ""));
    }

    #[test]
    fn other_characters_are_literal() {
        assert!(glob_match("a.c", "a.c"));
        assert!(!glob_match("a.c", "abc"));
        assert!(glob_match("[ab]", "[AB]"));
        assert!(!glob_match("[ab]", "a"));
        assert!(glob_match("^x$", "^X$"));
        assert!(glob_match("a+", "a+"));
        assert!(!glob_match("a+", "aa"));
    }

    #[test]
    fn no_exponential_blowup() {
        let text = "a".repeat(5_000);
        let pattern = format!("{}b", "*a".repeat(50));
        assert!(!glob_match(&pattern, &text));
        assert!(glob_match(&"*a".repeat(50), &text));
    }
}
