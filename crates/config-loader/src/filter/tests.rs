//! Behaviour tests for the filter language: evaluation, messages, offsets,
//! warnings, canonical form, and property tests.

use super::eval::{chars_eq_ignore_case, glob_match};
use super::lexer::CmpOp;
use super::parser::{Clause, Expr, MAX_DEPTH, Value};
use super::*;

fn parse_ok(source: &str) -> DiskFilter {
    match DiskFilter::parse(source) {
        Ok(filter) => filter,
        Err(errors) => panic!("{source:?} should parse, got {errors:#?}"),
    }
}

fn parse_err(source: &str) -> Vec<FilterError> {
    match DiskFilter::parse(source) {
        Ok(filter) => panic!("{source:?} should not parse, got {filter:?}"),
        Err(errors) => errors,
    }
}

/// The single error for `source`, as (message, offset, len, help).
fn error(source: &str) -> (String, usize, usize, Option<String>) {
    let errors = parse_err(source);
    assert_eq!(errors.len(), 1, "{source:?}: {errors:#?}");
    let e = errors.into_iter().next().unwrap_or_else(|| unreachable!());
    (e.message, e.offset, e.len, e.help)
}

fn err(
    message: &str,
    offset: usize,
    len: usize,
    help: Option<&str>,
) -> (String, usize, usize, Option<String>) {
    (message.to_owned(), offset, len, help.map(str::to_owned))
}

fn matches(source: &str, disk: &Disk) -> bool {
    parse_ok(source).matches(disk)
}

fn nvme() -> Disk {
    Disk {
        id: "nvme0n1".into(),
        device: "259:0".into(),
        model: "INTEL SSDPE2KX010T8".into(),
        r#type: "nvme".into(),
        read_only: false,
        mounted: false,
        size: 1_000_204_886_016,
        removable: false,
        wwn: "eui.01000000000000005cd2e4d5f4e95051".into(),
        numa_node: 1,
        device_path: "pci-0000:5e:00.0-nvme-1".into(),
        block_size: 512,
        firmware_version: "VDV10131".into(),
        rpm: 0,
        serial: "PHLJ9123456789".into(),
        device_id: "nvme-INTEL_SSDPE2KX010T8_PHLJ9123456789".into(),
        pci_address: "0000:5e:00.0".into(),
        usb_address: String::new(),
        device_fs_uuid: String::new(),
        used_by: String::new(),
    }
}

fn hdd() -> Disk {
    Disk {
        id: "sda".into(),
        device: "8:0".into(),
        model: "ST4000NM0035".into(),
        r#type: "hdd".into(),
        read_only: true,
        mounted: true,
        size: 4_000_787_030_016,
        removable: true,
        numa_node: 0,
        block_size: 4096,
        rpm: 7200,
        device_id: "scsi-0QEMU_QEMU_HARDDISK_lxd_disk1".into(),
        usb_address: "2:3".into(),
        device_fs_uuid: "0b9f2c9e-5d4e-4c1f-9d7a-1f0e4a2b3c4d".into(),
        used_by: "zfs".into(),
        ..Disk::default()
    }
}

fn text(field: Field, op: CmpOp, value: &str) -> Expr {
    Expr::Clause(Clause {
        field,
        op,
        value: Value::Text(value.to_owned()),
    })
}

fn num(field: Field, op: CmpOp, value: u64) -> Expr {
    Expr::Clause(Clause {
        field,
        op,
        value: Value::Unsigned(value),
    })
}

// ---------------------------------------------------------------- fields

#[test]
fn field_table_is_consistent() {
    let names: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
    assert_eq!(
        names,
        [
            "id",
            "device",
            "model",
            "type",
            "read_only",
            "mounted",
            "size",
            "removable",
            "wwn",
            "numa_node",
            "device_path",
            "block_size",
            "firmware_version",
            "rpm",
            "serial",
            "device_id",
            "pci_address",
            "usb_address",
            "device_fs_uuid",
            "used_by",
        ]
    );
    for field in Field::ALL {
        assert_eq!(Field::from_name(field.name()), Some(field));
        assert_eq!(field.to_string(), field.name());
    }
    assert_eq!(Field::from_name("Size"), None);
    assert_eq!(Field::from_name("partitions"), None);
    let kinds = |kind| Field::ALL.iter().filter(|f| f.kind() == kind).count();
    assert_eq!(kinds(FieldKind::Text), 13);
    assert_eq!(kinds(FieldKind::Unsigned), 4);
    assert_eq!(kinds(FieldKind::Bool), 3);
    assert_eq!(Field::Size.kind(), FieldKind::Unsigned);
    assert_eq!(Field::ReadOnly.kind(), FieldKind::Bool);
    assert_eq!(Field::DeviceId.kind(), FieldKind::Text);
}

#[test]
fn every_field_reads_the_right_disk_attribute() {
    let disk = nvme();
    let cases = [
        "id == nvme0n1",
        "device == 259:0",
        "model == 'INTEL SSDPE2KX010T8'",
        "type == nvme",
        "read_only == false",
        "mounted == false",
        "size == 1000204886016",
        "removable == false",
        "wwn == eui.01000000000000005cd2e4d5f4e95051",
        "numa_node == 1",
        "device_path == pci-0000:5e:00.0-nvme-1",
        "block_size == 512",
        "firmware_version == VDV10131",
        "rpm == 0",
        "serial == PHLJ9123456789",
        "device_id == nvme-INTEL_SSDPE2KX010T8_PHLJ9123456789",
        "pci_address == 0000:5e:00.0",
        "usb_address == ''",
        "device_fs_uuid == \"\"",
        "used_by == ''",
    ];
    for (field, case) in Field::ALL.iter().zip(cases) {
        assert!(case.starts_with(field.name()), "{case}");
        assert!(matches(case, &disk), "{case}");
        assert!(!matches(case, &hdd()), "{case} should not match the hdd");
    }
}

// ------------------------------------------------------------- operators

#[test]
fn text_operators() {
    let disk = nvme();
    assert!(matches("type == nvme", &disk));
    assert!(!matches("type != nvme", &disk));
    assert!(!matches("type == hdd", &disk));
    assert!(matches("type != hdd", &disk));
    assert!(matches("model != 'INTEL*'", &hdd()));
    assert!(!matches("model != 'INTEL*'", &disk));
}

#[test]
fn unsigned_operators() {
    let disk = nvme(); // numa_node 1, block_size 512, rpm 0
    let table = [
        ("numa_node == 1", true),
        ("numa_node != 1", false),
        ("numa_node < 1", false),
        ("numa_node < 2", true),
        ("numa_node > 0", true),
        ("numa_node > 1", false),
        ("numa_node <= 1", true),
        ("numa_node <= 0", false),
        ("numa_node >= 1", true),
        ("numa_node >= 2", false),
        ("block_size == 512", true),
        ("block_size >= 4096", false),
        ("rpm == 0", true),
        ("rpm > 0", false),
        ("size > 1TB", true),
        ("size > 1TiB", false),
        ("size >= 1000204886016", true),
        ("size > 1000204886016", false),
        ("size <= 1000204886016", true),
        ("size < 1000204886016", false),
        ("size != 1000204886016", false),
        ("size == 1000204886016B", true),
    ];
    for (source, expected) in table {
        assert_eq!(matches(source, &disk), expected, "{source}");
    }
}

#[test]
fn bool_operators() {
    let (ssd, hdd) = (nvme(), hdd());
    for field in ["read_only", "mounted", "removable"] {
        for (value, is_true) in [
            ("true", true),
            ("True", true),
            ("TRUE", true),
            ("t", true),
            ("T", true),
            ("1", true),
            ("false", false),
            ("False", false),
            ("FALSE", false),
            ("f", false),
            ("F", false),
            ("0", false),
        ] {
            let eq = format!("{field} == {value}");
            let ne = format!("{field} != {value}");
            assert_eq!(matches(&eq, &hdd), is_true, "{eq}");
            assert_eq!(matches(&eq, &ssd), !is_true, "{eq}");
            assert_eq!(matches(&ne, &hdd), !is_true, "{ne}");
            assert_eq!(matches(&ne, &ssd), is_true, "{ne}");
        }
    }
}

#[test]
fn size_units() {
    let disk = |size| Disk {
        size,
        ..Disk::default()
    };
    let table: [(&str, u64); 14] = [
        ("size == 1024", 1024),
        ("size == 1B", 1),
        ("size == 1kB", 1000),
        ("size == 1MB", 1000_u64.pow(2)),
        ("size == 1GB", 1000_u64.pow(3)),
        ("size == 1TB", 1000_u64.pow(4)),
        ("size == 1PB", 1000_u64.pow(5)),
        ("size == 1EB", 1000_u64.pow(6)),
        ("size == 1KiB", 1 << 10),
        ("size == 1MiB", 1 << 20),
        ("size == 1GiB", 1 << 30),
        ("size == 10TiB", 10 << 40),
        ("size == 1PiB", 1 << 50),
        ("size == 15EiB", 15 << 60),
    ];
    for (source, bytes) in table {
        assert!(matches(source, &disk(bytes)), "{source}");
        assert!(!matches(source, &disk(bytes + 1)), "{source}");
    }
    assert!(matches(
        "size >= 500GB && size < 1TiB",
        &disk(600_000_000_000)
    ));
    assert_eq!(
        error("size > 20EiB"),
        err(
            "\"20EiB\" is too large",
            7,
            5,
            Some("sizes can be at most 18446744073709551615 bytes (just under 16EiB)")
        )
    );
    assert_eq!(
        error("size < 18446744073709551616").0,
        "\"18446744073709551616\" is too large"
    );
    assert!(matches("size <= 18446744073709551615", &disk(u64::MAX)));
    assert_eq!(
        error("size > 10gib"),
        err(
            "\"10gib\" is not a size",
            7,
            5,
            Some("units are case-sensitive: did you mean \"10GiB\"?")
        )
    );
}

#[test]
fn units_only_apply_to_size() {
    assert_eq!(
        error("block_size == 4KiB"),
        err(
            "\"4KiB\" is not a whole number",
            14,
            4,
            Some("\"block_size\" takes a non-negative base-10 integer, e.g. block_size == 0")
        )
    );
    assert_eq!(
        error("rpm > 99999999999999999999"),
        err(
            "\"99999999999999999999\" is too large",
            6,
            20,
            Some("\"rpm\" can be at most 18446744073709551615")
        )
    );
}

// ------------------------------------------------------------------ glob

#[test]
fn glob_in_filters() {
    let (ssd, hdd) = (nvme(), hdd());
    assert!(matches("device_id == *lxd_disk1", &hdd));
    assert!(!matches("device_id == *lxd_disk1", &ssd));
    assert!(matches("device_id == *LXD_DISK1", &hdd));
    assert!(matches("model == intel*", &ssd));
    assert!(matches("model == 'intel ssd*'", &ssd));
    assert!(matches("id == sd?", &hdd));
    assert!(!matches("id == sd?", &ssd));
    assert!(matches("id == ?????n?", &ssd));
    assert!(matches("type == NVMe", &ssd));
    assert!(matches("pci_address == 0000:5e:00.0", &ssd));
    assert!(!matches("pci_address == 0000:5e:00x0", &ssd));
    assert!(matches("pci_address == *", &ssd));
    assert!(matches("usb_address == *", &ssd));
    assert!(matches("usb_address == ''", &ssd));
    assert!(!matches("usb_address == ?*", &ssd));
}

// ------------------------------------------------- precedence and grouping

#[test]
fn and_binds_tighter_than_or() {
    let a = text(Field::Type, CmpOp::Eq, "nvme");
    let b = text(Field::Type, CmpOp::Eq, "ssd");
    let c = num(Field::Size, CmpOp::Gt, 1 << 40);
    let flat = parse_ok("type == nvme || type == ssd && size > 1TiB");
    let explicit = parse_ok("type == nvme || (type == ssd && size > 1TiB)");
    let other = parse_ok("(type == nvme || type == ssd) && size > 1TiB");
    assert_eq!(flat, explicit);
    assert_ne!(flat, other);
    assert_eq!(
        flat.expr,
        Expr::Or(vec![a.clone(), Expr::And(vec![b.clone(), c.clone()])])
    );
    assert_eq!(other.expr, Expr::And(vec![Expr::Or(vec![a, b]), c]));
    // A small NVMe disk tells the two readings apart.
    let small = nvme();
    assert!(flat.matches(&small));
    assert!(!other.matches(&small));

    assert_eq!(
        parse_ok("rpm == 1 && rpm == 2 || rpm == 3 && rpm == 4").expr,
        Expr::Or(vec![
            Expr::And(vec![
                num(Field::Rpm, CmpOp::Eq, 1),
                num(Field::Rpm, CmpOp::Eq, 2)
            ]),
            Expr::And(vec![
                num(Field::Rpm, CmpOp::Eq, 3),
                num(Field::Rpm, CmpOp::Eq, 4)
            ]),
        ])
    );
}

#[test]
fn chains_are_flat_and_parentheses_shape_the_tree() {
    let r = |n| num(Field::Rpm, CmpOp::Eq, n);
    assert_eq!(
        parse_ok("rpm==1&&rpm==2&&rpm==3").expr,
        Expr::And(vec![r(1), r(2), r(3)])
    );
    assert_eq!(
        parse_ok("(rpm==1&&rpm==2)&&rpm==3").expr,
        Expr::And(vec![Expr::And(vec![r(1), r(2)]), r(3)])
    );
    assert_eq!(parse_ok("((((rpm == 1))))").expr, r(1));
    assert_eq!(
        parse_ok("rpm == 1 && (rpm == 2 || (rpm == 3 && rpm == 4))").expr,
        Expr::And(vec![
            r(1),
            Expr::Or(vec![r(2), Expr::And(vec![r(3), r(4)])])
        ])
    );
}

#[test]
fn spacing_does_not_matter() {
    assert_eq!(parse_ok("size>10GiB"), parse_ok("size > 10GiB"));
    assert_eq!(
        parse_ok("!(type==nvme||type=='ssd')&&size>=1TB"),
        parse_ok(" ! ( type == nvme || type == \"ssd\" ) && size >= 1TB ")
    );
}

#[test]
fn not() {
    let (ssd, hdd) = (nvme(), hdd());
    assert!(matches("!type == hdd", &ssd));
    assert!(!matches("!type == hdd", &hdd));
    assert!(matches("!!type == hdd", &hdd));
    assert!(matches("!(type == hdd || mounted == true)", &ssd));
    assert!(!matches("!(type == hdd || mounted == true)", &hdd));
    // `!` binds to the next unary only.
    assert!(matches("!type == nvme || rpm > 0", &hdd));
    assert_eq!(
        parse_ok("!rpm == 1 && rpm == 2").expr,
        Expr::And(vec![
            Expr::Not(Box::new(num(Field::Rpm, CmpOp::Eq, 1))),
            num(Field::Rpm, CmpOp::Eq, 2)
        ])
    );
    // `!=` is an operator, not `!` followed by `=`.
    assert!(matches("type!=hdd", &ssd));
}

#[test]
fn quoted_values() {
    let ssd = nvme();
    assert!(matches("model == \"INTEL SSDPE2KX010T8\"", &ssd));
    assert!(matches("model == 'INTEL SSDPE2KX010T8'", &ssd));
    assert!(matches("type == 'nvme'", &ssd));
    assert!(matches("type == \"nvme\"", &ssd));
    assert!(matches("size > '1TB'", &ssd));
    assert!(matches("mounted == 'false'", &ssd));
    assert_eq!(parse_ok("type == 'nvme'"), parse_ok("type == nvme"));
    let quoted = Disk {
        model: "say \"hi\" (it's & <fine>)".into(),
        ..Disk::default()
    };
    assert!(matches("model == 'say \"hi\"*'", &quoted));
    assert!(matches("model == \"*it's & <fine>)\"", &quoted));
}

// ----------------------------------------------------------------- errors

#[test]
fn unknown_fields() {
    assert_eq!(
        error("sizee > 1"),
        err(
            "unknown field \"sizee\"",
            0,
            5,
            Some("did you mean \"size\"?")
        )
    );
    assert_eq!(
        error("type == nvme && tpye == ssd"),
        err(
            "unknown field \"tpye\"",
            16,
            4,
            Some("did you mean \"type\"?")
        )
    );
    assert_eq!(
        error("read-only == true"),
        err(
            "unknown field \"read-only\"",
            0,
            9,
            Some("did you mean \"read_only\"?")
        )
    );
    assert_eq!(
        error("Size > 1"),
        err(
            "unknown field \"Size\"",
            0,
            4,
            Some("field names are lowercase: did you mean \"size\"?")
        )
    );
    assert_eq!(
        error("colour == red"),
        err(
            "unknown field \"colour\"",
            0,
            6,
            Some(
                "valid fields are: id, device, model, type, read_only, mounted, size, \
                 removable, wwn, numa_node, device_path, block_size, firmware_version, rpm, \
                 serial, device_id, pci_address, usb_address, device_fs_uuid, used_by"
            )
        )
    );
    assert_eq!(
        error("partitions == 0"),
        err(
            "the field \"partitions\" cannot be filtered",
            0,
            10,
            Some("disks that have partitions are never candidates, so there is nothing to filter")
        )
    );
}

#[test]
fn operator_not_supported_by_field() {
    assert_eq!(
        error("model > a"),
        err(
            "operator \">\" cannot be used with the text field \"model\"",
            6,
            1,
            Some("text fields only support == and !=")
        )
    );
    assert_eq!(
        error("type <= nvme"),
        err(
            "operator \"<=\" cannot be used with the text field \"type\"",
            5,
            2,
            Some("text fields only support == and !=")
        )
    );
    assert_eq!(
        error("mounted >= true"),
        err(
            "operator \">=\" cannot be used with the boolean field \"mounted\"",
            8,
            2,
            Some("boolean fields only support == and !=")
        )
    );
    for op in ["<", ">", "<=", ">="] {
        assert!(DiskFilter::parse(&format!("removable {op} false")).is_err());
        assert!(DiskFilter::parse(&format!("serial {op} x")).is_err());
        assert!(DiskFilter::parse(&format!("rpm {op} 1")).is_ok());
    }
}

#[test]
fn bad_values() {
    assert_eq!(
        error("size > 10GB2"),
        err(
            "\"10GB2\" is not a size",
            7,
            5,
            Some(
                "write a whole number of bytes, optionally followed by a unit: B, kB, MB, GB, \
                 TB, PB, EB (powers of 1000) or KiB, MiB, GiB, TiB, PiB, EiB (powers of \
                 1024), e.g. 10GiB"
            )
        )
    );
    assert_eq!(
        error("size > '1.5 GiB'"),
        err(
            "\"1.5 GiB\" is not a size",
            7,
            9,
            Some(
                "write a whole number of bytes, optionally followed by a unit: B, kB, MB, GB, \
                 TB, PB, EB (powers of 1000) or KiB, MiB, GiB, TiB, PiB, EiB (powers of \
                 1024), e.g. 10GiB"
            )
        )
    );
    assert_eq!(
        error("mounted == yes"),
        err("\"yes\" is not a boolean", 11, 3, Some("use true or false"))
    );
    assert_eq!(error("numa_node == -1").0, "\"-1\" is not a whole number");
}

#[test]
fn every_bad_clause_is_reported() {
    let errors =
        parse_err("sizee > 1 && model > x || (size == 10GB2 && !mounted == yes) && type == ok");
    let summary: Vec<(&str, usize, usize)> = errors
        .iter()
        .map(|e| (e.message.as_str(), e.offset, e.len))
        .collect();
    assert_eq!(
        summary,
        [
            ("unknown field \"sizee\"", 0, 5),
            (
                "operator \">\" cannot be used with the text field \"model\"",
                19,
                1
            ),
            ("\"10GB2\" is not a size", 35, 5),
            ("\"yes\" is not a boolean", 56, 3),
        ]
    );
}

#[test]
fn missing_pieces() {
    assert_eq!(
        error("size =="),
        err("expected a value after \"==\"", 7, 0, None)
    );
    assert_eq!(
        error("size == && type == nvme"),
        err(
            "expected a value after \"==\", found \"&&\"",
            8,
            2,
            Some("values that contain spaces or any of ( ) & | = ! < > must be quoted")
        )
    );
    assert_eq!(
        error("type nvme"),
        err(
            "expected a comparison operator after \"type\", found \"nvme\"",
            5,
            4,
            Some("compare the field with ==, !=, <, >, <= or >=, e.g. type == value")
        )
    );
    assert_eq!(
        error("type"),
        err(
            "expected a comparison operator after \"type\"",
            4,
            0,
            Some("compare the field with ==, !=, <, >, <= or >=, e.g. type == value")
        )
    );
    assert_eq!(
        error("type == nvme &&"),
        err(
            "expected a condition after \"&&\"",
            15,
            0,
            Some("a condition looks like: type == nvme")
        )
    );
    assert_eq!(
        error("|| type == nvme"),
        err(
            "expected a condition, found \"||\"",
            0,
            2,
            Some("a condition looks like: type == nvme")
        )
    );
    assert_eq!(
        error("== nvme"),
        err(
            "expected a condition, found \"==\"",
            0,
            2,
            Some("a condition looks like: type == nvme")
        )
    );
    assert_eq!(
        error("()"),
        err(
            "expected a condition after \"(\", found \")\"",
            1,
            1,
            Some("a condition looks like: type == nvme")
        )
    );
    assert_eq!(
        error("!"),
        err(
            "expected a condition after \"!\"",
            1,
            0,
            Some("a condition looks like: type == nvme")
        )
    );
    assert_eq!(
        error("'type' == nvme"),
        err(
            "expected a field name, found the quoted value 'type'",
            0,
            6,
            Some("field names are not quoted, e.g. model == \"INTEL SSD\"")
        )
    );
}

#[test]
fn unquoted_spaces() {
    assert_eq!(
        error("model == INTEL SSD"),
        err(
            "expected \"&&\" or \"||\" after the clause, found \"SSD\"",
            15,
            3,
            Some("quote values that contain spaces: model == \"INTEL SSD\"")
        )
    );
    assert_eq!(
        error("type == nvme && model == Samsung SSD  970 EVO && size > 1"),
        err(
            "expected \"&&\" or \"||\" after the clause, found \"SSD\"",
            33,
            3,
            Some("quote values that contain spaces: model == \"Samsung SSD  970 EVO\"")
        )
    );
    assert_eq!(
        error("(model == INTEL SSD)"),
        err(
            "expected \"&&\", \"||\" or \")\" after the clause, found \"SSD\"",
            16,
            3,
            Some("quote values that contain spaces: model == \"INTEL SSD\"")
        )
    );
    assert_eq!(
        error("model == \"INTEL\" SSD"),
        err(
            "expected \"&&\" or \"||\" after the clause, found \"SSD\"",
            17,
            3,
            Some("put the whole value inside the quotes")
        )
    );
    assert_eq!(
        error("(rpm == 1) rpm == 2"),
        err(
            "expected \"&&\" or \"||\" after \")\", found \"rpm\"",
            11,
            3,
            Some("join conditions with \"&&\" or \"||\"")
        )
    );
    assert_eq!(
        error("rpm > 1 < 2"),
        err(
            "expected \"&&\" or \"||\" after the clause, found \"<\"",
            8,
            1,
            Some("a clause compares one field with one value, e.g. size > 10GiB")
        )
    );
}

#[test]
fn quotes() {
    assert_eq!(
        error("model == \"INTEL SSD"),
        err(
            "unterminated quote",
            9,
            1,
            Some("add a closing \" after the value that this \" starts")
        )
    );
    assert_eq!(
        error("type == nvme || model == 'x"),
        err(
            "unterminated quote",
            25,
            1,
            Some("add a closing ' after the value that this ' starts")
        )
    );
    assert_eq!(
        error("model == INTEL'SSD'"),
        err(
            "unexpected ' in the middle of a value",
            14,
            1,
            Some("quotes must surround the whole value, e.g. model == \"INTEL SSD\"")
        )
    );
}

#[test]
fn single_character_operators() {
    assert_eq!(
        error("type = nvme"),
        err(
            "\"=\" is not an operator",
            5,
            1,
            Some("use \"==\" to test for equality")
        )
    );
    assert_eq!(
        error("rpm == 1 & rpm == 2"),
        err(
            "\"&\" is not an operator",
            9,
            1,
            Some("use \"&&\" to require both conditions")
        )
    );
    assert_eq!(
        error("rpm == 1 | rpm == 2"),
        err(
            "\"|\" is not an operator",
            9,
            1,
            Some("use \"||\" to accept either condition")
        )
    );
}

#[test]
fn unbalanced_parentheses() {
    assert_eq!(
        error("(type == nvme"),
        err(
            "unbalanced parenthesis",
            0,
            1,
            Some("add a \")\" to close this \"(\"")
        )
    );
    assert_eq!(
        error("((type == nvme) || (rpm == 1)"),
        err(
            "unbalanced parenthesis",
            0,
            1,
            Some("add a \")\" to close this \"(\"")
        )
    );
    assert_eq!(
        error("type == nvme)"),
        err(
            "unbalanced parenthesis",
            12,
            1,
            Some("remove this \")\" or add a matching \"(\" before it")
        )
    );
    assert_eq!(error("(type == nvme)) && rpm == 1").1, 14);
}

#[test]
fn empty_filters() {
    assert_eq!(
        error(""),
        err(
            "the filter is empty",
            0,
            0,
            Some("write at least one condition, e.g. type == nvme")
        )
    );
    assert_eq!(
        error(" \t\n"),
        err(
            "the filter is empty",
            0,
            3,
            Some("write at least one condition, e.g. type == nvme")
        )
    );
}

#[test]
fn offsets_count_characters_not_bytes() {
    // "ü" and "é" are two bytes each in UTF-8.
    assert_eq!(
        error("model == \"ünïcödé\" && sizee > 1"),
        err(
            "unknown field \"sizee\"",
            22,
            5,
            Some("did you mean \"size\"?")
        )
    );
    assert_eq!(
        error("model == ü ö"),
        err(
            "expected \"&&\" or \"||\" after the clause, found \"ö\"",
            11,
            1,
            Some("quote values that contain spaces: model == \"ü ö\"")
        )
    );
    assert_eq!(error("ü == 'x").1, 5);
}

#[test]
fn nesting_is_bounded() {
    let deep = format!("{}rpm == 1{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert!(DiskFilter::parse(&deep).is_ok());
    let too_deep = format!(
        "{}rpm == 1{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert_eq!(
        error(&too_deep),
        err(
            "the filter is nested too deeply",
            MAX_DEPTH,
            1,
            Some("use at most 64 levels of parentheses and \"!\"")
        )
    );
    let nots = format!("{}rpm == 1", "!".repeat(100_000));
    assert_eq!(error(&nots).0, "the filter is nested too deeply");
    let parens = "(".repeat(100_000);
    assert_eq!(error(&parens).0, "the filter is nested too deeply");
    // Long flat chains are fine.
    let long = vec!["rpm == 1"; 10_000].join(" || ");
    assert!(parse_ok(&long).matches(&Disk {
        rpm: 1,
        ..Disk::default()
    }));
}

// --------------------------------------------------------------- warnings

#[test]
fn precedence_warning() {
    let source = "type == nvme || type == ssd && size > 1TiB";
    let warnings = parse_ok(source).warnings();
    assert_eq!(
        warnings,
        [FilterWarning {
            message: "\"&&\" binds tighter than \"||\" here, but MicroCloud evaluates left to \
                      right; it would read this as \"(type == nvme || type == ssd) && size > 1TiB\""
                .to_owned(),
            offset: 28,
            len: 2,
            help: Some(
                "add parentheses to make the intent explicit: \
                 \"type == nvme || (type == ssd && size > 1TiB)\""
                    .to_owned()
            ),
        }]
    );
    assert_eq!(
        warnings.first().map(|w| w.to_string()),
        Some(warnings[0].message.clone())
    );
}

#[test]
fn precedence_warning_absent_when_readings_agree() {
    for source in [
        "rpm == 1 && rpm == 2 || rpm == 3",
        "(rpm == 1 || rpm == 2) && rpm == 3",
        "rpm == 1 || (rpm == 2 && rpm == 3)",
        "rpm == 1 || rpm == 2 || rpm == 3",
        "rpm == 1 && rpm == 2 && rpm == 3",
        "rpm == 1 && rpm == 2 || rpm == 3 || rpm == 4",
        "!(rpm == 1 || rpm == 2) && rpm == 3",
    ] {
        assert_eq!(parse_ok(source).warnings(), [], "{source}");
    }
}

#[test]
fn precedence_warning_in_every_group() {
    let source =
        "rpm == 1 && rpm == 2 || rpm == 3 && (rpm == 4 || !rpm == 5 && rpm == 6) && rpm == 7";
    let warnings = parse_ok(source).warnings();
    let summary: Vec<(usize, &str)> = warnings
        .iter()
        .map(|w| (w.offset, w.message.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            (
                33,
                "\"&&\" binds tighter than \"||\" here, but MicroCloud evaluates left to right; \
                 it would read this as \"(rpm == 1 && rpm == 2 || rpm == 3) && \
                 (rpm == 4 || !rpm == 5 && rpm == 6) && rpm == 7\""
            ),
            (
                59,
                "\"&&\" binds tighter than \"||\" here, but MicroCloud evaluates left to right; \
                 it would read this as \"(rpm == 4 || !rpm == 5) && rpm == 6\""
            ),
        ]
    );
    assert_eq!(
        warnings.first().and_then(|w| w.help.clone()),
        Some(
            "add parentheses to make the intent explicit: \"(rpm == 1 && rpm == 2) || \
             (rpm == 3 && (rpm == 4 || !rpm == 5 && rpm == 6) && rpm == 7)\""
                .to_owned()
        )
    );
    // The canonical form is explicit, so it never warns.
    assert_eq!(parse_ok(&parse_ok(source).to_string()).warnings(), []);
}

#[test]
fn precedence_warning_alternating() {
    let warnings = parse_ok("rpm == 1 || rpm == 2 && rpm == 3 || rpm == 4 && rpm == 5").warnings();
    assert_eq!(warnings.len(), 1);
    assert_eq!(
        warnings.first().map(|w| (w.offset, w.message.as_str())),
        Some((
            21,
            "\"&&\" binds tighter than \"||\" here, but MicroCloud evaluates left to right; \
             it would read this as \"((rpm == 1 || rpm == 2) && rpm == 3 || rpm == 4) && rpm == 5\""
        ))
    );
}

// ------------------------------------------------------- canonical form

#[test]
fn canonical_form() {
    let cases = [
        (
            "type==nvme||type==ssd&&size>1TiB",
            "type == \"nvme\" || (type == \"ssd\" && size > 1099511627776)",
        ),
        ("!type == hdd", "!(type == \"hdd\")"),
        ("!!rpm==0", "!!(rpm == 0)"),
        (
            "!(rpm == 1 || mounted == T)",
            "!(rpm == 1 || mounted == true)",
        ),
        (
            "(rpm == 1 && rpm == 2) && rpm == 3",
            "(rpm == 1 && rpm == 2) && rpm == 3",
        ),
        ("model == 'say \"hi\"'", "model == 'say \"hi\"'"),
        ("model == \"it's\"", "model == \"it's\""),
        ("read_only != 0", "read_only != false"),
        ("usb_address == ''", "usb_address == \"\""),
    ];
    for (source, canonical) in cases {
        let filter = parse_ok(source);
        assert_eq!(filter.to_string(), canonical, "{source}");
        assert_eq!(filter.source(), source);
        assert_eq!(parse_ok(canonical), filter, "{source}");
    }
}

#[test]
fn from_str_and_error_display() {
    let parsed: Result<DiskFilter, _> = "rpm > 0".parse();
    assert_eq!(parsed, DiskFilter::parse("rpm>0"));
    let errors = "sizee > 1".parse::<DiskFilter>().err().unwrap_or_default();
    assert_eq!(
        errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["unknown field \"sizee\""]
    );
    let error: &dyn std::error::Error = &errors[0];
    assert!(error.source().is_none());
}

// ------------------------------------------------------------ properties

mod properties {
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
}
