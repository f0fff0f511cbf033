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

mod errors;
mod properties;
mod warnings;
