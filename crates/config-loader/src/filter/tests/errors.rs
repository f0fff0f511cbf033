//! Error messages and their offsets.

use super::*;

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
