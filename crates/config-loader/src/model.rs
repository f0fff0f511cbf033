//! Validated domain types: what the rest of microcloud works with.
//!
//! Every value here has been checked: addresses are `IpAddr`, networks
//! `IpNet`, timeouts `Duration`, names are newtypes that can only be built by
//! validation, and the initiator is an enum rather than two optional strings.
//! A [`Preseed`] therefore cannot express the mistakes that MicroCloud finds
//! only after every joiner has joined.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::filter::DiskFilter;

/// Default for `lookup_timeout`.
pub const DEFAULT_LOOKUP_TIMEOUT: Duration = Duration::from_secs(60);
/// Default for `session_timeout`.
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(3600);
/// Largest `session_timeout` (and `lookup_timeout`) accepted.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// A validated preseed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preseed {
    /// How the initiator is found.
    pub initiator: Initiator,
    /// Joiner: how long to look for the initiator; initiator: how long to
    /// wait for every joiner.
    pub lookup_timeout: Duration,
    /// How long the trust session may stay open.
    pub session_timeout: Duration,
    /// The session passphrase (from the file, a passphrase file or the
    /// environment). Present whenever other systems join.
    pub passphrase: Option<Passphrase>,
    /// The systems, in file order. Names, addresses and underlay IPs are
    /// unique. In unicast mode every system has an address; in multicast
    /// mode none has.
    pub systems: Vec<System>,
    /// OVN uplink settings.
    pub ovn: Ovn,
    /// Ceph settings.
    pub ceph: Ceph,
    /// Disk filters.
    pub filters: StorageFilters,
    /// LXD settings (a microcloud extension).
    pub lxd: Lxd,
    /// Deadlines per step class (the `timeouts:` extension).
    pub timeouts: Timeouts,
}

impl Preseed {
    /// Bootstrap (the initiator is listed) or add (it is not).
    pub fn mode(&self) -> Mode {
        let listed = match &self.initiator {
            Initiator::Name { name, .. } => self.systems.iter().any(|s| &s.name == name),
            Initiator::Address(addr) => self.systems.iter().any(|s| s.address == Some(*addr)),
        };
        if listed { Mode::Bootstrap } else { Mode::Add }
    }

    /// The system entry of the initiator, when it is listed.
    pub fn initiator_system(&self) -> Option<&System> {
        self.systems.iter().find(|s| match &self.initiator {
            Initiator::Name { name, .. } => &s.name == name,
            Initiator::Address(addr) => s.address == Some(*addr),
        })
    }

    /// Whether OVN networking is requested (a gateway or an uplink interface).
    pub fn uses_ovn(&self) -> bool {
        self.ovn.ipv4.is_some()
            || self.ovn.ipv6_gateway.is_some()
            || self
                .systems
                .iter()
                .any(|s| s.ovn_uplink_interface.is_some())
    }

    /// Whether any Ceph disk is requested, directly or by filter.
    pub fn uses_ceph(&self) -> bool {
        !self.filters.ceph.is_empty() || self.systems.iter().any(|s| !s.ceph_disks.is_empty())
    }
}

/// Whether a run forms a new cluster or grows an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mode {
    /// The initiator is listed in `systems`: form a new cluster.
    Bootstrap,
    /// The initiator is not listed: add the listed systems to its cluster.
    Add,
}

/// How joiners find the initiator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Initiator {
    /// Multicast discovery by name on a lookup subnet.
    Name {
        /// The initiator's host name.
        name: HostName,
        /// Subnet in which each machine finds its own address. Host bits are
        /// allowed (`10.0.0.5/24`), as in MicroCloud.
        lookup_subnet: IpNet,
    },
    /// Unicast: the initiator's address.
    Address(IpAddr),
}

/// The shared session secret. Its text is never shown by `Debug`, and it has
/// no `Display`; use [`Passphrase::expose`] where the bytes are really needed.
#[derive(Clone, PartialEq, Eq)]
pub struct Passphrase(String);

impl Passphrase {
    /// Wraps a secret. Returns `None` when it is empty or only whitespace.
    pub fn new(secret: String) -> Option<Passphrase> {
        (!secret.trim().is_empty()).then_some(Passphrase(secret))
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

/// One machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct System {
    /// Its host name.
    pub name: HostName,
    /// Its cluster address (unicast mode only).
    pub address: Option<IpAddr>,
    /// Parent interface of the `UPLINK` network on this member.
    pub ovn_uplink_interface: Option<InterfaceName>,
    /// OVN encapsulation address of this member.
    pub ovn_underlay_ip: Option<IpAddr>,
    /// Disk for the `local` pool, given by path.
    pub local_disk: Option<DirectDisk>,
    /// Ceph OSD disks given by path.
    pub ceph_disks: Vec<DirectDisk>,
}

/// A disk named by path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectDisk {
    /// Absolute device path.
    pub path: DiskPath,
    /// Wipe before use.
    pub wipe: bool,
    /// Encrypt (Ceph only).
    pub encrypt: bool,
}

/// OVN uplink settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ovn {
    /// IPv4 gateway and the range OVN may use; MicroCloud requires both or neither.
    pub ipv4: Option<Ipv4Uplink>,
    /// IPv6 gateway (host address with prefix length).
    pub ipv6_gateway: Option<Ipv6Net>,
    /// DNS servers for the uplink, in file order.
    pub dns_servers: Vec<IpAddr>,
}

/// IPv4 side of the uplink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Uplink {
    /// Gateway address with the subnet's prefix length, e.g. `192.0.2.1/24`.
    pub gateway: Ipv4Net,
    /// Addresses OVN may use; inside the gateway's subnet, not containing it.
    pub range: Ipv4Range,
}

/// An inclusive IPv4 range, `first <= last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Range {
    first: Ipv4Addr,
    last: Ipv4Addr,
}

impl Ipv4Range {
    /// Builds a range; `None` when `first > last`.
    pub fn new(first: Ipv4Addr, last: Ipv4Addr) -> Option<Ipv4Range> {
        (first <= last).then_some(Ipv4Range { first, last })
    }
    /// First address.
    pub fn first(&self) -> Ipv4Addr {
        self.first
    }
    /// Last address.
    pub fn last(&self) -> Ipv4Addr {
        self.last
    }
    /// Whether `addr` lies in the range.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        self.first <= addr && addr <= self.last
    }
}

impl fmt::Display for Ipv4Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

/// Ceph settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ceph {
    /// Create the CephFS pool `remote-fs`.
    pub cephfs: bool,
    /// Cluster network (a network address).
    pub internal_network: Option<IpNet>,
    /// Public network (a network address).
    pub public_network: Option<IpNet>,
}

/// LXD settings: the `lxd:` section, a microcloud extension that
/// Canonical MicroCloud does not have.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lxd {
    /// Storage driver of the `local` pool (default ZFS, as in MicroCloud).
    pub local_pool_driver: LocalPoolDriver,
}

/// Storage driver of the per-member `local` pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LocalPoolDriver {
    /// ZFS on the member's local disk (MicroCloud's only choice).
    #[default]
    Zfs,
    /// Btrfs on the member's local disk.
    Btrfs,
    /// A plain directory on the host file system; takes no disk.
    Dir,
    /// LVM (thin pool) on the member's local disk.
    Lvm,
}

impl LocalPoolDriver {
    /// Every driver, in documentation order.
    pub const ALL: [LocalPoolDriver; 4] = [
        LocalPoolDriver::Zfs,
        LocalPoolDriver::Btrfs,
        LocalPoolDriver::Dir,
        LocalPoolDriver::Lvm,
    ];

    /// The LXD driver name (`zfs`, `btrfs`, `dir`, `lvm`), also the YAML value.
    pub fn name(self) -> &'static str {
        match self {
            LocalPoolDriver::Zfs => "zfs",
            LocalPoolDriver::Btrfs => "btrfs",
            LocalPoolDriver::Dir => "dir",
            LocalPoolDriver::Lvm => "lvm",
        }
    }

    /// The driver called `name` (exact, lowercase), if any.
    pub fn from_name(name: &str) -> Option<LocalPoolDriver> {
        LocalPoolDriver::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Whether the pool is built on a block device (every driver but `dir`).
    pub fn uses_disk(self) -> bool {
        self != LocalPoolDriver::Dir
    }

    /// Description of the `local` pool, e.g. `Local storage on ZFS` (exactly
    /// MicroCloud's text for ZFS).
    pub fn pool_description(self) -> &'static str {
        match self {
            LocalPoolDriver::Zfs => "Local storage on ZFS",
            LocalPoolDriver::Btrfs => "Local storage on btrfs",
            LocalPoolDriver::Dir => "Local storage on dir",
            LocalPoolDriver::Lvm => "Local storage on LVM",
        }
    }
}

impl fmt::Display for LocalPoolDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The classes of steps that share a deadline (the keys of `timeouts:`).
///
/// A step's deadline is the total time it may take, retries included; an
/// attempt still running at the deadline is cut off. The defaults follow
/// the limits MicroCloud itself applies to the same work, with room for
/// retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StepClass {
    /// Bootstrapping MicroCeph, MicroOVN and LXD clustering on the initiator.
    Bootstrap,
    /// Issuing a join token.
    Token,
    /// Joining a machine to a service's cluster.
    Join,
    /// Adding a Ceph OSD, setting the replication size.
    Ceph,
    /// Defining and creating storage pools, creating volumes.
    Storage,
    /// Defining and creating networks.
    Network,
    /// Server settings, the OVN northbound connection and the default profile.
    Settings,
}

impl StepClass {
    /// Every class, in the order steps usually run.
    pub const ALL: [StepClass; 7] = [
        StepClass::Bootstrap,
        StepClass::Token,
        StepClass::Join,
        StepClass::Ceph,
        StepClass::Storage,
        StepClass::Network,
        StepClass::Settings,
    ];

    /// The key under `timeouts:` and the name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            StepClass::Bootstrap => "bootstrap",
            StepClass::Token => "token",
            StepClass::Join => "join",
            StepClass::Ceph => "ceph",
            StepClass::Storage => "storage",
            StepClass::Network => "network",
            StepClass::Settings => "settings",
        }
    }

    /// The class called `name` (exact), if any.
    pub fn from_name(name: &str) -> Option<StepClass> {
        StepClass::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The deadline when neither the preseed nor the command line sets one.
    pub fn default_timeout(self) -> Duration {
        let minutes = match self {
            StepClass::Token => 1,
            StepClass::Settings => 2,
            StepClass::Bootstrap | StepClass::Network => 5,
            StepClass::Join | StepClass::Ceph | StepClass::Storage => 10,
        };
        Duration::from_secs(minutes * 60)
    }

    /// What the class covers, for help texts.
    pub fn covers(self) -> &'static str {
        match self {
            StepClass::Bootstrap => "bootstrapping MicroCeph, MicroOVN and LXD clustering",
            StepClass::Token => "issuing a join token",
            StepClass::Join => "joining a machine to a service's cluster",
            StepClass::Ceph => "adding an OSD, setting the replication size",
            StepClass::Storage => "defining and creating storage pools, creating volumes",
            StepClass::Network => "defining and creating networks",
            StepClass::Settings => "server settings, the OVN northbound connection, the profile",
        }
    }
}

impl fmt::Display for StepClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Shortest step deadline accepted.
pub const MIN_STEP_TIMEOUT: Duration = Duration::from_secs(1);
/// Longest step deadline accepted.
pub const MAX_STEP_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// Deadlines per step class: the ones set, and the defaults for the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timeouts {
    set: std::collections::BTreeMap<StepClass, Duration>,
}

impl Timeouts {
    /// The deadline of `class`: the one set, else its default.
    pub fn get(&self, class: StepClass) -> Duration {
        self.set
            .get(&class)
            .copied()
            .unwrap_or_else(|| class.default_timeout())
    }

    /// Sets the deadline of `class` (a later setting wins).
    pub fn set(&mut self, class: StepClass, deadline: Duration) {
        self.set.insert(class, deadline);
    }

    /// Whether `class` has a deadline set (not its default).
    pub fn is_set(&self, class: StepClass) -> bool {
        self.set.contains_key(&class)
    }
}

/// Parses a step deadline: a whole number of seconds (`90`), or numbers with
/// the units `h`, `m` and `s` in that order (`90s`, `5m`, `1h30m`). The
/// result lies within [`MIN_STEP_TIMEOUT`] and [`MAX_STEP_TIMEOUT`]; the
/// error says what is wrong and how to write it.
pub fn parse_step_timeout(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let how = "write seconds or a number with a unit (h, m, s), e.g. 90, 45s, 5m or 1h30m";
    let seconds = if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        t.parse::<u64>().ok()
    } else {
        parse_units(t)
    };
    let Some(seconds) = seconds else {
        return Err(format!("{t:?} is not a duration: {how}"));
    };
    let d = Duration::from_secs(seconds);
    if d < MIN_STEP_TIMEOUT || d > MAX_STEP_TIMEOUT {
        return Err(format!(
            "{t} is out of range: a step timeout must be between {} and {}",
            format_duration(MIN_STEP_TIMEOUT),
            format_duration(MAX_STEP_TIMEOUT)
        ));
    }
    Ok(d)
}

/// `1h30m`-style text: each unit at most once, in the order h, m, s.
fn parse_units(t: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut rest = t;
    let mut allowed = "hms";
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 12 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        let unit = rest[digits..].chars().next()?;
        let at = allowed.find(unit)?;
        allowed = &allowed[at + 1..];
        let factor = match unit {
            'h' => 3600,
            'm' => 60,
            _ => 1,
        };
        total = total.checked_add(n.checked_mul(factor)?)?;
        rest = &rest[digits + 1..];
    }
    Some(total)
}

/// A duration as `1h30m`, `5m`, `45s` (whole seconds; `0s` for zero).
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// Disk filters, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageFilters {
    /// Filters for the `local` pool (one disk per system).
    pub local: Vec<FilterRule>,
    /// Filters for Ceph OSDs.
    pub ceph: Vec<FilterRule>,
}

/// One disk filter with its bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterRule {
    /// The parsed expression.
    pub find: DiskFilter,
    /// Least number of matches (at least 1).
    pub find_min: u32,
    /// Largest number of matches; `None` is unlimited. Never below `find_min`.
    pub find_max: Option<u32>,
    /// Wipe the selected disks.
    pub wipe: bool,
    /// Encrypt the selected disks (Ceph only).
    pub encrypt: bool,
}

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The validated text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                $name::parse(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_newtype!(
    /// A host name (RFC 1123): labels of letters, digits and hyphens, each
    /// 1–63 characters and not starting or ending with a hyphen, 253
    /// characters at most. Compared case-sensitively, as MicroCloud does.
    HostName
);

impl HostName {
    /// Validates a host name; the error says what is wrong with it.
    pub fn parse(s: &str) -> Result<HostName, String> {
        if s.is_empty() {
            return Err("a host name cannot be empty".into());
        }
        if s.len() > 253 {
            return Err(format!(
                "host name is {} characters long; the limit is 253",
                s.len()
            ));
        }
        for label in s.split('.') {
            if label.is_empty() {
                return Err("host name has an empty label (two dots in a row, or a leading or trailing dot)".into());
            }
            if label.len() > 63 {
                return Err(format!(
                    "host name label {label:?} is longer than 63 characters"
                ));
            }
            if let Some(c) = label
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
            {
                return Err(format!(
                    "host name contains {c:?}; only letters, digits, '-' and '.' are allowed"
                ));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(format!("host name label {label:?} starts or ends with '-'"));
            }
        }
        Ok(HostName(s.to_owned()))
    }
}

string_newtype!(
    /// A Linux network interface name: 1–15 bytes, no '/', ':' or whitespace,
    /// not `.` or `..`.
    InterfaceName
);

impl InterfaceName {
    /// Validates an interface name; the error says what is wrong with it.
    pub fn parse(s: &str) -> Result<InterfaceName, String> {
        if s.is_empty() {
            return Err("an interface name cannot be empty".into());
        }
        if s.len() > 15 {
            return Err(format!(
                "interface name is {} bytes long; Linux allows at most 15",
                s.len()
            ));
        }
        if s == "." || s == ".." {
            return Err(format!("{s:?} is not a valid interface name"));
        }
        if let Some(c) = s
            .chars()
            .find(|c| *c == '/' || *c == ':' || c.is_whitespace() || c.is_control())
        {
            return Err(format!(
                "interface name contains {c:?}, which Linux does not allow"
            ));
        }
        Ok(InterfaceName(s.to_owned()))
    }
}

string_newtype!(
    /// An absolute device path such as `/dev/sdb` or `/dev/disk/by-id/...`.
    DiskPath
);

impl DiskPath {
    /// Validates a disk path: absolute, no whitespace or control characters,
    /// no `.`/`..` components.
    pub fn parse(s: &str) -> Result<DiskPath, String> {
        if s.is_empty() {
            return Err("a disk path cannot be empty".into());
        }
        if !s.starts_with('/') {
            return Err(format!("disk path {s:?} is not absolute"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "disk path {s:?} contains whitespace or control characters"
            ));
        }
        if s.split('/').any(|c| c == "." || c == "..") {
            return Err(format!("disk path {s:?} contains '.' or '..' components"));
        }
        Ok(DiskPath(s.trim_end_matches('/').to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        assert!(HostName::parse("micro01").is_ok());
        assert!(HostName::parse("node-1.example.com").is_ok());
        assert!(HostName::parse("123").is_ok());
        assert_eq!(
            HostName::parse("").unwrap_err(),
            "a host name cannot be empty"
        );
        assert!(
            HostName::parse("-a")
                .unwrap_err()
                .contains("starts or ends with '-'")
        );
        assert!(HostName::parse("a..b").unwrap_err().contains("empty label"));
        assert!(HostName::parse("a_b").unwrap_err().contains("'_'"));
        assert!(
            HostName::parse(&"a".repeat(64))
                .unwrap_err()
                .contains("longer than 63")
        );
    }

    #[test]
    fn interface_names() {
        assert!(InterfaceName::parse("enp5s0").is_ok());
        assert!(InterfaceName::parse("br-uplink.100").is_ok());
        assert!(
            InterfaceName::parse("abcdefghijklmnop")
                .unwrap_err()
                .contains("at most 15")
        );
        assert!(InterfaceName::parse("a/b").unwrap_err().contains("'/'"));
        assert!(InterfaceName::parse("..").is_err());
        assert!(InterfaceName::parse("").is_err());
    }

    #[test]
    fn disk_paths() {
        assert_eq!(
            DiskPath::parse("/dev/sdb/").map(|p| p.to_string()),
            Ok("/dev/sdb".into())
        );
        assert!(DiskPath::parse("sdb").unwrap_err().contains("not absolute"));
        assert!(DiskPath::parse("/dev/../etc").unwrap_err().contains("'..'"));
        assert!(
            DiskPath::parse("/dev/a b")
                .unwrap_err()
                .contains("whitespace")
        );
    }

    #[test]
    fn passphrase_debug_never_shows_the_secret() {
        let p = Passphrase::new("hunter2".into());
        let shown = format!("{p:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(Passphrase::new("  ".into()).is_none());
    }

    #[test]
    fn ranges() {
        let a = Ipv4Addr::new(10, 0, 0, 10);
        let b = Ipv4Addr::new(10, 0, 0, 20);
        assert!(Ipv4Range::new(b, a).is_none());
        let r = Ipv4Range::new(a, b);
        assert!(
            r.is_some_and(|r| r.contains(Ipv4Addr::new(10, 0, 0, 15))
                && !r.contains(Ipv4Addr::new(10, 0, 0, 21)))
        );
    }
    #[test]
    fn step_timeouts() {
        let ok = |t: &str| parse_step_timeout(t).map(|d| d.as_secs());
        assert_eq!(ok("90"), Ok(90));
        assert_eq!(ok(" 45s "), Ok(45));
        assert_eq!(ok("5m"), Ok(300));
        assert_eq!(ok("1h30m"), Ok(5400));
        assert_eq!(ok("1m30s"), Ok(90));
        assert_eq!(ok("24h"), Ok(86400));
        for bad in [
            "",
            "5 minutes",
            "m",
            "1.5m",
            "30s1m",
            "5mm",
            "-3",
            "1h1h",
            "5d",
        ] {
            assert!(
                parse_step_timeout(bad)
                    .unwrap_err()
                    .contains("is not a duration: write seconds or a number with a unit"),
                "{bad}"
            );
        }
        assert_eq!(
            parse_step_timeout("0s").unwrap_err(),
            "0s is out of range: a step timeout must be between 1s and 24h"
        );
        assert!(
            parse_step_timeout("25h")
                .unwrap_err()
                .contains("out of range")
        );
        assert!(parse_step_timeout("99999999999999999999").is_err());
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(61)), "1m1s");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        for c in StepClass::ALL {
            assert_eq!(StepClass::from_name(c.name()), Some(c));
            let d = c.default_timeout();
            assert!(d >= MIN_STEP_TIMEOUT && d <= MAX_STEP_TIMEOUT);
        }
        let mut t = Timeouts::default();
        assert_eq!(t.get(StepClass::Join), Duration::from_secs(600));
        t.set(StepClass::Join, Duration::from_secs(5));
        assert_eq!(t.get(StepClass::Join), Duration::from_secs(5));
        assert!(t.is_set(StepClass::Join) && !t.is_set(StepClass::Ceph));
    }
}
