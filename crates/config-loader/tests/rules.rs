//! One test per validation rule: each asserts the severity, the exact
//! message, the key path and the line of the diagnostic it expects.

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

#[test]
fn systems_are_required() {
    expect(
        "initiator: a\nlookup_subnet: 10.0.0.0/24\n",
        ERROR,
        "systems",
        1,
        "missing required key `systems`",
    );
    expect(
        "initiator: a\nlookup_subnet: 10.0.0.0/24\nsystems: []\n",
        ERROR,
        "systems",
        3,
        "no systems are listed",
    );
}

#[test]
fn initiator_is_required() {
    expect(
        "systems:\n  - name: a\n",
        ERROR,
        "",
        1,
        "the initiator is not set",
    );
}

#[test]
fn initiator_name_and_address_are_exclusive() {
    expect(
        "
initiator: a
initiator_address: 10.0.0.1
systems:
  - name: a
",
        ERROR,
        "initiator_address",
        2,
        "`initiator` and `initiator_address` cannot both be set",
    );
}

#[test]
fn multicast_needs_a_lookup_subnet() {
    expect(
        "initiator: a\nsystems:\n  - name: a\n",
        ERROR,
        "initiator",
        1,
        "`initiator` needs `lookup_subnet`",
    );
}

#[test]
fn unicast_forbids_a_lookup_subnet() {
    expect(
        "initiator_address: 10.0.0.1\nlookup_subnet: 10.0.0.0/24\nsystems:\n  - name: a\n    address: 10.0.0.1\n",
        ERROR,
        "lookup_subnet",
        2,
        "`lookup_subnet` cannot be used with `initiator_address`",
    );
}

#[test]
fn lookup_subnet_and_initiator_values_are_checked() {
    expect(
        "initiator: a\nlookup_subnet: 10.0.0/24\nsystems:\n  - name: a\n",
        ERROR,
        "lookup_subnet",
        2,
        "\"10.0.0/24\" is not a subnet in CIDR form (e.g. 10.0.0.0/24)",
    );
    expect(
        "initiator: a_b\nlookup_subnet: 10.0.0.0/24\nsystems:\n  - name: a\n",
        ERROR,
        "initiator",
        1,
        "host name contains '_'; only letters, digits, '-' and '.' are allowed",
    );
    expect(
        "initiator_address: 10.0.0.300\nsystems:\n  - name: a\n    address: 10.0.0.1\n",
        ERROR,
        "initiator_address",
        1,
        "\"10.0.0.300\" is not an IP address",
    );
}

#[test]
fn lookup_subnet_may_carry_host_bits_as_in_microcloud() {
    clean("initiator: a\nlookup_subnet: 10.0.0.5/24\nsystems:\n  - name: a\n");
}

// --- timeouts -----------------------------------------------------------------

#[test]
fn timeouts_must_be_in_range() {
    let base = "initiator: a\nlookup_subnet: 10.0.0.0/24\nsystems:\n  - name: a\n";
    expect(
        &format!("{base}lookup_timeout: -5\n"),
        ERROR,
        "lookup_timeout",
        5,
        "-5 is out of range: the timeout must be between 1 and 3600 seconds",
    );
    expect(
        &format!("{base}session_timeout: 7200\n"),
        ERROR,
        "session_timeout",
        5,
        "7200 is out of range: the timeout must be between 1 and 3600 seconds",
    );
    expect(
        &format!("{base}session_timeout: 0\n"),
        WARNING,
        "session_timeout",
        5,
        "0 means the default (3600 s), as in MicroCloud",
    );
    expect(
        &format!("{base}lookup_timeout: 600\nsession_timeout: 300\n"),
        WARNING,
        "lookup_timeout",
        5,
        "lookup_timeout (600 s) is longer than session_timeout (300 s)",
    );
    expect(
        &format!("{base}lookup_timeout: 1m\n"),
        ERROR,
        "lookup_timeout",
        5,
        "expected a whole number, found text",
    );
}

// --- passphrase -----------------------------------------------------------------

const TWO_SYSTEMS: &str =
    "initiator: a\nlookup_subnet: 10.0.0.0/24\nsystems:\n  - name: a\n  - name: b\n";

#[test]
fn passphrase_is_required_when_others_join() {
    expect(
        TWO_SYSTEMS,
        ERROR,
        "",
        1,
        "a session passphrase is required: other systems join in this run",
    );
    // Add mode with one new system: MicroCloud accepts it, then fails at run time.
    expect(
        "initiator: a\nlookup_subnet: 10.0.0.0/24\nsystems:\n  - name: new\n",
        ERROR,
        "",
        1,
        "a session passphrase is required: other systems join in this run",
    );
    // A single-system bootstrap has no session.
    clean("initiator: a\nlookup_subnet: 10.0.0.0/24\nsystems:\n  - name: a\n");
}

#[test]
fn passphrase_sources() {
    expect(
        &format!("{TWO_SYSTEMS}session_passphrase: x\nsession_passphrase_file: /p\n"),
        ERROR,
        "session_passphrase_file",
        7,
        "`session_passphrase` and `session_passphrase_file` cannot both be set",
    );
    expect(
        &format!("{TWO_SYSTEMS}session_passphrase: \"  \"\n"),
        ERROR,
        "session_passphrase",
        6,
        "the session passphrase is empty",
    );
    expect(
        &format!("{TWO_SYSTEMS}session_passphrase_file: /run/secret\n"),
        ERROR,
        "session_passphrase_file",
        6,
        "cannot read the passphrase file \"/run/secret\": No such file or directory",
    );
    let env = FakeEnvironment {
        files: vec![("/run/secret".into(), "\n".into())],
        ..FakeEnvironment::default()
    };
    expect_in(
        &env,
        &format!("{TWO_SYSTEMS}session_passphrase_file: /run/secret\n"),
        ERROR,
        "session_passphrase_file",
        6,
        "the passphrase file \"/run/secret\" is empty",
    );
    let env = FakeEnvironment {
        vars: vec![("MICROCLOUD_SESSION_PASSPHRASE".into(), "from-env".into())],
        ..FakeEnvironment::default()
    };
    expect_in(
        &env,
        &format!("{TWO_SYSTEMS}session_passphrase: in-file\n"),
        WARNING,
        "session_passphrase",
        6,
        "MICROCLOUD_SESSION_PASSPHRASE is set and overrides `session_passphrase`",
    );
}

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
fn system_names() {
    expect(
        "initiator: a\nlookup_subnet: 10.0.0.0/24\nsystems:\n  - address: 10.0.0.1\n",
        ERROR,
        "systems[0].address",
        4,
        "a system `address` cannot be used with `initiator` and `lookup_subnet`",
    );
    expect(
        "initiator: a\nlookup_subnet: 10.0.0.0/24\nsystems:\n  - {}\n",
        ERROR,
        "systems[0].name",
        4,
        "missing required key `name`",
    );
    expect(
        &format!("{TWO_SYSTEMS}session_passphrase: x\n  - name: a\n").replace(
            "session_passphrase: x\n  - name: a\n",
            "  - name: a\nsession_passphrase: x\n",
        ),
        ERROR,
        "systems[2].name",
        6,
        "system name `a` is used twice",
    );
}

#[test]
fn unicast_addresses() {
    expect(
        &format!("{UNICAST_HEAD}systems:\n  - name: a\n    address: 10.0.0.1\n  - name: b\n"),
        ERROR,
        "systems[1]",
        6,
        "this system has no `address`",
    );
    expect(
        &format!(
            "{UNICAST_HEAD}systems:\n  - name: a\n    address: 10.0.0.1\n  - name: b\n    address: 10.0.0.1\n"
        ),
        ERROR,
        "systems[1].address",
        7,
        "address 10.0.0.1 is used twice",
    );
    expect(
        &format!("{UNICAST_HEAD}systems:\n  - name: a\n    address: ten\n"),
        ERROR,
        "systems[0].address",
        5,
        "\"ten\" is not an IP address",
    );
}

#[test]
fn underlay_ips() {
    let sys = |u1: &str, u2: &str| {
        format!(
            "{UNICAST_HEAD}systems:\n  - name: a\n    address: 10.0.0.1\n    ovn_underlay_ip: {u1}\n  - name: b\n    address: 10.0.0.2\n    ovn_underlay_ip: {u2}\n"
        )
    };
    expect(
        &sys("10.1.0.1", "10.1.0.1"),
        ERROR,
        "systems[1].ovn_underlay_ip",
        9,
        "underlay IP 10.1.0.1 is used twice",
    );
    expect(
        &sys("10.1.0.1", "nope"),
        ERROR,
        "systems[1].ovn_underlay_ip",
        9,
        "\"nope\" is not an IP address",
    );
    expect(
        &sys("10.1.0.1", "10.0.0.1"),
        ERROR,
        "systems[1].ovn_underlay_ip",
        9,
        "underlay IP 10.0.0.1 is the address of another system, `a` (systems[0])",
    );
    // Its own address is fine.
    clean(&sys("10.0.0.1", "10.0.0.2"));
}

#[test]
fn interface_names() {
    expect(
        "initiator: a\nlookup_subnet: 10.0.0.0/24\nsystems:\n  - name: a\n    ovn_uplink_interface: averyveryverylongname\novn:\n  ipv6_gateway: 2001:db8::1/64\n",
        ERROR,
        "systems[0].ovn_uplink_interface",
        5,
        "interface name is 21 bytes long; Linux allows at most 15",
    );
}

#[test]
fn uplink_interface_needs_a_gateway_in_bootstrap() {
    expect(
        "initiator: a\nlookup_subnet: 10.0.0.0/24\nsystems:\n  - name: a\n    ovn_uplink_interface: eth1\n",
        ERROR,
        "systems[0].ovn_uplink_interface",
        5,
        "an uplink interface is set but the uplink network has no gateway",
    );
    // In add mode the cluster's existing UPLINK is used.
    let yaml = "initiator: a\nlookup_subnet: 10.0.0.0/24\nsession_passphrase: x\nsystems:\n  - name: new\n    ovn_uplink_interface: eth1\n";
    clean(yaml);
}

#[test]
fn all_or_none_keys() {
    let base = "initiator: a\nlookup_subnet: 10.0.0.0/24\nsession_passphrase: x\novn:\n  ipv6_gateway: 2001:db8::1/64\nsystems:\n";
    expect(
        &format!("{base}  - name: a\n    ovn_uplink_interface: eth1\n  - name: b\n"),
        ERROR,
        "systems[1]",
        9,
        "system `b` has no `ovn_uplink_interface`, but `systems[0]` has one",
    );
    expect(
        &format!("{base}  - name: a\n    ovn_underlay_ip: 10.1.0.1\n  - name: b\n"),
        ERROR,
        "systems[1]",
        9,
        "system `b` has no `ovn_underlay_ip`, but `systems[0]` has one",
    );
    expect(
        &format!(
            "{base}  - name: a\n    storage:\n      local:\n        path: /dev/sdb\n  - name: b\n"
        ),
        ERROR,
        "systems[1]",
        11,
        "system `b` has no `storage.local`, but `systems[0]` has one",
    );
    // A local filter may select the disk of the systems without one.
    clean(&format!(
        "{base}  - name: a\n    storage:\n      local:\n        path: /dev/sdb\n  - name: b\nstorage:\n  local:\n    - find: type == nvme\n"
    ));
}

#[test]
fn disks() {
    let base = "initiator: a\nlookup_subnet: 10.0.0.0/24\nsystems:\n  - name: a\n    storage:\n";
    expect(
        &format!(
            "{base}      local:\n        path: /dev/sdb\n      ceph:\n        - path: /dev/sdb/\n"
        ),
        ERROR,
        "systems[0].storage.ceph[0].path",
        9,
        "disk /dev/sdb is used twice on this system",
    );
    expect(
        &format!("{base}      ceph:\n        - path: sdb\n"),
        ERROR,
        "systems[0].storage.ceph[0].path",
        7,
        "disk path \"sdb\" is not absolute",
    );
    expect(
        &format!("{base}      local:\n        wipe: true\n"),
        ERROR,
        "systems[0].storage.local.path",
        6,
        "missing required key `path`",
    );
    expect(
        &format!("{base}      local:\n        path: /dev/sdb\n        encrypt: true\n"),
        WARNING,
        "systems[0].storage.local.encrypt",
        8,
        "`encrypt` has no effect on the local disk",
    );
}

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
fn ipv4_gateway_and_range_go_together() {
    expect(
        &ovn("  ipv4_range: 192.0.2.10-192.0.2.20\n"),
        ERROR,
        "ovn.ipv4_range",
        9,
        "`ipv4_range` needs `ipv4_gateway`",
    );
    expect(
        &ovn("  ipv4_gateway: 192.0.2.1/24\n"),
        ERROR,
        "ovn.ipv4_gateway",
        9,
        "`ipv4_gateway` needs `ipv4_range`",
    );
}

#[test]
fn ipv4_gateway_values() {
    let with = |gw: &str| {
        ovn(&format!(
            "  ipv4_gateway: {gw}\n  ipv4_range: 192.0.2.100-192.0.2.120\n"
        ))
    };
    expect(
        &with("192.0.2.1"),
        ERROR,
        "ovn.ipv4_gateway",
        9,
        "\"192.0.2.1\" is not an address in CIDR form",
    );
    expect(
        &with("192.0.2.0/24"),
        ERROR,
        "ovn.ipv4_gateway",
        9,
        "192.0.2.0/24 is the network address of its subnet, not a usable gateway",
    );
    expect(
        &with("192.0.2.255/24"),
        ERROR,
        "ovn.ipv4_gateway",
        9,
        "192.0.2.255/24 is the broadcast address of its subnet, not a usable gateway",
    );
    expect(
        &with("2001:db8::1/64"),
        ERROR,
        "ovn.ipv4_gateway",
        9,
        "2001:db8::1/64 is not an IPv4 address",
    );
    expect(
        &with("192.0.2.1/32"),
        ERROR,
        "ovn.ipv4_gateway",
        9,
        "192.0.2.1/32 leaves no room for a subnet",
    );
}

#[test]
fn ipv4_range_values() {
    let with = |range: &str| {
        ovn(&format!(
            "  ipv4_gateway: 192.0.2.1/24\n  ipv4_range: {range}\n"
        ))
    };
    expect(
        &with("192.0.2.10"),
        ERROR,
        "ovn.ipv4_range",
        10,
        "\"192.0.2.10\" is not a range",
    );
    expect(
        &with("192.0.2.30-192.0.2.10"),
        ERROR,
        "ovn.ipv4_range",
        10,
        "range \"192.0.2.30-192.0.2.10\" ends before it starts",
    );
    expect(
        &with("192.0.2.10-x"),
        ERROR,
        "ovn.ipv4_range",
        10,
        "\"192.0.2.10-x\" is not a range of two IPv4 addresses",
    );
    expect(
        &with("198.51.100.1-198.51.100.9"),
        ERROR,
        "ovn.ipv4_range",
        10,
        "range 198.51.100.1-198.51.100.9 is not inside the gateway's subnet 192.0.2.0/24",
    );
    expect(
        &with("192.0.2.1-192.0.2.9"),
        ERROR,
        "ovn.ipv4_range",
        10,
        "range 192.0.2.1-192.0.2.9 contains the gateway 192.0.2.1",
    );
    expect(
        &with("192.0.2.0-192.0.2.9"),
        ERROR,
        "ovn.ipv4_range",
        10,
        "range 192.0.2.0-192.0.2.9 contains the network or broadcast address of 192.0.2.0/24",
    );
    expect(
        &with("192.0.2.10-192.0.2.30"),
        ERROR,
        "ovn.ipv4_range",
        10,
        "range 192.0.2.10-192.0.2.30 contains 192.0.2.20, the `address` of system `b`",
    );
}

#[test]
fn ipv6_gateway_values() {
    expect(
        &ovn("  ipv6_gateway: 2001:db8::/64\n"),
        ERROR,
        "ovn.ipv6_gateway",
        9,
        "2001:db8::/64 is the network address of its subnet, not a usable gateway",
    );
    expect(
        &ovn("  ipv6_gateway: 2001:db8::1\n"),
        ERROR,
        "ovn.ipv6_gateway",
        9,
        "\"2001:db8::1\" is not an address in CIDR form",
    );
    expect(
        &ovn("  ipv6_gateway: 192.0.2.1/24\n"),
        ERROR,
        "ovn.ipv6_gateway",
        9,
        "192.0.2.1/24 is not an IPv6 address",
    );
}

#[test]
fn dns_servers() {
    let with = |dns: &str| {
        ovn(&format!(
            "  ipv6_gateway: 2001:db8::1/64\n  dns_servers: {dns}\n"
        ))
    };
    expect(
        &with("1.1.1.1,one.one"),
        ERROR,
        "ovn.dns_servers",
        10,
        "DNS server \"one.one\" is not an IP address",
    );
    expect(
        &with("1.1.1.1,,8.8.8.8"),
        ERROR,
        "ovn.dns_servers",
        10,
        "empty entry in `dns_servers`",
    );
    expect(
        &with("1.1.1.1, 1.1.1.1"),
        WARNING,
        "ovn.dns_servers",
        10,
        "DNS server 1.1.1.1 is listed twice",
    );
    expect(
        &ovn("  dns_servers: 1.1.1.1\n"),
        WARNING,
        "ovn.dns_servers",
        9,
        "`dns_servers` has no effect without an uplink gateway",
    );
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

#[test]
fn ceph_networks() {
    let with_disks = "initiator: a\nlookup_subnet: 10.0.0.0/24\nsystems:\n  - name: a\n    storage:\n      ceph:\n        - path: /dev/sdb\nceph:\n";
    expect(
        &format!("{with_disks}  public_network: 10.0.0.1/24\n"),
        ERROR,
        "ceph.public_network",
        9,
        "10.0.0.1/24 is not a network address",
    );
    expect(
        &format!("{with_disks}  internal_network: 10.0.0.0\n"),
        ERROR,
        "ceph.internal_network",
        9,
        "\"10.0.0.0\" is not a network in CIDR form",
    );
    expect(
        &format!("{with_disks}  internal_network: 10.0.0.0/32\n"),
        ERROR,
        "ceph.internal_network",
        9,
        "10.0.0.0/32 has no room for more than one address",
    );
    let without = "initiator: a\nlookup_subnet: 10.0.0.0/24\nsystems:\n  - name: a\nceph:\n";
    expect(
        &format!("{without}  public_network: 10.0.0.0/24\n"),
        ERROR,
        "ceph.public_network",
        6,
        "`ceph.public_network` is set but no Ceph disks are requested",
    );
    expect(
        &format!("{without}  internal_network: 10.0.0.0/24\n"),
        ERROR,
        "ceph.internal_network",
        6,
        "`ceph.internal_network` is set but no Ceph disks are requested",
    );
    expect(
        &format!("{without}  cephfs: true\n"),
        WARNING,
        "ceph.cephfs",
        6,
        "`cephfs` has no effect without Ceph disks",
    );
}

// --- filters -----------------------------------------------------------------------------

fn filters(body: &str) -> String {
    format!("initiator: a\nlookup_subnet: 10.0.0.0/24\nsystems:\n  - name: a\nstorage:\n{body}")
}

#[test]
fn filter_bounds() {
    expect(
        &filters("  ceph:\n    - find: type == nvme\n      find_min: 0\n"),
        ERROR,
        "storage.ceph[0].find_min",
        8,
        "`find_min` must be at least 1 for Ceph filters",
    );
    expect(
        &filters("  local:\n    - find: type == nvme\n      find_min: 0\n"),
        WARNING,
        "storage.local[0].find_min",
        8,
        "`find_min: 0` is treated as 1",
    );
    expect(
        &filters("  ceph:\n    - find: type == nvme\n      find_min: 3\n      find_max: 2\n"),
        ERROR,
        "storage.ceph[0].find_max",
        9,
        "`find_max` (2) is smaller than `find_min` (3)",
    );
    expect(
        &filters("  local:\n    - find: type == nvme\n      find_max: -1\n"),
        ERROR,
        "storage.local[0].find_max",
        8,
        "`find_max` must be between 0 and 4294967295, not -1",
    );
    clean(&filters(
        "  ceph:\n    - find: type == nvme\n      find_min: 1\n      find_max: 0\n",
    ));
}

#[test]
fn filter_text() {
    expect(
        &filters("  ceph:\n    - find: \"\"\n"),
        ERROR,
        "storage.ceph[0].find",
        7,
        "the filter is empty",
    );
    expect(
        &filters("  local:\n    - wipe: true\n"),
        ERROR,
        "storage.local[0].find",
        7,
        "missing required key `find`",
    );
    expect(
        &filters("  ceph:\n    - find: type == nvme\n    - find: type == nvme\n"),
        WARNING,
        "storage.ceph[1].find",
        8,
        "this filter repeats an earlier one",
    );
    expect(
        &filters("  local:\n    - find: type == nvme\n      encrypt: true\n"),
        WARNING,
        "storage.local[0].encrypt",
        8,
        "`encrypt` has no effect on local disks",
    );
}

#[test]
fn filters_need_a_system_without_direct_disks() {
    let yaml = "initiator: a\nlookup_subnet: 10.0.0.0/24\nsystems:\n  - name: a\n    storage:\n      ceph:\n        - path: /dev/sdb\nstorage:\n  ceph:\n    - find: type == nvme\n";
    expect(
        yaml,
        ERROR,
        "storage.ceph",
        10,
        "`storage.ceph` filters cannot be used: every system already lists its ceph disks",
    );
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
fn filter_operator_and_value_errors() {
    expect(
        &filters("  ceph:\n    - find: model > abc\n"),
        ERROR,
        "storage.ceph[0].find",
        7,
        "operator \">\" cannot be used with the text field \"model\"",
    );
    expect(
        &filters("  ceph:\n    - find: partitions == 0\n"),
        ERROR,
        "storage.ceph[0].find",
        7,
        "the field \"partitions\" cannot be filtered",
    );
    expect(
        &filters("  ceph:\n    - find: model == \"a\n"),
        ERROR,
        "storage.ceph[0].find",
        7,
        "unterminated quote",
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
fn local_pool_driver() {
    let base = "initiator: a\nlookup_subnet: 10.0.0.0/24\nsystems:\n  - name: a\n";
    for driver in ["zfs", "btrfs", "dir", "lvm"] {
        clean(&format!("{base}lxd:\n  local_pool_driver: {driver}\n"));
    }
    expect(
        &format!("{base}lxd:\n  local_pool_driver: xfs\n"),
        ERROR,
        "lxd.local_pool_driver",
        6,
        "\"xfs\" is not a local pool driver",
    );
    expect(
        &format!("{base}lxd:\n  local_pool_driver: ZFS\n"),
        ERROR,
        "lxd.local_pool_driver",
        6,
        "\"ZFS\" is not a local pool driver",
    );
    expect(
        &format!("{base}lxd:\n  local_pool_drive: zfs\n"),
        ERROR,
        "lxd.local_pool_drive",
        6,
        "unknown key `local_pool_drive` in `lxd`",
    );
}

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

#[test]
fn dir_driver_takes_no_disk() {
    expect(
        "
initiator: a
lookup_subnet: 10.0.0.0/24
systems:
  - name: a
    storage:
      local:
        path: /dev/sdb
lxd:
  local_pool_driver: dir
",
        ERROR,
        "systems[0].storage.local",
        7,
        "the `dir` local pool driver takes no disk",
    );
    expect(
        "
initiator: a
lookup_subnet: 10.0.0.0/24
systems:
  - name: a
storage:
  local:
    - find: type == nvme
lxd:
  local_pool_driver: dir
",
        ERROR,
        "storage.local",
        7,
        "the `dir` local pool driver takes no disk, so local disk filters cannot be used",
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
