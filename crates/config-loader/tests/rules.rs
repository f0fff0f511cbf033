//! Validation rules whose assertions go beyond a diagnostic's severity,
//! key path, line and message (columns inside a value, help, the JSON
//! report, the parsed preseed, secrets never shown). The plain one-rule
//! cases are data in `tests/rule-cases/`, walked by `rule_cases.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use config_loader::{FakeEnvironment, Severity, load};

const ERROR: Severity = Severity::Error;
const WARNING: Severity = Severity::Warning;

/// Loads `yaml` (a leading newline is dropped so that line 1 is the first
/// key) and asserts that a diagnostic with exactly these fields is present.
#[track_caller]
fn expect(yaml: &str, severity: Severity, path: &str, line: u32, message: &str) {
    expect_in(
        &FakeEnvironment::default(),
        yaml,
        severity,
        path,
        line,
        message,
    );
}

#[track_caller]
fn expect_in(
    env: &FakeEnvironment,
    yaml: &str,
    severity: Severity,
    path: &str,
    line: u32,
    message: &str,
) {
    let yaml = yaml.strip_prefix('\n').unwrap_or(yaml);
    let report = load(yaml, env);
    let found = report.diagnostics().iter().any(|d| {
        d.severity == severity
            && d.path.to_string() == path
            && d.line() == Some(line)
            && d.message == message
    });
    assert!(
        found,
        "expected {severity:?} at `{path}` line {line}: {message}\n\ngot:\n{}",
        report.render("test.yaml")
    );
    if severity == ERROR {
        assert!(!report.is_valid());
    }
}

/// Asserts that `yaml` is valid and has no diagnostics at all.
#[track_caller]
fn clean(yaml: &str) {
    let yaml = yaml.strip_prefix('\n').unwrap_or(yaml);
    let report = load(yaml, &FakeEnvironment::default());
    assert!(
        report.is_valid() && report.diagnostics().is_empty(),
        "{}",
        report.render("test.yaml")
    );
}

const UNICAST_HEAD: &str = "initiator_address: 10.0.0.1\nsession_passphrase: s3cret\n";

// --- initiator and discovery ----------------------------------------------

// --- timeouts -----------------------------------------------------------------

// --- passphrase -----------------------------------------------------------------

const TWO_SYSTEMS: &str =
    "initiator: a\nlookup_subnet: 10.0.0.0/24\nsystems:\n  - name: a\n  - name: b\n";

#[test]
fn passphrase_file_and_environment_supply_the_secret() {
    let file = FakeEnvironment {
        files: vec![("/run/secret".into(), "from file\n".into())],
        ..FakeEnvironment::default()
    };
    let report = load(
        &format!("{TWO_SYSTEMS}session_passphrase_file: /run/secret\n"),
        &file,
    );
    let p = report
        .preseed()
        .and_then(|p| p.passphrase.clone())
        .expect("valid");
    assert_eq!(p.expose(), "from file");

    let env = FakeEnvironment {
        vars: vec![("MICROCLOUD_SESSION_PASSPHRASE".into(), "from env".into())],
        ..FakeEnvironment::default()
    };
    let report = load(TWO_SYSTEMS, &env);
    let p = report
        .preseed()
        .and_then(|p| p.passphrase.clone())
        .expect("valid");
    assert_eq!(p.expose(), "from env");
}

#[test]
fn the_passphrase_never_appears_in_output() {
    let yaml = format!(
        "{TWO_SYSTEMS}session_passphrase: hunter2-secret\nbogus: 1\nsession_timeout: hunter2-secret\n"
    );
    let report = load(&yaml, &FakeEnvironment::default());
    let human = report.render("x.yaml");
    let json = report.to_json().to_string();
    assert!(!report.is_valid());
    assert!(human.contains("<redacted>"), "{human}");
    for text in [&human, &json, &format!("{:?}", report.diagnostics())] {
        assert!(!text.contains("hunter2"), "secret leaked:\n{text}");
    }
    let valid = load(
        &format!("{TWO_SYSTEMS}session_passphrase: hunter2-secret\n"),
        &FakeEnvironment::default(),
    );
    assert!(!format!("{:?}", valid.preseed()).contains("hunter2"));
}

// --- systems ------------------------------------------------------------------------

#[test]
fn fewer_than_three_ceph_hosts_is_a_warning() {
    let yaml = "initiator: a\nlookup_subnet: 10.0.0.0/24\nsession_passphrase: x\nsystems:\n  - name: a\n    storage:\n      ceph:\n        - path: /dev/sdb\n  - name: b\n";
    expect(
        yaml,
        WARNING,
        "systems",
        5,
        "only 1 of the systems supply Ceph disks; at least 3 are recommended for fault tolerance",
    );
    assert!(
        load(yaml, &FakeEnvironment::default()).is_valid(),
        "a warning does not invalidate"
    );
}

// --- OVN ------------------------------------------------------------------------------

fn ovn(body: &str) -> String {
    format!(
        "{UNICAST_HEAD}systems:\n  - name: a\n    address: 10.0.0.1\n  - name: b\n    address: 192.0.2.20\novn:\n{body}"
    )
}

#[test]
fn dns_server_errors_point_inside_the_value() {
    let yaml = ovn("  ipv6_gateway: 2001:db8::1/64\n  dns_servers: 1.1.1.1, bad\n");
    let report = load(&yaml, &FakeEnvironment::default());
    let d = report
        .diagnostics()
        .iter()
        .find(|d| d.path.to_string() == "ovn.dns_servers")
        .expect("diagnostic");
    assert_eq!((d.line(), d.column()), (Some(10), Some(25)));
}

// --- Ceph --------------------------------------------------------------------------------

// --- filters -----------------------------------------------------------------------------

fn filters(body: &str) -> String {
    format!("initiator: a\nlookup_subnet: 10.0.0.0/24\nsystems:\n  - name: a\nstorage:\n{body}")
}

// --- structure ---------------------------------------------------------------------------

#[test]
fn unknown_keys_name_the_key_and_suggest_a_fix() {
    let yaml = "initiator: a\nlookup_subnet: 10.0.0.0/24\nsystems:\n  - name: a\n    adress: 10.0.0.1\nstorage:\n  cephfs: true\n";
    expect(
        yaml,
        ERROR,
        "systems[0].adress",
        5,
        "unknown key `adress` in `systems[0]`",
    );
    expect(
        yaml,
        ERROR,
        "storage.cephfs",
        7,
        "unknown key `cephfs` in `storage`",
    );
    let report = load(yaml, &FakeEnvironment::default());
    let helps: Vec<_> = report
        .diagnostics()
        .iter()
        .filter_map(|d| d.help.clone())
        .collect();
    assert!(
        helps.contains(&"did you mean `address`?".to_owned()),
        "{helps:?}"
    );
    assert!(
        helps.contains(&"`cephfs` belongs in `ceph`".to_owned()),
        "{helps:?}"
    );
}

#[test]
fn wrong_types_are_reported_with_the_expected_type() {
    let yaml =
        "initiator: a\nlookup_subnet: 10.0.0.0/24\nsystems:\n  name: a\nceph:\n  cephfs: maybe\n";
    expect(
        yaml,
        ERROR,
        "systems",
        4,
        "expected a list, found a mapping (keys and values)",
    );
    expect(
        yaml,
        ERROR,
        "ceph.cephfs",
        6,
        "expected true or false, found text",
    );
}

#[test]
fn plain_scalars_are_read_as_text_where_text_is_expected() {
    let report = load(
        "initiator: 0123\nlookup_subnet: 10.0.0.0/24\nsystems:\n  - name: 0123\n",
        &FakeEnvironment::default(),
    );
    let p = report.preseed().expect("valid");
    assert_eq!(p.systems[0].name.as_str(), "0123");
}

#[test]
fn errors_in_several_sections_are_all_reported() {
    let yaml = "initiator: a\nlookup_subnet: 10.0.0.0/24\nsesion_passphrase: x\nsystems:\n  - name: a\n    address: 10.0.0.1\novn:\n  ipv4_gateway: 10.0.0.0/24\n  ipv4_range: 10.0.0.5-10.0.0.9\nceph:\n  public_network: 10.0.0.1/24\n";
    let report = load(yaml, &FakeEnvironment::default());
    let paths: Vec<String> = report
        .diagnostics()
        .iter()
        .map(|d| d.path.to_string())
        .collect();
    for expected in [
        "sesion_passphrase",
        "systems[0].address",
        "ovn.ipv4_gateway",
        "ceph.public_network",
    ] {
        assert!(
            paths.iter().any(|p| p == expected),
            "{expected} missing from {paths:?}"
        );
    }
}

#[test]
fn json_report_has_the_documented_shape() {
    let report = load(
        "initiator: a\nlookup_subnet: 10.0.0.0/24\nsystems:\n  - name: a\n    bogus: 1\n",
        &FakeEnvironment::default(),
    );
    let json = report.to_json();
    assert_eq!(json["valid"], false);
    let d = &json["diagnostics"][0];
    assert_eq!(d["severity"], "error");
    assert_eq!(d["message"], "unknown key `bogus` in `systems[0]`");
    assert_eq!(d["path"], "systems[0].bogus");
    assert_eq!(d["line"], 5);
    assert_eq!(d["column"], 5);
}

#[test]
fn filter_errors_point_inside_the_expression() {
    // Plain scalar: column of the value plus the offset in the expression.
    expect(
        &filters("  ceph:\n    - find: sizee > 10GiB\n"),
        ERROR,
        "storage.ceph[0].find",
        7,
        "unknown field \"sizee\"",
    );
    let at = |yaml: &str| {
        let report = load(yaml, &FakeEnvironment::default());
        let d = report
            .diagnostics()
            .iter()
            .find(|d| d.path.to_string() == "storage.ceph[0].find")
            .cloned();
        d.map(|d| (d.line(), d.column(), d.width, d.message))
    };
    assert_eq!(
        at(&filters("  ceph:\n    - find: type == nvme && sizee > 1\n")),
        Some((
            Some(7),
            Some(29),
            Some(5),
            "unknown field \"sizee\"".to_owned()
        ))
    );
    // Quoted scalar: one more for the quote.
    assert_eq!(
        at(&filters(
            "  ceph:\n    - find: \"type == nvme && sizee > 1\"\n"
        )),
        Some((
            Some(7),
            Some(30),
            Some(5),
            "unknown field \"sizee\"".to_owned()
        ))
    );
    // A folded block scalar cannot be mapped back; the character is named.
    assert_eq!(
        at(&filters(
            "  ceph:\n    - find: >-\n        type == nvme\n        && sizee > 1\n"
        ))
        .map(|d| d.3),
        Some("unknown field \"sizee\" (at character 17 of the value)".to_owned())
    );
}

#[test]
fn filter_precedence_differs_from_microcloud_is_a_warning() {
    let yaml = filters("  ceph:\n    - find: type == nvme || type == ssd && size > 1TiB\n");
    let report = load(&yaml, &FakeEnvironment::default());
    assert!(report.is_valid());
    let w = report.diagnostics().iter().next().expect("a warning");
    assert_eq!(
        (w.severity, w.line(), w.column()),
        (WARNING, Some(7), Some(41))
    );
    assert!(
        w.message.starts_with(
            "\"&&\" binds tighter than \"||\" here, but MicroCloud evaluates left to right"
        ),
        "{}",
        w.message
    );
    clean(&filters(
        "  ceph:\n    - find: (type == nvme || type == ssd) && size > 1TiB\n",
    ));
}

// --- lxd (microcloud extension) -------------------------------------------

#[test]
fn local_pool_driver_help_and_default() {
    let base = "initiator: a\nlookup_subnet: 10.0.0.0/24\nsystems:\n  - name: a\n";
    let report = load(
        &format!("{base}lxd:\n  local_pool_driver: ZFS\n"),
        &FakeEnvironment::default(),
    );
    let d = report.diagnostics().iter().next().unwrap();
    assert_eq!(
        d.help.as_deref(),
        Some("did you mean `zfs`? Driver names are lowercase")
    );
    let report = load(
        &format!("{base}lxd:\n  local_pool_driver: xfs\n"),
        &FakeEnvironment::default(),
    );
    let d = report.diagnostics().iter().next().unwrap();
    assert_eq!(d.help.as_deref(), Some("use one of: zfs, btrfs, dir, lvm"));
    let report = load(base, &FakeEnvironment::default());
    assert_eq!(
        report.preseed().unwrap().lxd.local_pool_driver,
        config_loader::model::LocalPoolDriver::Zfs
    );
    let report = load(
        &format!("{base}lxd:\n  local_pool_driver: btrfs\n"),
        &FakeEnvironment::default(),
    );
    let driver = report.preseed().unwrap().lxd.local_pool_driver;
    assert_eq!(
        (driver.name(), driver.pool_description()),
        ("btrfs", "Local storage on btrfs")
    );
}

// --- timeouts (microcloud extension) --------------------------------------

#[test]
fn step_timeouts_are_durations_within_bounds() {
    use config_loader::model::StepClass;
    use std::time::Duration;
    let base = "initiator: a\nlookup_subnet: 10.0.0.0/24\nsystems:\n  - name: a\n";
    let yaml = format!("{base}timeouts:\n  join: 15m\n  ceph: 90\n  token: 1m30s\n");
    clean(&yaml);
    let report = load(&yaml, &FakeEnvironment::default());
    let t = &report.preseed().unwrap().timeouts;
    assert_eq!(t.get(StepClass::Join), Duration::from_secs(900));
    assert_eq!(t.get(StepClass::Ceph), Duration::from_secs(90));
    assert_eq!(t.get(StepClass::Token), Duration::from_secs(90));
    // Classes left out keep their defaults.
    assert_eq!(t.get(StepClass::Storage), Duration::from_secs(600));
    assert!(!t.is_set(StepClass::Storage));

    let yaml = format!("{base}timeouts:\n  join: 5 minutes\n  storage: 0\n  network: 48h\n");
    expect(
        &yaml,
        ERROR,
        "timeouts.join",
        6,
        "\"5 minutes\" is not a duration: write seconds or a number with a unit (h, m, s), e.g. 90, 45s, 5m or 1h30m",
    );
    expect(
        &yaml,
        ERROR,
        "timeouts.storage",
        7,
        "0 is out of range: a step timeout must be between 1s and 24h",
    );
    expect(
        &yaml,
        ERROR,
        "timeouts.network",
        8,
        "48h is out of range: a step timeout must be between 1s and 24h",
    );
    let report = load(&yaml, &FakeEnvironment::default());
    let help: Vec<_> = report
        .diagnostics()
        .iter()
        .filter_map(|d| d.help.as_deref())
        .collect();
    assert_eq!(
        help,
        [
            "omit the key for the default of 10m",
            "omit the key for the default of 10m",
            "omit the key for the default of 5m"
        ]
    );
}

#[test]
fn step_timeout_classes_are_checked_like_every_key() {
    let base = "initiator: a\nlookup_subnet: 10.0.0.0/24\nsystems:\n  - name: a\n";
    expect(
        &format!("{base}timeouts:\n  joins: 5m\n"),
        ERROR,
        "timeouts.joins",
        6,
        "unknown key `joins` in `timeouts`",
    );
    expect(
        &format!("{base}timeouts: 5m\n"),
        ERROR,
        "timeouts",
        5,
        "expected a mapping (keys and values), found text",
    );
    let report = load(
        &format!("{base}timeouts:\n  joins: 5m\n"),
        &FakeEnvironment::default(),
    );
    let d = report.diagnostics().iter().next().unwrap();
    assert_eq!(d.help.as_deref(), Some("did you mean `join`?"));
}
