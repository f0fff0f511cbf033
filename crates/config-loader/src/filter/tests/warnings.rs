//! Warnings and the canonical form.

use super::*;

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
